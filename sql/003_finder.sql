-- Finding and assigning rooms: open hours in SQL,
-- suggestions when nothing fits, and auto_book(), which tries ranked
-- candidate rooms in order inside one statement.
--
-- booking/rules.py stays the source of truth for the booking rules: the
-- application checks every candidate with it before booking. room_open() is
-- the same hours rule in SQL, so the database can filter thousands of rooms
-- without sending them to Python; tests/test_finder.py holds the two equal at
-- the edges.

-- Whether [s, e) lies inside the room's opening hours on one local day of its
-- zone: it starts at or after `opens` and ends at or before `closes` on the
-- day it starts (so it never crosses midnight). Wall-clock time in `tz`, the
-- same reading as rules.check. One expression, so the planner inlines it.
CREATE FUNCTION room_open(tz text, opens time, closes time, s timestamptz, e timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN e > s
   AND (s AT TIME ZONE tz)::time >= opens
   AND (e AT TIME ZONE tz) <= (s AT TIME ZONE tz)::date + closes;

-- (room_json(), the room's JSON shape, comes from 002_recurrence.sql.)

-- What to offer when no room fits [p_start, p_end):
--
--   times: up to p_limit free intervals of the same length for which some
--          active room fits the party and the equipment, on the request's
--          local day first (nearest to the requested start), then on each of
--          the following p_days days (nearest to the same time of day); each
--          with the best room for it (requested building, then floor, then
--          the smallest room, then name). Not before p_not_before, not
--          starting after p_until, inside opening hours.
--   rooms: up to p_limit rooms free and open for the requested interval that
--          seat the party but lack exactly one of the requested pieces of
--          equipment, with the one that is missing.
--
-- Free intervals come from the gaps between a room's live bookings within
-- its opening hours: per room and day one short range of bookings_room_start.
CREATE FUNCTION room_suggestions(p_start timestamptz, p_end timestamptz, p_capacity integer,
                                 p_equipment text[], p_building text, p_floor integer,
                                 p_not_before timestamptz, p_until timestamptz,
                                 p_days integer DEFAULT 7, p_limit integer DEFAULT 5)
RETURNS json
LANGUAGE sql STABLE AS $$
WITH fit AS (
    SELECT r.*,
           (p_building IS NULL OR lower(r.building) = lower(p_building)) AS in_building,
           (p_floor IS NULL OR r.floor = p_floor) AS on_floor
      FROM rooms r
     WHERE r.active AND r.capacity >= p_capacity AND r.equipment @> p_equipment),
day AS (
    -- Each fitting room's opening hours on the request's local day (in that
    -- room's zone) and the days after, and the same time of day as asked.
    SELECT f.id, g.d, w.open_at, w.close_at, w.target
      FROM fit f
     CROSS JOIN generate_series(0, p_days) AS g(d)
     CROSS JOIN LATERAL (SELECT p_start AT TIME ZONE f.timezone AS local_start) l
     CROSS JOIN LATERAL (
           SELECT (l.local_start::date + g.d + f.opens) AT TIME ZONE f.timezone AS open_at,
                  (l.local_start::date + g.d + f.closes) AT TIME ZONE f.timezone AS close_at,
                  (l.local_start + make_interval(days => g.d)) AT TIME ZONE f.timezone AS target) w),
gap AS (
    -- The free stretches between live bookings inside the opening hours: each
    -- booking (and a zero-length sentinel at closing time) ends the gap that
    -- began when everything before it had ended.
    SELECT day.id, day.d, day.target, x.gap_start, x.gap_end
      FROM day
     CROSS JOIN LATERAL (
           SELECT greatest(day.open_at,
                           max(b.e) OVER (ORDER BY b.s ROWS BETWEEN UNBOUNDED PRECEDING
                                                               AND 1 PRECEDING)) AS gap_start,
                  b.s AS gap_end
             FROM (SELECT k.start_at AS s, k.end_at AS e
                     FROM bookings k
                    WHERE k.room_id = day.id AND k.cancelled_at IS NULL
                      AND k.start_at < day.close_at AND k.end_at > day.open_at
                      AND k.start_at > day.open_at - interval '1 day'
                   UNION ALL
                   SELECT day.close_at, day.close_at) b) x),
slot AS (
    -- In each gap long enough, the start nearest the target time.
    SELECT gap.id, gap.d, c.start_at, abs(extract(epoch FROM c.start_at - gap.target)) AS distance
      FROM gap
     CROSS JOIN LATERAL (
           SELECT greatest(gap.gap_start, p_not_before) AS lo,
                  gap.gap_end - (p_end - p_start) AS hi) bounds
     CROSS JOIN LATERAL (
           SELECT least(greatest(gap.target, bounds.lo), bounds.hi) AS start_at) c
     WHERE bounds.lo <= bounds.hi AND c.start_at <= p_until),
best AS (
    -- One room per distinct interval: the best one by the finder's order.
    SELECT DISTINCT ON (s.start_at) s.start_at, s.d, s.distance, s.id
      FROM slot s JOIN fit f ON f.id = s.id
     ORDER BY s.start_at, f.in_building DESC, f.on_floor DESC, f.capacity, f.name, f.id),
times AS (
    SELECT json_build_object(
               'start_time', rfc3339(b.start_at, r.timezone),
               'end_time', rfc3339(b.start_at + (p_end - p_start), r.timezone),
               'room', room_json(r)) AS j,
           b.d, b.distance, b.start_at
      FROM best b JOIN rooms r ON r.id = b.id
     ORDER BY b.d, b.distance, b.start_at
     LIMIT p_limit),
almost AS (
    SELECT room_json(r) AS room, m.missing[1] AS missing
      FROM rooms r
     CROSS JOIN LATERAL (
           SELECT array_agg(t) AS missing FROM unnest(p_equipment) AS t
            WHERE NOT t = ANY (r.equipment)) m
     WHERE r.active AND r.capacity >= p_capacity AND cardinality(m.missing) = 1
       AND room_open(r.timezone, r.opens, r.closes, p_start, p_end)
       AND NOT EXISTS (
           SELECT 1 FROM bookings b
            WHERE b.room_id = r.id AND b.cancelled_at IS NULL
              AND b.start_at < p_end AND b.end_at > p_start
              AND b.start_at > p_start - interval '1 day')
     ORDER BY (p_building IS NULL OR lower(r.building) = lower(p_building)) DESC,
              (p_floor IS NULL OR r.floor = p_floor) DESC, r.capacity, r.name, r.id
     LIMIT p_limit)
SELECT json_build_object(
    'times', coalesce((SELECT json_agg(t.j ORDER BY t.d, t.distance, t.start_at) FROM times t),
                      '[]'),
    'rooms', coalesce((SELECT json_agg(json_build_object('room', a.room, 'missing', a.missing))
                         FROM almost a), '[]'))
$$;

-- Book the first room of p_rooms (best first) that is free for [p_start,
-- p_end), in one statement.
--
-- Each candidate goes in with INSERT ... ON CONFLICT DO NOTHING: when another
-- request took the room since the caller ranked it, the exclusion constraint
-- refuses it (waiting for an in-flight insert to commit rather than
-- deadlocking) and the next candidate is tried. A transaction here holds at
-- most the one row it booked, so waits cannot form a cycle; should a deadlock
-- happen all the same, that room is asked once more, then counts as taken.
--
-- Returns {"room_id": id, "booking": booking_json} for the booking made, or,
-- when every candidate was taken, {"room_id": null, "suggestions":
-- room_suggestions(...)} read with a fresh snapshot that sees the winners.
CREATE FUNCTION auto_book(p_rooms integer[], p_user bigint, p_title text,
                          p_start timestamptz, p_end timestamptz,
                          p_capacity integer, p_equipment text[], p_building text,
                          p_floor integer, p_not_before timestamptz, p_until timestamptz)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v_room integer;
    v_id bigint;
BEGIN
    FOREACH v_room IN ARRAY p_rooms LOOP
        FOR attempt IN 1..2 LOOP
            BEGIN
                -- No row inserted (taken) leaves v_id NULL.
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
                VALUES (v_room, p_user, p_title, p_start, p_end)
                ON CONFLICT DO NOTHING
                RETURNING id INTO v_id;
                EXIT;
            EXCEPTION WHEN deadlock_detected THEN
                v_id := NULL;
            END;
        END LOOP;
        IF v_id IS NOT NULL THEN
            RETURN json_build_object(
                'room_id', v_room,
                'booking', (SELECT booking_json(v) FROM booking_api v WHERE v.id = v_id));
        END IF;
    END LOOP;
    RETURN json_build_object(
        'room_id', NULL,
        'suggestions', room_suggestions(p_start, p_end, p_capacity, p_equipment, p_building,
                                        p_floor, p_not_before, p_until));
END
$$;
