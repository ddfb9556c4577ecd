dofile("bench/lua/common.lua")
request = availability_request
