-- Check-in and end early, found by testing from outside (issue 17):
--
-- * checkin_booking() checked in a booking waiting for approval: the panel
--   then said "In use" until the request expired at its start. It is refused
--   now (kind 'pending': 409 not_editable).
-- * end_booking() asked twice in one minute wrote the same end again: a second
--   booking.updated event, "Changed" mails and audit row for nothing. An end
--   that changes nothing now writes nothing.
--
-- The rest is as sql/050 and sql/061 left them.

CREATE OR REPLACE FUNCTION checkin_booking(p_id bigint, p_actor bigint, p_actor_email text, p_admin boolean, p_panel_room integer, p_now timestamp with time zone, p_opens interval) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
    IF v.status = 'pending' THEN
        -- Waiting for approval: not held for certain, so nobody is in it yet.
        RETURN json_build_object('kind', 'pending');
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

CREATE OR REPLACE FUNCTION end_booking(p_id bigint, p_actor bigint, p_admin boolean, p_panel_room integer, p_now timestamp with time zone, p_end timestamp with time zone) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
    IF least(v.end_at, greatest(p_end, v.start_at + interval '1 minute')) = v.end_at THEN
        -- Ended already (twice in one minute): nothing changes, nothing is told again.
        RETURN json_build_object(
            'kind', 'updated',
            'booking', (SELECT booking_detail_json(a) FROM booking_api a WHERE a.id = p_id));
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
