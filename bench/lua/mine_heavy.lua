dofile("bench/lua/common.lua")
request = function() return mine_request(bench.heavy_token) end
