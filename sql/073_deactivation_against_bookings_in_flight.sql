-- Deactivating someone and cancelling what they booked holds against bookings
-- being made for them at the same moment (found by testing from outside,
-- issue 18). The deactivation was one statement: a booking committed while it
-- ran was not in its snapshot and stayed, booked for someone inactive.
--
-- * set_person_active() locks the person's row FOR UPDATE first, which waits
--   for every transaction that has inserted a booking of theirs (the foreign
--   key holds FOR KEY SHARE on it until commit); its next statements see those
--   bookings and cancel them.
-- * book() and auto_book(), once they have inserted (and so waited for a
--   deactivation holding the row), ask whether the owner is still active
--   (owner_still_active()) and otherwise undo it all: bookings_owner_active
--   (403 forbidden). A booking refused by a conflict asks nothing.
--
-- The rest of book() is as sql/065 left it, of auto_book() as sql/061 did.

CREATE FUNCTION owner_still_active(p_user bigint, p_booked boolean) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Asked after the insert, whose foreign key holds the owner's row FOR KEY SHARE
    -- to commit: a deactivation (set_person_active(), FOR UPDATE) either waited
    -- for that and sees this booking, or committed first, and a new statement
    -- sees them inactive here. users_pkey. Nothing booked, nothing to ask.
    IF p_booked AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p_user AND u.active) THEN
        RAISE EXCEPTION 'user % is not active', p_user
              USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_owner_active';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION book(p_room integer, p_user bigint, p_title text, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_series bigint DEFAULT NULL::bigint, p_skip_conflicts boolean DEFAULT false, p_created_by bigint DEFAULT NULL::bigint, p_attendees integer DEFAULT NULL::integer, p_invitees text[] DEFAULT '{}'::text[], p_notes text DEFAULT NULL::text, p_admin boolean DEFAULT false, p_overrides text[] DEFAULT NULL::text[], p_skip_over_quota boolean DEFAULT false, p_checked_in timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF public.booking_result
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
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
                                      status, buffer_minutes, overrides, checked_in_at)
                SELECT p_room, p_user, p_title, o.s, o.e, p_series,
                       coalesce(p_created_by, p_user), p_attendees, coalesce(p_invitees, '{}'),
                       p_notes, v_status, v_buffer, nullif(v_overrides, '{}'), p_checked_in
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
    PERFORM owner_still_active(p_user, cardinality(v_ids) > 0);

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

CREATE OR REPLACE FUNCTION auto_book(p_rooms integer[], p_user bigint, p_title text, p_start timestamp with time zone, p_end timestamp with time zone, p_capacity integer, p_equipment text[], p_building text, p_floor integer, p_not_before timestamp with time zone, p_until timestamp with time zone, p_rules jsonb DEFAULT '{}'::jsonb, p_admin boolean DEFAULT false) RETURNS json
    LANGUAGE plpgsql
    AS $$
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
            PERFORM owner_still_active(p_user, true);
            RETURN json_build_object('room_id', v_room, 'booking', booking_detail_of(v_new));
        END IF;
    END LOOP;
    RETURN json_build_object(
        'room_id', NULL,
        'suggestions', room_suggestions(p_start, p_end, p_capacity, p_equipment, p_building,
                                        p_floor, p_not_before, p_until, p_rules));
END
$$;

CREATE FUNCTION set_person_active(p_id bigint, p_active boolean, p_cancel boolean,
                                  p_actor bigint, p_now timestamptz)
    RETURNS TABLE (id bigint, email text, name text, role text, active boolean,
                   home_building text, created_at text, cancelled bigint[],
                   series_cancelled integer)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_cancelled bigint[] := '{}';
    v_series integer := 0;
BEGIN
    PERFORM set_config('booking.actor', p_actor::text, true);   -- for the audit log
    -- users_pkey. Waits for every booking being made for them (the insert's
    -- foreign key holds their row FOR KEY SHARE to commit).
    PERFORM 1 FROM users u WHERE u.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE users u SET active = coalesce(p_active, u.active) WHERE u.id = p_id;
    IF p_cancel THEN
        -- series_user
        UPDATE series s
           SET cancelled_from = least(coalesce(s.cancelled_from, 'infinity'), p_now),
               cancelled_at = coalesce(s.cancelled_at, now()),
               cancelled_by = p_actor
         WHERE s.user_id = p_id AND s.cancelled_at IS NULL;
        GET DIAGNOSTICS v_series = ROW_COUNT;
        -- bookings_user_start: their live bookings from now on.
        WITH done AS (
            UPDATE bookings b SET cancelled_at = now(), cancelled_by = p_actor
             WHERE b.user_id = p_id AND b.cancelled_at IS NULL AND b.start_at >= p_now
            RETURNING b.id)
        SELECT coalesce(array_agg(d.id ORDER BY d.id), '{}') INTO v_cancelled FROM done d;
    END IF;
    RETURN QUERY
    SELECT u.id, u.email, u.name, u.role, u.active, u.home_building,
           rfc3339(u.created_at, 'UTC'), v_cancelled, v_series
      FROM users u WHERE u.id = p_id;
END
$$;
