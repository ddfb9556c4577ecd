dofile("bench/lua/common.lua")
request = free_rooms_policies_request
