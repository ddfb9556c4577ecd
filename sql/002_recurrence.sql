-- Recurring bookings, conflict suggestions, calendar feeds.
--
-- A series' occurrences are ordinary bookings rows (so the exclusion
-- constraint guards each one), materialised up to the booking window;
-- `flask --app booking series extend` moves that horizon forward daily.

-- "Cancel this and all following": occurrences from this instant on are
-- cancelled and never materialised again. Cancelling the whole series sets
-- cancelled_at as well.
ALTER TABLE series ADD COLUMN cancelled_from timestamptz;

-- Occurrences that could not be booked (taken, or breaking a rule by the time
-- the horizon reached them) are recorded, never silently dropped.
CREATE TABLE series_skips (
    series_id   bigint NOT NULL REFERENCES series,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL,
    reason      text NOT NULL,          -- 'conflict' or a rule code such as 'outside_hours'
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (series_id, start_at)
);

-- Materialising: the series whose horizon lags behind.
CREATE INDEX series_live_horizon ON series (materialized_until) WHERE cancelled_at IS NULL;

-- Calendar feeds show cancelled bookings too (STATUS:CANCELLED).
CREATE INDEX bookings_user_cancelled ON bookings (user_id, start_at) WHERE cancelled_at IS NOT NULL;
CREATE INDEX bookings_room_cancelled ON bookings (room_id, start_at) WHERE cancelled_at IS NOT NULL;

-- The JSON shape of a room, for SQL functions (Python selects ROOM_FIELDS,
-- booking/rooms/service.py; a test keeps the two alike).
CREATE FUNCTION room_json(r rooms) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', r.id, 'name', r.name, 'building', r.building, 'floor', r.floor,
    'capacity', r.capacity, 'equipment', r.equipment, 'timezone', r.timezone,
    'opens', to_char(r.opens, 'HH24:MI'), 'closes', to_char(r.closes, 'HH24:MI'),
    'active', r.active);

-- The JSON shape of a series.
CREATE FUNCTION series_json(s series) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', s.id, 'room_id', s.room_id, 'user_id', s.user_id, 'title', s.title,
    'recurrence', s.rrule, 'timezone', s.timezone,
    'first_start', rfc3339(s.first_start, s.timezone),
    'duration_minutes', s.duration_minutes,
    'materialized_until', rfc3339(s.materialized_until, s.timezone),
    'cancelled_at', rfc3339(s.cancelled_at, s.timezone),
    'cancelled_from', rfc3339(s.cancelled_from, s.timezone));

-- What book() and book_series() return, one row per fact.
CREATE TYPE booking_result AS (kind text, requested_start timestamptz, data json);

-- book(), now also returning what conflict suggestions need.
--
-- Rows:
--   created   (start, booking)        one per booking made
--   conflict  (start, booking)        per requested interval that was taken, one per
--                                     live booking in its way
-- and when something was taken, for the first such interval:
--   busy      (start, {start_at, end_at})  the room's live bookings in the 15 days
--                                     from there (for "next free slots")
--   free_room (start, room)           up to 20 other active rooms at least as big,
--                                     open and free for that interval, smallest first
-- Everything after the insert is read by new statements, with a new
-- snapshot: it shows the booking that won a race a moment ago.
DROP FUNCTION book(integer, bigint, text, timestamptz[], timestamptz[], bigint, boolean);

CREATE FUNCTION book(p_room integer, p_user bigint, p_title text,
                     p_starts timestamptz[], p_ends timestamptz[],
                     p_series bigint DEFAULT NULL,
                     p_skip_conflicts boolean DEFAULT false)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[] := '{}';
    v_start timestamptz;
    v_end timestamptz;
BEGIN
    FOR attempt IN 1..3 LOOP
        BEGIN
            WITH ins AS (
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, series_id)
                SELECT p_room, p_user, p_title, o.s, o.e, p_series
                  FROM unnest(p_starts, p_ends) AS o(s, e)
                 ORDER BY o.s           -- one order for everyone: fewer lock waits
                ON CONFLICT DO NOTHING
                RETURNING id)
            SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM ins;
            IF cardinality(v_ids) < cardinality(p_starts) AND NOT p_skip_conflicts THEN
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
    SELECT 'created', v.start_at, booking_json(v)
      FROM booking_api v
     WHERE v.id = ANY (v_ids)
     ORDER BY v.start_at;

    IF cardinality(v_ids) = cardinality(p_starts) THEN
        RETURN;
    END IF;

    RETURN QUERY
    SELECT 'conflict', o.s, booking_json(v)
      FROM unnest(p_starts, p_ends) AS o(s, e)
      JOIN booking_api v
        ON v.room_id = p_room AND v.live
       AND v.start_at < o.e AND v.end_at > o.s
       AND v.start_at > o.s - interval '1 day'   -- no booking spans a day: index range
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (v_ids) AND c.start_at = o.s)
     ORDER BY o.s, v.start_at;

    SELECT o.s, o.e INTO v_start, v_end
      FROM unnest(p_starts, p_ends) AS o(s, e)
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (v_ids) AND c.start_at = o.s)
     ORDER BY o.s LIMIT 1;

    -- bookings_room_start
    RETURN QUERY
    SELECT 'busy', v_start, json_build_object('start_at', b.start_at, 'end_at', b.end_at)
      FROM bookings b
     WHERE b.room_id = p_room AND b.cancelled_at IS NULL
       AND b.start_at > v_start - interval '1 day' AND b.start_at < v_start + interval '15 days'
       AND b.end_at > v_start
     ORDER BY b.start_at;

    -- bookings_room_start, one probe per candidate room
    RETURN QUERY
    SELECT 'free_room', v_start, room_json(r)
      FROM rooms r
     WHERE r.active AND r.id <> p_room
       AND r.capacity >= (SELECT capacity FROM rooms WHERE id = p_room)
       AND (v_start AT TIME ZONE r.timezone)::time >= r.opens
       AND (v_end AT TIME ZONE r.timezone) <= (v_start AT TIME ZONE r.timezone)::date + r.closes
       AND NOT EXISTS (SELECT 1 FROM bookings b
                        WHERE b.room_id = r.id AND b.cancelled_at IS NULL
                          AND b.start_at < v_end AND b.end_at > v_start
                          AND b.start_at > v_start - interval '1 day')
     ORDER BY r.capacity, r.name
     LIMIT 20;
END
$$;

-- Create a series and book its occurrences, in one round trip.
--
-- Unless p_skip_conflicts, all or nothing: if any occurrence is taken, the
-- series is not created either, and the rows say what was in the way. With
-- p_skip_conflicts the free occurrences are booked and the taken ones
-- recorded in series_skips. Rows: ('series', first start, series) when
-- created, then book()'s rows, then ('skipped', start, {start_time,
-- end_time, reason}) per occurrence skipped.
CREATE FUNCTION book_series(p_room integer, p_user bigint, p_title text, p_rrule text,
                            p_timezone text, p_first_start timestamptz,
                            p_duration_minutes integer, p_materialized_until timestamptz,
                            p_starts timestamptz[], p_ends timestamptz[],
                            p_skip_conflicts boolean)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_series series;
    v_rows booking_result[] := '{}';
BEGIN
    BEGIN
        INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                            timezone, materialized_until)
        VALUES (p_room, p_user, p_title, p_rrule, p_first_start, p_duration_minutes,
                p_timezone, p_materialized_until)
        RETURNING * INTO v_series;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, p_user, p_title, p_starts, p_ends, v_series.id, p_skip_conflicts) b;

        IF NOT p_skip_conflicts
           AND EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict') THEN
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

-- Move a series' horizon from p_from to p_until, booking the occurrences in
-- between (those taken are skipped and recorded) and recording the ones the
-- application found breaking a rule. Idempotent: if the horizon is no longer
-- p_from (another run got there first), nothing happens.
CREATE FUNCTION extend_series(p_series bigint, p_from timestamptz, p_until timestamptz,
                              p_starts timestamptz[], p_ends timestamptz[],
                              p_rule_starts timestamptz[], p_rule_ends timestamptz[],
                              p_rule_reasons text[])
RETURNS TABLE (booked integer, skipped integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_series series;
    v_booked integer;
    v_conflicts integer;
BEGIN
    UPDATE series SET materialized_until = p_until
     WHERE id = p_series AND materialized_until = p_from AND cancelled_at IS NULL
    RETURNING * INTO v_series;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 0, 0;
        RETURN;
    END IF;

    WITH rows AS (
        SELECT * FROM book(v_series.room_id, v_series.user_id, v_series.title,
                           p_starts, p_ends, p_series, true)),
    taken AS (
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT p_series, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT requested_start FROM rows WHERE kind = 'conflict')
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT (SELECT count(*) FROM rows WHERE kind = 'created'), (SELECT count(*) FROM taken)
      INTO v_booked, v_conflicts;

    INSERT INTO series_skips (series_id, start_at, end_at, reason)
    SELECT p_series, o.s, o.e, o.r
      FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)
    ON CONFLICT DO NOTHING;

    RETURN QUERY SELECT v_booked, v_conflicts + coalesce(cardinality(p_rule_starts), 0);
END
$$;

-- Personal calendar feeds: the feed URL carries an HMAC of the user id and
-- this salt (booking/feeds/service.py); a new salt revokes the old URL.
ALTER TABLE users ADD COLUMN calendar_salt text NOT NULL DEFAULT gen_random_uuid()::text;
