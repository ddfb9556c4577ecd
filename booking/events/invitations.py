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
from booking.times import UTC, for_calendar, zone
from booking.i18n import _


def invitation(event: Mapping[str, Any], organizer: str, attendee: tuple[str, str] | None
               ) -> tuple[bytes, str]:
    """(calendar bytes, METHOD) for one event's mail, per iTIP (RFC 5546).

    Single bookings keep the feeds' UID `booking-<id>@booking`; a change is a
    REQUEST with the same UID and a higher SEQUENCE. A series is one recurring
    VEVENT `series-<id>@booking` (RRULE, EXDATE for each occurrence it does not hold); one
    of its occurrences changed on its own is that UID with the RECURRENCE-ID
    of the start the series gave it, and cancelling one (or one that could not
    be placed) names it the same way. "This and following" (a cancellation, or
    a change that splits the series) sends the series again (REQUEST) with an
    UNTIL at its last remaining occurrence, since Outlook and Google ignore
    RANGE=THISANDFUTURE; the whole series cancelled drops the UID. SEQUENCE
    grows with every change, so clients apply them in order. An invitee taken
    off a booking gets its CANCEL. `event` is a claimed delivery row
    (booking/events/worker.py).
    """
    kind = event["kind"]
    extra: list[Event] = []   # a series' occurrences changed on their own
    # Made, changed, approved or released: add (or update) it; cancelled, rejected,
    # expired: remove it. A released booking stays, ending at the release time (the
    # feeds' DTEND), as one ended early does: an update, one SEQUENCE up (the sweep
    # counts it, booking/bookings/release.py).
    method = ("REQUEST" if kind.endswith((".created", ".updated", ".approved", ".released"))
              else "CANCEL")
    booking = event["payload"].get("booking")
    if booking is not None and booking.get("series_id") is None:
        # (An approval counts in its sequence, after the TENTATIVE request: sql/083.)
        vevent = feeds.vevent(_booking_row(event))
        invitees = booking.get("invitees") or []
    elif kind in ("booking.updated", "booking.released"):
        vevent = _occurrence_event(event)
        invitees = booking.get("invitees") or []
    else:
        vevent, method, extra = _series_event(event, method)
        invitees = ((event["payload"].get("series") or booking or {}).get("invitees") or [])
        theirs = _cancelled_with_the_series(event, attendee[0], invitees) if attendee else []
        if theirs:
            # Invited to some occurrences only: the series (cut short, a REQUEST) was
            # never theirs; those instances are what they were sent.
            (vevent, *extra), method = theirs, "CANCEL"
            vevent.add("status", "CANCELLED")
    if attendee and _taken_off(event, attendee[0]):
        method = "CANCEL"
        vevent["status"] = "CANCELLED"
    elif _pending(event):
        # Waiting for approval: in the calendar, but marked as not certain yet.
        vevent["status"] = "TENTATIVE"
    # The recipient's language (the mail is composed in it, booking/events/mail.py),
    # as the mail's subject names it: "[Räume] ...".
    vevent.add("organizer", _address(organizer), parameters={"CN": _("Rooms")})
    named = {address.lower() for address in invitees}
    if attendee and attendee[0].lower() not in named:
        vevent.add("attendee", f"mailto:{attendee[0]}",
                   parameters={"CN": attendee[1], "ROLE": "REQ-PARTICIPANT",
                               "PARTSTAT": "ACCEPTED"})
    if "attendee" not in vevent:
        for address in invitees:
            vevent.add("attendee", f"mailto:{address}",
                       parameters={"ROLE": "REQ-PARTICIPANT", "RSVP": "FALSE"})
    calendar = Calendar()
    calendar.add("prodid", "-//booking//meeting rooms//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(vevent)
    for instance in extra:
        for name in ("status", "organizer", "attendee"):   # as the series has them
            found = vevent.get(name)
            for value in found if isinstance(found, list) else [found] if found else []:
                instance.add(name, value)
        calendar.add_component(instance)
    calendar.add_missing_timezones()
    return calendar.to_ical(), method


def _taken_off(event: Mapping[str, Any], address: str) -> bool:
    """Whether this mail goes to an invitee the change took off the booking (or the
    series)."""
    if not event.get("invitee_email") or event["kind"] not in ("booking.updated",
                                                               "series.updated"):
        return False
    row = event["payload"].get("booking") or event["payload"].get("series") or {}
    return address.lower() not in {a.lower() for a in row.get("invitees") or []}


def _occurrence_event(event: Mapping[str, Any]) -> Event:
    """A series occurrence changed on its own: the series' UID, the RECURRENCE-ID of
    the start the series gave it, its new times (RFC 5545 3.8.4.4)."""
    b = event["payload"]["booking"]
    tz = zone(event.get("timezone") or "UTC")
    changed = _when(event["created_at"]).astimezone(UTC)
    vevent = Event()
    vevent.add("uid", f"series-{b['series_id']}@booking")
    vevent.add("dtstamp", changed)
    vevent.add("last-modified", changed)
    vevent.add("sequence", event.get("sequence") or 0)
    vevent.add("recurrence-id", _when(b.get("original_start") or b["start_at"]).astimezone(tz))
    vevent.add("dtstart", for_calendar(_when(b["start_at"]), tz))
    vevent.add("dtend", for_calendar(_when(b["end_at"]), tz))
    vevent.add("summary", b["title"])
    vevent.add("location", (event.get("room_name") or "") + (
        f", {event['building']}" if event.get("building") else ""))
    vevent.add("description", feeds.description({**b, "user_name": event.get("owner_name") or "",
                                                  "series_id": b["series_id"]}))
    vevent.add("status", "CONFIRMED")
    return vevent


def _cancelled_with_the_series(event: Mapping[str, Any], address: str,
                               series_invitees: list[str]) -> list[Event]:
    """For someone a series cancelled did not invite but some of the occurrences it
    cancelled did (their own invitees): each of those as the CANCEL of the
    RECURRENCE-ID instance they were sent (booking.updated). Empty for anyone
    else, and for any other event."""
    if event["kind"] != "series.cancelled" or address.lower() in {
            a.lower() for a in series_invitees}:
        return []
    tz = zone(event.get("timezone") or "UTC")
    changed = _when(event["created_at"]).astimezone(UTC)
    found = []
    for occurrence in event.get("cut") or ():
        if address.lower() not in {a.lower() for a in occurrence.get("invitees") or ()}:
            continue
        vevent = Event()
        vevent.add("uid", f"series-{event['series_id']}@booking")
        vevent.add("dtstamp", changed)
        vevent.add("last-modified", changed)
        vevent.add("sequence", event.get("sequence") or 0)
        vevent.add("recurrence-id", _when(occurrence.get("original_start")
                                          or occurrence["start_at"]).astimezone(tz))
        vevent.add("dtstart", for_calendar(_when(occurrence["start_at"]), tz))
        vevent.add("dtend", for_calendar(_when(occurrence["end_at"]), tz))
        vevent.add("summary", occurrence["title"])
        found.append(vevent)
    return found


def _override(series: Event, occurrence: Mapping[str, Any], instance: datetime) -> Event:
    """An occurrence changed on its own, beside its series' VEVENT in one calendar: the
    series' UID and SEQUENCE, the RECURRENCE-ID of the `instance` of the series it
    stands for, its own times, title and room."""
    tz = series["dtstart"].dt.tzinfo
    vevent = Event()
    for name in ("uid", "dtstamp", "last-modified", "sequence"):
        vevent.add(name, series.decoded(name) if name != "uid" else str(series["uid"]))
    if occurrence.get("room_name"):
        vevent.add("location", occurrence["room_name"] + (
            f", {occurrence['building']}" if occurrence.get("building") else ""))
    else:
        vevent.add("location", series.decoded("location"))
    vevent.add("recurrence-id", instance)
    vevent.add("dtstart", for_calendar(_when(occurrence["start_at"]), tz))
    vevent.add("dtend", for_calendar(_when(occurrence["end_at"]), tz))
    vevent.add("summary", occurrence["title"])
    return vevent


def _pending(event: Mapping[str, Any]) -> bool:
    """A request made (or moved) into a room that needs approval, not decided yet."""
    if not event["kind"].endswith((".created", ".updated")):
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
            "timezone": event.get("timezone") or "UTC", "attendees": b.get("attendees"),
            "invitees": b.get("invitees") or [], "notes": b.get("notes"),
            "sequence": b.get("sequence") or 0,
            "updated_at": _when(b["updated_at"]) if b.get("updated_at") else None}


def _series_event(event: Mapping[str, Any], method: str) -> tuple[Event, str, list[Event]]:
    """The series' VEVENT for this event, the METHOD it goes with, and (sent as a
    REQUEST) the VEVENTs of its occurrences changed on their own."""
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

    if kind == "series.occurrence_skipped":
        # An occurrence that could not be placed: not held, so off the calendar.
        s = payload["series"]
        start = _when(payload["start_at"]).astimezone(tz)
        vevent.add("recurrence-id", start)
        vevent.add("dtstart", start)
        vevent.add("dtend", _when(payload["end_at"]).astimezone(tz))
        vevent.add("summary", s["title"])
        vevent.add("status", "CANCELLED")
        return vevent, "CANCEL", []

    if kind == "occurrence.cancelled":
        b = payload["booking"]
        # An occurrence changed on its own is named by the start the series gave it.
        vevent.add("recurrence-id", _when(b.get("original_start") or b["start_at"]).astimezone(tz))
        vevent.add("dtstart", for_calendar(_when(b["start_at"]), tz))
        vevent.add("dtend", for_calendar(_when(b["end_at"]), tz))
        vevent.add("summary", b["title"])
        vevent.add("status", "CANCELLED")
        return vevent, method, []

    s = payload["series"]
    tz = zone(s["timezone"])
    first = _when(s["first_start"]).astimezone(tz)
    length = timedelta(minutes=s["duration_minutes"])
    vevent.add("summary", s["title"])
    vevent.add("description", feeds.description({**s, "series_id": s["id"],
                                                  "user_name": event.get("owner_name") or ""}))
    rule = recurrence.parse(s["rrule"], tz)
    last = cut = None
    split = kind == "series.updated" and payload.get("from")
    if (kind == "series.cancelled" and not payload.get("whole")) or split:
        # "This and following": the series again, ending at its last occurrence
        # before the cut, as a REQUEST with a higher SEQUENCE, which every client
        # applies. Nothing left before the cut: the whole series is cancelled.
        cut = _when(payload["from"])
    elif method == "REQUEST" and s.get("cancelled_from"):
        # A part of a series split twice: it ends where the next part begins.
        cut = _when(s["cancelled_from"])
    if cut is not None:
        kept = [o.start for o in _occurrences(rule, first, length, tz, cut) if o.start < cut]
        if kept:
            last, method = kept[-1], "REQUEST"

    vevent.add("dtstart", first)
    vevent.add("dtend", (first.astimezone(UTC) + length).astimezone(tz))
    vevent.add("rrule", _rrule(rule, tz, last))
    extra: list[Event] = []
    if method == "REQUEST":
        # The series sent again (made, changed, approved, cut short): a REQUEST of
        # the series replaces what a calendar holds of it, so it says exactly
        # which of its occurrences are held.
        extra = _exceptions(event, vevent, rule, first, length, tz,
                            last or _when(s["materialized_until"]))
    vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    return vevent, method, extra


def _exceptions(event: Mapping[str, Any], vevent: Event, rule, first: datetime,
                length: timedelta, tz, until: datetime) -> list[Event]:
    """A series' exceptions, up to `until` (its last occurrence, or as far as it is
    booked): an EXDATE for each occurrence of its rule on a day it holds none of
    (skipped, cancelled on its own, left to one changed on its own when the
    series changed), and a VEVENT for each occurrence changed on its own, named
    by the occurrence of the rule on its original day (RFC 5545 3.8.4.4), or by an
    RDATE of its own when the rule has none that day (the series changed, or was
    cut short, after it was)."""
    found = _occurrences(rule, first, length, tz, until)
    by_day = {o.start.date(): o.start for o in found}
    held = {_when(moment).astimezone(tz).date() for moment in event.get("held") or ()}
    missing = [start for day, start in sorted(by_day.items()) if day not in held]
    if missing:
        vevent.add("exdate", missing)
    extra = []
    changed_days = set()
    for occurrence in event.get("overrides") or ():
        original = _when(occurrence["original_start"]).astimezone(tz)
        changed_days.add(original.date())
        instance = by_day.get(original.date())
        if instance is None:
            instance = original
            vevent.add("rdate", original)
        extra.append(_override(vevent, occurrence, instance))
    # Every instance of the VEVENT lasts exactly DTSTART to DTEND (RFC 5545 3.8.5.3),
    # where an occurrence across a clock change keeps its wall-clock times and so
    # lasts an hour more or less: each such one is sent as an instance of its own.
    title = str(vevent["summary"])
    for o in found:
        day = o.start.date()
        if day in held and day not in changed_days and \
                o.end.astimezone(UTC) - o.start.astimezone(UTC) != length:
            extra.append(_override(vevent, {"start_at": o.start, "end_at": o.end,
                                            "title": title}, o.start))
    return extra


def _occurrences(rule, first: datetime, length: timedelta, tz,
                 until: datetime) -> list[recurrence.Occurrence]:
    """The series' occurrences up to `until` as they are booked (booking/series/
    service.py): the first the instant it was made with, lasting `length`; the others
    at its wall-clock time, for its wall-clock length."""
    first_end = first.astimezone(UTC) + length
    wall_length = first_end.astimezone(tz).replace(tzinfo=None) - first.replace(tzinfo=None)
    return recurrence.occurrences(rule, first.replace(tzinfo=None), wall_length, tz, until,
                                  first=(first, first_end))


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
