dofile("bench/lua/common.lua")
request = cancel_request
