"""Calendar feeds (RFC 5545, built with the icalendar package).

A room's feed for signed-in users and tokens, and a personal feed whose URL
is its own credential, so calendar clients (Outlook, Google, Apple) can
subscribe without a session. Each booking is one VEVENT with a stable UID;
a series appears as its booked occurrences, so a client never shows an
occurrence that is not actually held. Cancelled bookings stay in the feed
with STATUS:CANCELLED and a higher SEQUENCE, so clients remove them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from flask import current_app, url_for
from icalendar import Calendar, Event

from booking import db
from booking.auth import User, forget
from booking.errors import not_found
from booking.times import UTC, for_calendar, zone
from booking.i18n import _, in_language

_FEED_USER = re.compile(r"[0-9]{1,18}")

# How far back a feed reaches. Forward it holds every booking: a room's policy may
# reach further than the organisation's window, a series a week past it, and an
# admin books past every limit.
PAST_DAYS = 30

BOOKING_COLUMNS = """b.id, b.title, b.start_at, b.end_at, b.created_at, b.cancelled_at,
       b.series_id, u.name AS user_name, b.attendees, b.invitees, b.notes, b.sequence,
       b.updated_at, b.status"""

# bookings_room_start and bookings_room_cancelled: live and cancelled bookings
# of the room in the feed's range, each read from its own partial index.
ROOM_FEED_SQL = f"""
SELECT r.name AS room_name, r.timezone, r.building, x.*
  FROM rooms r
  LEFT JOIN LATERAL (
       SELECT {BOOKING_COLUMNS} FROM bookings b JOIN users u ON u.id = b.user_id
        WHERE b.room_id = r.id AND b.cancelled_at IS NULL
          AND b.start_at >= %(since)s
       UNION ALL
       SELECT {BOOKING_COLUMNS} FROM bookings b JOIN users u ON u.id = b.user_id
        WHERE b.room_id = r.id AND b.cancelled_at IS NOT NULL
          AND b.start_at >= %(since)s) x ON true
 WHERE r.id = %(room)s
 ORDER BY x.start_at"""

# bookings_user_start and bookings_user_cancelled
PERSONAL_FEED_SQL = f"""
SELECT me.name AS owner_name, me.calendar_salt, x.*
  FROM users me
  LEFT JOIN LATERAL (
       SELECT {BOOKING_COLUMNS}, r.name AS room_name, r.timezone, r.building
         FROM bookings b JOIN users u ON u.id = b.user_id JOIN rooms r ON r.id = b.room_id
        WHERE b.user_id = me.id AND b.cancelled_at IS NULL
          AND b.start_at >= %(since)s
       UNION ALL
       SELECT {BOOKING_COLUMNS}, r.name AS room_name, r.timezone, r.building
         FROM bookings b JOIN users u ON u.id = b.user_id JOIN rooms r ON r.id = b.room_id
        WHERE b.user_id = me.id AND b.cancelled_at IS NOT NULL
          AND b.start_at >= %(since)s) x ON true
 WHERE me.id = %(user)s AND me.active
 ORDER BY x.start_at"""

RESET_SQL = """
UPDATE users SET calendar_salt = gen_random_uuid()::text WHERE id = %s RETURNING calendar_salt"""


def _range(now: datetime) -> dict[str, datetime]:
    return {"since": now - timedelta(days=PAST_DAYS)}


def room_feed(room_id: int, now: datetime) -> bytes:
    with db.connection() as conn:
        rows = conn.execute(ROOM_FEED_SQL, {"room": room_id, **_range(now)}).fetchall()
    if not rows:
        raise not_found(_("That room does not exist."))
    first = rows[0]
    name = first["room_name"] + (f" ({first['building']})" if first["building"] else "")
    return build(name, [row for row in rows if row["id"] is not None])


def personal_feed(token: str, now: datetime) -> bytes:
    """The feed behind a personal URL; 404 (not 401/403) for any wrong token."""
    user_id, _dash, digest = token.partition("-")
    # ASCII only: "²".isdigit() is true but int() refuses it, and
    # hmac.compare_digest refuses non-ASCII text (both were 500s).
    if not _FEED_USER.fullmatch(user_id) or not digest or not digest.isascii():
        raise not_found(_("That calendar does not exist."))
    with db.connection() as conn:
        rows = conn.execute(PERSONAL_FEED_SQL, {"user": int(user_id), **_range(now)}).fetchall()
    if not rows or not hmac.compare_digest(digest, _digest(int(user_id), rows[0]["calendar_salt"])):
        raise not_found(_("That calendar does not exist."))
    return build(f"{rows[0]['owner_name']}: room bookings",
                 [row for row in rows if row["id"] is not None])


def calendar_url(user: User) -> str:
    token = f"{user.id}-{_digest(user.id, user.calendar_salt)}"
    return url_for("feeds.personal", token=token, _external=True)


def reset_calendar_url(user: User) -> str:
    """A new personal feed URL; the old one stops working."""
    with db.connection() as conn:
        user.calendar_salt = conn.execute(RESET_SQL, (user.id,)).fetchone()["calendar_salt"]
    forget(user_id=user.id)
    return calendar_url(user)


def _digest(user_id: int, salt: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, f"calendar:{user_id}:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:32]


def build(name: str, bookings: Iterable[Mapping[str, Any]]) -> bytes:
    """A VCALENDAR with one VEVENT per booking and a VTIMEZONE per zone used.

    Its words (description()) are English: a feed is one calendar for every client
    that fetches it (one ETag, whatever a client's Accept-Language says). A mail's
    calendar is in its recipient's language (booking/events/invitations.py)."""
    calendar = Calendar()
    calendar.add("prodid", "-//booking//meeting rooms//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    with in_language(None):
        for booking in bookings:
            calendar.add_component(vevent(booking))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def vevent(booking: Mapping[str, Any]) -> Event:
    """One booking as a VEVENT: the feeds' and the invitations' (booking/events/invitations.py)."""
    tz = zone(booking["timezone"])
    cancelled = booking["cancelled_at"] is not None
    changed = booking["cancelled_at"] or booking.get("updated_at") or booking["created_at"]
    sequence = booking.get("sequence") or 0
    event = Event()
    event.add("uid", f"booking-{booking['id']}@booking")
    # No METHOD: DTSTAMP is the last change, so an unchanged feed is byte-identical (ETag, 304).
    event.add("dtstamp", changed.astimezone(UTC))
    event.add("created", booking["created_at"].astimezone(UTC))
    event.add("last-modified", changed.astimezone(UTC))
    # One more with every change (edit_booking() counts them), and one more to cancel.
    event.add("sequence", sequence + (1 if cancelled else 0))
    # A request waiting for approval holds its slot, but is not certain yet.
    event.add("status", "CANCELLED" if cancelled
              else "TENTATIVE" if booking.get("status") == "pending" else "CONFIRMED")
    event.add("dtstart", for_calendar(booking["start_at"], tz))
    event.add("dtend", for_calendar(booking["end_at"], tz))
    event.add("summary", booking["title"])
    where = booking["room_name"] + (f", {booking['building']}" if booking.get("building") else "")
    event.add("location", where)
    event.add("description", description(booking))
    for address in booking.get("invitees") or []:
        event.add("attendee", f"mailto:{address}",
                  parameters={"ROLE": "REQ-PARTICIPANT", "RSVP": "FALSE"})
    return event


def description(booking: Mapping[str, Any]) -> str:
    """Who booked, how many come, and the notes: a calendar's description, in the
    language of the mail it goes in (in_language(); the feeds' is English)."""
    name = booking["user_name"]
    lines = [_("Booked by %(name)s (repeating)", name=name) if booking.get("series_id")
             else _("Booked by %(name)s", name=name)]
    if booking.get("attendees"):
        lines.append(_("People: %(n)s", n=booking["attendees"]))
    if booking.get("notes"):
        lines += ["", booking["notes"]]
    return "\n".join(lines)
