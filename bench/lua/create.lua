dofile("bench/lua/common.lua")
request = create_request
