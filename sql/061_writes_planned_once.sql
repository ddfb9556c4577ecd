-- A booking made, moved or refused is planned once per session.
--
-- book() and edit_booking() ran the statements of a write that succeeds with
-- custom plans. PL/pgSQL's plan cache plans a statement with parameters
-- afresh for its first five runs, and goes on doing so while the generic plan
-- is estimated dearer. That was always the case for book()'s INSERT and for
-- reading the new booking back through booking_api (three joins,
-- booking_detail_json() inlined). In a loop of 2,000 bookings in one
-- transaction, book() took 1.97 ms a call; with generic plans, 1.42 ms.
--
-- Now both use their generic plans (SET plan_cache_mode), the same index
-- probes with the values supplied at run time, and read nothing back through
-- the view: a generic plan of the view joined every room by hash to find one.
-- The written booking's JSON is booking_detail_of() its row, which reads the
-- room and the people's names by primary key.
--
-- What a refusal lists (the bookings in the way, the room's next days, the
-- owner's bookings under the quota) moves to book_refusal() and
-- edit_refusal(). Planned for its values, the list of bookings in the way
-- cost 1.04 ms of planning a call for 0.17 ms of running (pg_stat_statements
-- under the conflict scenario); its generic plan read booking_api by joining
-- every user by hash (sql/059). Written out (the room read once, each owner's
-- name by users_pkey), its generic plan is the index probes, and the
-- refusals use generic plans too. They are VOLATILE, so each of their
-- statements takes a fresh snapshot and the loser of a race sees the winner.

-- A booking's row as GET /api/bookings/<id> shows it: booking_detail_json() of
-- the row booking_api has for it (its columns, in its order), with the room
-- and the names read by primary key.
CREATE FUNCTION booking_detail_of(b bookings) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_room rooms;
    v_user_name text;
    v_creator_name text;
BEGIN
    SELECT * INTO v_room FROM rooms r WHERE r.id = b.room_id;
    SELECT u.name INTO v_user_name FROM users u WHERE u.id = b.user_id;
    SELECT u.name INTO v_creator_name FROM users u WHERE u.id = b.created_by;
    RETURN booking_detail_json(ROW(
        b.id, b.room_id, v_room.name, b.user_id, v_user_name, b.title, b.series_id,
        b.start_at, b.end_at, b.cancelled_at, b.created_at, b.cancelled_at IS NULL,
        v_room.timezone, b.attendees, coalesce(b.created_by, b.user_id), v_creator_name,
        b.invitees, b.notes, b.sequence, b.updated_at, b.original_start, b.status,
        b.buffer_minutes, b.checked_in_at, b.released_at)::booking_api);
END
$$;

-- What holds the room where book() could not book (p_ids: what it did book,
-- with p_skip_conflicts): 'conflict' (a booking in the way of an occurrence
-- not booked), 'busy' (what holds the room from the first one not booked on,
-- each booking to its end plus its buffer, for next free slots) and 'mine'
-- (the owner's bookings that count against the same quota, for next free
-- slots that keep within it; not for an administrator).
CREATE FUNCTION book_refusal(p_room integer, p_user bigint, p_starts timestamptz[],
                             p_ends timestamptz[], p_ids bigint[], p_buffer integer,
                             p_policy jsonb, p_admin boolean)
RETURNS SETOF booking_result
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_room rooms;
    v_start timestamptz;
BEGIN
    SELECT * INTO v_room FROM rooms r WHERE r.id = p_room;   -- rooms_pkey

    -- In the way: a live booking whose [start, end + its buffer) meets
    -- [s, e + this room's buffer). No booking spans a day and buffers are at
    -- most 4 hours, so start_at > s - 28 hours bounds the index range
    -- (bookings_room_start); each one's owner by users_pkey. As booking_json()
    -- of booking_api's row, written out so that its generic plan is those probes.
    RETURN QUERY
    SELECT 'conflict', o.s,
           booking_json_of(b.id, b.room_id, v_room.name, b.user_id,
                           (SELECT u.name FROM users u WHERE u.id = b.user_id), b.title,
                           b.start_at, b.end_at, b.series_id, b.cancelled_at, b.created_at,
                           v_room.timezone, b.attendees, coalesce(b.created_by, b.user_id),
                           b.status, b.checked_in_at, b.released_at)
      FROM unnest(p_starts, p_ends) AS o(s, e)
      JOIN bookings b
        ON b.room_id = p_room AND b.cancelled_at IS NULL
       AND b.start_at < plus_minutes(o.e, p_buffer)
       AND plus_minutes(b.end_at, b.buffer_minutes) > o.s
       AND b.start_at > o.s - interval '28 hours'
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (p_ids) AND c.start_at = o.s)
     ORDER BY o.s, b.start_at;

    SELECT o.s INTO v_start
      FROM unnest(p_starts, p_ends) AS o(s, e)
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (p_ids) AND c.start_at = o.s)
     ORDER BY o.s LIMIT 1;

    -- bookings_room_start: what holds the room in the 15 days from the first
    -- taken interval, each booking with the buffer after it (its next free
    -- slots are found in Python, by the rules and the room's policy).
    RETURN QUERY
    SELECT 'busy', v_start, json_build_object('start_at', b.start_at,
                                              'end_at', plus_minutes(b.end_at, b.buffer_minutes))
      FROM bookings b
     WHERE b.room_id = p_room AND b.cancelled_at IS NULL
       AND b.start_at > v_start - interval '28 hours' AND b.start_at < v_start + interval '15 days'
       AND plus_minutes(b.end_at, b.buffer_minutes) > v_start
     ORDER BY b.start_at;

    -- bookings_user_start: the owner's bookings that count against this room's
    -- quota, from the week before on.
    IF p_policy->'fields' ? 'quota' AND NOT p_admin THEN
        RETURN QUERY
        SELECT 'mine', v_start, json_build_object('room_id', b.room_id, 'start_at', b.start_at,
                                                  'end_at', b.end_at)
          FROM bookings b
         WHERE b.user_id = p_user AND b.cancelled_at IS NULL AND b.status <> 'released'
           AND b.room_id = ANY (quota_rooms(p_room, p_policy))
           AND b.start_at > v_start - interval '8 days' AND b.start_at < v_start + interval '22 days'
         ORDER BY b.start_at;
    END IF;
END
$$;

-- Book [p_starts[i], p_ends[i]) in p_room for p_user (the owner), made by
-- p_created_by (the owner, a delegate or an admin; sql/021) with its people,
-- all or (p_skip_conflicts) as many as are free. Rows: 'created' (the booking,
-- as GET /api/bookings/<id> shows it), 'refused' (the quota refuses: nothing
-- is booked; data says which quota), 'over_quota' (p_skip_over_quota: an
-- occurrence left out for the quota), and for what was not booked,
-- book_refusal()'s. The quota is the owner's; an administrator (p_admin)
-- books past it and past approval. As sql/042, planned once (above).
CREATE OR REPLACE FUNCTION book(p_room integer, p_user bigint, p_title text,
                                p_starts timestamptz[], p_ends timestamptz[],
                                p_series bigint DEFAULT NULL,
                                p_skip_conflicts boolean DEFAULT false,
                                p_created_by bigint DEFAULT NULL,
                                p_attendees integer DEFAULT NULL,
                                p_invitees text[] DEFAULT '{}', p_notes text DEFAULT NULL,
                                p_admin boolean DEFAULT false, p_overrides text[] DEFAULT NULL,
                                p_skip_over_quota boolean DEFAULT false)
RETURNS SETOF booking_result
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_policy jsonb := room_policy(p_room);
    v_buffer integer := policy_buffer(v_policy);
    v_status text := new_booking_status(v_policy, p_series, p_admin);
    v_overrides text[] := p_overrides;
    v_starts timestamptz[] := p_starts;
    v_ends timestamptz[] := p_ends;
    v_refused timestamptz[];
    v_first jsonb;
    v_ids bigint[] := '{}';
BEGIN
    SELECT coalesce(array_agg(q.requested_start ORDER BY q.requested_start), '{}'),
           (array_agg(q.details ORDER BY q.requested_start))[1]
      INTO v_refused, v_first
      FROM quota_locked_refusals(p_room, p_user, v_policy, p_starts, p_ends) q;
    IF cardinality(v_refused) > 0 THEN
        IF p_admin THEN
            v_overrides := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(v_overrides, '{}')
                                                               || 'quota_exceeded'::text) x
                                  ORDER BY x);
        ELSIF p_skip_over_quota THEN
            RETURN QUERY SELECT 'over_quota', r, NULL::json FROM unnest(v_refused) r;
            SELECT coalesce(array_agg(o.s ORDER BY o.s), '{}'),
                   coalesce(array_agg(o.e ORDER BY o.s), '{}')
              INTO v_starts, v_ends
              FROM unnest(p_starts, p_ends) AS o(s, e) WHERE o.s <> ALL (v_refused);
        ELSE
            RETURN QUERY SELECT 'refused', v_refused[1], v_first::json;
            RETURN;
        END IF;
    END IF;

    FOR attempt IN 1..3 LOOP
        BEGIN
            WITH ins AS (
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, series_id,
                                      created_by, attendees, invitees, notes,
                                      status, buffer_minutes, overrides)
                SELECT p_room, p_user, p_title, o.s, o.e, p_series,
                       coalesce(p_created_by, p_user), p_attendees, coalesce(p_invitees, '{}'),
                       p_notes, v_status, v_buffer, nullif(v_overrides, '{}')
                  FROM unnest(v_starts, v_ends) AS o(s, e)
                 ORDER BY o.s           -- one order for everyone: fewer lock waits
                ON CONFLICT DO NOTHING
                RETURNING id)
            SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM ins;
            IF cardinality(v_ids) < cardinality(v_starts) AND NOT p_skip_conflicts THEN
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

    -- bookings_pkey
    RETURN QUERY
    SELECT 'created', b.start_at, booking_detail_of(b)   -- as GET /api/bookings/<id> shows it
      FROM bookings b
     WHERE b.id = ANY (v_ids)
     ORDER BY b.start_at;

    IF cardinality(v_ids) < cardinality(v_starts) THEN
        RETURN QUERY SELECT * FROM book_refusal(p_room, p_user, v_starts, v_ends, v_ids,
                                                v_buffer, v_policy, p_admin);
    END IF;
END
$$;

-- What holds p_room where edit_booking() could not move booking p_id to
-- [p_start, p_end): {"kind": "conflict", "conflicts" (the bookings in the way),
-- "busy" (what holds the room in the 15 days from p_start, each booking to its
-- end plus its buffer), "mine" (the owner's bookings that count against the
-- room's quota; not for an administrator)}, the booking itself left out.
CREATE FUNCTION edit_refusal(p_id bigint, p_owner bigint, p_room integer, p_start timestamptz,
                             p_end timestamptz, p_policy jsonb, p_admin boolean)
RETURNS json
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_room rooms;
BEGIN
    SELECT * INTO v_room FROM rooms r WHERE r.id = p_room;   -- rooms_pkey
    RETURN json_build_object(
        'kind', 'conflict',
        -- bookings_room_start: in the way, buffers included; each one's owner by
        -- users_pkey (booking_json() of booking_api's row, written out as in
        -- book_refusal())
        'conflicts', (SELECT coalesce(json_agg(booking_json_of(
                                 b.id, b.room_id, v_room.name, b.user_id,
                                 (SELECT u.name FROM users u WHERE u.id = b.user_id), b.title,
                                 b.start_at, b.end_at, b.series_id, b.cancelled_at,
                                 b.created_at, v_room.timezone, b.attendees,
                                 coalesce(b.created_by, b.user_id), b.status, b.checked_in_at,
                                 b.released_at) ORDER BY b.start_at), '[]')
                        FROM bookings b
                       WHERE b.room_id = p_room AND b.cancelled_at IS NULL AND b.id <> p_id
                         AND b.start_at < plus_minutes(p_end, policy_buffer(p_policy))
                         AND plus_minutes(b.end_at, b.buffer_minutes) > p_start
                         AND b.start_at > p_start - interval '28 hours'),
        'busy', (SELECT coalesce(json_agg(json_build_object(
                                     'start_at', b.start_at,
                                     'end_at', plus_minutes(b.end_at, b.buffer_minutes))
                                 ORDER BY b.start_at), '[]')
                   FROM bookings b
                  WHERE b.room_id = p_room AND b.cancelled_at IS NULL AND b.id <> p_id
                    AND b.start_at > p_start - interval '28 hours'
                    AND b.start_at < p_start + interval '15 days'
                    AND plus_minutes(b.end_at, b.buffer_minutes) > p_start),
        -- bookings_user_start: what counts against the target's quota
        'mine', (SELECT coalesce(json_agg(json_build_object(
                                     'room_id', b.room_id, 'start_at', b.start_at,
                                     'end_at', b.end_at) ORDER BY b.start_at), '[]')
                   FROM bookings b
                  WHERE p_policy->'fields' ? 'quota' AND NOT p_admin
                    AND b.user_id = p_owner AND b.cancelled_at IS NULL
                    AND b.status <> 'released' AND b.id <> p_id
                    AND b.room_id = ANY (quota_rooms(p_room, p_policy))
                    AND b.start_at > p_start - interval '8 days'
                    AND b.start_at < p_start + interval '22 days'));
END
$$;

-- Change booking p_id (sql/021, 044, 056), planned once (above).
CREATE OR REPLACE FUNCTION edit_booking(p_id bigint, p_actor bigint, p_admin boolean, p_now timestamptz,
                             p_sequence integer, p_room integer, p_start timestamptz,
                             p_end timestamptz, p_title text, p_set_attendees boolean,
                             p_attendees integer, p_invitees text[], p_set_notes boolean,
                             p_notes text, p_overrides text[] DEFAULT NULL,
                             p_panel_room integer DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
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

-- Automatic assignment (sql/042): the booking it made as booking_detail_of() its
-- row, not read back through booking_api. Its suggestions (room_suggestions())
-- are still planned for their values.
CREATE OR REPLACE FUNCTION auto_book(p_rooms integer[], p_user bigint, p_title text, p_start timestamptz,
                          p_end timestamptz, p_capacity integer, p_equipment text[],
                          p_building text, p_floor integer, p_not_before timestamptz,
                          p_until timestamptz, p_rules jsonb DEFAULT '{}',
                          p_admin boolean DEFAULT false)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v_room integer;
    v_new bookings;
    v_policy jsonb;
    v_overrides text[];
BEGIN
    FOREACH v_room IN ARRAY p_rooms LOOP
        v_policy := room_policy(v_room);
        v_overrides := NULL;
        IF EXISTS (SELECT 1 FROM quota_locked_refusals(v_room, p_user, v_policy,
                                                       ARRAY[p_start], ARRAY[p_end])) THEN
            IF NOT p_admin THEN
                CONTINUE;
            END IF;
            v_overrides := '{quota_exceeded}';
        END IF;
        FOR attempt IN 1..2 LOOP
            BEGIN
                -- No row inserted (taken) leaves v_new NULL.
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_by,
                                      attendees, status, buffer_minutes, overrides)
                VALUES (v_room, p_user, p_title, p_start, p_end, p_user, p_capacity,
                        new_booking_status(v_policy, NULL, p_admin), policy_buffer(v_policy),
                        v_overrides)
                ON CONFLICT DO NOTHING
                RETURNING * INTO v_new;
                EXIT;
            EXCEPTION WHEN deadlock_detected THEN
                v_new := NULL;
            END;
        END LOOP;
        IF v_new.id IS NOT NULL THEN
            RETURN json_build_object('room_id', v_room, 'booking', booking_detail_of(v_new));
        END IF;
    END LOOP;
    RETURN json_build_object(
        'room_id', NULL,
        'suggestions', room_suggestions(p_start, p_end, p_capacity, p_equipment, p_building,
                                        p_floor, p_not_before, p_until, p_rules));
END
$$;
