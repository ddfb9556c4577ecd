dofile("bench/lua/common.lua")
request = free_rooms_request
