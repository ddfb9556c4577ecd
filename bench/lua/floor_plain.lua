dofile("bench/lua/common.lua")
request = floor_plain_request
