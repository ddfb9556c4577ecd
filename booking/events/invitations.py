"""The calendar a notification mail carries (iTIP, RFC 5546), so the meeting lands in
the recipient's calendar and later changes update it there.

Built from a claimed delivery row (booking/events/worker.py) by
booking/events/mail.py. A single booking is the VEVENT the feeds show
(booking/feeds/service.py: same UID); a series is one recurring VEVENT.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, Mapping

from icalendar import Calendar, Event, vRecur

from booking import recurrence
from booking.feeds import service as feeds
from booking.times import UTC, zone


def invitation(event: Mapping[str, Any], organizer: str, attendee: tuple[str, str] | None
               ) -> tuple[bytes, str]:
    """(calendar bytes, METHOD) for one event's mail, per iTIP (RFC 5546).

    Single bookings keep the feeds' UID `booking-<id>@booking`; a series is one
    recurring VEVENT `series-<id>@booking` (RRULE, EXDATE for skipped
    occurrences). Cancelling one occurrence names it by RECURRENCE-ID, "this
    and following" adds RANGE=THISANDFUTURE, the whole series drops the UID.
    SEQUENCE grows with every change, so clients apply them in order.
    `event` is a claimed delivery row (booking/events/worker.py).
    """
    kind = event["kind"]
    method = "REQUEST" if kind.endswith(".created") else "CANCEL"
    if kind in ("booking.created", "booking.cancelled"):
        vevent = feeds.vevent(_booking_row(event))
    else:
        vevent = _series_event(event)
    vevent.add("organizer", _address(organizer), parameters={"CN": "Rooms"})
    if attendee:
        vevent.add("attendee", f"mailto:{attendee[0]}",
                   parameters={"CN": attendee[1], "ROLE": "REQ-PARTICIPANT",
                               "PARTSTAT": "ACCEPTED"})
    calendar = Calendar()
    calendar.add("prodid", "-//booking//meeting rooms//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(vevent)
    calendar.add_missing_timezones()
    return calendar.to_ical(), method


def _address(text: str) -> str:
    """"Rooms <rooms@example.com>" -> "mailto:rooms@example.com"."""
    return "mailto:" + (parseaddr(text)[1] or text)


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _booking_row(event: Mapping[str, Any]) -> dict[str, Any]:
    b = event["payload"]["booking"]
    return {"id": b["id"], "title": b["title"], "start_at": _when(b["start_at"]),
            "end_at": _when(b["end_at"]), "created_at": _when(b["created_at"]),
            "cancelled_at": _when(b["cancelled_at"]) if b.get("cancelled_at") else None,
            "series_id": b.get("series_id"), "user_name": event.get("owner_name") or "",
            "room_name": event.get("room_name") or "", "building": event.get("building"),
            "timezone": event.get("timezone") or "UTC"}


def _series_event(event: Mapping[str, Any]) -> Event:
    kind, payload = event["kind"], event["payload"]
    changed = _when(event["created_at"]).astimezone(UTC)
    vevent = Event()
    vevent.add("uid", f"series-{event['series_id']}@booking")
    vevent.add("dtstamp", changed)
    vevent.add("last-modified", changed)
    vevent.add("sequence", event.get("sequence") or 0)
    where = (event.get("room_name") or "") + (
        f", {event['building']}" if event.get("building") else "")
    vevent.add("location", where)
    tz = zone(event.get("timezone") or "UTC")

    if kind == "occurrence.cancelled":
        b = payload["booking"]
        start, end = _when(b["start_at"]).astimezone(tz), _when(b["end_at"]).astimezone(tz)
        vevent.add("recurrence-id", start)
        vevent.add("dtstart", start)
        vevent.add("dtend", end)
        vevent.add("summary", b["title"])
        vevent.add("status", "CANCELLED")
        return vevent

    s = payload["series"]
    tz = zone(s["timezone"])
    first = _when(s["first_start"]).astimezone(tz)
    length = timedelta(minutes=s["duration_minutes"])
    vevent.add("summary", s["title"])
    vevent.add("description", f"Booked by {event.get('owner_name') or ''} (repeating)")
    rule = recurrence.parse(s["rrule"], tz)
    if kind == "series.cancelled" and not payload.get("whole"):
        # The first occurrence from the cancellation on, and all after it.
        cut = _when(payload["from"])
        found = recurrence.occurrences(rule, first.replace(tzinfo=None), length, tz,
                                       cut + timedelta(days=800), after=cut - timedelta(seconds=1))
        start = found[0].start if found else cut.astimezone(tz)
        vevent.add("recurrence-id", start, parameters={"RANGE": "THISANDFUTURE"})
        vevent.add("dtstart", start)
        vevent.add("dtend", (start.astimezone(UTC) + length).astimezone(tz))
        vevent.add("status", "CANCELLED")
        return vevent

    vevent.add("dtstart", first)
    vevent.add("dtend", (first.astimezone(UTC) + length).astimezone(tz))
    vevent.add("rrule", _rrule(rule, tz))
    skipped = [_when(moment).astimezone(tz) for moment in event.get("skipped") or []]
    if skipped:
        vevent.add("exdate", skipped)
    vevent.add("status", "CANCELLED" if kind == "series.cancelled" else "CONFIRMED")
    return vevent


def _rrule(rule, tz) -> vRecur:
    """The series' rule for a calendar: UNTIL in UTC, as RFC 5545 wants with a TZID start."""
    value = vRecur.from_ical(rule.text)
    if rule.until is not None:
        value["UNTIL"] = [rule.until.replace(tzinfo=tz, fold=0).astimezone(UTC)]
    return value
