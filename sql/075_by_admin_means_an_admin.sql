-- `by_admin` on a cancellation says an administrator cancelled someone else's
-- booking (found by testing from outside): it was true for anyone but the
-- owner, so a delegate's cancel was told to the owner and the invitees as an
-- administrator's (mail and webhooks), and so was one nobody made.
--
-- The rest is as sql/058 left them.

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

CREATE OR REPLACE FUNCTION outbox_series_updated() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
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
                                   'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id
                                     AND EXISTS (SELECT 1 FROM users a   -- users_admins
                                                  WHERE a.id = n.cancelled_by
                                                    AND a.role = 'admin'))
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
