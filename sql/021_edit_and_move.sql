-- Issue 16: writing the new fields, editing and moving a booking, "this and
-- following" for a series, and the events they emit.

-- book() takes who made it and the people around it. The 'free_room' rows
-- are gone: other rooms for a refused booking are the finder's, ranked as it
-- ranks (booking/finder/service.py Alternatives), asked in the same statement.
DROP FUNCTION book(integer, bigint, text, timestamptz[], timestamptz[], bigint, boolean);

CREATE FUNCTION book(p_room integer, p_user bigint, p_title text,
                     p_starts timestamptz[], p_ends timestamptz[],
                     p_series bigint DEFAULT NULL, p_skip_conflicts boolean DEFAULT false,
                     p_created_by bigint DEFAULT NULL, p_attendees integer DEFAULT NULL,
                     p_invitees text[] DEFAULT '{}', p_notes text DEFAULT NULL)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[] := '{}';
    v_start timestamptz;
BEGIN
    FOR attempt IN 1..3 LOOP
        BEGIN
            WITH ins AS (
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, series_id,
                                      created_by, attendees, invitees, notes)
                SELECT p_room, p_user, p_title, o.s, o.e, p_series,
                       coalesce(p_created_by, p_user), p_attendees, coalesce(p_invitees, '{}'),
                       p_notes
                  FROM unnest(p_starts, p_ends) AS o(s, e)
                 ORDER BY o.s           -- one order for everyone: fewer lock waits
                ON CONFLICT DO NOTHING
                RETURNING id)
            SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM ins;
            IF cardinality(v_ids) < cardinality(p_starts) AND NOT p_skip_conflicts THEN
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

    RETURN QUERY
    SELECT 'created', v.start_at, booking_detail_json(v)   -- as GET /api/bookings/<id> shows it
      FROM booking_api v
     WHERE v.id = ANY (v_ids)
     ORDER BY v.start_at;

    IF cardinality(v_ids) = cardinality(p_starts) THEN
        RETURN;
    END IF;

    -- A new statement, so a fresh snapshot: even the loser of a race sees the winner.
    RETURN QUERY
    SELECT 'conflict', o.s, booking_json(v)
      FROM unnest(p_starts, p_ends) AS o(s, e)
      JOIN booking_api v
        ON v.room_id = p_room AND v.live
       AND v.start_at < o.e AND v.end_at > o.s
       AND v.start_at > o.s - interval '1 day'   -- no booking spans a day: index range
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (v_ids) AND c.start_at = o.s)
     ORDER BY o.s, v.start_at;

    SELECT o.s INTO v_start
      FROM unnest(p_starts, p_ends) AS o(s, e)
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (v_ids) AND c.start_at = o.s)
     ORDER BY o.s LIMIT 1;

    -- bookings_room_start: what the same room has in the 15 days from the first
    -- taken interval (its next free slots are found in Python, by the rules).
    RETURN QUERY
    SELECT 'busy', v_start, json_build_object('start_at', b.start_at, 'end_at', b.end_at)
      FROM bookings b
     WHERE b.room_id = p_room AND b.cancelled_at IS NULL
       AND b.start_at > v_start - interval '1 day' AND b.start_at < v_start + interval '15 days'
       AND b.end_at > v_start
     ORDER BY b.start_at;
END
$$;

DROP FUNCTION book_series(integer, bigint, text, text, text, timestamptz, integer, timestamptz,
                          timestamptz[], timestamptz[], boolean);

CREATE FUNCTION book_series(p_room integer, p_user bigint, p_title text, p_rrule text,
                            p_timezone text, p_first_start timestamptz,
                            p_duration_minutes integer, p_materialized_until timestamptz,
                            p_starts timestamptz[], p_ends timestamptz[],
                            p_skip_conflicts boolean, p_created_by bigint DEFAULT NULL,
                            p_attendees integer DEFAULT NULL, p_invitees text[] DEFAULT '{}',
                            p_notes text DEFAULT NULL)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_series series;
    v_rows booking_result[] := '{}';
BEGIN
    BEGIN
        INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                            timezone, materialized_until, created_by, attendees, invitees,
                            notes)
        VALUES (p_room, p_user, p_title, p_rrule, p_first_start, p_duration_minutes,
                p_timezone, p_materialized_until, coalesce(p_created_by, p_user), p_attendees,
                coalesce(p_invitees, '{}'), p_notes)
        RETURNING * INTO v_series;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, p_user, p_title, p_starts, p_ends, v_series.id, p_skip_conflicts,
                    p_created_by, p_attendees, p_invitees, p_notes) b;

        IF NOT p_skip_conflicts
           AND EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict') THEN
            RAISE EXCEPTION USING ERRCODE = 'BK409';   -- no series without its occurrences
        END IF;

        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_series.id, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT r.requested_start FROM unnest(v_rows) r WHERE r.kind = 'conflict');
    EXCEPTION
        WHEN SQLSTATE 'BK409' THEN
            v_series := NULL;
    END;

    IF v_series.id IS NOT NULL THEN
        RETURN QUERY SELECT 'series', v_series.first_start, series_json(v_series);
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_rows);
    IF v_series.id IS NOT NULL THEN
        RETURN QUERY
        SELECT 'skipped', k.start_at,
               json_build_object('start_time', rfc3339(k.start_at, p_timezone),
                                 'end_time', rfc3339(k.end_at, p_timezone),
                                 'reason', k.reason)
          FROM series_skips k
         WHERE k.series_id = v_series.id
         ORDER BY k.start_at;
    END IF;
END
$$;

-- book_once() passes the new fields on (same arguments, same answers).
CREATE OR REPLACE FUNCTION book_once(p_user bigint, p_key text, p_fingerprint text,
                                     p_now timestamptz, p_kind text, p_args jsonb)
RETURNS TABLE (replayed boolean, same_request boolean, result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_earlier idempotency_keys;
    v_result jsonb;
    v_booked boolean;
    v_owner bigint := coalesce((p_args->>'owner')::bigint, p_user);
    v_invitees text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_args->'invitees',
                                                                          '[]')));
BEGIN
    DELETE FROM idempotency_keys k
     WHERE k.user_id = p_user AND k.key = p_key AND k.created_at <= p_now - interval '24 hours';
    DELETE FROM idempotency_keys k WHERE (k.user_id, k.key) IN (
        SELECT o.user_id, o.key FROM idempotency_keys o
         WHERE o.created_at <= p_now - interval '24 hours'
         ORDER BY o.created_at LIMIT 10 FOR UPDATE SKIP LOCKED);

    INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO v_earlier FROM idempotency_keys k
         WHERE k.user_id = p_user AND k.key = p_key;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'idempotency key vanished' USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN QUERY SELECT true, v_earlier.fingerprint = p_fingerprint,
                            CASE WHEN v_earlier.fingerprint = p_fingerprint
                                 THEN v_earlier.answer END;
        RETURN;
    END IF;

    IF p_kind = 'book' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book((p_args->>'room')::integer, v_owner, p_args->>'title',
                    json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                    NULL, false, p_user, (p_args->>'attendees')::integer, v_invitees,
                    p_args->>'notes') b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "created")');
    ELSIF p_kind = 'series' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book_series((p_args->>'room')::integer, v_owner, p_args->>'title',
                           p_args->>'rrule', p_args->>'tz', (p_args->>'first')::timestamptz,
                           (p_args->>'minutes')::integer, (p_args->>'horizon')::timestamptz,
                           json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                           (p_args->>'skip')::boolean, p_user,
                           (p_args->>'attendees')::integer, v_invitees,
                           p_args->>'notes') b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "series")');
    ELSIF p_kind = 'auto' THEN
        v_result := to_jsonb(auto_book(
            ARRAY(SELECT jsonb_array_elements_text(p_args->'rooms')::integer), p_user,
            p_args->>'title', (p_args->>'start')::timestamptz, (p_args->>'end')::timestamptz,
            (p_args->>'people')::integer,
            ARRAY(SELECT jsonb_array_elements_text(p_args->'equipment')),
            p_args->>'building', (p_args->>'floor')::integer,
            (p_args->>'not_before')::timestamptz, (p_args->>'until')::timestamptz));
        v_booked := v_result->>'room_id' IS NOT NULL;
        IF v_booked THEN
            v_result := v_result || jsonb_build_object(
                'room', p_args->'room_json'->(v_result->>'room_id'));
        END IF;
    ELSE
        RAISE EXCEPTION 'book_once: unknown kind %', p_kind;
    END IF;

    IF coalesce(v_booked, false) THEN
        UPDATE idempotency_keys k SET answer = v_result
         WHERE k.user_id = p_user AND k.key = p_key;
    ELSE
        DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
    END IF;
    RETURN QUERY SELECT false, true, v_result;
END
$$;

-- Automatic assignment records the party it was asked for.
CREATE OR REPLACE FUNCTION auto_book(p_rooms integer[], p_user bigint, p_title text,
                                     p_start timestamptz, p_end timestamptz,
                                     p_capacity integer, p_equipment text[], p_building text,
                                     p_floor integer, p_not_before timestamptz,
                                     p_until timestamptz)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v_room integer;
    v_id bigint;
BEGIN
    FOREACH v_room IN ARRAY p_rooms LOOP
        FOR attempt IN 1..2 LOOP
            BEGIN
                -- No row inserted (taken) leaves v_id NULL.
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_by,
                                      attendees)
                VALUES (v_room, p_user, p_title, p_start, p_end, p_user, p_capacity)
                ON CONFLICT DO NOTHING
                RETURNING id INTO v_id;
                EXIT;
            EXCEPTION WHEN deadlock_detected THEN
                v_id := NULL;
            END;
        END LOOP;
        IF v_id IS NOT NULL THEN
            RETURN json_build_object(
                'room_id', v_room,
                'booking', (SELECT booking_detail_json(v) FROM booking_api v WHERE v.id = v_id));
        END IF;
    END LOOP;
    RETURN json_build_object(
        'room_id', NULL,
        'suggestions', room_suggestions(p_start, p_end, p_capacity, p_equipment, p_building,
                                        p_floor, p_not_before, p_until));
END
$$;

-- Extending a series books its occurrences with its people, and tells the
-- organiser of each one that could not be placed (series.occurrence_skipped:
-- a mail, and a webhook for those who want it).
CREATE OR REPLACE FUNCTION extend_series(p_series bigint, p_from timestamptz,
                                         p_until timestamptz, p_starts timestamptz[],
                                         p_ends timestamptz[], p_rule_starts timestamptz[],
                                         p_rule_ends timestamptz[], p_rule_reasons text[])
RETURNS TABLE (booked integer, skipped integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_series series;
    v_booked integer;
    v_skipped integer;
BEGIN
    UPDATE series SET materialized_until = p_until
     WHERE id = p_series AND materialized_until = p_from AND cancelled_at IS NULL
    RETURNING * INTO v_series;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 0, 0;
        RETURN;
    END IF;

    WITH rows AS (
        SELECT * FROM book(v_series.room_id, v_series.user_id, v_series.title,
                           p_starts, p_ends, p_series, true, v_series.created_by,
                           v_series.attendees, v_series.invitees, v_series.notes)),
    missed AS (
        SELECT o.s, o.e, 'conflict' AS reason
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT requested_start FROM rows WHERE kind = 'conflict')
        UNION ALL
        SELECT o.s, o.e, o.r FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)),
    recorded AS (
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT p_series, m.s, m.e, m.reason FROM missed m
        ON CONFLICT DO NOTHING
        RETURNING start_at, end_at, reason),
    told AS (
        INSERT INTO outbox (kind, user_id, room_id, series_id, payload)
        SELECT 'series.occurrence_skipped', v_series.user_id, v_series.room_id, p_series,
               jsonb_build_object('series', to_jsonb(v_series), 'start_at', k.start_at,
                                  'end_at', k.end_at, 'reason', k.reason)
          FROM recorded k
         ORDER BY k.start_at
        RETURNING 1)
    SELECT (SELECT count(*) FROM rows WHERE kind = 'created'), (SELECT count(*) FROM told)
      INTO v_booked, v_skipped;
    IF v_skipped > 0 THEN
        PERFORM outbox_notify();
    END IF;
    RETURN QUERY SELECT v_booked, v_skipped;
END
$$;

-- Edit and move a booking in one call, under the exclusion constraint.
--
-- The row is locked first, so who may, whether it is still editable and
-- whether it is the version the client saw (If-Match: p_sequence) are
-- decided on the row as it is. The UPDATE either holds under
-- bookings_no_overlap or raises, and then nothing changed: the booking keeps
-- its old slot. A deadlock between two moves (each into the other's old
-- slot) is retried. Times and room are applied whole (p_start, p_end,
-- p_room: what the rules were checked against, booking/bookings/service.py),
-- so the last writer's interval wins without If-Match.
--
-- Answers {"kind": "updated", "booking"} or "conflict" with the bookings in
-- the way and what the target room has in the next 15 days (this booking
-- left out: moving within its own hour is no conflict), or "not_found",
-- "forbidden", "not_editable", "precondition_failed".
CREATE FUNCTION edit_booking(p_id bigint, p_actor bigint, p_admin boolean, p_now timestamptz,
                             p_sequence integer, p_room integer, p_start timestamptz,
                             p_end timestamptz, p_title text, p_set_attendees boolean,
                             p_attendees integer, p_invitees text[], p_set_notes boolean,
                             p_notes text)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v_old bookings;
    v_room integer;
    v_start timestamptz;
    v_end timestamptz;
BEGIN
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
                                         THEN coalesce(original_start, start_at) END
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
        -- bookings_room_start
        'conflicts', (SELECT coalesce(json_agg(booking_json(v) ORDER BY v.start_at), '[]')
                        FROM booking_api v
                       WHERE v.room_id = v_room AND v.live AND v.id <> p_id
                         AND v.start_at < v_end AND v.end_at > v_start
                         AND v.start_at > v_start - interval '1 day'),
        'busy', (SELECT coalesce(json_agg(json_build_object('start_at', b.start_at,
                                                            'end_at', b.end_at)
                                          ORDER BY b.start_at), '[]')
                   FROM bookings b
                  WHERE b.room_id = v_room AND b.cancelled_at IS NULL AND b.id <> p_id
                    AND b.start_at > v_start - interval '1 day'
                    AND b.start_at < v_start + interval '15 days' AND b.end_at > v_start));
END
$$;

-- "This and following" (p_split) or the whole series (from its first
-- occurrence): the occurrences from p_from on that were not changed on their
-- own are cancelled (quietly: the series' own event tells), and the new ones
-- (p_starts, p_ends: computed in Python by the new rule, each checked by the
-- rules) are booked under the exclusion constraint. A split ends the old
-- series before p_from (cancelled_from, continued_by) and starts a new one;
-- otherwise the series itself changes. Without p_skip any taken occurrence
-- undoes it all: the series and its bookings are exactly as they were.
--
-- Rows as book_series() answers them ('series', 'created', 'conflict',
-- 'busy', 'skipped'), or one row 'not_found', 'forbidden', 'not_editable'.
CREATE FUNCTION edit_series(p_series bigint, p_actor bigint, p_admin boolean,
                            p_now timestamptz, p_from timestamptz, p_split boolean,
                            p_room integer, p_title text, p_rrule text, p_timezone text,
                            p_first_start timestamptz, p_duration_minutes integer,
                            p_materialized_until timestamptz, p_starts timestamptz[],
                            p_ends timestamptz[], p_skip_conflicts boolean,
                            p_attendees integer, p_invitees text[], p_notes text)
RETURNS SETOF booking_result
LANGUAGE plpgsql AS $$
DECLARE
    v_old series;
    v_new series;
    v_rows booking_result[] := '{}';
BEGIN
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
    IF v_old.cancelled_at IS NOT NULL OR v_old.cancelled_from <= p_from OR p_from < p_now THEN
        RETURN QUERY SELECT 'not_editable', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;

    PERFORM set_config('booking.actor', p_actor::text, true);
    PERFORM set_config('booking.quiet_series', p_series::text, true);
    BEGIN
        IF p_split THEN
            INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                                timezone, materialized_until, created_by, attendees,
                                invitees, notes)
            VALUES (p_room, v_old.user_id, p_title, p_rrule, p_first_start,
                    p_duration_minutes, p_timezone, p_materialized_until, p_actor,
                    p_attendees, coalesce(p_invitees, '{}'), p_notes)
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
                   notes = p_notes, sequence = sequence + 1
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
                    p_skip_conflicts, p_actor, p_attendees, p_invitees, p_notes) b;

        IF NOT p_skip_conflicts
           AND EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict') THEN
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

-- Events of a change: booking.updated (with the row before), and nothing per
-- occurrence when a series edit replaces its occurrences (booking.quiet_series):
-- the series' own event tells.
CREATE OR REPLACE FUNCTION outbox_bookings_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, series_id, payload)
    SELECT CASE WHEN n.series_id IS NULL THEN 'booking.cancelled' ELSE 'occurrence.cancelled' END,
           n.user_id, n.cancelled_by, n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n),
                              'cancelled_by', n.cancelled_by,
                              'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id)
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
       AND (v_quiet IS NULL OR n.series_id IS DISTINCT FROM v_quiet)
       -- An occurrence cancelled together with its series is told by series.cancelled.
       AND NOT EXISTS (SELECT 1 FROM series s
                        WHERE s.id = n.series_id AND s.cancelled_from IS NOT NULL
                          AND n.start_at >= s.cancelled_from)
    UNION ALL
    SELECT 'booking.updated', n.user_id, audit_actor(), n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n), 'before', to_jsonb(o),
                              'updated_by', audit_actor())
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE n.cancelled_at IS NULL AND n.sequence > o.sequence
     ORDER BY 5;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

-- series.updated: split by "this and following" (continued_by set: it ends
-- before `from`) or changed whole (sequence grew); series.cancelled as before.
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
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

-- The series audit trigger fires on cancellation only; an edit is a change too.
DROP TRIGGER series_audit_cancel ON series;
CREATE TRIGGER series_audit_update AFTER UPDATE ON series
    FOR EACH ROW WHEN (old.cancelled_at IS DISTINCT FROM new.cancelled_at
                       OR old.cancelled_from IS DISTINCT FROM new.cancelled_from
                       OR old.sequence IS DISTINCT FROM new.sequence)
    EXECUTE FUNCTION audit_row();

CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_old jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END;
    v_new jsonb := to_jsonb(NEW);
    v_actor bigint := audit_actor();
    v_action text;
    v_user bigint;
    v_room integer;
    v_target text;
BEGIN
    IF TG_TABLE_NAME = 'series' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'series.create'
                         WHEN NEW.continued_by IS NOT NULL AND OLD.continued_by IS NULL
                           OR (NEW.cancelled_at IS NULL
                               AND NEW.cancelled_from IS NOT DISTINCT FROM OLD.cancelled_from)
                           THEN 'series.update'
                         ELSE 'series.cancel' END;
        v_actor := coalesce(v_actor, NEW.cancelled_by, NEW.created_by, NEW.user_id);
        v_user := NEW.user_id; v_room := NEW.room_id; v_target := 'series ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'rooms' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'room.create' ELSE 'room.update' END;
        v_room := NEW.id; v_target := 'room ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'users' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'user.create' ELSE 'user.update' END;
        v_old := v_old - 'password_hash' - 'calendar_salt';
        v_new := v_new - 'password_hash' - 'calendar_salt';
        v_user := NEW.id; v_target := 'user ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'api_tokens' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'token.create' ELSE 'token.revoke' END;
        v_old := v_old - 'token_hash';
        v_new := v_new - 'token_hash';
        v_actor := coalesce(v_actor, NEW.user_id);
        v_user := NEW.user_id; v_target := 'token ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'sign_in_failures' THEN
        v_action := 'sign_in.failure';
        v_new := jsonb_build_object('email', NEW.email_key, 'address', NEW.address);
        v_user := (SELECT u.id FROM users u WHERE lower(u.email) = NEW.email_key);
        v_target := 'email ' || NEW.email_key;
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    VALUES (v_actor, v_action, v_user, v_room, v_target, v_old, v_new);
    RETURN NULL;
END
$$;
