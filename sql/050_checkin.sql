-- Issue 17: check-in, no-show release, end early, extend.
--
-- A room may require check-in (rooms.checkin_required); a booking there that
-- nobody checked in to by its release time (start, or its creation when it
-- was made after its start, plus rooms.release_after_minutes) is released by
-- the delivery worker: its end is cut to the release time, so the rest of the
-- slot is free at once, and released_at records it. Every change here is one
-- UPDATE, audited and announced by the triggers below.

ALTER TABLE rooms
    ADD COLUMN checkin_required boolean NOT NULL DEFAULT false,
    ADD COLUMN release_after_minutes integer NOT NULL DEFAULT 15
        CONSTRAINT rooms_release_after_check CHECK (release_after_minutes BETWEEN 1 AND 60);

ALTER TABLE bookings
    ADD COLUMN checked_in_at timestamptz,
    ADD COLUMN released_at timestamptz;

-- The room's JSON shape grows by its check-in settings (ROOM_FIELDS in
-- booking/rooms/service.py says the same), after sql/040's area_id.
CREATE OR REPLACE FUNCTION room_json(r rooms) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', r.id, 'name', r.name, 'building', r.building, 'floor', r.floor,
    'capacity', r.capacity, 'equipment', r.equipment, 'timezone', r.timezone,
    'opens', to_char(r.opens::interval, 'HH24:MI'), 'closes', to_char(r.closes::interval, 'HH24:MI'),
    'active', r.active, 'area_id', r.area_id, 'checkin_required', r.checkin_required,
    'release_after_minutes', r.release_after_minutes);

-- When a booking not checked in is released: its start plus the room's grace,
-- or, for a booking made after its start, its creation plus the grace, rounded
-- up to the minute (intervals are on whole minutes). One expression, inlined.
CREATE FUNCTION release_time(p_start timestamptz, p_created timestamptz, p_minutes integer)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_created <= p_start THEN p_start + p_minutes * interval '1 minute'
            ELSE date_trunc('minute', p_created + p_minutes * interval '1 minute'
                                      + interval '59.999999 seconds') END;

-- The booking's JSON (list and detail) says when it was checked in and
-- released. This is the one redefinition of booking_json_of() for issue 17:
-- two arguments more, the rest as sql/041 left it (with issue 18's status; a
-- released booking's status is `released`, set by the sweep with released_at).
DROP FUNCTION booking_detail_json(booking_api);
DROP FUNCTION booking_json(booking_api);
DROP VIEW booking_api;
DROP FUNCTION booking_json_of(bigint, integer, text, bigint, text, text, timestamptz,
                              timestamptz, bigint, timestamptz, timestamptz, text, integer,
                              bigint, text);

CREATE FUNCTION booking_json_of(p_id bigint, p_room_id integer, p_room_name text,
                                p_user_id bigint, p_user_name text, p_title text,
                                p_start timestamptz, p_end timestamptz, p_series bigint,
                                p_cancelled timestamptz, p_created timestamptz, p_tz text,
                                p_attendees integer, p_created_by bigint, p_status text,
                                p_checked_in timestamptz, p_released timestamptz)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', p_id, 'room_id', p_room_id, 'room_name', p_room_name,
    'user_id', p_user_id, 'user_name', p_user_name, 'title', p_title,
    'start_time', rfc3339(p_start, p_tz), 'end_time', rfc3339(p_end, p_tz),
    'series_id', p_series, 'cancelled_at', rfc3339(p_cancelled, p_tz),
    'created_at', rfc3339(p_created, p_tz), 'attendees', p_attendees,
    'created_by', p_created_by, 'status', booking_status(p_status, p_cancelled),
    'checked_in_at', rfc3339(p_checked_in, p_tz),
    'released_at', rfc3339(p_released, p_tz));

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
       b.buffer_minutes,
       b.checked_in_at,
       b.released_at
  FROM bookings b
  JOIN rooms r ON r.id = b.room_id
  JOIN users u ON u.id = b.user_id
  LEFT JOIN users c ON c.id = b.created_by;

CREATE FUNCTION booking_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN booking_json_of(v.id, v.room_id, v.room_name, v.user_id, v.user_name, v.title,
                       v.start_at, v.end_at, v.series_id, v.cancelled_at, v.created_at,
                       v.timezone, v.attendees, v.created_by, v.status, v.checked_in_at,
                       v.released_at);

CREATE FUNCTION booking_detail_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (booking_json(v)::jsonb || jsonb_build_object(
    'invitees', to_jsonb(v.invitees), 'notes', v.notes,
    'created_by_name', coalesce(v.created_by_name, v.user_name),
    'updated_at', rfc3339(v.updated_at, v.timezone),
    'original_start_time', rfc3339(v.original_start, v.timezone)))::json;

-- The day view, the overview and "my bookings" stay index-only scans: the
-- covering indexes carry the two new columns too.
DROP INDEX bookings_room_start;
CREATE INDEX bookings_room_start ON bookings (room_id, start_at)
    INCLUDE (end_at, id, user_id, title, series_id, created_at, cancelled_at, attendees,
             created_by, status, buffer_minutes, checked_in_at, released_at)
    WHERE cancelled_at IS NULL;
DROP INDEX bookings_user_start;
CREATE INDEX bookings_user_start ON bookings (user_id, start_at, id)
    INCLUDE (end_at, room_id, title, series_id, created_at, cancelled_at, attendees,
             created_by, status, checked_in_at, released_at)
    WHERE cancelled_at IS NULL;

-- Check in, under the row's lock. The release sweep (booking/checkin.py)
-- updates only rows not checked in, and this only rows not released, so when
-- the two race one of them wins and the other sees it: a check-in that waited
-- for the sweep finds released_at, a sweep that waited finds checked_in_at.
--
-- Who: the owner, a delegate they named, a staff invitee (p_actor_email among
-- the invitees), an admin, or the panel of the booking's room (p_panel_room).
-- The window opens p_opens before the start and closes at the release time
-- (in a room without check-in, at the end). A second check-in changes nothing.
--
-- Answers {"kind": "checked_in", "booking", "changed"} or one of "not_found",
-- "forbidden", "cancelled", "ended", "released", "not_open" (with "opens_at").
CREATE FUNCTION checkin_booking(p_id bigint, p_actor bigint, p_actor_email text,
                                p_admin boolean, p_panel_room integer, p_now timestamptz,
                                p_opens interval)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v bookings;
    v_room rooms;
    v_release timestamptz;
BEGIN
    -- bookings_pkey, rooms_pkey
    SELECT * INTO v FROM bookings WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN json_build_object('kind', 'not_found');
    END IF;
    SELECT * INTO v_room FROM rooms WHERE id = v.room_id;
    -- coalesce: a NULL (no panel, no address) must refuse, not slip through IF NOT NULL.
    IF NOT coalesce(
            v.room_id = p_panel_room
            OR (p_panel_room IS NULL
                AND (v.user_id = p_actor OR p_admin
                     OR EXISTS (SELECT 1 FROM delegates d
                                 WHERE d.user_id = v.user_id AND d.delegate_id = p_actor)
                     OR lower(p_actor_email) = ANY (SELECT lower(a) FROM unnest(v.invitees) a))),
            false)
    THEN
        RETURN json_build_object('kind', 'forbidden');
    END IF;
    IF v.cancelled_at IS NOT NULL THEN
        RETURN json_build_object('kind', 'cancelled');
    END IF;
    IF v.released_at IS NOT NULL THEN
        RETURN json_build_object('kind', 'released');
    END IF;
    IF v.checked_in_at IS NULL THEN
        IF p_now < v.start_at - p_opens THEN
            RETURN json_build_object('kind', 'not_open',
                                     'opens_at', rfc3339(v.start_at - p_opens, v_room.timezone));
        END IF;
        v_release := release_time(v.start_at, v.created_at, v_room.release_after_minutes);
        IF v_room.checkin_required AND p_now >= v_release THEN
            RETURN json_build_object('kind', 'released');
        END IF;
        IF p_now >= v.end_at THEN
            RETURN json_build_object('kind', 'ended');
        END IF;
        PERFORM set_config('booking.actor', p_actor::text, true);   -- the audit log's actor
        UPDATE bookings SET checked_in_at = p_now WHERE id = p_id;
    END IF;
    RETURN json_build_object(
        'kind', 'checked_in', 'changed', v.checked_in_at IS NULL,
        'booking', (SELECT booking_detail_json(a) FROM booking_api a WHERE a.id = p_id));
END
$$;

-- End early: the end becomes p_end (now, rounded up to the minute, computed by
-- the caller) if the booking is under way; before its start it is
-- "not_started" (cancel instead). A change like an edit: sequence grows, so
-- booking.updated goes out and the invitations follow (sql/021 triggers).
CREATE FUNCTION end_booking(p_id bigint, p_actor bigint, p_admin boolean,
                            p_panel_room integer, p_now timestamptz, p_end timestamptz)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v bookings;
BEGIN
    -- bookings_pkey
    SELECT * INTO v FROM bookings WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN json_build_object('kind', 'not_found');
    END IF;
    IF NOT coalesce(
            v.room_id = p_panel_room
            OR (p_panel_room IS NULL
                AND (v.user_id = p_actor OR p_admin
                     OR EXISTS (SELECT 1 FROM delegates d
                                 WHERE d.user_id = v.user_id AND d.delegate_id = p_actor))),
            false)
    THEN
        RETURN json_build_object('kind', 'forbidden');
    END IF;
    IF v.cancelled_at IS NOT NULL OR v.end_at <= p_now THEN
        RETURN json_build_object('kind', 'not_editable', 'cancelled', v.cancelled_at IS NOT NULL);
    END IF;
    IF p_now < v.start_at THEN
        RETURN json_build_object('kind', 'not_started');
    END IF;
    PERFORM set_config('booking.actor', p_actor::text, true);
    UPDATE bookings
       SET end_at = least(end_at, greatest(p_end, start_at + interval '1 minute')),
           sequence = sequence + 1, updated_at = now(),
           original_start = CASE WHEN series_id IS NOT NULL
                                 THEN coalesce(original_start, start_at) END
     WHERE id = p_id;
    RETURN json_build_object(
        'kind', 'updated',
        'booking', (SELECT booking_detail_json(a) FROM booking_api a WHERE a.id = p_id));
END
$$;

-- The audit log names what happened: a check-in, a release (by no one: the
-- worker), besides create, update, cancel and sql/043's decisions on requests.
CREATE OR REPLACE FUNCTION audit_bookings_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    SELECT CASE WHEN e.decided THEN n.decided_by
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                THEN coalesce(n.cancelled_by, audit_actor())
                WHEN o.released_at IS NULL AND n.released_at IS NOT NULL THEN NULL
                ELSE audit_actor() END,
           CASE WHEN e.decided AND n.status = 'confirmed' THEN 'booking.approve'
                WHEN e.decided AND n.status = 'rejected' THEN 'booking.reject'
                WHEN e.decided AND n.status = 'expired' THEN 'booking.expire'
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL THEN 'booking.cancel'
                WHEN o.released_at IS NULL AND n.released_at IS NOT NULL THEN 'booking.release'
                WHEN o.checked_in_at IS NULL AND n.checked_in_at IS NOT NULL
                     THEN 'booking.checkin'
                ELSE 'booking.update' END,
           n.user_id, n.room_id, 'booking ' || n.id, to_jsonb(o), to_jsonb(n)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     -- A decision, not a move out of a room that needs approval (sql/044).
     CROSS JOIN LATERAL (SELECT o.status = 'pending' AND n.status <> 'pending'
                                AND n.decided_at IS DISTINCT FROM o.decided_at AS decided) e
     WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
     ORDER BY n.id;
    RETURN NULL;
END
$$;

-- booking.released: to the organiser (mail) and to webhooks, one per released
-- booking, written by the sweep's own statement.
CREATE FUNCTION outbox_bookings_released() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, room_id, booking_id, series_id, payload)
    SELECT 'booking.released', n.user_id, n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n), 'before', to_jsonb(o))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE o.released_at IS NULL AND n.released_at IS NOT NULL
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER bookings_outbox_released AFTER UPDATE ON bookings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_bookings_released();

-- The worker's last successful release sweep and what it released, for
-- /metrics in every process (one row).
CREATE TABLE release_sweeps (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_at     timestamptz NOT NULL,
    released    bigint NOT NULL DEFAULT 0         -- bookings released, all sweeps together
);
