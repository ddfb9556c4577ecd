-- A series change re-makes its occurrences, and neither the audit log nor the
-- utilisation report should read that as people cancelling and booking (found by
-- testing from outside). edit_series() cancels the occurrences it replaces and
-- books the new rule's through book(): the log showed series.update, then
-- booking.cancel and booking.create for every occurrence, and the report counted
-- each replaced row in `cancelled` (a cancellation rate of 0.5 for a rename).
--
-- What marks them: edit_series() sets booking.quiet_series (sql/085) for the
-- outbox, and so does cancelling a series (booking/series/service.py), whose
-- occurrences people did cancel. What tells a change from a cancel is the
-- series' own event, written by its trigger (outbox_series_updated(), sql/085)
-- before the occurrences are touched: a change is `series.updated`, a cancel
-- `series.cancelled`. series_changed_at() asks for that event at an instant;
-- the audit triggers ask it once per statement, for now(), and the report per
-- cancelled occurrence, for its cancelled_at (the occurrences a change replaced
-- are cancelled in its transaction, as the worker also reads them: sql/085).
-- outbox_series, one series' few events.
--
-- audit_bookings_insert() and audit_bookings_update() are restated: the rows a
-- series change cancels and books are not audited one by one (series.update
-- says it, before and after); an occurrence cancelled or changed on its own,
-- and a series cancelled, still are. The rest is as sql/050 and sql/058 left
-- them.

CREATE FUNCTION series_changed_at(p_series bigint, p_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN EXISTS (SELECT 1 FROM outbox o
                    WHERE o.series_id = p_series AND o.kind = 'series.updated'
                      AND o.created_at = p_at);

CREATE OR REPLACE FUNCTION audit_bookings_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
    v_parts bigint[] := '{}';
BEGIN
    -- A series change books its new rule in itself, or, split, in the part that
    -- continues it (made in this transaction).
    IF v_quiet IS NOT NULL AND series_changed_at(v_quiet, now()) THEN
        v_parts := ARRAY[v_quiet] || ARRAY(SELECT s.continued_by FROM series s
                                            WHERE s.id = v_quiet AND s.continued_by IS NOT NULL);
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, after)
    SELECT coalesce(audit_actor(), n.created_by, n.user_id), 'booking.create', n.user_id,
           n.room_id, 'booking ' || n.id, to_jsonb(n)
      FROM new_rows n
     WHERE NOT coalesce(n.series_id = ANY (v_parts), false)
     ORDER BY n.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION audit_bookings_update() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
    v_replacing bigint;
BEGIN
    -- The occurrences a change of this series replaces (edit_series()).
    IF v_quiet IS NOT NULL AND series_changed_at(v_quiet, now()) THEN
        v_replacing := v_quiet;
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    SELECT CASE WHEN e.decided THEN n.decided_by
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                THEN coalesce(n.cancelled_by, audit_actor())
                WHEN o.released_at IS NULL AND n.released_at IS NOT NULL THEN NULL
                ELSE audit_actor() END,
           CASE WHEN e.decided AND n.status = 'confirmed' THEN 'booking.approve'
                WHEN e.decided AND n.status = 'rejected' THEN 'booking.reject'
                WHEN e.decided AND n.status = 'expired' THEN 'booking.expire'
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL THEN 'booking.cancel'
                WHEN o.released_at IS NULL AND n.released_at IS NOT NULL THEN 'booking.release'
                WHEN o.checked_in_at IS NULL AND n.checked_in_at IS NOT NULL
                     THEN 'booking.checkin'
                ELSE 'booking.update' END,
           n.user_id, n.room_id, 'booking ' || n.id, to_jsonb(o), to_jsonb(n)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     -- A decision, not a move out of a room that needs approval (sql/044).
     CROSS JOIN LATERAL (SELECT o.status = 'pending' AND n.status <> 'pending'
                                AND n.decided_at IS DISTINCT FROM o.decided_at AS decided) e
     WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
       AND NOT coalesce(o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                        AND n.series_id = v_replacing, false)
     ORDER BY n.id;
    RETURN NULL;
END
$$;
