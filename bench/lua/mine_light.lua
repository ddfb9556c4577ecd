dofile("bench/lua/common.lua")
request = function() return mine_request(bench.light_token) end
