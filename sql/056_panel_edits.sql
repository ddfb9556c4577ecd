-- edit_booking() (sql/044) with two changes.
--
-- 1. A door panel changes its room's bookings as the panel, not as an administrator.
--
-- Issue 17's panel may end and extend the bookings of its own room, whoever
-- made them. It did so by passing p_admin, which also let an extension past
-- the owner's quota (and would have let a move past approval): what admins
-- may book past, a tablet by the door may not. edit_booking() (sql/044) now
-- takes the panel's room, p_panel_room, which only permits the change: the
-- quota, the buffer and approval apply as for anyone else, and the audit
-- names the panel's account (p_actor) as before.
--
-- 2. Moves into one room are decided one at a time.
--
-- Two moves into one free slot each write their booking's new row, then check
-- it against the exclusion constraint. Each finds the other's uncommitted row
-- and waits for it: a deadlock, which PostgreSQL breaks only after
-- deadlock_timeout (1 s) by failing one of them.
--
-- Twenty at once formed chains of such waits, broken one a second. Under load
-- every move could run into statement_timeout, so all twenty got a 503; CI saw
-- it once in tests/test_edit_races.py. New bookings do not have this problem:
-- their INSERT ... ON CONFLICT DO NOTHING inserts speculatively and does not
-- deadlock.
--
-- edit_booking() takes a transaction lock on the target room before it
-- writes a move:
--   * the first mover writes and commits;
--   * the next one finds the winner committed, and gets an exclusion
--     violation (409 conflict) at once.
-- The lock is held only from the write to the commit. It is taken after the
-- quota lock and the booking's row lock, and no one holding it waits for
-- either, so moves cannot wait on one another in a cycle. A move and a new
-- booking racing for one slot can still deadlock, rarely, as before; both
-- retry. A change of title or people alone takes no lock.

DROP FUNCTION edit_booking(bigint, bigint, boolean, timestamptz, integer, integer, timestamptz,
                           timestamptz, text, boolean, integer, text[], boolean, text, text[]);

CREATE FUNCTION edit_booking(p_id bigint, p_actor bigint, p_admin boolean, p_now timestamptz,
                             p_sequence integer, p_room integer, p_start timestamptz,
                             p_end timestamptz, p_title text, p_set_attendees boolean,
                             p_attendees integer, p_invitees text[], p_set_notes boolean,
                             p_notes text, p_overrides text[] DEFAULT NULL,
                             p_panel_room integer DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql AS $$
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
    IF p_sequence IS NOT NULL AND v_old.sequence <> p_sequence THEN
        RETURN json_build_object('kind', 'precondition_failed');
    END IF;

    v_room := coalesce(p_room, v_old.room_id);
    v_start := coalesce(p_start, v_old.start_at);
    v_end := coalesce(p_end, v_old.end_at);
    v_status := v_old.status;
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
             WHERE id = p_id;
            RETURN json_build_object(
                'kind', 'updated',
                'booking', (SELECT booking_detail_json(v) FROM booking_api v WHERE v.id = p_id));
        EXCEPTION
            WHEN exclusion_violation THEN
                EXIT;
            WHEN deadlock_detected THEN
                IF attempt = 5 THEN RAISE; END IF;
        END;
    END LOOP;

    -- New statements, fresh snapshots: the winner of a race is seen.
    RETURN json_build_object(
        'kind', 'conflict',
        -- bookings_room_start: in the way, buffers included
        'conflicts', (SELECT coalesce(json_agg(booking_json(v) ORDER BY v.start_at), '[]')
                        FROM booking_api v
                       WHERE v.room_id = v_room AND v.live AND v.id <> p_id
                         AND v.start_at < plus_minutes(v_end, policy_buffer(v_policy))
                         AND plus_minutes(v.end_at, v.buffer_minutes) > v_start
                         AND v.start_at > v_start - interval '28 hours'),
        'busy', (SELECT coalesce(json_agg(json_build_object(
                                     'start_at', b.start_at,
                                     'end_at', plus_minutes(b.end_at, b.buffer_minutes))
                                 ORDER BY b.start_at), '[]')
                   FROM bookings b
                  WHERE b.room_id = v_room AND b.cancelled_at IS NULL AND b.id <> p_id
                    AND b.start_at > v_start - interval '28 hours'
                    AND b.start_at < v_start + interval '15 days'
                    AND plus_minutes(b.end_at, b.buffer_minutes) > v_start),
        -- bookings_user_start: what counts against the target's quota
        'mine', (SELECT coalesce(json_agg(json_build_object(
                                     'room_id', b.room_id, 'start_at', b.start_at,
                                     'end_at', b.end_at) ORDER BY b.start_at), '[]')
                   FROM bookings b
                  WHERE v_policy->'fields' ? 'quota' AND NOT p_admin
                    AND b.user_id = v_old.user_id AND b.cancelled_at IS NULL
                    AND b.status <> 'released' AND b.id <> p_id
                    AND b.room_id = ANY (quota_rooms(v_room, v_policy))
                    AND b.start_at > v_start - interval '8 days'
                    AND b.start_at < v_start + interval '22 days'));
END
$$;
