dofile("bench/lua/common.lua")
request = board_json_request
