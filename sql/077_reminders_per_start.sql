-- A booking moved after its reminder is reminded of its new start (found by
-- testing from outside): a reminder was recorded per booking, so one moved to
-- later, or to another day, was never reminded again, and the mail it had
-- named the old check-in time. A reminder is now recorded per booking and
-- start.

ALTER TABLE booking_reminders ADD COLUMN start_at timestamptz;
UPDATE booking_reminders m SET start_at = b.start_at FROM bookings b WHERE b.id = m.booking_id;
ALTER TABLE booking_reminders ALTER COLUMN start_at SET NOT NULL;
ALTER TABLE booking_reminders DROP CONSTRAINT booking_reminders_pkey;
ALTER TABLE booking_reminders ADD CONSTRAINT booking_reminders_pkey
    PRIMARY KEY (booking_id, start_at);
