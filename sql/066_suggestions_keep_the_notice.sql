-- "Nothing fits" suggestions keep each room's notice (min_notice_minutes, sent
-- per room in p_rules as "notice", like its buffer and hours): in each free
-- stretch the start nearest the time asked for is no earlier than the notice
-- allows. Before, a stretch whose nearest start was too soon was offered at that
-- start, which the rules then refused, so a room free later that day was only
-- suggested on the next. The rest is as sql/063 left it.

CREATE OR REPLACE FUNCTION room_suggestions(p_start timestamp with time zone, p_end timestamp with time zone, p_capacity integer, p_equipment text[], p_building text, p_floor integer, p_not_before timestamp with time zone, p_until timestamp with time zone, p_rules jsonb DEFAULT '{}'::jsonb, p_days integer DEFAULT 7, p_limit integer DEFAULT 5) RETURNS json
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v_wanted integer := p_limit * 4;
    v_times json[] := '{}';
    v_step_times json[];
    v_step_starts timestamptz[];
    v_firsts integer[] := ARRAY[0, 1, 3];
    v_lasts integer[] := ARRAY[0, 2, p_days];
    v_first integer;
    v_last integer;
    v_hours jsonb;            -- the fitting rooms' zones and hours, each kind once
    v_zone_count integer;
    i integer := 1;
BEGIN
    SELECT jsonb_agg(DISTINCT jsonb_build_object(
               'timezone', r.timezone, 'opens', r.opens, 'closes', r.closes,
               'week_hours', p_rules->(r.id::text)->'hours')),
           count(DISTINCT r.timezone)
      INTO v_hours, v_zone_count
      FROM rooms r
     WHERE r.active AND r.capacity >= p_capacity AND r.equipment @> p_equipment
       AND (p_rules->'zones' IS NULL OR p_rules->'zones' ? r.timezone);
    WHILE i <= cardinality(v_firsts) AND cardinality(v_times) < v_wanted
          AND v_firsts[i] <= p_days LOOP
        v_first := v_firsts[i];
        v_last := least(v_lasts[i], p_days);
        i := i + 1;
        WITH fit AS (
            SELECT r.*,
                   (p_building IS NULL OR lower(r.building) = lower(p_building)) AS in_building,
                   (p_floor IS NULL OR r.floor = p_floor) AS on_floor,
                   coalesce((p_rules->(r.id::text)->>'buffer')::integer, 0) AS buffer,
                   coalesce((p_rules->(r.id::text)->>'notice')::integer, 0) AS notice,
                   p_rules->(r.id::text)->'hours' AS week_hours
              FROM rooms r
             WHERE r.active AND r.capacity >= p_capacity AND r.equipment @> p_equipment
               AND (p_rules->'zones' IS NULL OR p_rules->'zones' ? r.timezone)),
        zone_day AS MATERIALIZED (
            -- The opening and closing instants of each day asked about, once per
            -- time zone and opening hours that fitting rooms have (a handful).
            SELECT h.timezone, h.opens, h.closes, h.week_hours, g.d,
                   wall_instant(l.local_start::date + g.d, w.opens, h.timezone) AS open_at,
                   wall_instant(l.local_start::date + g.d, w.closes, h.timezone) AS close_at,
                   (l.local_start + make_interval(days => g.d)) AT TIME ZONE h.timezone AS target
              FROM (SELECT DISTINCT f.timezone, f.opens, f.closes, f.week_hours FROM fit f) h
             CROSS JOIN generate_series(v_first, v_last) AS g(d)
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
            -- Each fitting room's opening hours on those days, in its zone, and
            -- the same time of day as asked.
            SELECT f.id, f.buffer, f.notice, z.d, z.open_at, z.close_at, z.target,
                   z.close_at + make_interval(mins => f.buffer) AS held_until
              FROM fit f
              JOIN zone_day z ON z.timezone = f.timezone AND z.opens = f.opens AND z.closes = f.closes
                             AND z.week_hours IS NOT DISTINCT FROM f.week_hours),
        held AS MATERIALIZED (
            -- The live bookings of each room open on those days, each held to its
            -- end plus its buffer: one short range of bookings_room_start per room.
            SELECT span.id, k.start_at AS s, k.end_at + make_interval(mins => k.buffer_minutes) AS e
              FROM (SELECT day.id, min(day.open_at) AS first_open,
                           max(day.held_until) AS last_held
                      FROM day GROUP BY day.id) span
              JOIN bookings k
                ON k.room_id = span.id AND k.cancelled_at IS NULL
               AND k.start_at < span.last_held
               AND k.start_at > span.first_open - interval '28 hours'),
        gap AS (
            -- The free stretches between live bookings inside the opening hours:
            -- each booking (and a zero-length sentinel at closing time) ends the
            -- gap that began when everything before it had ended, its buffer
            -- included; a gap ends the room's own buffer before the next booking.
            SELECT b.id, b.d, b.target, b.notice,
                   greatest(b.open_at, max(b.e) OVER (PARTITION BY b.id, b.d ORDER BY b.s
                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
                       AS gap_start,
                   CASE WHEN b.sentinel THEN b.s ELSE b.s - make_interval(mins => b.buffer) END AS gap_end
              FROM (SELECT day.id, day.d, day.target, day.open_at, day.buffer, day.notice,
                           k.s, k.e, false AS sentinel
                      FROM day
                      JOIN held k
                        ON k.id = day.id AND k.s < day.held_until AND k.e > day.open_at
                    UNION ALL
                    SELECT day.id, day.d, day.target, day.open_at, day.buffer, day.notice,
                           day.close_at, day.close_at, true
                      FROM day) b),
        slot AS (
            -- In each gap long enough, the start nearest the target time.
            SELECT gap.id, gap.d, c.start_at, abs(extract(epoch FROM c.start_at - gap.target)) AS distance
              FROM gap
             CROSS JOIN LATERAL (
                   SELECT greatest(gap.gap_start,
                                   p_not_before + make_interval(mins => gap.notice)) AS lo,
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
             LIMIT v_wanted - cardinality(v_times))
        SELECT coalesce(array_agg(t.j ORDER BY t.d, t.distance, t.start_at), '{}'),
               coalesce(array_agg(t.start_at), '{}')
          INTO v_step_times, v_step_starts
          FROM times t;
        IF v_last - v_first < p_days AND v_zone_count > 1 AND EXISTS (
               -- Fitting rooms open at a time chosen here on a day of another step.
               SELECT 1
                 FROM unnest(v_step_starts) AS t(s)
                CROSS JOIN jsonb_to_recordset(v_hours)
                      AS h(timezone text, opens time, closes time, week_hours jsonb)
                CROSS JOIN LATERAL (
                      SELECT (t.s AT TIME ZONE h.timezone)::date AS local_day,
                             (t.s AT TIME ZONE h.timezone)::date
                                 - (p_start AT TIME ZONE h.timezone)::date AS d) l
                CROSS JOIN LATERAL (
                      SELECT CASE WHEN h.week_hours IS NULL THEN h.opens
                                  ELSE (h.week_hours->(extract(isodow FROM l.local_day)::integer - 1)->>0)::time
                             END AS opens,
                             CASE WHEN h.week_hours IS NULL THEN h.closes
                                  ELSE (h.week_hours->(extract(isodow FROM l.local_day)::integer - 1)->>1)::time
                             END AS closes) w
                WHERE l.d BETWEEN 0 AND p_days AND l.d NOT BETWEEN v_first AND v_last
                  AND w.opens IS NOT NULL
                  AND t.s >= wall_instant(l.local_day, w.opens, h.timezone)
                  AND t.s < wall_instant(l.local_day, w.closes, h.timezone)) THEN
            -- A better room may offer that time on a later day of its own zone:
            -- all the days at once.
            v_firsts := ARRAY[0];
            v_lasts := ARRAY[p_days];
            v_times := '{}';
            i := 1;
        ELSE
            v_times := v_times || v_step_times;
        END IF;
    END LOOP;

    RETURN json_build_object(
        'times', to_json(v_times),
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
                              AND b.start_at < p_end + make_interval(mins => coalesce(
                                      (p_rules->(r.id::text)->>'buffer')::integer, 0))
                              AND b.end_at + make_interval(mins => b.buffer_minutes) > p_start
                              AND b.start_at > p_start - interval '28 hours')
                     ORDER BY (p_building IS NULL OR lower(r.building) = lower(p_building)) DESC,
                              (p_floor IS NULL OR r.floor = p_floor) DESC, r.capacity, r.name, r.id
                     LIMIT p_limit * 4) a), '[]'));
END
$$;
