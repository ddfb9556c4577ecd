-- Edit and move under the effective policy (issues 16 and 18 together).
--
-- A change of times or room is judged as a new booking would be: the pure
-- rules in Python (booking/bookings/service.py: rules.verdict() with the
-- target room's effective policy, read in the statement that reads the
-- booking), and here, in the statement that writes, what depends on other
-- rows:
--
--   * buffer: the moved booking takes its (new) room's effective
--     buffer_minutes, which the exclusion constraint adds to its end;
--   * quota: the owner's bookings are counted without the booking itself,
--     under the same per-person advisory lock as book() (quota_lock(), taken
--     before the booking's row lock, in the order book() takes its locks);
--   * approval: moved into another room, the booking takes that room's status
--     for a new booking (pending where approval is required, unless an
--     administrator moves it; confirmed otherwise). Moved within its room it
--     keeps its status.
--
-- A change of title or people alone takes no policy: the booking keeps its
-- status, buffer and overrides.

DROP FUNCTION edit_booking(bigint, bigint, boolean, timestamptz, integer, integer, timestamptz,
                           timestamptz, text, boolean, integer, text[], boolean, text);

-- Answers {"kind": "updated", "booking"}, "refused" (the quota: `quota` as
-- quota_refusals() details), "conflict" (the bookings in the way, what holds
-- the target room in the next 15 days to each booking's end plus its buffer,
-- and `mine`: the owner's bookings under the target's quota; this booking
-- left out of all three), or "not_found", "forbidden", "not_editable",
-- "precondition_failed".
CREATE FUNCTION edit_booking(p_id bigint, p_actor bigint, p_admin boolean, p_now timestamptz,
                             p_sequence integer, p_room integer, p_start timestamptz,
                             p_end timestamptz, p_title text, p_set_attendees boolean,
                             p_attendees integer, p_invitees text[], p_set_notes boolean,
                             p_notes text, p_overrides text[] DEFAULT NULL)
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
    IF NOT (v_old.user_id = p_actor OR p_admin
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

DROP FUNCTION edit_series(bigint, bigint, boolean, timestamptz, timestamptz, boolean, integer,
                          text, text, text, timestamptz, integer, timestamptz, timestamptz[],
                          timestamptz[], boolean, integer, text[], text);

-- "This and following" (p_split) or the whole series, as sql/021 has it, under
-- the target room's policy: the new occurrences go through book() (buffer,
-- quota counted after the replaced occurrences were cancelled, under the
-- owner's lock, taken first), and a series moved into another room takes
-- that room's status for a new series (pending where approval is required,
-- unless an administrator moves it). A quota refusal undoes it all, like a
-- taken occurrence without p_skip: rows as book_series() answers them, with
-- 'refused'.
CREATE FUNCTION edit_series(p_series bigint, p_actor bigint, p_admin boolean,
                            p_now timestamptz, p_from timestamptz, p_split boolean,
                            p_room integer, p_title text, p_rrule text, p_timezone text,
                            p_first_start timestamptz, p_duration_minutes integer,
                            p_materialized_until timestamptz, p_starts timestamptz[],
                            p_ends timestamptz[], p_skip_conflicts boolean,
                            p_attendees integer, p_invitees text[], p_notes text,
                            p_overrides text[] DEFAULT NULL)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_old series;
    v_new series;
    v_owner bigint;
    v_policy jsonb := room_policy(p_room);
    v_status text;
    v_rows booking_result[] := '{}';
BEGIN
    -- series_pkey, unlocked: the owner never changes. Their quota lock first.
    IF v_policy->'fields' ? 'quota' THEN
        SELECT s.user_id INTO v_owner FROM series s WHERE s.id = p_series;
        IF v_owner IS NOT NULL THEN
            PERFORM quota_lock(v_owner);
        END IF;
    END IF;

    -- series_pkey
    SELECT * INTO v_old FROM series WHERE id = p_series FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    IF NOT (v_old.user_id = p_actor OR p_admin
            OR EXISTS (SELECT 1 FROM delegates d
                        WHERE d.user_id = v_old.user_id AND d.delegate_id = p_actor)) THEN
        RETURN QUERY SELECT 'forbidden', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    IF v_old.cancelled_at IS NOT NULL OR v_old.cancelled_from <= p_from OR p_from < p_now
       OR v_old.status IN ('rejected', 'expired') THEN
        RETURN QUERY SELECT 'not_editable', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    v_status := CASE WHEN p_room <> v_old.room_id
                     THEN new_booking_status(v_policy, NULL, p_admin)
                     ELSE v_old.status END;

    PERFORM set_config('booking.actor', p_actor::text, true);
    PERFORM set_config('booking.quiet_series', p_series::text, true);
    BEGIN
        IF p_split THEN
            INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                                timezone, materialized_until, created_by, attendees,
                                invitees, notes, status)
            VALUES (p_room, v_old.user_id, p_title, p_rrule, p_first_start,
                    p_duration_minutes, p_timezone, p_materialized_until, p_actor,
                    p_attendees, coalesce(p_invitees, '{}'), p_notes, v_status)
            RETURNING * INTO v_new;
            UPDATE series
               SET cancelled_from = p_from, continued_by = v_new.id, sequence = sequence + 1
             WHERE id = p_series;
        ELSE
            UPDATE series
               SET room_id = p_room, title = p_title, rrule = p_rrule,
                   first_start = p_first_start, duration_minutes = p_duration_minutes,
                   timezone = p_timezone, materialized_until = p_materialized_until,
                   attendees = p_attendees, invitees = coalesce(p_invitees, '{}'),
                   notes = p_notes, sequence = sequence + 1, status = v_status
             WHERE id = p_series
            RETURNING * INTO v_new;
            DELETE FROM series_skips WHERE series_id = p_series AND start_at >= p_from;
        END IF;

        -- bookings_series
        UPDATE bookings SET cancelled_at = now(), cancelled_by = p_actor
         WHERE series_id = p_series AND cancelled_at IS NULL AND start_at >= p_from
           AND original_start IS NULL;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, v_old.user_id, p_title, p_starts, p_ends, v_new.id,
                    p_skip_conflicts, p_actor, p_attendees, p_invitees, p_notes, p_admin,
                    nullif(p_overrides, '{}')) b;

        IF EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'refused')
           OR (NOT p_skip_conflicts
               AND EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict')) THEN
            RAISE EXCEPTION USING ERRCODE = 'BK409';   -- undo it all
        END IF;

        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_new.id, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT r.requested_start FROM unnest(v_rows) r WHERE r.kind = 'conflict')
        ON CONFLICT DO NOTHING;
    EXCEPTION
        WHEN SQLSTATE 'BK409' THEN
            v_new := NULL;
    END;

    IF v_new.id IS NOT NULL THEN
        RETURN QUERY SELECT 'series', v_new.first_start, series_json(v_new);
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_rows);
    IF v_new.id IS NOT NULL THEN
        RETURN QUERY
        SELECT 'skipped', k.start_at,
               json_build_object('start_time', rfc3339(k.start_at, p_timezone),
                                 'end_time', rfc3339(k.end_at, p_timezone),
                                 'reason', k.reason)
          FROM series_skips k
         WHERE k.series_id = v_new.id AND k.start_at >= p_from
         ORDER BY k.start_at;
    END IF;
END
$$;

-- A series moved into a room that needs approval asks its approvers (sql/043's
-- approval.requested), besides sql/021's series.updated and series.cancelled.
CREATE OR REPLACE FUNCTION outbox_series_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, series_id, payload)
    SELECT e.kind, n.user_id, coalesce(audit_actor(), n.cancelled_by), n.room_id, n.id,
           CASE WHEN e.kind = 'series.updated' THEN
                jsonb_build_object('series', to_jsonb(n), 'before', to_jsonb(o),
                                   'from', CASE WHEN n.continued_by IS NOT NULL
                                                THEN n.cancelled_from END,
                                   'continued_by', n.continued_by,
                                   'updated_by', audit_actor())
           ELSE jsonb_build_object('series', to_jsonb(n),
                                   'from', n.cancelled_from,
                                   'whole', n.cancelled_at IS NOT NULL,
                                   'cancelled_by', n.cancelled_by,
                                   'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id)
           END
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     CROSS JOIN LATERAL (
           SELECT CASE
                  WHEN n.continued_by IS NOT NULL AND o.continued_by IS NULL THEN 'series.updated'
                  WHEN (n.cancelled_from IS NOT NULL
                        AND (o.cancelled_from IS NULL OR n.cancelled_from < o.cancelled_from))
                    OR (n.cancelled_at IS NOT NULL AND o.cancelled_at IS NULL)
                       THEN 'series.cancelled'
                  WHEN n.sequence > o.sequence THEN 'series.updated'
                  END AS kind) e
     WHERE e.kind IS NOT NULL
    UNION ALL
    SELECT 'approval.requested', n.user_id, audit_actor(), n.room_id, n.id,
           jsonb_build_object('series', to_jsonb(n), 'approvers', approver_ids(n.room_id))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE n.status = 'pending' AND o.status <> 'pending' AND n.cancelled_at IS NULL
     ORDER BY 5;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;
