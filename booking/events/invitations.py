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
    occurrences). Cancelling one occurrence names it by RECURRENCE-ID; "this
    and following" sends the series again (REQUEST) with an UNTIL at its last
    remaining occurrence, since Outlook and Google ignore RANGE=THISANDFUTURE
    and would keep the cancelled occurrences; the whole series drops the UID.
    SEQUENCE grows with every change, so clients apply them in order.
    `event` is a claimed delivery row (booking/events/worker.py).
    """
    kind = event["kind"]
    # Made or approved: add (or update) it; cancelled, rejected, expired: remove it.
    method = "REQUEST" if kind.endswith((".created", ".approved")) else "CANCEL"
    if kind.startswith("booking."):
        vevent = feeds.vevent(_booking_row(event))
        if kind == "booking.approved":
            vevent["sequence"] = 1          # after the TENTATIVE request it was made as
    else:
        vevent, method = _series_event(event, method)
    if _pending(event):
        # Waiting for approval: in the calendar, but marked as not certain yet.
        vevent["status"] = "TENTATIVE"
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


def _pending(event: Mapping[str, Any]) -> bool:
    """A request made in a room that needs approval, not decided yet."""
    if not event["kind"].endswith(".created"):
        return False
    row = event["payload"].get("booking") or event["payload"].get("series") or {}
    return row.get("status") == "pending"


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


def _series_event(event: Mapping[str, Any], method: str) -> tuple[Event, str]:
    """The series' VEVENT for this event, and the METHOD it goes with."""
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
        return vevent, method

    s = payload["series"]
    tz = zone(s["timezone"])
    first = _when(s["first_start"]).astimezone(tz)
    length = timedelta(minutes=s["duration_minutes"])
    vevent.add("summary", s["title"])
    vevent.add("description", f"Booked by {event.get('owner_name') or ''} (repeating)")
    rule = recurrence.parse(s["rrule"], tz)
    last = None
    if kind == "series.cancelled" and not payload.get("whole"):
        # "This and following": the series again, ending at its last occurrence
        # before the cut, as a REQUEST with a higher SEQUENCE, which every client
        # applies. Nothing left before the cut: the whole series is cancelled.
        cut = _when(payload["from"])
        kept = [o.start for o in recurrence.occurrences(
            rule, first.replace(tzinfo=None), length, tz, cut) if o.start < cut]
        if kept:
            last, method = kept[-1], "REQUEST"

    vevent.add("dtstart", first)
    vevent.add("dtend", (first.astimezone(UTC) + length).astimezone(tz))
    vevent.add("rrule", _rrule(rule, tz, last))
    skipped = [_when(moment).astimezone(tz) for moment in event.get("skipped") or []]
    if skipped:
        vevent.add("exdate", skipped)
    vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    return vevent, method


def _rrule(rule, tz, last: datetime | None = None) -> vRecur:
    """The series' rule for a calendar: UNTIL in UTC, as RFC 5545 wants with a TZID
    start. With `last` (its last remaining occurrence, aware), it ends there: UNTIL
    replaces COUNT (RFC 5545 allows one of them), and an earlier UNTIL of its own
    stays."""
    value = vRecur.from_ical(rule.text)
    until = None if rule.until is None else rule.until.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if last is not None:
        value.pop("COUNT", None)
        until = min(until, last.astimezone(UTC)) if until else last.astimezone(UTC)
    if until is not None:
        value["UNTIL"] = [until]
    return value
