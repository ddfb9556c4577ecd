-- A deactivated person's booking is not moved (found by a security tester): their
-- delegate (or an admin) moved it to a new time and room after the deactivation,
-- a time held for an account nobody may book for any more, where a series edit,
-- booked_for and every new booking are refused (sql/073).
--
-- edit_booking() now, for a move (a new time or room), holds the owner's row FOR
-- KEY SHARE before it locks the booking, as book()'s insert does through its
-- foreign key: a deactivation (set_person_active(), FOR UPDATE) either waits
-- for the move and then sees the booking at its new time (and cancels it, when
-- asked), or committed first, and the move finds its owner inactive and is
-- refused as a new booking is: bookings_owner_active (403 forbidden). The row is
-- locked before the booking (as book() locks quota, then writes) so the
-- deactivation, which locks the owner and then their bookings, never waits in
-- the other order. A new title, people or notes, and a cancel, ask nothing: a
-- deactivated person's bookings may still be tidied up and cancelled.
--
-- The rest is as sql/078 left it.

CREATE OR REPLACE FUNCTION edit_booking(p_id bigint, p_actor bigint, p_admin boolean, p_now timestamp with time zone, p_sequence integer, p_room integer, p_start timestamp with time zone, p_end timestamp with time zone, p_title text, p_set_attendees boolean, p_attendees integer, p_invitees text[], p_set_notes boolean, p_notes text, p_overrides text[] DEFAULT NULL::text[], p_panel_room integer DEFAULT NULL::integer, p_fingerprint text DEFAULT NULL::text) RETURNS json
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_old bookings;
    v_owner bigint;
    v_moved boolean := p_start IS NOT NULL OR p_end IS NOT NULL OR p_room IS NOT NULL;
    v_policy jsonb;
    v_quota jsonb;
    v_room integer;
    v_start timestamptz;
    v_end timestamptz;
    v_status text;
    v_overrides text[] := nullif(p_overrides, '{}');
    v_new bookings;
    v_owner_active boolean := true;
BEGIN
    IF v_moved THEN
        -- bookings_pkey, unlocked: the owner never changes. Their quota lock
        -- first, then the row, as book() does (lock, then insert).
        SELECT b.user_id, room_policy(coalesce(p_room, b.room_id)) INTO v_owner, v_policy
          FROM bookings b WHERE b.id = p_id;
        IF v_policy->'fields' ? 'quota' THEN
            PERFORM quota_lock(v_owner);
        END IF;
        -- users_pkey: the owner's row, held to commit as an insert's foreign key
        -- holds it, so a deactivation waits for this move, or this move for it
        -- (and then reads it committed: FOR KEY SHARE reads the latest row).
        SELECT u.active INTO v_owner_active FROM users u WHERE u.id = v_owner FOR KEY SHARE;
    END IF;

    -- bookings_pkey
    SELECT * INTO v_old FROM bookings WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN json_build_object('kind', 'not_found');
    END IF;
    IF NOT (v_old.user_id = p_actor OR p_admin OR v_old.room_id = p_panel_room
            OR EXISTS (SELECT 1 FROM delegates d
                        WHERE d.user_id = v_old.user_id AND d.delegate_id = p_actor)) THEN
        RETURN json_build_object('kind', 'forbidden');
    END IF;
    IF v_old.cancelled_at IS NOT NULL OR v_old.end_at <= p_now THEN
        RETURN json_build_object('kind', 'not_editable',
                                 'cancelled', v_old.cancelled_at IS NOT NULL);
    END IF;
    -- If-Match, judged on the locked row: the sequence counts the changes of the
    -- booking itself; the fingerprint (md5 of the booking's JSON as the request
    -- read it) also sees a check-in or an approval, which change what GET shows
    -- without being changes of the meeting.
    IF (p_sequence IS NOT NULL AND v_old.sequence <> p_sequence)
       OR (p_fingerprint IS NOT NULL
           AND md5(booking_detail_of(v_old)::text) <> p_fingerprint) THEN
        RETURN json_build_object('kind', 'precondition_failed');
    END IF;

    v_room := coalesce(p_room, v_old.room_id);
    v_start := coalesce(p_start, v_old.start_at);
    v_end := coalesce(p_end, v_old.end_at);
    v_status := v_old.status;
    IF v_room = v_old.room_id AND v_start = v_old.start_at AND v_end = v_old.end_at
       AND coalesce(p_title, v_old.title) = v_old.title
       AND (NOT p_set_attendees OR p_attendees IS NOT DISTINCT FROM v_old.attendees)
       AND coalesce(p_invitees, v_old.invitees) IS NOT DISTINCT FROM v_old.invitees
       AND (NOT p_set_notes OR p_notes IS NOT DISTINCT FROM v_old.notes) THEN
        -- A change to what it already is: nothing written, told or audited, as
        -- end_booking() (sql/070); the answer is the booking as it is.
        RETURN json_build_object('kind', 'updated', 'booking', booking_detail_of(v_old));
    END IF;
    IF v_moved AND NOT coalesce(v_owner_active, false)
       AND (v_room <> v_old.room_id OR v_start <> v_old.start_at OR v_end <> v_old.end_at) THEN
        -- A new time or room for someone deactivated: refused as book() refuses
        -- a booking for them (owner_still_active(), sql/073).
        RAISE EXCEPTION 'user % is not active', v_old.user_id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_owner_active';
    END IF;
    IF v_moved THEN
        -- The quota, counted without this booking (it moves, it does not add).
        SELECT q.details INTO v_quota
          FROM quota_refusals(v_room, v_old.user_id, v_policy, ARRAY[v_start], ARRAY[v_end],
                              p_id) q
         LIMIT 1;
        IF v_quota IS NOT NULL THEN
            IF NOT p_admin THEN
                RETURN json_build_object('kind', 'refused', 'quota', v_quota);
            END IF;
            v_overrides := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(v_overrides, '{}')
                                                               || 'quota_exceeded'::text) x
                                  ORDER BY x);
        END IF;
        IF v_room <> v_old.room_id THEN
            v_status := new_booking_status(v_policy, NULL, p_admin);
        ELSIF v_old.status = 'confirmed' AND policy_approval(v_policy) AND NOT p_admin
              AND (v_start < v_old.start_at OR v_end > v_old.end_at)
              AND v_old.start_at > p_now AND v_old.series_id IS NULL
              AND p_panel_room IS NULL
              AND NOT approver_ids(v_room) @> to_jsonb(p_actor) THEN
            -- Approved for its old times: moved, or made longer, it asks again
            -- (the outbox trigger asks the approvers: approval.requested).
            v_status := 'pending';
        END IF;
    END IF;

    IF v_moved THEN
        -- Moves into one room one at a time (below): the mover's new row then
        -- meets only committed rows and new bookings' speculative inserts.
        PERFORM pg_advisory_xact_lock(hashtextextended('room ' || v_room, 0));
    END IF;
    PERFORM set_config('booking.actor', p_actor::text, true);   -- the audit log's actor
    FOR attempt IN 1..5 LOOP
        BEGIN
            UPDATE bookings
               SET room_id = v_room, start_at = v_start, end_at = v_end,
                   title = coalesce(p_title, title),
                   attendees = CASE WHEN p_set_attendees THEN p_attendees ELSE attendees END,
                   invitees = coalesce(p_invitees, invitees),
                   notes = CASE WHEN p_set_notes THEN p_notes ELSE notes END,
                   sequence = sequence + 1,
                   updated_at = now(),
                   -- a series occurrence changed on its own: the series leaves it alone
                   original_start = CASE WHEN series_id IS NOT NULL
                                         THEN coalesce(original_start, start_at) END,
                   status = v_status,
                   buffer_minutes = CASE WHEN v_moved THEN policy_buffer(v_policy)
                                         ELSE buffer_minutes END,
                   overrides = CASE WHEN v_moved THEN v_overrides ELSE overrides END
             WHERE id = p_id
            RETURNING * INTO v_new;
            RETURN json_build_object('kind', 'updated', 'booking', booking_detail_of(v_new));
        EXCEPTION
            WHEN exclusion_violation THEN
                EXIT;
            WHEN deadlock_detected THEN
                IF attempt = 5 THEN RAISE; END IF;
        END;
    END LOOP;

    RETURN edit_refusal(p_id, v_old.user_id, v_room, v_start, v_end, v_policy, p_admin);
END
$$;
