"""Reminders: REMINDER_MINUTES before a booking's start, its organiser gets a mail.

The delivery worker runs `send_due()` with its release sweep. One statement
per batch claims each due booking in booking_reminders (sql/051) and writes
its `booking.reminder` event (mail only, never a webhook), so a reminder goes
out once however many workers run; the usual fan-out mails it. For a room
that requires check-in the mail carries a one-tap check-in link: signed for
that booking and its organiser (`checkin_link()`), and the check-in behind
it has the same window as any other, so it is useless after the release.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from booking import db
from booking.bookings.release import RELEASE_AT

# rooms, then bookings_room_start per room: live bookings starting within the
# lead time, not made within it (who just booked needs no reminder), not
# reminded of that start yet (booking_reminders_pkey: moved, it is reminded again).
REMIND_SQL = f"""
WITH due AS (
    SELECT b.id, b.start_at, b.user_id, b.room_id, b.series_id, to_jsonb(b) AS snapshot,
           -- a request waiting for approval cannot be checked in (sql/070)
           r.checkin_required AND b.status = 'confirmed' AS checkin_required,
           {RELEASE_AT} AS checkin_until
      FROM rooms r
      JOIN bookings b ON b.room_id = r.id
     WHERE b.cancelled_at IS NULL
       AND b.start_at > %(now)s AND b.start_at <= %(now)s + %(lead)s
       AND b.created_at <= b.start_at - %(lead)s
       AND NOT EXISTS (SELECT 1 FROM booking_reminders m
                        WHERE m.booking_id = b.id AND m.start_at = b.start_at)
     ORDER BY b.start_at, b.id
     LIMIT %(batch)s),
claimed AS (
    INSERT INTO booking_reminders (booking_id, start_at, sent_at)
    SELECT id, start_at, %(now)s FROM due
    ON CONFLICT DO NOTHING
    RETURNING booking_id),
told AS (
    INSERT INTO outbox (kind, user_id, room_id, booking_id, series_id, payload)
    SELECT 'booking.reminder', d.user_id, d.room_id, d.id, d.series_id,
           jsonb_build_object('booking', d.snapshot, 'checkin_required', d.checkin_required,
                              'checkin_until', d.checkin_until)
      FROM due d JOIN claimed c ON c.booking_id = d.id
     ORDER BY d.id
    RETURNING 1),
woken AS (
    SELECT outbox_notify() WHERE EXISTS (SELECT 1 FROM told))
SELECT (SELECT count(*) FROM due)::int AS due, (SELECT count(*) FROM told)::int AS sent,
       (SELECT count(*) FROM woken)::int AS woken"""


def send_due(now: datetime, batch: int = 500) -> int:
    """Claim and announce every reminder due at `now`; how many."""
    minutes = int(current_app.config["REMINDER_MINUTES"])
    if minutes <= 0:
        return 0
    total = 0
    while True:
        with db.connection() as conn:
            row = conn.execute(REMIND_SQL, {"now": now, "lead": timedelta(minutes=minutes),
                                            "batch": batch}).fetchone()
        total += row["sent"]
        if row["due"] < batch:
            return total


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="booking.checkin-link")


def checkin_token(booking_id: int, user_id: int) -> str:
    """The capability in a reminder's link: check in to this booking as its organiser."""
    return _signer().dumps([booking_id, user_id])


def checkin_link(booking_id: int, user_id: int) -> str:
    """The one-tap check-in address a reminder carries (PUBLIC_URL based: mail has no
    request to take the host from)."""
    # Made by hand, not url_for: a worker composing mail has no request to build from
    # (links.py's route is /bookings/<id>/checkin/<signed>).
    return (current_app.config["PUBLIC_URL"].rstrip("/")
            + f"/bookings/{booking_id}/checkin/{checkin_token(booking_id, user_id)}")


def read_token(booking_id: int, signed: str) -> int | None:
    """The organiser a link was signed for, if it is a link for this booking."""
    try:
        signed_booking, user_id = _signer().loads(signed)
    except (BadSignature, ValueError, TypeError):
        return None
    if signed_booking != booking_id or not isinstance(user_id, int):
        return None
    return user_id


def _series_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="booking.cancel-series")


def cancel_series_token(series_id: int, user_id: int) -> str:
    """The capability in a release-streak mail: cancel the rest of this series as its
    organiser, nothing else."""
    return _series_signer().dumps([series_id, user_id])


def cancel_series_link(series_id: int, user_id: int) -> str:
    return (current_app.config["PUBLIC_URL"].rstrip("/")
            + f"/series/{series_id}/cancel/{cancel_series_token(series_id, user_id)}")


def read_series_token(series_id: int, signed: str) -> int | None:
    """The organiser a cancel link was signed for, if it is for this series."""
    try:
        signed_series, user_id = _series_signer().loads(signed)
    except (BadSignature, ValueError, TypeError):
        return None
    if signed_series != series_id or not isinstance(user_id, int):
        return None
    return user_id
