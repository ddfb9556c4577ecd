-- Two faults in approvals, found by testing from outside (issue 18):
--
-- * decide_request() checked that the approver may approve for the room of the
--   booking named, then decided every occurrence of its series still asking,
--   also those moved into rooms other approvers decide. Now they must approve
--   for every room those occurrences are in (403 forbidden otherwise).
-- * expire_requests() counted a request's time from when the booking was made,
--   so an approved booking moved (and asking again, sql/064) long after it was
--   made expired at the worker's next round. It counts from the booking's last
--   change now (updated_at, which a move sets); the approvals list says the same.
--
-- The rest is as sql/043 and sql/062 left them.

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

CREATE OR REPLACE FUNCTION expire_requests(p_now timestamp with time zone, p_after interval, p_batch integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_count integer;
BEGIN
    WITH due AS (
        SELECT b.id, b.series_id FROM bookings b
         WHERE b.status = 'pending' AND b.cancelled_at IS NULL
           -- Asking since it was made, or since it last changed (a move that asks
           -- again: sql/064): updated_at.
           AND (coalesce(b.updated_at, b.created_at) <= p_now - p_after
                OR b.start_at <= p_now)
         ORDER BY b.created_at, b.id
         LIMIT p_batch
           FOR UPDATE SKIP LOCKED),
    expired AS (
        UPDATE bookings b
           SET status = 'expired', cancelled_at = now(), decided_at = now()
         WHERE (b.id IN (SELECT d.id FROM due d)
                OR b.series_id IN (SELECT d.series_id FROM due d WHERE d.series_id IS NOT NULL))
           AND b.status = 'pending' AND b.cancelled_at IS NULL
        RETURNING b.id, b.series_id),
    series_expired AS (
        UPDATE series s SET status = 'expired'
         WHERE s.id IN (SELECT e.series_id FROM expired e) AND s.status = 'pending'
        RETURNING 1)
    SELECT (SELECT count(*) FROM expired) + 0 * (SELECT count(*) FROM series_expired)
      INTO v_count;
    RETURN v_count;
END
$$;
