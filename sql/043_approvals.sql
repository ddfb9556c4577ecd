-- Approvals (issue 18): who decides, the decision in one statement, expiry, and
-- what each step tells people (outbox events, audit entries).
--
-- A booking in a room whose policy has approval_required is written `pending`
-- (sql/042) and holds its slot. The room's approvers (members of its policy's
-- `approvers` groups; administrators always) approve or reject it; a series
-- asks once and is decided whole (every pending occurrence, and the series).
-- A request nobody decides expires after APPROVAL_EXPIRES_HOURS, or at its
-- start if sooner: the delivery worker runs expire_requests().

-- Who is told that a request arrived: the active members of the room's approvers
-- groups, or, when its policy names none, the active administrators.
CREATE FUNCTION approver_ids(p_room integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH named AS (
        SELECT g.value::bigint AS group_id
          FROM jsonb_array_elements_text(
                   coalesce(room_policy(p_room)->'fields'->'approvers'->'value', '[]')) g)
    SELECT coalesce(jsonb_agg(DISTINCT u.id), '[]')
      FROM users u
     WHERE u.active
       AND CASE WHEN EXISTS (SELECT 1 FROM named)
                THEN EXISTS (SELECT 1 FROM group_members m JOIN named n ON n.group_id = m.group_id
                              WHERE m.user_id = u.id)
                ELSE u.role = 'admin' END
$$;

-- Whether someone in p_groups (or an administrator) may decide requests for a room.
CREATE FUNCTION may_approve(p_policy jsonb, p_admin boolean, p_groups bigint[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_admin OR EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(
                      coalesce(p_policy->'fields'->'approvers'->'value', '[]')) g
     WHERE g.value::bigint = ANY (p_groups));

-- Approve (p_decision 'confirmed') or reject ('rejected') a request by p_actor,
-- race-free in one statement: the booking (or, with p_series, the series' first
-- pending occurrence) and, when it belongs to a series, every pending occurrence
-- and the series. Who may: an active administrator, or an active member of one
-- of the room's approvers groups (read here, so a one-tap link from a mail
-- decides with what the approver may do now). Rows: outcome 'not_found',
-- 'forbidden', 'not_pending' (decided, expired or cancelled already: the loser
-- of two simultaneous decisions gets this) or 'done', with the booking as it
-- is now.
CREATE FUNCTION decide_request(p_booking bigint, p_series bigint, p_actor bigint,
                               p_decision text, p_reason text)
RETURNS TABLE (outcome text, booking json)
LANGUAGE plpgsql AS $$
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
    IF NOT coalesce(may_approve(room_policy(v_target.room_id), v_admin, v_groups), false) THEN
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

-- The requests due to expire at p_now (bookings_pending), and their series'
-- other pending occurrences: expired, their slots freed, their series expired.
-- The number of bookings expired.
CREATE FUNCTION expire_requests(p_now timestamptz, p_after interval, p_batch integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    WITH due AS (
        SELECT b.id, b.series_id FROM bookings b
         WHERE b.status = 'pending' AND b.cancelled_at IS NULL
           AND (b.created_at <= p_now - p_after OR b.start_at <= p_now)
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

-- Audit: a decision is booking.approve, booking.reject or booking.expire.
CREATE OR REPLACE FUNCTION audit_bookings_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    SELECT CASE WHEN e.decided THEN n.decided_by
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                THEN coalesce(n.cancelled_by, audit_actor()) ELSE audit_actor() END,
           CASE WHEN e.decided AND n.status = 'confirmed' THEN 'booking.approve'
                WHEN e.decided AND n.status = 'rejected' THEN 'booking.reject'
                WHEN e.decided AND n.status = 'expired' THEN 'booking.expire'
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                THEN 'booking.cancel' ELSE 'booking.update' END,
           n.user_id, n.room_id, 'booking ' || n.id, to_jsonb(o), to_jsonb(n)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     -- A decision, not a move out of a room that needs approval (sql/044).
     CROSS JOIN LATERAL (SELECT o.status = 'pending' AND n.status <> 'pending'
                                AND n.decided_at IS DISTINCT FROM o.decided_at AS decided) e
     WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
     ORDER BY n.id;
    RETURN NULL;
END
$$;

-- Events. A request arriving tells the approvers (approval.requested, mailed
-- to each of them with one-tap links; never to webhooks); its creation tells
-- the requester as before (booking.created / series.created, its status
-- pending). Each decision tells the requester: booking.approved, .rejected,
-- .expired, or for a series, series.approved, .rejected, .expired (once).
CREATE OR REPLACE FUNCTION outbox_bookings_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Occurrences (series_id set) are announced by their series.created. The
    -- actor is who made it (sql/020: the owner, a delegate or an admin).
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, payload)
    SELECT e.kind, n.user_id, coalesce(n.created_by, n.user_id), n.room_id, n.id,
           CASE WHEN e.kind = 'approval.requested'
                THEN jsonb_build_object('booking', to_jsonb(n), 'approvers', approver_ids(n.room_id))
                ELSE jsonb_build_object('booking', to_jsonb(n)) END
      FROM new_rows n
     CROSS JOIN LATERAL (VALUES ('booking.created', 1), ('approval.requested', 2)) AS e(kind, k)
     WHERE n.series_id IS NULL AND (e.kind = 'booking.created' OR n.status = 'pending')
     ORDER BY n.id, e.k;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION outbox_series_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, series_id, payload)
    SELECT e.kind, n.user_id, coalesce(n.created_by, n.user_id), n.room_id, n.id,
           CASE WHEN e.kind = 'approval.requested'
                THEN jsonb_build_object('series', to_jsonb(n), 'approvers', approver_ids(n.room_id))
                ELSE jsonb_build_object('series', to_jsonb(n)) END
      FROM new_rows n
     CROSS JOIN LATERAL (VALUES ('series.created', 1), ('approval.requested', 2)) AS e(kind, k)
     WHERE e.kind = 'series.created' OR n.status = 'pending'
     ORDER BY n.id, e.k;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

-- Changes (sql/021, issue 16) and decisions: cancelled (its status unchanged;
-- nothing per occurrence when a series edit replaces its occurrences:
-- booking.quiet_series), booking.updated (with the row before), a request
-- arriving by a move into a room that needs approval (approval.requested),
-- and each decision or expiry once per booking or series.
CREATE OR REPLACE FUNCTION outbox_bookings_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
    v_told boolean := false;
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, series_id, payload)
    SELECT CASE WHEN n.series_id IS NULL THEN 'booking.cancelled' ELSE 'occurrence.cancelled' END,
           n.user_id, n.cancelled_by, n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n),
                              'cancelled_by', n.cancelled_by,
                              'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id)
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL AND n.status = o.status
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
