-- Issue 17: ghost time in the utilisation report. A release cuts a booking's
-- end; the end it had is kept here, so the report can count the minutes that
-- were booked and never used (booking/reports/service.py).
ALTER TABLE bookings ADD COLUMN end_before_release timestamptz;
