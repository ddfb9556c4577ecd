dofile("bench/lua/common.lua")
request = day_json_request
