dofile("bench/lua/common.lua")
request = panel_request
