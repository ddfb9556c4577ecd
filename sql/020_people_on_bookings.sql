-- Issue 16: who is around a booking (attendees, invitees, notes, who made it,
-- delegates), what an edit needs to know (sequence, when, the occurrence it
-- was), and the booking's JSON shapes.

-- attendees: the party size (the finder and conflict suggestions use it).
-- invitees: addresses that get the invitation, updates and cancellation by
-- mail (staff or not, at most 50). notes: shown on the booking page, in the
-- feeds and the mail. created_by: the owner, a delegate or an admin (NULL on
-- rows made before: the owner). sequence: iCalendar's SEQUENCE, one more per
-- edit. original_start: set on a series occurrence once it was changed on its
-- own (its RECURRENCE-ID); later changes to the series leave it alone.
ALTER TABLE bookings
    ADD COLUMN attendees integer CONSTRAINT bookings_attendees_check
        CHECK (attendees BETWEEN 1 AND 10000),
    ADD COLUMN invitees text[] NOT NULL DEFAULT '{}' CONSTRAINT bookings_invitees_check
        CHECK (cardinality(invitees) <= 50),
    ADD COLUMN notes text CONSTRAINT bookings_notes_check
        CHECK (length(notes) BETWEEN 1 AND 2000),
    ADD COLUMN created_by bigint REFERENCES users,
    ADD COLUMN sequence integer NOT NULL DEFAULT 0,
    ADD COLUMN updated_at timestamptz,
    ADD COLUMN original_start timestamptz;

-- A series carries the same for its occurrences; continued_by names the
-- series that "this and following" split it into.
ALTER TABLE series
    ADD COLUMN attendees integer CONSTRAINT series_attendees_check
        CHECK (attendees BETWEEN 1 AND 10000),
    ADD COLUMN invitees text[] NOT NULL DEFAULT '{}' CONSTRAINT series_invitees_check
        CHECK (cardinality(invitees) <= 50),
    ADD COLUMN notes text CONSTRAINT series_notes_check
        CHECK (length(notes) BETWEEN 1 AND 2000),
    ADD COLUMN created_by bigint REFERENCES users,
    ADD COLUMN sequence integer NOT NULL DEFAULT 0,
    ADD COLUMN continued_by bigint REFERENCES series;

-- Mail to an invitee who has no account goes to the address itself.
ALTER TABLE deliveries ADD COLUMN email text;

-- Delegates: user_id named delegate_id, who may then book for them and change
-- and cancel their bookings (PATCH /api/me {"delegates"}, /account).
CREATE TABLE delegates (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    delegate_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, delegate_id),
    CONSTRAINT delegates_not_self CHECK (user_id <> delegate_id)
);
-- "Whose delegate am I": the signed-in user's row (booking/auth.py USER_COLUMNS).
CREATE INDEX delegates_delegate ON delegates (delegate_id, user_id);

-- Who a process remembers (booking/memo/users.py) carries both lists: a
-- change forgets both people at once.
CREATE FUNCTION memo_delegates_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_row delegates := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
    PERFORM memo_changed('auth', 'user:' || v_row.user_id);
    PERFORM memo_changed('auth', 'user:' || v_row.delegate_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER delegates_memo AFTER INSERT OR DELETE ON delegates
    FOR EACH ROW EXECUTE FUNCTION memo_delegates_changed();

-- Staff invitees' view of the bookings they are invited to ("my bookings"
-- with role invitee): one row per live booking and invited account, kept by
-- the triggers below, so the list reads one index range in start order like
-- the organiser's own (bookings_user_start) instead of every invitation ever.
CREATE TABLE booking_invitations (
    booking_id bigint NOT NULL REFERENCES bookings,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    start_at   timestamptz NOT NULL,
    end_at     timestamptz NOT NULL,
    PRIMARY KEY (booking_id, user_id)
);
CREATE INDEX booking_invitations_user ON booking_invitations (user_id, start_at, booking_id)
    INCLUDE (end_at);

-- An invitee is matched to an account by email (users_email_key) when the
-- booking is written; the organiser is never their own invitee.
CREATE FUNCTION invitations_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO booking_invitations (booking_id, user_id, start_at, end_at)
    SELECT n.id, u.id, n.start_at, n.end_at
      FROM new_rows n
     CROSS JOIN LATERAL unnest(n.invitees) AS e(address)
      JOIN users u ON lower(u.email) = lower(e.address) AND u.active AND u.id <> n.user_id
     WHERE n.cancelled_at IS NULL AND cardinality(n.invitees) > 0
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION invitations_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Only rows whose invitees, times or liveness changed.
    DELETE FROM booking_invitations i
     USING old_rows o JOIN new_rows n ON n.id = o.id
     WHERE i.booking_id = n.id
       AND (o.invitees, o.start_at, o.end_at, o.cancelled_at IS NULL)
           IS DISTINCT FROM (n.invitees, n.start_at, n.end_at, n.cancelled_at IS NULL);
    INSERT INTO booking_invitations (booking_id, user_id, start_at, end_at)
    SELECT n.id, u.id, n.start_at, n.end_at
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     CROSS JOIN LATERAL unnest(n.invitees) AS e(address)
      JOIN users u ON lower(u.email) = lower(e.address) AND u.active AND u.id <> n.user_id
     WHERE n.cancelled_at IS NULL AND cardinality(n.invitees) > 0
       AND (o.invitees, o.start_at, o.end_at, o.cancelled_at IS NULL)
           IS DISTINCT FROM (n.invitees, n.start_at, n.end_at, n.cancelled_at IS NULL)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_invitations_insert AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invitations_inserted();
CREATE TRIGGER bookings_invitations_update AFTER UPDATE ON bookings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invitations_updated();

-- The covering indexes take the two small new fields of the list shape
-- (attendees, created_by), so the day view, the overview and "my bookings"
-- stay index-only scans. Invitees and notes (up to 50 addresses, 2,000
-- characters) stay out: they are in a single booking's JSON only.
DROP INDEX bookings_room_start;
CREATE INDEX bookings_room_start ON bookings (room_id, start_at)
    INCLUDE (end_at, id, user_id, title, series_id, created_at, cancelled_at, attendees,
             created_by)
    WHERE cancelled_at IS NULL;
DROP INDEX bookings_user_start;
CREATE INDEX bookings_user_start ON bookings (user_id, start_at, id)
    INCLUDE (end_at, room_id, title, series_id, created_at, cancelled_at, attendees,
             created_by)
    WHERE cancelled_at IS NULL;

-- The list shape (day view, overview, my bookings, conflicts) grows by
-- attendees and created_by; the single booking's shape (booking_detail_json)
-- adds invitees, notes, who made it and, for a changed occurrence, the start
-- the series gave it.
DROP FUNCTION booking_json(booking_api);
DROP VIEW booking_api;
DROP FUNCTION booking_json_of(bigint, integer, text, bigint, text, text, timestamptz,
                              timestamptz, bigint, timestamptz, timestamptz, text);

CREATE FUNCTION booking_json_of(p_id bigint, p_room_id integer, p_room_name text,
                                p_user_id bigint, p_user_name text, p_title text,
                                p_start timestamptz, p_end timestamptz, p_series bigint,
                                p_cancelled timestamptz, p_created timestamptz, p_tz text,
                                p_attendees integer, p_created_by bigint)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', p_id, 'room_id', p_room_id, 'room_name', p_room_name,
    'user_id', p_user_id, 'user_name', p_user_name, 'title', p_title,
    'start_time', rfc3339(p_start, p_tz), 'end_time', rfc3339(p_end, p_tz),
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
       b.original_start
  FROM bookings b
  JOIN rooms r ON r.id = b.room_id
  JOIN users u ON u.id = b.user_id
  LEFT JOIN users c ON c.id = b.created_by;

CREATE FUNCTION booking_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN booking_json_of(v.id, v.room_id, v.room_name, v.user_id, v.user_name, v.title,
                       v.start_at, v.end_at, v.series_id, v.cancelled_at, v.created_at,
                       v.timezone, v.attendees, v.created_by);

CREATE FUNCTION booking_detail_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (booking_json(v)::jsonb || jsonb_build_object(
    'invitees', to_jsonb(v.invitees), 'notes', v.notes,
    'created_by_name', coalesce(v.created_by_name, v.user_name),
    'updated_at', rfc3339(v.updated_at, v.timezone),
    'original_start_time', rfc3339(v.original_start, v.timezone)))::json;

CREATE OR REPLACE FUNCTION series_json(s series) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', s.id, 'room_id', s.room_id, 'user_id', s.user_id, 'title', s.title,
    'recurrence', s.rrule, 'timezone', s.timezone,
    'first_start', rfc3339(s.first_start, s.timezone),
    'duration_minutes', s.duration_minutes,
    'materialized_until', rfc3339(s.materialized_until, s.timezone),
    'cancelled_at', rfc3339(s.cancelled_at, s.timezone),
    'cancelled_from', rfc3339(s.cancelled_from, s.timezone),
    'attendees', s.attendees, 'invitees', to_jsonb(s.invitees), 'notes', s.notes,
    'created_by', coalesce(s.created_by, s.user_id), 'continued_by', s.continued_by);

-- Who made a booking: the creator, not always the owner.
CREATE OR REPLACE FUNCTION audit_bookings_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, after)
    SELECT coalesce(audit_actor(), n.created_by, n.user_id), 'booking.create', n.user_id,
           n.room_id, 'booking ' || n.id, to_jsonb(n)
      FROM new_rows n ORDER BY n.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION outbox_bookings_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Occurrences (series_id set) are announced by their series.created.
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, payload)
    SELECT 'booking.created', n.user_id, coalesce(n.created_by, n.user_id), n.room_id, n.id,
           jsonb_build_object('booking', to_jsonb(n))
      FROM new_rows n
     WHERE n.series_id IS NULL
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;
