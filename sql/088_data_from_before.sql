-- Data written by earlier releases, brought up to what later migrations assume
-- (found by upgrading a populated database; tests start from an empty one).
-- Touches rows only: no function or table changes.
--
-- * Occurrences cancelled on their own before sql/067 have no series_skips row
--   'cancelled', so a later change of their series booked their days again and
--   invited everyone to them. Recorded now, at the start the series gave them.
--   An occurrence counts as cancelled on its own when its cancellation did
--   nothing else to its series: it was not cut there (cancelled_from), not
--   cancelled with the whole series, no other occurrence was cancelled in that
--   transaction and none was booked in it (a change in place cancels its old
--   rows and books new ones at that instant), and no live occurrence holds
--   that start again.
-- * Before sql/083 an approval's invitation said SEQUENCE one more than the
--   booking's, which stayed as it was: a later change was then sent with the
--   approval's SEQUENCE again. Every approved single booking ahead counts one
--   more (for one approved since sql/083, a step calendars take as well: a
--   SEQUENCE only has to grow). Their rows are written with this table's
--   triggers off (this is not a change anyone made: no audit entry, no
--   booking.updated), and the approvals not yet sent carry the new SEQUENCE.
-- * Before sql/075 a delegate's cancellation was written as an administrator's
--   (by_admin) in its event; those not yet sent no longer say so.

INSERT INTO series_skips (series_id, start_at, end_at, reason)
SELECT b.series_id, coalesce(b.original_start, b.start_at),
       coalesce(b.original_start, b.start_at) + (b.end_at - b.start_at), 'cancelled'
  FROM bookings b
  JOIN series s ON s.id = b.series_id
 WHERE b.cancelled_at IS NOT NULL
   AND b.status IN ('confirmed', 'pending')
   AND coalesce(b.original_start, b.start_at) < coalesce(s.cancelled_from, 'infinity')
   AND s.cancelled_at IS DISTINCT FROM b.cancelled_at
   AND NOT EXISTS (SELECT 1 FROM bookings x
                    WHERE x.series_id = b.series_id AND x.id <> b.id
                      AND (x.cancelled_at = b.cancelled_at OR x.created_at = b.cancelled_at))
   AND NOT EXISTS (SELECT 1 FROM bookings x
                    WHERE x.series_id = b.series_id AND x.cancelled_at IS NULL
                      AND coalesce(x.original_start, x.start_at)
                          = coalesce(b.original_start, b.start_at))
ON CONFLICT DO NOTHING;

ALTER TABLE bookings DISABLE TRIGGER USER;
UPDATE bookings
   SET sequence = sequence + 1
 WHERE series_id IS NULL AND decided_at IS NOT NULL AND status = 'confirmed'
   AND cancelled_at IS NULL AND end_at > now();
ALTER TABLE bookings ENABLE TRIGGER USER;

-- Events whose mail or webhook is still to go: not fanned out yet, or a delivery
-- pending.
CREATE TEMPORARY TABLE unsent ON COMMIT DROP AS
SELECT o.id FROM outbox o
 WHERE o.dispatched_at IS NULL
    OR EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = o.id AND d.status = 'pending');

UPDATE outbox o
   SET payload = jsonb_set(o.payload, '{booking,sequence}', to_jsonb(b.sequence))
  FROM bookings b
 WHERE o.id IN (SELECT id FROM unsent) AND o.kind = 'booking.approved'
   AND b.id = o.booking_id AND b.series_id IS NULL
   AND (o.payload->'booking'->>'sequence')::int < b.sequence;

UPDATE outbox o
   SET payload = jsonb_set(o.payload, '{by_admin}', 'false')
 WHERE o.id IN (SELECT id FROM unsent)
   AND o.payload->>'by_admin' = 'true'
   AND NOT EXISTS (SELECT 1 FROM users a
                    WHERE a.id = (o.payload->>'cancelled_by')::bigint AND a.role = 'admin');
