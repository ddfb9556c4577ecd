dofile("bench/lua/common.lua")
request = conflict_request
expected = {[409] = true}
response = count_unexpected
