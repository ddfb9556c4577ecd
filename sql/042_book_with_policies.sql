-- Booking under the effective policy (issue 18): what depends on other rows is
-- decided in the statement that books, under concurrency.
--
--   * buffer: each booking is written with its room's effective buffer_minutes,
--     which the exclusion constraint adds to its end (sql/041);
--   * approval: in a room whose policy has approval_required, a booking (or a
--     series, whole) is written `pending` and holds its slot until decided;
--   * quota: one person's bookings under a quota are counted and written one
--     request at a time (an advisory lock per person, taken only when the
--     room's policy has a quota), so 30 simultaneous requests against
--     bookings_per_day 3 leave exactly 3.
--
-- Administrators (p_admin) book past quotas and approvals: the booking is
-- confirmed, and `overrides` names what was passed over (audited with it).
-- The pure rules (length, hours, closed days, notice, window, bookers) are
-- booking/rules.py's, checked by the caller with the same room_policy().
--
-- The functions keep issue 16's arguments and answers (sql/021: who made a
-- booking, for whom, its attendees, invitees and notes; 'created' rows as GET
-- /api/bookings/<id> shows them; other rooms for a refused booking come from
-- the finder's query in the caller's statement, not from book()), and add the
-- policy's: whether the booker is an administrator and what they book past.

-- The policy fields the database itself acts on, from room_policy()'s answer.
CREATE FUNCTION policy_buffer(p_policy jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce((p_policy->'fields'->'buffer_minutes'->>'value')::integer, 0);

CREATE FUNCTION policy_approval(p_policy jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce((p_policy->'fields'->'approval_required'->>'value')::boolean, false);

-- The rooms whose bookings count against a room's quota: every room of the
-- area that sets it (its sub-areas included), or the room that sets it.
CREATE FUNCTION quota_rooms(p_room integer, p_policy jsonb) RETURNS integer[]
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN p_policy->'fields'->'quota'->'source'->>'level' = 'area'
            THEN ARRAY(SELECT area_rooms((p_policy->'fields'->'quota'->'source'->>'id')::integer))
            ELSE ARRAY[p_room] END;

-- The occurrences [p_starts[i], p_ends[i]) of a booking by p_user in p_room that
-- its quota refuses, each with {code, quota, used, limit, source, start_time,
-- end_time}: used is what the person holds in the quota's rooms that day or
-- week (room-local; weeks Monday to Sunday) before it, earlier occurrences of
-- the same request included. Live bookings count, pending ones too; cancelled,
-- rejected, expired and released ones do not. The same rule as
-- booking.rules.quota_violation(). p_exclude: a booking being moved, which
-- does not count against itself (edit_booking(), sql/044).
-- bookings_user_start: one range per occurrence and kind. Call it under the
-- person's quota lock (book()).
CREATE FUNCTION quota_refusals(p_room integer, p_user bigint, p_policy jsonb,
                               p_starts timestamptz[], p_ends timestamptz[],
                               p_exclude bigint DEFAULT NULL)
RETURNS TABLE (requested_start timestamptz, details jsonb)
LANGUAGE sql STABLE AS $$
WITH q AS (
    SELECT p_policy->'fields'->'quota'->'value' AS quota,
           p_policy->'fields'->'quota'->'source' AS source,
           quota_rooms(p_room, p_policy) AS rooms,
           (SELECT r.timezone FROM rooms r WHERE r.id = p_room) AS tz),
o AS (
    SELECT o.s, o.e, o.n, d.day, d.day - (extract(isodow FROM d.day)::integer - 1) AS monday
      FROM q, unnest(p_starts, p_ends) WITH ORDINALITY AS o(s, e, n)
     CROSS JOIN LATERAL (SELECT (o.s AT TIME ZONE q.tz)::date AS day) d
     WHERE q.quota IS NOT NULL),
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

-- A new booking's status in a room: a series' own (pending until approved,
-- confirmed after), else pending where approval is required (not for admins).
CREATE FUNCTION new_booking_status(p_policy jsonb, p_series bigint, p_admin boolean)
RETURNS text
LANGUAGE sql STABLE
RETURN coalesce((SELECT s.status FROM series s
                  WHERE s.id = p_series AND s.status IN ('pending', 'confirmed')),
                CASE WHEN NOT p_admin AND policy_approval(p_policy) THEN 'pending'
                     ELSE 'confirmed' END);

-- The per-person lock every write under a quota takes first (book(),
-- auto_book(), edit_booking()), held to the end of the transaction.
CREATE FUNCTION quota_lock(p_user bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('quota ' || p_user, 0))
$$;

-- The quota check of book() and auto_book(): under the person's quota lock, the
-- occurrences the quota refuses (none when the policy has no quota).
CREATE FUNCTION quota_locked_refusals(p_room integer, p_user bigint, p_policy jsonb,
                                      p_starts timestamptz[], p_ends timestamptz[],
                                      p_exclude bigint DEFAULT NULL)
RETURNS TABLE (requested_start timestamptz, details jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (p_policy->'fields' ? 'quota') THEN
        RETURN;
    END IF;
    -- One person's bookings under a quota are decided one request at a time:
    -- the count (a new statement, so a new snapshot) sees every booking of
    -- theirs that committed before this lock was granted.
    PERFORM quota_lock(p_user);
    RETURN QUERY SELECT * FROM quota_refusals(p_room, p_user, p_policy, p_starts, p_ends,
                                              p_exclude);
END
$$;

DROP FUNCTION book_once(bigint, text, text, timestamptz, text, jsonb);
DROP FUNCTION book_series(integer, bigint, text, text, text, timestamptz, integer, timestamptz,
                          timestamptz[], timestamptz[], boolean, bigint, integer, text[], text);
DROP FUNCTION extend_series(bigint, timestamptz, timestamptz, timestamptz[], timestamptz[],
                            timestamptz[], timestamptz[], text[]);
DROP FUNCTION auto_book(integer[], bigint, text, timestamptz, timestamptz, integer, text[], text,
                        integer, timestamptz, timestamptz);
DROP FUNCTION book(integer, bigint, text, timestamptz[], timestamptz[], bigint, boolean, bigint,
                   integer, text[], text);
DROP FUNCTION room_suggestions(timestamptz, timestamptz, integer, text[], text, integer,
                               timestamptz, timestamptz, integer, integer);

-- Book [p_starts[i], p_ends[i]) in p_room for p_user (the owner), made by
-- p_created_by (the owner, a delegate or an admin; sql/021) with its people,
-- all or (p_skip_conflicts) as many as are free. Rows: 'created' (the booking,
-- as GET /api/bookings/<id> shows it), 'refused' (the quota refuses: nothing
-- is booked; data says which quota), 'over_quota' (p_skip_over_quota: an
-- occurrence left out for the quota), 'conflict' (a booking in the way of an
-- occurrence not booked), 'busy' (what holds the room from the first one not
-- booked on, each booking to its end plus its buffer, for next free slots),
-- 'mine' (the owner's bookings that count against the same quota, for next
-- free slots that keep within it). The quota is the owner's; an
-- administrator (p_admin) books past it and past approval.
CREATE FUNCTION book(p_room integer, p_user bigint, p_title text,
                     p_starts timestamptz[], p_ends timestamptz[],
                     p_series bigint DEFAULT NULL, p_skip_conflicts boolean DEFAULT false,
                     p_created_by bigint DEFAULT NULL, p_attendees integer DEFAULT NULL,
                     p_invitees text[] DEFAULT '{}', p_notes text DEFAULT NULL,
                     p_admin boolean DEFAULT false, p_overrides text[] DEFAULT NULL,
                     p_skip_over_quota boolean DEFAULT false)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_policy jsonb := room_policy(p_room);
    v_buffer integer := policy_buffer(v_policy);
    v_status text := new_booking_status(v_policy, p_series, p_admin);
    v_overrides text[] := p_overrides;
    v_starts timestamptz[] := p_starts;
    v_ends timestamptz[] := p_ends;
    v_refused timestamptz[];
    v_first jsonb;
    v_ids bigint[] := '{}';
    v_start timestamptz;
BEGIN
    SELECT coalesce(array_agg(q.requested_start ORDER BY q.requested_start), '{}'),
           (array_agg(q.details ORDER BY q.requested_start))[1]
      INTO v_refused, v_first
      FROM quota_locked_refusals(p_room, p_user, v_policy, p_starts, p_ends) q;
    IF cardinality(v_refused) > 0 THEN
        IF p_admin THEN
            v_overrides := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(v_overrides, '{}')
                                                               || 'quota_exceeded'::text) x
                                  ORDER BY x);
        ELSIF p_skip_over_quota THEN
            RETURN QUERY SELECT 'over_quota', r, NULL::json FROM unnest(v_refused) r;
            SELECT coalesce(array_agg(o.s ORDER BY o.s), '{}'),
                   coalesce(array_agg(o.e ORDER BY o.s), '{}')
              INTO v_starts, v_ends
              FROM unnest(p_starts, p_ends) AS o(s, e) WHERE o.s <> ALL (v_refused);
        ELSE
            RETURN QUERY SELECT 'refused', v_refused[1], v_first::json;
            RETURN;
        END IF;
    END IF;

    FOR attempt IN 1..3 LOOP
        BEGIN
            WITH ins AS (
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, series_id,
                                      created_by, attendees, invitees, notes,
                                      status, buffer_minutes, overrides)
                SELECT p_room, p_user, p_title, o.s, o.e, p_series,
                       coalesce(p_created_by, p_user), p_attendees, coalesce(p_invitees, '{}'),
                       p_notes, v_status, v_buffer, nullif(v_overrides, '{}')
                  FROM unnest(v_starts, v_ends) AS o(s, e)
                 ORDER BY o.s           -- one order for everyone: fewer lock waits
                ON CONFLICT DO NOTHING
                RETURNING id)
            SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM ins;
            IF cardinality(v_ids) < cardinality(v_starts) AND NOT p_skip_conflicts THEN
                RAISE EXCEPTION USING ERRCODE = 'BK409';   -- undo what went in
            END IF;
            EXIT;
        EXCEPTION
            WHEN SQLSTATE 'BK409' THEN
                v_ids := '{}';
                EXIT;
            WHEN deadlock_detected THEN
                IF attempt = 3 THEN RAISE; END IF;
        END;
    END LOOP;

    RETURN QUERY
    SELECT 'created', v.start_at, booking_detail_json(v)   -- as GET /api/bookings/<id> shows it
      FROM booking_api v
     WHERE v.id = ANY (v_ids)
     ORDER BY v.start_at;

    IF cardinality(v_ids) = cardinality(v_starts) THEN
        RETURN;
    END IF;

    -- A new statement, so a fresh snapshot: even the loser of a race sees the winner.
    -- In the way: a live booking whose [start, end + its buffer) meets
    -- [s, e + this room's buffer). No booking spans a day and buffers are at
    -- most 4 hours, so start_at > s - 28 hours bounds the index range.
    RETURN QUERY
    SELECT 'conflict', o.s, booking_json(v)
      FROM unnest(v_starts, v_ends) AS o(s, e)
      JOIN booking_api v
        ON v.room_id = p_room AND v.live
       AND v.start_at < plus_minutes(o.e, v_buffer)
       AND plus_minutes(v.end_at, v.buffer_minutes) > o.s
       AND v.start_at > o.s - interval '28 hours'
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (v_ids) AND c.start_at = o.s)
     ORDER BY o.s, v.start_at;

    SELECT o.s INTO v_start
      FROM unnest(v_starts, v_ends) AS o(s, e)
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (v_ids) AND c.start_at = o.s)
     ORDER BY o.s LIMIT 1;

    -- bookings_room_start: what holds the room in the 15 days from the first
    -- taken interval, each booking with the buffer after it (its next free
    -- slots are found in Python, by the rules and the room's policy).
    RETURN QUERY
    SELECT 'busy', v_start, json_build_object('start_at', b.start_at,
                                              'end_at', plus_minutes(b.end_at, b.buffer_minutes))
      FROM bookings b
     WHERE b.room_id = p_room AND b.cancelled_at IS NULL
       AND b.start_at > v_start - interval '28 hours' AND b.start_at < v_start + interval '15 days'
       AND plus_minutes(b.end_at, b.buffer_minutes) > v_start
     ORDER BY b.start_at;

    -- bookings_user_start: the owner's bookings that count against this room's
    -- quota, from the week before on (next free slots keep within it).
    IF v_policy->'fields' ? 'quota' AND NOT p_admin THEN
        RETURN QUERY
        SELECT 'mine', v_start, json_build_object('room_id', b.room_id, 'start_at', b.start_at,
                                                  'end_at', b.end_at)
          FROM bookings b
         WHERE b.user_id = p_user AND b.cancelled_at IS NULL AND b.status <> 'released'
           AND b.room_id = ANY (quota_rooms(p_room, v_policy))
           AND b.start_at > v_start - interval '8 days' AND b.start_at < v_start + interval '22 days'
         ORDER BY b.start_at;
    END IF;
END
$$;

-- A series: the series row, then its occurrences through book(). Pending as a
-- whole where approval is required; refused whole when its quota refuses an
-- occurrence, or (without p_skip_conflicts) when one is taken.
CREATE FUNCTION book_series(p_room integer, p_user bigint, p_title text, p_rrule text,
                            p_timezone text, p_first_start timestamptz,
                            p_duration_minutes integer, p_materialized_until timestamptz,
                            p_starts timestamptz[], p_ends timestamptz[],
                            p_skip_conflicts boolean, p_created_by bigint DEFAULT NULL,
                            p_attendees integer DEFAULT NULL, p_invitees text[] DEFAULT '{}',
                            p_notes text DEFAULT NULL, p_admin boolean DEFAULT false,
                            p_overrides text[] DEFAULT NULL)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_series series;
    v_rows booking_result[] := '{}';
BEGIN
    BEGIN
        INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                            timezone, materialized_until, created_by, attendees, invitees,
                            notes, status)
        VALUES (p_room, p_user, p_title, p_rrule, p_first_start, p_duration_minutes,
                p_timezone, p_materialized_until, coalesce(p_created_by, p_user), p_attendees,
                coalesce(p_invitees, '{}'), p_notes,
                new_booking_status(room_policy(p_room), NULL, p_admin))
        RETURNING * INTO v_series;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, p_user, p_title, p_starts, p_ends, v_series.id, p_skip_conflicts,
                    p_created_by, p_attendees, p_invitees, p_notes, p_admin, p_overrides) b;

        IF EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'refused')
           OR (NOT p_skip_conflicts
               AND EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict')) THEN
            RAISE EXCEPTION USING ERRCODE = 'BK409';   -- no series without its occurrences
        END IF;

        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_series.id, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT r.requested_start FROM unnest(v_rows) r WHERE r.kind = 'conflict');
    EXCEPTION
        WHEN SQLSTATE 'BK409' THEN
            v_series := NULL;
    END;

    IF v_series.id IS NOT NULL THEN
        RETURN QUERY SELECT 'series', v_series.first_start, series_json(v_series);
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_rows);
    IF v_series.id IS NOT NULL THEN
        RETURN QUERY
        SELECT 'skipped', k.start_at,
               json_build_object('start_time', rfc3339(k.start_at, p_timezone),
                                 'end_time', rfc3339(k.end_at, p_timezone),
                                 'reason', k.reason)
          FROM series_skips k
         WHERE k.series_id = v_series.id
         ORDER BY k.start_at;
    END IF;
END
$$;

-- A series' next occurrences (booking/series/service.py extend_all), booked
-- with its people (sql/021): taken ones and those its quota refuses are
-- recorded as skipped, as are those the rules refuse (p_rule_*), and the
-- organiser is told of each (series.occurrence_skipped: a mail, and a webhook
-- for those who want it). A series that is rejected or expired books nothing
-- more.
CREATE FUNCTION extend_series(p_series bigint, p_from timestamptz, p_until timestamptz,
                              p_starts timestamptz[], p_ends timestamptz[],
                              p_rule_starts timestamptz[], p_rule_ends timestamptz[],
                              p_rule_reasons text[])
RETURNS TABLE (booked integer, skipped integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_series series;
    v_booked integer;
    v_skipped integer;
BEGIN
    UPDATE series SET materialized_until = p_until
     WHERE id = p_series AND materialized_until = p_from AND cancelled_at IS NULL
       AND status IN ('confirmed', 'pending')
    RETURNING * INTO v_series;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 0, 0;
        RETURN;
    END IF;

    WITH rows AS (
        SELECT * FROM book(v_series.room_id, v_series.user_id, v_series.title,
                           p_starts, p_ends, p_series, true, v_series.created_by,
                           v_series.attendees, v_series.invitees, v_series.notes,
                           false, NULL, true)),
    missed AS (
        SELECT o.s, o.e,
               CASE WHEN o.s IN (SELECT requested_start FROM rows WHERE kind = 'over_quota')
                    THEN 'quota_exceeded' ELSE 'conflict' END AS reason
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT requested_start FROM rows WHERE kind IN ('conflict', 'over_quota'))
        UNION ALL
        SELECT o.s, o.e, o.r FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)),
    recorded AS (
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT p_series, m.s, m.e, m.reason FROM missed m
        ON CONFLICT DO NOTHING
        RETURNING start_at, end_at, reason),
    told AS (
        INSERT INTO outbox (kind, user_id, room_id, series_id, payload)
        SELECT 'series.occurrence_skipped', v_series.user_id, v_series.room_id, p_series,
               jsonb_build_object('series', to_jsonb(v_series), 'start_at', k.start_at,
                                  'end_at', k.end_at, 'reason', k.reason)
          FROM recorded k
         ORDER BY k.start_at
        RETURNING 1)
    SELECT (SELECT count(*) FROM rows WHERE kind = 'created'), (SELECT count(*) FROM told)
      INTO v_booked, v_skipped;
    IF v_skipped > 0 THEN
        PERFORM outbox_notify();
    END IF;
    RETURN QUERY SELECT v_booked, v_skipped;
END
$$;

-- What to offer when no room fits [p_start, p_end) (sql/003, now with the
-- rooms' policies): p_rules holds, for rooms whose policy sets them, the buffer
-- ({"<room id>": {"buffer": 15, "hours": [[opens, closes] or null, ... Monday
-- first]}}); the gaps between bookings keep each booking's buffer after it and
-- the room's before the next one, inside the room's hours of that weekday.
-- The caller checks everything offered against the rules (closed dates,
-- notice, quotas).
CREATE FUNCTION room_suggestions(p_start timestamptz, p_end timestamptz, p_capacity integer,
                                 p_equipment text[], p_building text, p_floor integer,
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
     WHERE r.active AND r.capacity >= p_capacity AND r.equipment @> p_equipment),
day AS (
    -- Each fitting room's opening hours on the request's local day (in that
    -- room's zone) and the days after, and the same time of day as asked.
    SELECT f.id, f.buffer, g.d,
           wall_instant(l.local_start::date + g.d, h.opens, f.timezone) AS open_at,
           wall_instant(l.local_start::date + g.d, h.closes, f.timezone) AS close_at,
           (l.local_start + make_interval(days => g.d)) AT TIME ZONE f.timezone AS target
      FROM fit f
     CROSS JOIN generate_series(0, p_days) AS g(d)
     CROSS JOIN LATERAL (SELECT p_start AT TIME ZONE f.timezone AS local_start) l
     CROSS JOIN LATERAL (
           SELECT CASE WHEN f.week_hours IS NULL THEN f.opens
                       ELSE (f.week_hours->(extract(isodow FROM l.local_start::date + g.d)::integer - 1)->>0)::time
                  END AS opens,
                  CASE WHEN f.week_hours IS NULL THEN f.closes
                       ELSE (f.week_hours->(extract(isodow FROM l.local_start::date + g.d)::integer - 1)->>1)::time
                  END AS closes) h
     WHERE h.opens IS NOT NULL),
gap AS (
    -- The free stretches between live bookings inside the opening hours: each
    -- booking (and a zero-length sentinel at closing time) ends the gap that
    -- began when everything before it had ended, its buffer included; a gap
    -- ends the room's own buffer before the next booking.
    SELECT day.id, day.d, day.target, x.gap_start, x.gap_end
      FROM day
     CROSS JOIN LATERAL (
           SELECT greatest(day.open_at,
                           max(b.e) OVER (ORDER BY b.s ROWS BETWEEN UNBOUNDED PRECEDING
                                                               AND 1 PRECEDING)) AS gap_start,
                  CASE WHEN b.sentinel THEN b.s ELSE b.s - make_interval(mins => day.buffer) END
                      AS gap_end
             FROM (SELECT k.start_at AS s, plus_minutes(k.end_at, k.buffer_minutes) AS e,
                          false AS sentinel
                     FROM bookings k
                    WHERE k.room_id = day.id AND k.cancelled_at IS NULL
                      AND k.start_at < plus_minutes(day.close_at, day.buffer)
                      AND plus_minutes(k.end_at, k.buffer_minutes) > day.open_at
                      AND k.start_at > day.open_at - interval '28 hours'
                   UNION ALL
                   SELECT day.close_at, day.close_at, true) b) x),
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
                 WHERE r.active AND r.capacity >= p_capacity AND cardinality(m.missing) = 1
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

-- Automatic assignment: the ranked candidates in order, each under its own
-- policy (buffer, approval, quota); the first that takes the booking wins. It
-- records the party it was asked for (sql/021).
CREATE FUNCTION auto_book(p_rooms integer[], p_user bigint, p_title text, p_start timestamptz,
                          p_end timestamptz, p_capacity integer, p_equipment text[],
                          p_building text, p_floor integer, p_not_before timestamptz,
                          p_until timestamptz, p_rules jsonb DEFAULT '{}',
                          p_admin boolean DEFAULT false)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v_room integer;
    v_id bigint;
    v_policy jsonb;
    v_overrides text[];
BEGIN
    FOREACH v_room IN ARRAY p_rooms LOOP
        v_policy := room_policy(v_room);
        v_overrides := NULL;
        IF EXISTS (SELECT 1 FROM quota_locked_refusals(v_room, p_user, v_policy,
                                                       ARRAY[p_start], ARRAY[p_end])) THEN
            IF NOT p_admin THEN
                CONTINUE;
            END IF;
            v_overrides := '{quota_exceeded}';
        END IF;
        FOR attempt IN 1..2 LOOP
            BEGIN
                -- No row inserted (taken) leaves v_id NULL.
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_by,
                                      attendees, status, buffer_minutes, overrides)
                VALUES (v_room, p_user, p_title, p_start, p_end, p_user, p_capacity,
                        new_booking_status(v_policy, NULL, p_admin), policy_buffer(v_policy),
                        v_overrides)
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
                'booking', (SELECT booking_detail_json(v) FROM booking_api v WHERE v.id = v_id));
        END IF;
    END LOOP;
    RETURN json_build_object(
        'room_id', NULL,
        'suggestions', room_suggestions(p_start, p_end, p_capacity, p_equipment, p_building,
                                        p_floor, p_not_before, p_until, p_rules));
END
$$;

-- book_once() (sql/007, 021) with the new arguments: whether the booker is an
-- administrator and what they book past, and the rooms' rules for suggestions;
-- the owner and the people around the booking as sql/021 passes them on.
CREATE FUNCTION book_once(p_user bigint, p_key text, p_fingerprint text, p_now timestamptz,
                          p_kind text, p_args jsonb)
RETURNS TABLE (replayed boolean, same_request boolean, result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_earlier idempotency_keys;
    v_result jsonb;
    v_booked boolean;
    v_admin boolean := coalesce((p_args->>'admin')::boolean, false);
    v_overrides text[] := ARRAY(SELECT jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(p_args->'overrides') = 'array' THEN p_args->'overrides'
             ELSE '[]' END));
    v_owner bigint := coalesce((p_args->>'owner')::bigint, p_user);
    v_invitees text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_args->'invitees',
                                                                          '[]')));
BEGIN
    DELETE FROM idempotency_keys k
     WHERE k.user_id = p_user AND k.key = p_key AND k.created_at <= p_now - interval '24 hours';
    DELETE FROM idempotency_keys k WHERE (k.user_id, k.key) IN (
        SELECT o.user_id, o.key FROM idempotency_keys o
         WHERE o.created_at <= p_now - interval '24 hours'
         ORDER BY o.created_at LIMIT 10 FOR UPDATE SKIP LOCKED);

    INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        -- Used before (and committed: the INSERT waited for that). A new
        -- statement, so a new snapshot that sees it.
        SELECT * INTO v_earlier FROM idempotency_keys k
         WHERE k.user_id = p_user AND k.key = p_key;
        IF NOT FOUND THEN  -- deleted as expired in between: let the client retry
            RAISE EXCEPTION 'idempotency key vanished' USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN QUERY SELECT true, v_earlier.fingerprint = p_fingerprint,
                            CASE WHEN v_earlier.fingerprint = p_fingerprint
                                 THEN v_earlier.answer END;
        RETURN;
    END IF;

    IF p_kind = 'book' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book((p_args->>'room')::integer, v_owner, p_args->>'title',
                    json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                    NULL, false, p_user, (p_args->>'attendees')::integer, v_invitees,
                    p_args->>'notes', v_admin, nullif(v_overrides, '{}')) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "created")');
    ELSIF p_kind = 'series' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book_series((p_args->>'room')::integer, v_owner, p_args->>'title',
                           p_args->>'rrule', p_args->>'tz', (p_args->>'first')::timestamptz,
                           (p_args->>'minutes')::integer, (p_args->>'horizon')::timestamptz,
                           json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                           (p_args->>'skip')::boolean, p_user,
                           (p_args->>'attendees')::integer, v_invitees, p_args->>'notes',
                           v_admin, nullif(v_overrides, '{}')) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "series")');
    ELSIF p_kind = 'auto' THEN
        v_result := to_jsonb(auto_book(
            ARRAY(SELECT jsonb_array_elements_text(p_args->'rooms')::integer), p_user,
            p_args->>'title', (p_args->>'start')::timestamptz, (p_args->>'end')::timestamptz,
            (p_args->>'people')::integer,
            ARRAY(SELECT jsonb_array_elements_text(p_args->'equipment')),
            p_args->>'building', (p_args->>'floor')::integer,
            (p_args->>'not_before')::timestamptz, (p_args->>'until')::timestamptz,
            coalesce(p_args->'rules', '{}'), v_admin));
        v_booked := v_result->>'room_id' IS NOT NULL;
        IF v_booked THEN
            v_result := v_result || jsonb_build_object(
                'room', p_args->'room_json'->(v_result->>'room_id'));
        END IF;
    ELSE
        RAISE EXCEPTION 'book_once: unknown kind %', p_kind;
    END IF;

    IF coalesce(v_booked, false) THEN
        UPDATE idempotency_keys k SET answer = v_result
         WHERE k.user_id = p_user AND k.key = p_key;
    ELSE
        DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
    END IF;
    RETURN QUERY SELECT false, true, v_result;
END
$$;
