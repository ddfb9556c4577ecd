dofile("bench/lua/common.lua")
request = day_html_request
