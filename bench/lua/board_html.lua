dofile("bench/lua/common.lua")
request = board_html_request
