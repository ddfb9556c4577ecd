-- An occurrence cancelled on its own is told, whatever its series went through
-- (found by testing from outside): one changed on its own stays with the old
-- part when the series is split before it, its start past the cut. Cancelled
-- later, it was told to nobody (no mail, no webhook): outbox_bookings_updated()
-- took every occurrence past its series' cancelled_from for one cancelled
-- together with the series, which had told everyone already. Now only one
-- cancelled in the same transaction as its whole series (their cancelled_at,
-- both now(), are equal), or of the series named in booking.quiet_series, is
-- left to the series' own event. Cancelling a series from one occurrence on
-- names it there when that cuts it shorter (booking/series/service.py
-- CANCEL_SQL: series.cancelled tells it), as edit_series() does for a split.
--
-- A split before an earlier split (the old part continued by another series
-- already) was told as series.cancelled, its cancelled_from having moved
-- earlier: mailed as a cancellation ("Cancelled from ... on") with a REQUEST
-- attached. outbox_series_updated() now tells a new continued_by as a split,
-- series.updated, whatever continued_by was before.
--
-- The rest is as sql/083 (outbox_bookings_updated) and sql/075
-- (outbox_series_updated) left them.

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
       -- Cancelled by a change or a cut of its series (booking.quiet_series), or
       -- with the whole series in this transaction: told by the series' own event.
       -- One the old part of a split kept past the cut is told on its own.
       AND (v_quiet IS NULL OR n.series_id IS DISTINCT FROM v_quiet)
       AND NOT coalesce((SELECT n.start_at >= s.cancelled_from
                                AND n.cancelled_at = s.cancelled_at
                           FROM series s WHERE s.id = n.series_id), false)
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
                  -- A split, the first or one before an earlier split (which moves
                  -- cancelled_from earlier too): a change.
                  WHEN n.continued_by IS DISTINCT FROM o.continued_by
                       AND n.continued_by IS NOT NULL THEN 'series.updated'
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
