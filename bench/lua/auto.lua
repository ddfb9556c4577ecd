dofile("bench/lua/common.lua")
request = auto_request
-- A room for 4 is nearly always free; when none is, 409 no_room is the answer.
expected = {[201] = true, [409] = true}
response = count_unexpected
