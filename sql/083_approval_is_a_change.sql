-- An approval is a change calendars must take (found by testing from outside):
-- the approval's invitation said SEQUENCE 1 (one more than the tentative
-- request's), while the feeds still said 0 with the request's DTSTAMP, and a
-- later change of the booking sent SEQUENCE 1 again. The approved occurrences
-- now count it in bookings.sequence and updated_at, which the feeds and every
-- later invitation read (booking/events/invitations.py no longer adds one).
-- A release does the same in its own statement (booking/bookings/release.py).
-- outbox_bookings_updated() tells neither as booking.updated: they are told as
-- themselves (booking.approved, booking.released).
--
-- The rest is as sql/069 (decide_request) and sql/075 (outbox_bookings_updated)
-- left them.

CREATE OR REPLACE FUNCTION decide_request(p_booking bigint, p_series bigint, p_actor bigint, p_decision text, p_reason text) RETURNS TABLE(outcome text, booking json)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_target bookings;
    v_admin boolean;
    v_groups bigint[];
    v_done integer;
BEGIN
    IF p_series IS NOT NULL THEN
        SELECT * INTO v_target FROM bookings b
         WHERE b.series_id = p_series
         ORDER BY b.status = 'pending' AND b.cancelled_at IS NULL DESC, b.start_at
         LIMIT 1;
    ELSE
        SELECT * INTO v_target FROM bookings b WHERE b.id = p_booking;
    END IF;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    SELECT u.role = 'admin',
           ARRAY(SELECT m.group_id FROM group_members m WHERE m.user_id = u.id)
      INTO v_admin, v_groups
      FROM users u WHERE u.id = p_actor AND u.active;
    -- Whoever decides a series decides every occurrence still asking, so they must
    -- approve for each room those are in (one may have been moved elsewhere).
    IF NOT coalesce(may_approve(room_policy(v_target.room_id), v_admin, v_groups), false)
       OR (v_target.series_id IS NOT NULL AND EXISTS (
               SELECT 1
                 FROM (SELECT DISTINCT b.room_id FROM bookings b
                        WHERE b.series_id = v_target.series_id AND b.status = 'pending'
                          AND b.cancelled_at IS NULL) r
                WHERE NOT coalesce(may_approve(room_policy(r.room_id), v_admin, v_groups),
                                   false))) THEN
        RETURN QUERY SELECT 'forbidden', NULL::json;
        RETURN;
    END IF;
    PERFORM set_config('booking.actor', p_actor::text, true);   -- the audit log's actor
    WITH done AS (
        UPDATE bookings b
           SET status = p_decision, decided_by = p_actor, decided_at = now(),
               decision_reason = p_reason,
               -- Approved: a change calendars must take (TENTATIVE to CONFIRMED), so
               -- the feeds say it as the approval's invitation does.
               sequence = b.sequence + CASE WHEN p_decision = 'confirmed' THEN 1 ELSE 0 END,
               updated_at = CASE WHEN p_decision = 'confirmed' THEN now() ELSE b.updated_at END,
               cancelled_at = CASE WHEN p_decision = 'rejected' THEN now() END,
               cancelled_by = CASE WHEN p_decision = 'rejected' THEN p_actor END
         WHERE (b.id = v_target.id
                OR (v_target.series_id IS NOT NULL AND b.series_id = v_target.series_id))
           AND b.status = 'pending' AND b.cancelled_at IS NULL
        RETURNING 1)
    SELECT count(*) INTO v_done FROM done;
    IF v_done = 0 THEN
        RETURN QUERY SELECT 'not_pending', (SELECT booking_json(v) FROM booking_api v
                                             WHERE v.id = v_target.id);
        RETURN;
    END IF;
    UPDATE series s SET status = p_decision
     WHERE s.id = v_target.series_id AND s.status = 'pending';
    -- A new statement: its snapshot sees the update above.
    RETURN QUERY SELECT 'done', (SELECT booking_json(v) FROM booking_api v
                                  WHERE v.id = v_target.id);
END
$$;

CREATE OR REPLACE FUNCTION outbox_bookings_updated() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
    v_told boolean := false;
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, series_id, payload)
    SELECT CASE WHEN n.series_id IS NULL THEN 'booking.cancelled' ELSE 'occurrence.cancelled' END,
           n.user_id, n.cancelled_by, n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n),
                              'cancelled_by', n.cancelled_by,
                              'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id
                                     AND EXISTS (SELECT 1 FROM users a   -- users_admins
                                                  WHERE a.id = n.cancelled_by
                                                    AND a.role = 'admin'))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL AND n.status = o.status
       AND (v_quiet IS NULL OR n.series_id IS DISTINCT FROM v_quiet)
       -- An occurrence cancelled together with its series is told by series.cancelled.
       AND NOT coalesce((SELECT n.start_at >= s.cancelled_from FROM series s
                          WHERE s.id = n.series_id), false)
    UNION ALL
    SELECT 'booking.updated', n.user_id, audit_actor(), n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n), 'before', to_jsonb(o),
                              'updated_by', audit_actor())
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE n.cancelled_at IS NULL AND n.sequence > o.sequence
       -- A decision and a release count as changes (sql/083) but are told as
       -- themselves: booking.approved below, booking.released by the sweep.
       AND NOT (o.status = 'pending' AND n.decided_at IS DISTINCT FROM o.decided_at)
       AND NOT (o.released_at IS NULL AND n.released_at IS NOT NULL)
    UNION ALL
    SELECT 'approval.requested', n.user_id, audit_actor(), n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n), 'approvers', approver_ids(n.room_id))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE n.cancelled_at IS NULL AND n.status = 'pending' AND o.status <> 'pending'
       AND n.series_id IS NULL
     ORDER BY 5, 1 DESC;
    v_told := FOUND;

    -- Decided or expired: once per booking, or once per series for its occurrences.
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, series_id, payload)
    SELECT d.kind, d.user_id, d.decided_by, d.room_id, d.booking_id, d.series_id, d.payload
      FROM (SELECT DISTINCT ON (coalesce(n.series_id, -n.id))
                   CASE WHEN n.series_id IS NULL THEN 'booking.' ELSE 'series.' END
                   || CASE n.status WHEN 'confirmed' THEN 'approved' ELSE n.status END AS kind,
                   n.user_id, n.decided_by, n.room_id,
                   CASE WHEN n.series_id IS NULL THEN n.id END AS booking_id, n.series_id,
                   CASE WHEN n.series_id IS NULL THEN jsonb_build_object('booking', to_jsonb(n))
                        ELSE jsonb_build_object('series', (SELECT to_jsonb(s) FROM series s
                                                            WHERE s.id = n.series_id))
                   END || jsonb_build_object('reason', n.decision_reason,
                                             'decided_by', n.decided_by) AS payload,
                   n.start_at
              FROM new_rows n
              JOIN old_rows o ON o.id = n.id
             WHERE o.status = 'pending' AND n.status IN ('confirmed', 'rejected', 'expired')
               AND n.decided_at IS DISTINCT FROM o.decided_at
             ORDER BY coalesce(n.series_id, -n.id), n.start_at) d
     ORDER BY d.start_at;
    IF FOUND OR v_told THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;
