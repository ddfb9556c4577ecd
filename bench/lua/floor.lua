dofile("bench/lua/common.lua")
request = floor_request
