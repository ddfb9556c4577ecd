dofile("bench/lua/common.lua")
request = overview_request
