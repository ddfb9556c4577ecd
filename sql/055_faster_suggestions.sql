-- room_suggestions() (sql/042) at a fraction of the cost, with the same answers.
--
-- A search that finds no room asks for suggestions: the gaps of every fitting
-- room over eight days. Three changes, measured on `make bench`'s data (500
-- rooms, a million bookings; bench/run.py's free_rooms scenario, where the
-- searcher's zone had no room open):
--
-- * The opening and closing instants of each day (wall_instant(), six time
--   zone conversions) are worked out once per zone and opening hours, not per
--   room and day, and kept (MATERIALIZED): inlined, the planner repeated them
--   inside every probe's index condition.
-- * Each room's bookings over all eight days are one short range of
--   bookings_room_start (not one per room and day), split into the days and
--   their gaps by one join and one window (PARTITION BY room, day) instead of
--   a sort and a window per room-day.
--   With both, all 500 rooms: 256 -> 60 ms in PostgreSQL.
-- * p_rules may name the time zones whose rooms may be offered
--   ({"zones": [...]}, beside the rooms' {"<room id>": {buffer, hours}}): the
--   finder offers only rooms in the searcher's zone, so rooms elsewhere are
--   no longer searched only to be dropped: one zone's 170 rooms, 25 ms.
--   The rooms lacking one piece of equipment are looked for only when
--   equipment was asked for.
CREATE OR REPLACE FUNCTION room_suggestions(p_start timestamptz, p_end timestamptz,
                                            p_capacity integer, p_equipment text[],
                                            p_building text, p_floor integer,
                                            p_not_before timestamptz, p_until timestamptz,
                                            p_rules jsonb DEFAULT '{}', p_days integer DEFAULT 7,
                                            p_limit integer DEFAULT 5)
RETURNS json
LANGUAGE sql STABLE AS $$
WITH fit AS (
    SELECT r.*,
           (p_building IS NULL OR lower(r.building) = lower(p_building)) AS in_building,
           (p_floor IS NULL OR r.floor = p_floor) AS on_floor,
           coalesce((p_rules->(r.id::text)->>'buffer')::integer, 0) AS buffer,
           p_rules->(r.id::text)->'hours' AS week_hours
      FROM rooms r
     WHERE r.active AND r.capacity >= p_capacity AND r.equipment @> p_equipment
       AND (p_rules->'zones' IS NULL OR p_rules->'zones' ? r.timezone)),
zone_day AS MATERIALIZED (
    -- The opening and closing instants of each day asked about, once per time
    -- zone and opening hours that fitting rooms have (a handful), not per room.
    SELECT h.timezone, h.opens, h.closes, h.week_hours, g.d,
           wall_instant(l.local_start::date + g.d, w.opens, h.timezone) AS open_at,
           wall_instant(l.local_start::date + g.d, w.closes, h.timezone) AS close_at,
           (l.local_start + make_interval(days => g.d)) AT TIME ZONE h.timezone AS target
      FROM (SELECT DISTINCT f.timezone, f.opens, f.closes, f.week_hours FROM fit f) h
     CROSS JOIN generate_series(0, p_days) AS g(d)
     CROSS JOIN LATERAL (SELECT p_start AT TIME ZONE h.timezone AS local_start) l
     CROSS JOIN LATERAL (
           SELECT CASE WHEN h.week_hours IS NULL THEN h.opens
                       ELSE (h.week_hours->(extract(isodow FROM l.local_start::date + g.d)::integer - 1)->>0)::time
                  END AS opens,
                  CASE WHEN h.week_hours IS NULL THEN h.closes
                       ELSE (h.week_hours->(extract(isodow FROM l.local_start::date + g.d)::integer - 1)->>1)::time
                  END AS closes) w
     WHERE w.opens IS NOT NULL),
day AS MATERIALIZED (
    -- Each fitting room's opening hours on the request's local day (in that
    -- room's zone) and the days after, and the same time of day as asked.
    SELECT f.id, f.buffer, z.d, z.open_at, z.close_at, z.target,
           plus_minutes(z.close_at, f.buffer) AS held_until
      FROM fit f
      JOIN zone_day z ON z.timezone = f.timezone AND z.opens = f.opens AND z.closes = f.closes
                     AND z.week_hours IS NOT DISTINCT FROM f.week_hours),
held AS MATERIALIZED (
    -- Each fitting room's live bookings over all those days, each held to its
    -- end plus its buffer: one short range of bookings_room_start per room.
    SELECT f.id, k.start_at AS s, plus_minutes(k.end_at, k.buffer_minutes) AS e
      FROM fit f
     CROSS JOIN LATERAL (SELECT min(z.open_at) AS first_open, max(z.close_at) AS last_close
                           FROM zone_day z WHERE z.timezone = f.timezone) span
      JOIN bookings k
        ON k.room_id = f.id AND k.cancelled_at IS NULL
       AND k.start_at < plus_minutes(span.last_close, f.buffer)
       AND k.start_at > span.first_open - interval '28 hours'),
gap AS (
    -- The free stretches between live bookings inside the opening hours: each
    -- booking (and a zero-length sentinel at closing time) ends the gap that
    -- began when everything before it had ended, its buffer included; a gap
    -- ends the room's own buffer before the next booking.
    SELECT b.id, b.d, b.target,
           greatest(b.open_at, max(b.e) OVER (PARTITION BY b.id, b.d ORDER BY b.s
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
               AS gap_start,
           CASE WHEN b.sentinel THEN b.s ELSE b.s - make_interval(mins => b.buffer) END AS gap_end
      FROM (SELECT day.id, day.d, day.target, day.open_at, day.buffer, k.s, k.e,
                   false AS sentinel
              FROM day
              JOIN held k
                ON k.id = day.id AND k.s < day.held_until AND k.e > day.open_at
            UNION ALL
            SELECT day.id, day.d, day.target, day.open_at, day.buffer, day.close_at, day.close_at, true
              FROM day) b),
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
     LIMIT p_limit * 4)
SELECT json_build_object(
    'times', coalesce((SELECT json_agg(t.j ORDER BY t.d, t.distance, t.start_at) FROM times t),
                      '[]'),
    'rooms', coalesce((
        SELECT json_agg(json_build_object('room', a.room, 'missing', a.missing))
          FROM (SELECT room_json(r) AS room, m.missing[1] AS missing
                  FROM rooms r
                 CROSS JOIN LATERAL (
                       SELECT array_agg(t) AS missing FROM unnest(p_equipment) AS t
                        WHERE NOT t = ANY (r.equipment)) m
                 WHERE cardinality(p_equipment) > 0
                   AND r.active AND r.capacity >= p_capacity AND cardinality(m.missing) = 1
                   AND (p_rules->'zones' IS NULL OR p_rules->'zones' ? r.timezone)
                   AND (p_rules->(r.id::text)->'hours' IS NOT NULL
                        OR room_open(r.timezone, r.opens, r.closes, p_start, p_end))
                   AND NOT EXISTS (
                       SELECT 1 FROM bookings b
                        WHERE b.room_id = r.id AND b.cancelled_at IS NULL
                          AND b.start_at < plus_minutes(p_end, coalesce(
                                  (p_rules->(r.id::text)->>'buffer')::integer, 0))
                          AND plus_minutes(b.end_at, b.buffer_minutes) > p_start
                          AND b.start_at > p_start - interval '28 hours')
                 ORDER BY (p_building IS NULL OR lower(r.building) = lower(p_building)) DESC,
                          (p_floor IS NULL OR r.floor = p_floor) DESC, r.capacity, r.name, r.id
                 LIMIT p_limit * 4) a), '[]'))
$$;
