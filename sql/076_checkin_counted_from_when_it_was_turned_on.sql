-- Turning check-in on for a room no longer releases the meeting already in it
-- (found by testing from outside): the sweep released, at once, every booking
-- under way that nobody had checked in (there was no way to), and cut its end
-- to before check-in was required. `rooms.checkin_since` is when check-in was
-- last turned on (set by the room's update); a booking's grace is counted from
-- the latest of its start, its making and that moment, wherever release_time()
-- is asked (the sweep, check-in, reminders, the door panel).
--
-- The rest of checkin_booking() is as sql/070 left it.

ALTER TABLE rooms ADD COLUMN checkin_since timestamptz;

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
        v_release := release_time(v.start_at, greatest(v.created_at, v_room.checkin_since),
                              v_room.release_after_minutes);
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
