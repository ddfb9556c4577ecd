-- Issue 17: a reminder before each booking, exactly once.
--
-- A row here is the claim: the worker inserts it and the booking.reminder
-- event in one statement, ON CONFLICT DO NOTHING, so a second worker racing
-- for the same booking waits on the primary key, finds it taken and writes
-- no event. (A column on bookings would do as much, but every change of a
-- booking row is audited and bumps the pages' versions; a reminder is
-- neither.)
CREATE TABLE booking_reminders (
    booking_id bigint PRIMARY KEY REFERENCES bookings,
    sent_at    timestamptz NOT NULL
);
