-- Shared by every scenario: the generated data (bench/out/data.lua), a
-- per-thread counter for writes that must not collide, and a done() that
-- prints the figures as one JSON line for bench/run.py.
dofile("bench/out/data.lua")

local thread_count = 0
local threads = {}
function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

-- Scenarios that answer non-2xx on purpose (a 409) set `expected` (status ->
-- true) and use this as wrk's response(): done() then reports how many answers
-- were anything else ("unexpected"), which bench/run.py counts as errors.
function count_unexpected(status, headers, body)
  if not expected[status] then unexpected = (unexpected or 0) + 1 end
end

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
  -- Consecutive runs start at alternate offsets (bench/run.py sets them), so
  -- a write still queued from the last run never repeats one of this run.
  counter = tonumber(os.getenv("WRK_OFFSET") or "0")
  nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
end

-- A unique number per request across all threads of this run.
function next_unique()
  local k = counter * nthreads + (tid or 0)
  counter = counter + 1
  return k
end

function auth(token)
  return {["Authorization"] = "Bearer " .. token, ["Accept-Encoding"] = "gzip"}
end

function json_headers(token)
  local h = auth(token)
  h["Content-Type"] = "application/json"
  return h
end

function random_room()
  return math.random(bench.room_min, bench.room_max)
end

-- A local date between `from` and `to` days from today (today as of data generation).
function random_day(from, to)
  return os.date("!%Y-%m-%d", bench.today_epoch + math.random(from, to) * 86400)
end

function random_token()
  return bench.tokens[math.random(1, #bench.tokens)]
end

-- Requests of the read scenarios.
function overview_request() return wrk.format("GET", "/api/rooms", auth(random_token())) end
function day_json_request()
  return wrk.format("GET", "/api/rooms/" .. random_room() .. "/bookings?date=" .. random_day(-300, 70),
                    auth(random_token()))
end
-- Pages are for browsers: a signed-in session's cookie, not a bearer token.
function browser(cookie)
  return {["Cookie"] = "booking_session=" .. cookie, ["Accept-Encoding"] = "gzip"}
end

function day_html_request()
  return wrk.format("GET", "/rooms/" .. random_room() .. "?date=" .. random_day(-300, 70),
                    browser(bench.cookies[math.random(1, #bench.cookies)]))
end
-- The plainest floor (bench/floor_plain.py): the same rooms and days, no sign-in.
function floor_plain_request()
  return wrk.format("GET", "/plain/rooms/" .. random_room() .. "/bookings?date=" .. random_day(-300, 70))
end
-- The planning board of all 500 rooms: today's (no date, as the menu links it)
-- three times in four, else one of the next six days, as people look ahead.
local function board_path(prefix)
  if math.random(1, 4) > 1 then return prefix end
  return prefix .. "?date=" .. random_day(1, 6)
end
function board_html_request()
  return wrk.format("GET", board_path("/board"), browser(bench.cookies[math.random(1, #bench.cookies)]))
end
function board_json_request()
  return wrk.format("GET", board_path("/api/board"), auth(random_token()))
end
function floor_request()
  return wrk.format("GET", "/floor/rooms/" .. random_room() .. "/bookings?date=" .. random_day(-300, 70))
end
function mine_request(token)
  return wrk.format("GET", "/api/bookings/mine", auth(token or random_token()))
end
function availability_request()
  local from = random_day(0, 60)
  return wrk.format("GET", "/api/rooms/" .. random_room() .. "/availability?start=" .. from,
                    auth(random_token()))
end
local capacities = {2, 4, 6, 8, 12}
function free_rooms_request()
  local day = random_day(1, 60)
  local hour = math.random(9, 16)
  return wrk.format("GET", string.format(
    "/api/rooms/free?start_time=%sT%02d:00&end_time=%sT%02d:00&capacity=%d&timezone=Europe/Berlin",
    day, hour, day, hour + 1, capacities[math.random(1, #capacities)]), auth(random_token()))
end
-- The finder over all three areas (any_timezone): every room's policy checked
-- (Berlin's buffer and quota, New York's weekday hours and notice, Tokyo's
-- holidays and approval rooms), on weekdays and weekends alike.
-- From tomorrow: today's hours before now are a 422 in_past (counted as errors).
function free_rooms_policies_request()
  local day = random_day(1, 60)
  local hour = math.random(7, 17)
  local equipment = ({"", "&equipment=screen", "&equipment=video"})[math.random(1, 3)]
  return wrk.format("GET", string.format(
    "/api/rooms/free?start_time=%sT%02d:00&end_time=%sT%02d:30&capacity=%d&timezone=Europe/Berlin&any_timezone=true%s",
    day, hour, day, hour + 1, capacities[math.random(1, #capacities)], equipment),
    auth(random_token()))
end
function booking_request()
  return wrk.format("GET", "/api/bookings/" .. math.random(1, bench.max_booking_id), auth(random_token()))
end

-- Writes come from many people at once (bench/run.py WRITERS): request k's is
-- writer (k mod WRITERS + 1); the edit scenario's booking k is theirs.
function writer_of(k)
  return bench.writer_tokens[1 + k % #bench.writer_tokens]
end

-- A free slot nobody else in this run asks for: days 83-168 ahead (past the
-- generated data), 15-minute slots every half hour 09:00-17:30 (the gaps keep
-- the rooms' buffers, issue 18), every room.
function create_request()
  local k = next_unique()
  local rooms = bench.room_max - bench.room_min + 1
  local room = bench.room_min + (k % rooms)
  local rest = math.floor(k / rooms)
  local day = os.date("!%Y-%m-%d", bench.today_epoch + (83 + math.floor(rest / 18) % 86) * 86400)
  local minute = 9 * 60 + (rest % 18) * 30
  local start = string.format("%sT%02d:%02d", day, math.floor(minute / 60), minute % 60)
  local finish = string.format("%sT%02d:%02d", day, math.floor((minute + 15) / 60), (minute + 15) % 60)
  local body = '{"room_id": ' .. room .. ', "title": "bench create", "start_time": "' .. start ..
               '", "end_time": "' .. finish .. '"}'
  return wrk.format("POST", "/api/bookings", json_headers(writer_of(k)), body)
end

-- Bookings made for cancelling, one per request, never the same twice.
function cancel_request()
  local id = bench.cancel_first + next_unique() % bench.cancel_count
  return wrk.format("DELETE", "/api/bookings/" .. id, auth(bench.writer_token))
end

-- Issue 16. A bench edit booking moved 20 minutes later: booking k sits on an
-- hour of its room's local 08:00-17:00 (bench/run.py prepare()), and nobody
-- holds :20-:35 after it (clear of the rooms' buffers). Times without offset:
-- the room's own.
function edit_request()
  local k = next_unique() % bench.edit_count
  local rooms = bench.room_max - bench.room_min + 1
  local slot = math.floor(k / rooms)
  local day = os.date("!%Y-%m-%d", bench.today_epoch + (bench.edit_day + math.floor(slot / bench.edit_slots)) * 86400)
  local minute = (8 + slot % bench.edit_slots) * 60 + 20
  local start = string.format("%sT%02d:%02d", day, math.floor(minute / 60), minute % 60)
  local body = '{"start_time": "' .. start .. '"}'
  return wrk.format("PATCH", "/api/bookings/" .. (bench.edit_first + k),
                    json_headers(writer_of(k)), body)
end

-- Into a room's taken hour (10:00-11:00 local on the taken day): a 409 with the
-- bookings in the way and suggestions (its next free slots, other rooms).
function conflict_request()
  local day = os.date("!%Y-%m-%d", bench.today_epoch + bench.taken_day * 86400)
  local body = '{"room_id": ' .. random_room() .. ', "title": "bench conflict", "start_time": "' ..
               day .. 'T10:00", "end_time": "' .. day .. 'T11:00", "attendees": 2}'
  return wrk.format("POST", "/api/bookings", json_headers(random_token()), body)
end

-- Give me a room for 4 at an hour on one of days 83-168 ahead, in Berlin.
function auto_request()
  local day = random_day(83, 168)
  local hour = math.random(9, 16)
  local body = string.format(
    '{"title": "bench auto", "attendees": 4, "start_time": "%sT%02d:00", ' ..
    '"end_time": "%sT%02d:00", "timezone": "Europe/Berlin"}', day, hour, day, hour + 1)
  return wrk.format("POST", "/api/bookings/auto", json_headers(random_token()), body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  local unexpected = -1
  if expected then
    unexpected = 0
    for _, thread in ipairs(threads) do unexpected = unexpected + (thread:get("unexpected") or 0) end
  end
  io.write(string.format(
    'JSON {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "status_errors": %d, "unexpected": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    unexpected))
end

-- The door panel (issue 17): a random room's panel page, as that room's tablet asks.
function panel_request()
  local room = random_room()
  return wrk.format("GET", "/rooms/" .. room .. "/panel", auth("bkp_bench-room-" .. room))
end
