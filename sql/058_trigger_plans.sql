-- Statement triggers that pair old and new rows stay linear in the rows changed.
--
-- A PL/pgSQL function keeps the plan of each statement it runs for the rest of
-- the session, and a statement with no variables is planned once, for the
-- transition tables of the first call. The first call on a connection is
-- usually one booking changed, for which the best join of old_rows and
-- new_rows is a nested loop; kept, that loop compared every old row with every
-- new one when the same connection later changed many (the release sweep's
-- 10,000: 10^8 comparisons per statement, 88 s instead of 0.7). Hash and
-- merge joins cost a one-row change nothing more, so these functions plan
-- without nested loops; the look-ups that need an index per row (the
-- invitations of a booking, a series, a user by address) are written as
-- subqueries, which an index still answers.

ALTER FUNCTION audit_bookings_update() SET enable_nestloop = off SET jit = off;
ALTER FUNCTION outbox_bookings_released() SET enable_nestloop = off SET jit = off;
ALTER FUNCTION outbox_series_updated() SET enable_nestloop = off SET jit = off;

-- Only rows whose invitees, times or liveness changed (as sql/020), the
-- booking's invitations found by booking_invitations_pkey, an invitee by
-- users_email_key.
CREATE OR REPLACE FUNCTION invitations_updated() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
BEGIN
    DELETE FROM booking_invitations i
     WHERE i.booking_id = ANY (ARRAY(
           SELECT n.id
             FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.invitees, o.start_at, o.end_at, o.cancelled_at IS NULL)
                  IS DISTINCT FROM (n.invitees, n.start_at, n.end_at, n.cancelled_at IS NULL)));
    INSERT INTO booking_invitations (booking_id, user_id, start_at, end_at)
    SELECT x.booking_id, x.user_id, x.start_at, x.end_at
      FROM (SELECT n.id AS booking_id, n.start_at, n.end_at,
                   (SELECT u.id FROM users u
                     WHERE lower(u.email) = lower(e.address) AND u.active
                       AND u.id <> n.user_id) AS user_id
              FROM old_rows o JOIN new_rows n ON n.id = o.id
             CROSS JOIN LATERAL unnest(n.invitees) AS e(address)
             WHERE n.cancelled_at IS NULL AND cardinality(n.invitees) > 0
               AND (o.invitees, o.start_at, o.end_at, o.cancelled_at IS NULL)
                   IS DISTINCT FROM (n.invitees, n.start_at, n.end_at, n.cancelled_at IS NULL)
           ) x
     WHERE x.user_id IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- As sql/043, with "not cancelled together with its series" read by series_pkey.
CREATE OR REPLACE FUNCTION outbox_bookings_updated() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
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
       AND NOT coalesce((SELECT n.start_at >= s.cancelled_from FROM series s
                          WHERE s.id = n.series_id), false)
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
