dofile("bench/lua/common.lua")
request = booking_request
