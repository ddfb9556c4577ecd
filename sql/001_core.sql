-- Core schema: accounts, rooms, series, bookings.
--
-- Correctness lives here: the exclusion constraint is what makes a double
-- booking impossible, whatever the application does and however many
-- requests race. Intervals are half-open [start, end), so 09:00-10:00 and
-- 10:00-11:00 do not collide.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- RFC 3339 text of `ts` as wall-clock time in zone `tz`, with that zone's
-- offset at that instant: 2026-03-29T03:30:00+02:00. Written as a single
-- expression so the planner inlines it; about 1 µs a call.
CREATE FUNCTION rfc3339(ts timestamptz, tz text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(ts AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN ts AT TIME ZONE tz < ts AT TIME ZONE 'UTC' THEN '-' ELSE '+' END
    || to_char(abs(extract(epoch FROM (ts AT TIME ZONE tz) - (ts AT TIME ZONE 'UTC')))
               * interval '1 second', 'HH24:MI');

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email LIKE '%_@_%'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    password_hash text,                        -- NULL: no password sign-in (tokens only)
    role          text NOT NULL DEFAULT 'staff' CHECK (role IN ('staff', 'admin')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique whatever their case: Alice@X and alice@x are one person.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Server-side sessions: the cookie carries a random token, the table its hash,
-- so signing out (deleting the row) really ends the session.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Personal access tokens for integrations. Only the SHA-256 of the token is
-- kept; tokens are 256 random bits, so a fast hash is enough.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    token_hash   bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,                -- shown in lists to recognise a token
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

CREATE TABLE rooms (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    building   text NOT NULL DEFAULT '' CHECK (length(building) <= 100),
    floor      integer NOT NULL DEFAULT 0 CHECK (floor BETWEEN -50 AND 500),
    capacity   integer NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
    equipment  text[] NOT NULL DEFAULT '{}',
    timezone   text NOT NULL,                  -- IANA name, checked by the application
    opens      time NOT NULL DEFAULT '09:00',
    closes     time NOT NULL DEFAULT '18:00',
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rooms_hours_check CHECK (opens < closes)
);
CREATE UNIQUE INDEX rooms_name_key ON rooms (lower(name));

-- A recurring booking. Its occurrences are ordinary rows in `bookings`,
-- materialised up to the booking window, so the exclusion constraint guards
-- every one of them.
CREATE TABLE series (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id            integer NOT NULL REFERENCES rooms,
    user_id            bigint NOT NULL REFERENCES users,
    title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    rrule              text NOT NULL,
    first_start        timestamptz NOT NULL,
    duration_minutes   integer NOT NULL CHECK (duration_minutes > 0),
    timezone           text NOT NULL,
    materialized_until timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    cancelled_at       timestamptz,
    cancelled_by       bigint REFERENCES users
);
CREATE INDEX series_user ON series (user_id, id);

-- One row per occupied interval. Cancelling sets cancelled_at; rows are never
-- deleted (audit trail).
CREATE TABLE bookings (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id      integer NOT NULL REFERENCES rooms,
    user_id      bigint NOT NULL REFERENCES users,
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    start_at     timestamptz NOT NULL,
    end_at       timestamptz NOT NULL,
    series_id    bigint REFERENCES series,
    created_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    cancelled_by bigint REFERENCES users,
    CONSTRAINT bookings_positive_length CHECK (end_at > start_at),
    -- The guarantee: no two live bookings of one room overlap. '[)' so
    -- back-to-back meetings don't collide; cancelled rows step aside.
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        room_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&
    ) WHERE (cancelled_at IS NULL)
);

-- Day view, rooms overview, conflicts and availability: a room's live
-- bookings by start, covering what those pages show (index-only scans).
-- (cancelled_at is always NULL here; including it lets booking_api be
-- answered from the index alone.)
CREATE INDEX bookings_room_start ON bookings (room_id, start_at)
    INCLUDE (end_at, id, user_id, title, series_id, created_at, cancelled_at)
    WHERE cancelled_at IS NULL;

-- "My bookings", keyset-paginated on (start_at, id).
CREATE INDEX bookings_user_start ON bookings (user_id, start_at, id)
    INCLUDE (end_at, room_id, title, series_id, created_at, cancelled_at)
    WHERE cancelled_at IS NULL;

-- A series' occurrences, live or not.
CREATE INDEX bookings_series ON bookings (series_id, start_at) WHERE series_id IS NOT NULL;

-- A booking joined with its room and owner, times rendered in the room's
-- zone. Queries filter on the raw columns (start_at, end_at, live) and
-- return booking_json(b): the booking's JSON shape is defined once, below.
CREATE VIEW booking_api AS
SELECT b.id,
       b.room_id,
       r.name AS room_name,
       b.user_id,
       u.name AS user_name,
       b.title,
       rfc3339(b.start_at, r.timezone) AS start_time,
       rfc3339(b.end_at, r.timezone) AS end_time,
       b.series_id,
       rfc3339(b.cancelled_at, r.timezone) AS cancelled_at,
       rfc3339(b.created_at, r.timezone) AS created_at,
       b.start_at,
       b.end_at,
       b.cancelled_at IS NULL AS live,
       r.timezone
  FROM bookings b
  JOIN rooms r ON r.id = b.room_id
  JOIN users u ON u.id = b.user_id;

-- The JSON shape of a booking, as the API documents it.
CREATE FUNCTION booking_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', v.id, 'room_id', v.room_id, 'room_name', v.room_name,
    'user_id', v.user_id, 'user_name', v.user_name, 'title', v.title,
    'start_time', v.start_time, 'end_time', v.end_time, 'series_id', v.series_id,
    'cancelled_at', v.cancelled_at, 'created_at', v.created_at);

-- Book one or more intervals of one room in a single round trip.
--
-- Every interval goes in with INSERT ... ON CONFLICT DO NOTHING: the
-- exclusion constraint decides, and concurrent inserts into one slot wait for
-- each other instead of deadlocking. Unless p_skip_conflicts, it is all or
-- nothing: if any interval is taken, none is booked.
--
-- Rows returned:
--   ('created',  start, booking)   one per booking made
--   ('conflict', start, booking)   per requested interval that was taken, one
--                                  for each live booking in its way
-- The conflict rows are read after the insert, by a new statement with a new
-- snapshot, so they show the booking that won a race a moment ago.
CREATE FUNCTION book(p_room integer, p_user bigint, p_title text,
                     p_starts timestamptz[], p_ends timestamptz[],
                     p_series bigint DEFAULT NULL,
                     p_skip_conflicts boolean DEFAULT false)
RETURNS TABLE (kind text, requested_start timestamptz, booking json)
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[] := '{}';
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

    IF cardinality(v_ids) < cardinality(p_starts) THEN
        RETURN QUERY
        SELECT 'conflict', o.s, booking_json(v)
          FROM unnest(p_starts, p_ends) AS o(s, e)
          JOIN booking_api v
            ON v.room_id = p_room AND v.live
           AND v.start_at < o.e AND v.end_at > o.s
           AND v.start_at > o.s - interval '1 day'   -- no booking spans a day: index range
         WHERE NOT EXISTS (SELECT 1 FROM bookings c
                            WHERE c.id = ANY (v_ids) AND c.start_at = o.s)
         ORDER BY o.s, v.start_at;
    END IF;
END
$$;
