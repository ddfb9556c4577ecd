dofile("bench/lua/common.lua")
-- What a working day looks like: mostly reading, some booking and cancelling.
local mix = {
  {30, day_json_request}, {10, day_html_request}, {10, overview_request}, {15, mine_request},
  {10, availability_request}, {10, booking_request}, {10, create_request}, {5, cancel_request},
}
request = function()
  local roll = math.random(1, 100)
  for _, entry in ipairs(mix) do
    roll = roll - entry[1]
    if roll <= 0 then return entry[2]() end
  end
  return day_json_request()
end
