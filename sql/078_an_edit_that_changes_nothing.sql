-- A change that changes nothing writes nothing (found by testing from outside):
-- a PATCH that sent a booking's own values again (a form saved unchanged, a
-- client retrying) bumped its sequence and ETag, sent "Changed" mails to the
-- organiser and invitees, a booking.updated webhook and an audit row, once per
-- request (twenty identical moves racing: twenty of each). edit_booking() now
-- answers such a change on the locked row with the booking as it is.
--
-- The rest is as sql/068 left it.

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
BEGIN
    IF v_moved THEN
        -- bookings_pkey, unlocked: the owner never changes. Their quota lock
        -- first, then the row, as book() does (lock, then insert).
        SELECT b.user_id, room_policy(coalesce(p_room, b.room_id)) INTO v_owner, v_policy
          FROM bookings b WHERE b.id = p_id;
        IF v_policy->'fields' ? 'quota' THEN
            PERFORM quota_lock(v_owner);
        END IF;
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
