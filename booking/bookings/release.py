"""The no-show release: bookings nobody checked in to give their time back.

The delivery worker runs `sweep()` at least every SWEEP_EVERY_SECONDS. Each
batch is one statement: it picks the due bookings of rooms that require
check-in, locks them (SKIP LOCKED: a second worker, or a check-in holding a
row, is not waited for), cuts each one's end to its release time and sets
released_at, and records the sweep for /metrics. The triggers of
sql/050_checkin.sql audit each release and write its `booking.released`
event in the same statement; the sweep never releases a booking twice,
however many workers run, because a row released or checked in since the
snapshot no longer matches when it is locked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from booking import db

SWEEP_EVERY_SECONDS = 30.0

# rooms (checkin_required), then bookings_room_start per room: live bookings
# that started within the last day (none lasts longer). release_time() is
# sql/050's: the start (or the creation, for a booking made late) plus the
# room's grace, on a whole minute.
# When booking `b` in room `r` is released if nobody checks in: its grace from the
# latest of its start, its making and check-in being turned on for the room
# (release_time(), sql/050; rooms.checkin_since, sql/076). Every statement that
# asks says it this way (reminders, the edit's read, the booking's page, the door
# panel; checkin_booking() too).
RELEASE_AT = ("release_time(b.start_at, greatest(b.created_at, r.checkin_since), "
              "r.release_after_minutes)")

RELEASE_SQL = f"""
WITH due AS (
    SELECT b.id, {RELEASE_AT} AS release_at
      FROM rooms r
      JOIN bookings b ON b.room_id = r.id
     WHERE r.checkin_required
       AND b.cancelled_at IS NULL AND b.status = 'confirmed'
       AND b.start_at > %(now)s - interval '1 day' AND b.start_at <= %(now)s
       AND b.checked_in_at IS NULL AND b.released_at IS NULL
       AND {RELEASE_AT} <= %(now)s
       -- Only time still to come is freed: not a booking over by now (check-in
       -- turned on after it, or a sweep that did not run), nor one shorter than
       -- its grace.
       AND b.end_at > %(now)s
       AND {RELEASE_AT} < b.end_at
     ORDER BY b.id
     LIMIT %(batch)s
       FOR UPDATE OF b SKIP LOCKED),
released AS (
    UPDATE bookings b
       SET released_at = %(now)s, status = 'released',
           end_at = least(b.end_at, due.release_at),
           end_before_release = b.end_at,         -- the booked time, for the report
           buffer_minutes = 0,                    -- nobody used it: nothing to clear
           -- its end moved: a change the feeds say (SEQUENCE, DTSTAMP), as an edit's
           sequence = b.sequence + 1, updated_at = now()
      FROM due
     WHERE b.id = due.id
    RETURNING b.id),
recorded AS (
    INSERT INTO release_sweeps (last_at, released)
    VALUES (%(now)s, (SELECT count(*) FROM released))
    ON CONFLICT (id) DO UPDATE
       SET last_at = greatest(release_sweeps.last_at, excluded.last_at),
           released = release_sweeps.released + excluded.released
    RETURNING 1)
SELECT (SELECT count(*) FROM released)::int AS released,
       (SELECT count(*) FROM recorded)::int AS recorded"""

# What /metrics shows of the sweeps (one row, by its primary key).
SWEEP_STATE_SQL = "SELECT last_at, released FROM release_sweeps WHERE id"


def sweep(now: datetime, batch: int) -> int:
    """Release every booking due at `now`, a batch per statement; how many."""
    total = 0
    while True:
        with db.connection() as conn:
            released = conn.execute(RELEASE_SQL, {"now": now, "batch": batch}
                                    ).fetchone()["released"]
        total += released
        if released < batch:
            return total


def state() -> dict[str, Any] | None:
    """The last successful sweep's time and the bookings released in all (None: no
    sweep has run yet)."""
    with db.connection() as conn:
        return conn.execute(SWEEP_STATE_SQL).fetchone()
