-- A walk-in booked at the door panel is checked in as it is made: the person is
-- at the door. Before, in a room that needs check-in it waited for a second
-- press of Check in, and without one it was released while they sat in the room.
-- book() takes `p_checked_in` (NULL: not checked in, as before); the rest is as
-- sql/061 left it. Its other callers (series, auto-assignment) name no check-in.

DROP FUNCTION book(integer, bigint, text, timestamptz[], timestamptz[], bigint, boolean, bigint,
                   integer, text[], text, boolean, text[], boolean);

-- As sql/061's book(), and p_checked_in: the check-in the bookings are made with.
CREATE FUNCTION book(p_room integer, p_user bigint, p_title text,
                     p_starts timestamptz[], p_ends timestamptz[],
                     p_series bigint DEFAULT NULL,
                     p_skip_conflicts boolean DEFAULT false,
                     p_created_by bigint DEFAULT NULL,
                     p_attendees integer DEFAULT NULL,
                     p_invitees text[] DEFAULT '{}', p_notes text DEFAULT NULL,
                     p_admin boolean DEFAULT false, p_overrides text[] DEFAULT NULL,
                     p_skip_over_quota boolean DEFAULT false,
                     p_checked_in timestamptz DEFAULT NULL)
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
