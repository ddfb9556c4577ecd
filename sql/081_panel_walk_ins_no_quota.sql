-- A door panel's walk-ins count against no quota (found by testing from outside):
-- every Book now on a panel is made by the room's one panel account, so a quota
-- of three bookings a day per person stopped the panel after three walk-ins of
-- three different people, while it still offered Book now. A quota limits what
-- one person holds; the panel's account stands for whoever walks in, and a
-- walk-in takes a room nobody holds now. panel_tokens_user: the probe.
--
-- The rest is as sql/042 left it.

CREATE INDEX panel_tokens_user ON panel_tokens (user_id);

CREATE OR REPLACE FUNCTION quota_refusals(p_room integer, p_user bigint, p_policy jsonb, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_exclude bigint DEFAULT NULL::bigint) RETURNS TABLE(requested_start timestamp with time zone, details jsonb)
    LANGUAGE sql STABLE
    AS $$
WITH q AS (
    SELECT p_policy->'fields'->'quota'->'value' AS quota,
           p_policy->'fields'->'quota'->'source' AS source,
           quota_rooms(p_room, p_policy) AS rooms,
           (SELECT r.timezone FROM rooms r WHERE r.id = p_room) AS tz),
o AS (
    SELECT o.s, o.e, o.n, d.day, d.day - (extract(isodow FROM d.day)::integer - 1) AS monday
      FROM q, unnest(p_starts, p_ends) WITH ORDINALITY AS o(s, e, n)
     CROSS JOIN LATERAL (SELECT (o.s AT TIME ZONE q.tz)::date AS day) d
     WHERE q.quota IS NOT NULL
       -- A door panel's walk-ins: its account stands for whoever walks in.
       AND NOT EXISTS (SELECT 1 FROM panel_tokens t WHERE t.user_id = p_user)),
held AS (
    SELECT o.*,
           (SELECT count(*) FROM bookings b
             WHERE b.user_id = p_user AND b.cancelled_at IS NULL AND b.status <> 'released'
               AND b.room_id = ANY (q.rooms) AND b.id IS DISTINCT FROM p_exclude
               AND b.start_at >= o.day::timestamp AT TIME ZONE q.tz
               AND b.start_at < (o.day + 1)::timestamp AT TIME ZONE q.tz) AS day_held,
           w.week_held, w.week_minutes
      FROM o CROSS JOIN q
     CROSS JOIN LATERAL (
           SELECT count(*) AS week_held,
                  coalesce(sum(extract(epoch FROM b.end_at - b.start_at) / 60), 0) AS week_minutes
             FROM bookings b
            WHERE b.user_id = p_user AND b.cancelled_at IS NULL AND b.status <> 'released'
              AND b.room_id = ANY (q.rooms) AND b.id IS DISTINCT FROM p_exclude
              AND b.start_at >= o.monday::timestamp AT TIME ZONE q.tz
              AND b.start_at < (o.monday + 7)::timestamp AT TIME ZONE q.tz) w),
counted AS (
    -- Before this occurrence: what is held, and the earlier ones of this request.
    SELECT h.*,
           h.day_held + count(*) OVER (PARTITION BY h.day ORDER BY h.n
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS day_used,
           h.week_held + count(*) OVER (PARTITION BY h.monday ORDER BY h.n
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS week_used,
           h.week_minutes + coalesce(sum(extract(epoch FROM h.e - h.s) / 60)
                                     OVER (PARTITION BY h.monday ORDER BY h.n
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS minutes_used
      FROM held h),
verdict AS (
    SELECT c.s, c.e,
           CASE WHEN c.day_used + 1 > (q.quota->>'bookings_per_day')::integer
                THEN jsonb_build_object('quota', 'bookings_per_day', 'used', c.day_used,
                                        'limit', (q.quota->>'bookings_per_day')::integer)
                WHEN c.week_used + 1 > (q.quota->>'bookings_per_week')::integer
                THEN jsonb_build_object('quota', 'bookings_per_week', 'used', c.week_used,
                                        'limit', (q.quota->>'bookings_per_week')::integer)
                WHEN c.minutes_used + extract(epoch FROM c.e - c.s) / 60
                     > (q.quota->>'hours_per_week')::integer * 60
                THEN jsonb_build_object('quota', 'hours_per_week',
                                        'used', round(c.minutes_used / 60.0, 2),
                                        'limit', (q.quota->>'hours_per_week')::integer)
           END AS over
      FROM counted c CROSS JOIN q)
SELECT v.s, v.over || jsonb_build_object('code', 'quota_exceeded', 'source', q.source,
                                         'start_time', rfc3339(v.s, q.tz),
                                         'end_time', rfc3339(v.e, q.tz))
  FROM verdict v CROSS JOIN q
 WHERE v.over IS NOT NULL
 ORDER BY v.s
$$;
