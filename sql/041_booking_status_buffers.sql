-- A booking's life and the room's buffer (issue 18), beside the people on a
-- booking (issue 16, sql/020 and 021: its JSON keeps their fields).
--
-- status: confirmed, pending (waiting for approval; holds its slot), rejected,
-- expired (a request nobody decided in time), released (issue 17: cut short for
-- want of a check-in). `cancelled` is not stored: a booking with cancelled_at
-- set is cancelled whatever it was (booking_json_of() says so), and rejected
-- and expired bookings have cancelled_at set too, so "cancelled_at IS NULL"
-- still means "holds its time" everywhere (the constraint, the indexes, every
-- query), pending included.
ALTER TABLE bookings ADD COLUMN status text NOT NULL DEFAULT 'confirmed'
    CONSTRAINT bookings_status_check
    CHECK (status IN ('confirmed', 'pending', 'rejected', 'expired', 'released'));
-- The set-up/clean-up time kept free after this booking, in minutes: the room's
-- effective buffer_minutes when it was booked (or last moved). A change of the
-- room's buffer applies to bookings made (or moved) from then on; those already
-- made keep the buffer they were made with, so none becomes invalid.
ALTER TABLE bookings ADD COLUMN buffer_minutes integer NOT NULL DEFAULT 0
    CONSTRAINT bookings_buffer_minutes_check CHECK (buffer_minutes BETWEEN 0 AND 240);
-- The policy rules an administrator booked past (too_long, closed, quota_exceeded,
-- ...): in the booking's row, so the audit log's entry for it records them.
ALTER TABLE bookings ADD COLUMN overrides text[];
-- Who approved or rejected it, when, and why (the reason is mailed to the owner).
ALTER TABLE bookings ADD COLUMN decided_by bigint REFERENCES users (id);
ALTER TABLE bookings ADD COLUMN decided_at timestamptz;
ALTER TABLE bookings ADD COLUMN decision_reason text
    CONSTRAINT bookings_decision_reason_check CHECK (length(decision_reason) <= 500);

-- A series asks once: its status is its occurrences' (pending until approved,
-- then every occurrence, those booked later included, is confirmed).
ALTER TABLE series ADD COLUMN status text NOT NULL DEFAULT 'confirmed'
    CONSTRAINT series_status_check CHECK (status IN ('confirmed', 'pending', 'rejected', 'expired'));

-- `t` plus `m` whole minutes. timestamptz + interval is STABLE in general (a
-- day or month depends on the time zone setting), but a number of minutes is
-- the same length in every zone, so this is IMMUTABLE and may stand in an
-- index expression: the exclusion constraint's.
CREATE FUNCTION plus_minutes(t timestamptz, m integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN t + make_interval(mins => m);

-- The guarantee, with buffers: a live booking holds [start, end + its buffer),
-- so two bookings of a room leave at least the earlier one's buffer between
-- them, however requests race. Exactly the buffer apart is fine ('[)'). With
-- every buffer 0 this is the constraint it replaces.
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    room_id WITH =, tstzrange(start_at, plus_minutes(end_at, buffer_minutes), '[)') WITH &&
) WHERE (cancelled_at IS NULL);

-- The covering indexes carry status (every booking's JSON has it) and the buffer
-- (free time is what no booking's [start, end + buffer) covers) beside issue
-- 16's attendees and created_by (sql/020), so the day view, the overview, my
-- bookings and the free-room probes stay index-only.
CREATE INDEX bookings_room_start_041 ON bookings (room_id, start_at)
    INCLUDE (end_at, id, user_id, title, series_id, created_at, cancelled_at, attendees,
             created_by, status, buffer_minutes)
    WHERE cancelled_at IS NULL;
DROP INDEX bookings_room_start;
ALTER INDEX bookings_room_start_041 RENAME TO bookings_room_start;

CREATE INDEX bookings_user_start_041 ON bookings (user_id, start_at, id)
    INCLUDE (end_at, room_id, title, series_id, created_at, cancelled_at, attendees,
             created_by, status)
    WHERE cancelled_at IS NULL;
DROP INDEX bookings_user_start;
ALTER INDEX bookings_user_start_041 RENAME TO bookings_user_start;

-- The requests waiting for a decision: the approvals page and the worker's expiry.
CREATE INDEX bookings_pending ON bookings (created_at, id)
    WHERE status = 'pending' AND cancelled_at IS NULL;

-- A booking's JSON shapes (sql/020: with the people around it) gain `status`;
-- the view carries status and buffer besides issue 16's columns.
DROP FUNCTION booking_detail_json(booking_api);
DROP FUNCTION booking_json(booking_api);
DROP VIEW booking_api;
DROP FUNCTION booking_json_of(bigint, integer, text, bigint, text, text, timestamptz,
                              timestamptz, bigint, timestamptz, timestamptz, text, integer,
                              bigint);

CREATE FUNCTION booking_status(p_status text, p_cancelled timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_cancelled IS NOT NULL AND p_status IN ('confirmed', 'pending')
            THEN 'cancelled' ELSE p_status END;

CREATE FUNCTION booking_json_of(p_id bigint, p_room_id integer, p_room_name text,
                                p_user_id bigint, p_user_name text, p_title text,
                                p_start timestamptz, p_end timestamptz, p_series bigint,
                                p_cancelled timestamptz, p_created timestamptz, p_tz text,
                                p_attendees integer, p_created_by bigint, p_status text)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', p_id, 'room_id', p_room_id, 'room_name', p_room_name,
    'user_id', p_user_id, 'user_name', p_user_name, 'title', p_title,
    'start_time', rfc3339(p_start, p_tz), 'end_time', rfc3339(p_end, p_tz),
    'status', booking_status(p_status, p_cancelled),
    'series_id', p_series, 'cancelled_at', rfc3339(p_cancelled, p_tz),
    'created_at', rfc3339(p_created, p_tz), 'attendees', p_attendees,
    'created_by', p_created_by);

CREATE VIEW booking_api AS
SELECT b.id,
       b.room_id,
       r.name AS room_name,
       b.user_id,
       u.name AS user_name,
       b.title,
       b.series_id,
       b.start_at,
       b.end_at,
       b.cancelled_at,
       b.created_at,
       b.cancelled_at IS NULL AS live,
       r.timezone,
       b.attendees,
       coalesce(b.created_by, b.user_id) AS created_by,
       c.name AS created_by_name,
       b.invitees,
       b.notes,
       b.sequence,
       b.updated_at,
       b.original_start,
       b.status,
       b.buffer_minutes
  FROM bookings b
  JOIN rooms r ON r.id = b.room_id
  JOIN users u ON u.id = b.user_id
  LEFT JOIN users c ON c.id = b.created_by;

CREATE FUNCTION booking_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN booking_json_of(v.id, v.room_id, v.room_name, v.user_id, v.user_name, v.title,
                       v.start_at, v.end_at, v.series_id, v.cancelled_at, v.created_at,
                       v.timezone, v.attendees, v.created_by, v.status);

CREATE FUNCTION booking_detail_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (booking_json(v)::jsonb || jsonb_build_object(
    'invitees', to_jsonb(v.invitees), 'notes', v.notes,
    'created_by_name', coalesce(v.created_by_name, v.user_name),
    'updated_at', rfc3339(v.updated_at, v.timezone),
    'original_start_time', rfc3339(v.original_start, v.timezone)))::json;
