dofile("bench/lua/common.lua")
request = edit_request
