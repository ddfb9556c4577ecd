-- skip_conflicts booked a series with no occurrence at all (found by testing):
-- with every occurrence taken, book_series() made the series, recorded each
-- date as skipped (conflict) and answered 201 with "bookings": [], and its
-- organiser was mailed "Booked ... repeating" with a calendar whose every date
-- was an EXDATE. The same for "this and following" (edit_series()), and when
-- the dates not taken were skipped for their day (closed, sql/079). Python
-- refuses a series whose every date is skipped for its day before asking; only
-- here is it known which are taken.
--
-- Now, with skip_conflicts, a series (or a change of one) of which no
-- occurrence could be booked and at least one was taken is refused as it is
-- without skip_conflicts: nothing written, no event, the 409 conflict listing
-- the taken occurrences (with the finder's other rooms, asked in the same
-- statement).
--
-- book_series() is restated as sql/079 left it, edit_series() as sql/084 did;
-- only the test that refuses (BK409) changes.

CREATE OR REPLACE FUNCTION book_series(p_room integer, p_user bigint, p_title text, p_rrule text, p_timezone text, p_first_start timestamp with time zone, p_duration_minutes integer, p_materialized_until timestamp with time zone, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_skip_conflicts boolean, p_created_by bigint DEFAULT NULL::bigint, p_attendees integer DEFAULT NULL::integer, p_invitees text[] DEFAULT '{}'::text[], p_notes text DEFAULT NULL::text, p_admin boolean DEFAULT false, p_overrides text[] DEFAULT NULL::text[], p_rule_starts timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_ends timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_reasons text[] DEFAULT '{}'::text[]) RETURNS SETOF public.booking_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_series series;
    v_rows booking_result[] := '{}';
BEGIN
    BEGIN
        INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                            timezone, materialized_until, created_by, attendees, invitees,
                            notes, status)
        VALUES (p_room, p_user, p_title, p_rrule, p_first_start, p_duration_minutes,
                p_timezone, p_materialized_until, coalesce(p_created_by, p_user), p_attendees,
                coalesce(p_invitees, '{}'), p_notes,
                new_booking_status(room_policy(p_room), NULL, p_admin))
        RETURNING * INTO v_series;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, p_user, p_title, p_starts, p_ends, v_series.id, p_skip_conflicts,
                    p_created_by, p_attendees, p_invitees, p_notes, p_admin, p_overrides) b;

        -- A taken occurrence refuses the series, unless skip_conflicts; with it,
        -- one is still needed free: every occurrence taken (the rest, if any,
        -- skipped for their day) refuses it as without it (sql/087).
        IF EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'refused')
           OR (EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict')
               AND (NOT p_skip_conflicts
                    OR NOT EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'created')))
        THEN
            RAISE EXCEPTION USING ERRCODE = 'BK409';   -- no series without its occurrences
        END IF;

        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_series.id, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT r.requested_start FROM unnest(v_rows) r WHERE r.kind = 'conflict');
        -- What the room's calendar refuses on its own day (skip_conflicts: a closed
        -- date or weekday, that day's hours, a time the clocks skip), as the
        -- series' extension records it (sql/079).
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_series.id, o.s, o.e, o.r
          FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)
        ON CONFLICT DO NOTHING;
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

CREATE OR REPLACE FUNCTION edit_series(p_series bigint, p_actor bigint, p_admin boolean, p_now timestamp with time zone, p_from timestamp with time zone, p_split boolean, p_room integer, p_title text, p_rrule text, p_timezone text, p_first_start timestamp with time zone, p_duration_minutes integer, p_materialized_until timestamp with time zone, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_skip_conflicts boolean, p_attendees integer, p_invitees text[], p_notes text, p_overrides text[] DEFAULT NULL::text[], p_rule_starts timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_ends timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_reasons text[] DEFAULT '{}'::text[], p_sequence integer DEFAULT NULL::integer) RETURNS SETOF public.booking_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_old series;
    v_new series;
    v_owner bigint;
    v_policy jsonb := room_policy(p_room);
    v_status text;
    v_rows booking_result[] := '{}';
    v_held_nothing_before boolean := false;
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
    -- Planned from the series as it was read: another change of it committed since
    -- (a split, say) makes the plan stale; the caller plans again (sql/084).
    IF p_sequence IS NOT NULL AND v_old.sequence <> p_sequence THEN
        RETURN QUERY SELECT 'stale', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    v_status := CASE WHEN p_room <> v_old.room_id
                     THEN new_booking_status(v_policy, NULL, p_admin)
                     ELSE v_old.status END;
    -- Approved for its old times: moved, made longer or on other days, it asks
    -- again, as a booking does (sql/064); each occurrence within a time the
    -- series holds approved keeps it. bookings_series.
    IF v_status = 'confirmed' AND p_room = v_old.room_id AND policy_approval(v_policy)
       AND NOT p_admin AND NOT approver_ids(p_room) @> to_jsonb(p_actor)
       AND EXISTS (SELECT 1 FROM unnest(p_starts, p_ends) AS o(s, e)
                    WHERE NOT EXISTS (
                          SELECT 1 FROM bookings b
                           WHERE b.series_id = p_series AND b.cancelled_at IS NULL
                             AND b.status = 'confirmed' AND b.start_at >= p_from
                             AND b.start_at <= o.s AND b.end_at >= o.e)) THEN
        v_status := 'pending';
    END IF;

    -- Nothing held before the cut (its first dates skipped, or cancelled one by
    -- one): a split would leave an empty part (waiting for approval, in a room
    -- that asks, that nobody can decide). The series changes in place.
    IF p_split AND NOT EXISTS (SELECT 1 FROM bookings b      -- bookings_series
                                WHERE b.series_id = p_series AND b.cancelled_at IS NULL
                                  AND b.start_at < p_from) THEN
        p_split := false;
        v_held_nothing_before := true;
    END IF;

    PERFORM set_config('booking.actor', p_actor::text, true);
    PERFORM set_config('booking.quiet_series', p_series::text, true);
    BEGIN
        IF p_split THEN
            -- Split before an earlier split: the new part ends where the old one
            -- did, and the series that continued it continues this one.
            INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                                timezone, materialized_until, created_by, attendees,
                                invitees, notes, status, cancelled_from, continued_by)
            VALUES (p_room, v_old.user_id, p_title, p_rrule, p_first_start,
                    p_duration_minutes, p_timezone, p_materialized_until, p_actor,
                    p_attendees, coalesce(p_invitees, '{}'), p_notes, v_status,
                    v_old.cancelled_from, v_old.continued_by)
            RETURNING * INTO v_new;
            UPDATE series
               SET cancelled_from = p_from, continued_by = v_new.id, sequence = sequence + 1
             WHERE id = p_series;
            -- The occurrences cancelled one by one from the cut on stay cancelled:
            -- the new part's now. What the old part could not place from there on is
            -- no longer its (the new part records its own).
            UPDATE series_skips SET series_id = v_new.id
             WHERE series_id = p_series AND start_at >= p_from AND reason = 'cancelled';
            DELETE FROM series_skips
             WHERE series_id = p_series AND start_at >= p_from AND reason <> 'cancelled';
        ELSE
            UPDATE series
               SET room_id = p_room, title = p_title, rrule = p_rrule,
                   first_start = p_first_start, duration_minutes = p_duration_minutes,
                   timezone = p_timezone, materialized_until = p_materialized_until,
                   attendees = p_attendees, invitees = coalesce(p_invitees, '{}'),
                   notes = p_notes, sequence = sequence + 1, status = v_status
             WHERE id = p_series
            RETURNING * INTO v_new;
            -- What the new rule could not book is found again; what was cancelled
            -- one by one stays cancelled.
            DELETE FROM series_skips
             WHERE series_id = p_series AND start_at >= p_from AND reason <> 'cancelled';
            IF v_held_nothing_before THEN
                -- What it could not place before the cut lies before its new first date.
                DELETE FROM series_skips WHERE series_id = p_series AND start_at < p_from;
            END IF;
        END IF;

        -- bookings_series
        UPDATE bookings SET cancelled_at = now(), cancelled_by = p_actor
         WHERE series_id = p_series AND cancelled_at IS NULL AND start_at >= p_from
           AND original_start IS NULL;

        -- An occurrence changed or cancelled on its own since the plan was made (its
        -- change committed before the rows above were locked, which waited for it)
        -- keeps its day, which the plan would book again: stale, planned again.
        -- The parts this one continues: series_continued_by (sql/080).
        IF EXISTS (
               WITH RECURSIVE part(id) AS (
                   SELECT p_series
                   UNION
                   SELECT x.id FROM series x JOIN part ON x.continued_by = part.id),
               kept AS (
                   SELECT b.original_start AS at FROM part JOIN bookings b ON b.series_id = part.id
                    WHERE b.cancelled_at IS NULL AND b.original_start >= p_from
                   UNION ALL
                   SELECT k.start_at FROM part JOIN series_skips k ON k.series_id = part.id
                    WHERE k.reason = 'cancelled' AND k.start_at >= p_from)
               SELECT 1 FROM kept
                WHERE (kept.at AT TIME ZONE v_old.timezone)::date
                      IN (SELECT (o.s AT TIME ZONE v_old.timezone)::date
                            FROM unnest(p_starts) AS o(s))) THEN
            RAISE EXCEPTION USING ERRCODE = 'BK412';   -- undo it all: stale
        END IF;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, v_old.user_id, p_title, p_starts, p_ends, v_new.id,
                    p_skip_conflicts, p_actor, p_attendees, p_invitees, p_notes, p_admin,
                    nullif(p_overrides, '{}')) b;

        -- A taken occurrence refuses the change, unless skip_conflicts; with it,
        -- one is still needed free: every occurrence taken (the rest, if any,
        -- skipped for their day) refuses it as without it (sql/087).
        IF EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'refused')
           OR (EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict')
               AND (NOT p_skip_conflicts
                    OR NOT EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'created')))
        THEN
            RAISE EXCEPTION USING ERRCODE = 'BK409';   -- undo it all
        END IF;

        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_new.id, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT r.requested_start FROM unnest(v_rows) r WHERE r.kind = 'conflict')
        ON CONFLICT DO NOTHING;
        -- What the room's calendar refuses on its own day, as book_series() records it.
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_new.id, o.s, o.e, o.r
          FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)
        ON CONFLICT DO NOTHING;
    EXCEPTION
        WHEN SQLSTATE 'BK409' THEN
            v_new := NULL;
        WHEN SQLSTATE 'BK412' THEN
            RETURN QUERY SELECT 'stale', NULL::timestamptz, NULL::json;
            RETURN;
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
         WHERE k.series_id = v_new.id AND k.start_at >= p_from AND k.reason <> 'cancelled'
         ORDER BY k.start_at;
    END IF;
END
$$;
