"""What an event says: its JSON `data` (webhooks, activity) and a one-line summary.

The outbox keeps a snapshot of the changed row (to_jsonb in the trigger, so
writing it costs next to nothing); this module turns that snapshot plus the
names joined at read time (room, owner, actor) into the documented shapes.
Pure functions: no database, no Flask (the summary is in the language of the
request or mail it is made for, English outside either: booking/i18n.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from booking.i18n import _, lazy
from booking.recurrence import describe
from booking.times import UTC, rfc3339, zone

KINDS = ("booking.created", "booking.updated", "booking.cancelled", "series.created",
         "series.updated", "series.cancelled", "occurrence.cancelled",
         "series.occurrence_skipped", "booking.approved", "booking.rejected", "booking.expired",
         "series.approved", "series.rejected", "series.expired", "booking.released")
# A decision on a request (sql/043): the requester is told, with the reason.
DECISIONS = ("booking.approved", "booking.rejected", "booking.expired", "series.approved",
             "series.rejected", "series.expired")
# The status a decision leaves a series in. Its event is written by the trigger on
# the occurrences (sql/043), whose snapshot of the series is taken before decide()
# and expire_requests() set the series' own status: the kind says it.
DECIDED_STATUS = {"series.approved": "confirmed", "series.rejected": "rejected",
                  "series.expired": "expired"}

SKIP_REASONS = {"conflict": lazy("a booking was there first"),
                "room_inactive": lazy("the room is closed for booking"),
                "outside_hours": lazy("it is outside the room's opening hours"),
                "closed": lazy("the room is closed that day"),
                "too_short": lazy("it is shorter than the room allows"),
                "too_long": lazy("it is longer than the room allows"),
                "not_permitted": lazy("only some groups may book the room"),
                "quota_exceeded": lazy("it would go over a quota"),
                "nonexistent_time": lazy("the clocks skip this time")}
# Never to webhooks: endpoint.disabled is told to whoever registered the endpoint,
# approval.requested to the room's approvers (sql/043), a reminder and the
# release-streak offer to the organiser alone.
INTERNAL_KINDS = ("endpoint.disabled", "approval.requested", "booking.reminder",
                  "series.release_streak")


def _moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _time(value: Any, tz_name: str | None) -> str | None:
    moment = _moment(value)
    if moment is None:
        return None
    return rfc3339(moment, zone(tz_name or "UTC"))


def data(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's `data` object, as webhooks and the activity twin send it.

    `event` has kind, payload, and the joined room_name, timezone, owner_name,
    actor_name (any may be None).
    """
    kind, payload = event["kind"], event["payload"]
    tz = event.get("timezone")
    actor = ({"id": payload["cancelled_by"], "name": event.get("actor_name")}
             if payload.get("cancelled_by") is not None else None)
    if "booking" in payload:
        b = payload["booking"]
        out: dict[str, Any] = {"booking": _booking(b, event, tz)}
        if kind == "booking.updated":
            before = payload.get("before") or {}
            out["before"] = _booking(before, event, tz) if before else None
            out["updated_by"] = ({"id": event.get("actor_id"), "name": event.get("actor_name")}
                                 if event.get("actor_id") else None)
        elif kind in DECISIONS:
            out.update(_decision(event))
        elif kind == "booking.reminder":
            out["checkin_required"] = bool(payload.get("checkin_required"))
            # when it is released if nobody checks in (release_time(), sql/050)
            out["checkin_until"] = _time(payload.get("checkin_until") or b["start_at"], tz)
        elif kind == "booking.released":
            before = payload.get("before") or {}
            out["before"] = _booking(before, event, tz) if before else None
        elif kind not in ("booking.created", "approval.requested"):
            out.update(cancelled_by=actor, by_admin=bool(payload.get("by_admin")))
        return out
    if "series" in payload:
        s = payload["series"]
        tz = s.get("timezone") or tz
        out = {"series": {
            "id": s["id"], "room_id": s["room_id"], "room_name": event.get("room_name"),
            "user_id": s["user_id"], "user_name": event.get("owner_name"), "title": s["title"],
            "recurrence": s["rrule"], "timezone": tz,
            "first_start": _time(s["first_start"], tz),
            "duration_minutes": s["duration_minutes"],
            "cancelled_at": _time(s.get("cancelled_at"), tz),
            "cancelled_from": _time(s.get("cancelled_from"), tz)}}
        out["series"].update(attendees=s.get("attendees"), invitees=s.get("invitees") or [],
                             notes=s.get("notes"), continued_by=s.get("continued_by"))
        # As series_json() says them (and booking.* payloads): pending until approved,
        # cancelled once cancelled; who made it (a delegate, or the owner).
        creator, creator_name = _creator(s, event)
        out["series"].update(status=DECIDED_STATUS.get(kind) or _status(s), created_by=creator,
                             created_by_name=creator_name)
        if kind in DECISIONS:
            out.update(_decision(event))
        if kind == "series.cancelled":
            out.update(cancelled_from=_time(payload.get("from"), tz),
                       whole=bool(payload.get("whole")), cancelled_by=actor,
                       by_admin=bool(payload.get("by_admin")))
        elif kind == "series.updated":
            out.update(split_from=_time(payload.get("from"), tz),
                       continued_by=payload.get("continued_by"))
        elif kind == "series.occurrence_skipped":
            out["occurrence"] = {"start_time": _time(payload.get("start_at"), tz),
                                 "end_time": _time(payload.get("end_at"), tz),
                                 "reason": payload.get("reason")}
        return out
    return dict(payload)


def _booking(b: Mapping[str, Any], event: Mapping[str, Any], tz: str | None) -> dict[str, Any]:
    """A booking snapshot (to_jsonb of its row) in the booking JSON's shape."""
    creator, creator_name = _creator(b, event)
    return {
        "id": b["id"], "room_id": b["room_id"], "room_name": event.get("room_name"),
        "user_id": b["user_id"], "user_name": event.get("owner_name"), "title": b["title"],
        "start_time": _time(b["start_at"], tz), "end_time": _time(b["end_at"], tz),
        "status": _status(b), "series_id": b.get("series_id"), "cancelled_at": _time(b.get("cancelled_at"), tz),
        "created_at": _time(b.get("created_at"), tz), "attendees": b.get("attendees"),
        "created_by": creator, "created_by_name": creator_name,
        "invitees": b.get("invitees") or [], "notes": b.get("notes"),
        "updated_at": _time(b.get("updated_at"), tz),
        "original_start_time": _time(b.get("original_start"), tz),
        "checked_in_at": _time(b.get("checked_in_at"), tz),
        "released_at": _time(b.get("released_at"), tz)}


def _creator(row: Mapping[str, Any], event: Mapping[str, Any]) -> tuple[int, str | None]:
    """Who made a booking or series snapshot (its owner when nobody else is named),
    and their name when the event has it joined (the owner's, or the actor's)."""
    creator = row.get("created_by") or row["user_id"]
    name = (event.get("owner_name") if creator == row["user_id"]
            else event.get("actor_name") if creator == event.get("actor_id") else None)
    return creator, name


def _status(booking: Mapping[str, Any]) -> str:
    """A booking or series snapshot's status as its JSON says it (cancelled wins,
    sql/041, booking_status())."""
    status = booking.get("status") or "confirmed"
    return "cancelled" if booking.get("cancelled_at") and status in ("confirmed", "pending") \
        else status


def _decision(event: Mapping[str, Any]) -> dict[str, Any]:
    """Who decided a request (None: it expired) and why."""
    payload = event["payload"]
    decided = payload.get("decided_by")
    return {"decided_by": {"id": decided, "name": event.get("actor_name")}
            if decided is not None else None, "reason": payload.get("reason")}


def envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook body: Standard Webhooks' recommended {type, timestamp, data}."""
    created = _moment(event["created_at"])
    return {"type": event["kind"], "id": event["event_id"],
            "timestamp": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": data(event)}


def _when(item: Mapping[str, Any]) -> str:
    """"Tue 2 Mar 2027, 10:00–11:00" in the reader's language, room-local."""
    from booking.templating import day_and_time, hm
    return f"{day_and_time(item['start_time'])}–{hm(item['end_time'])}"


def summary(event: Mapping[str, Any]) -> str:
    """One line a person reads, in their language (booking/i18n.py): in mail subjects
    (the recipient's) and on the activity page (the reader's)."""
    from booking.templating import day, day_and_time
    kind, d = event["kind"], data(event)
    # Cancelled by someone else than the owner (an admin, or a delegate): named.
    by = None
    owner = (d.get("booking") or d.get("series") or {}).get("user_id")
    if d.get("cancelled_by") and d["cancelled_by"].get("id") not in (None, owner):
        by = d["cancelled_by"]["name"]
    if "booking" in d:
        b = d["booking"]
        what = _("“%(title)s” in %(room)s, %(when)s", title=b["title"], room=b["room_name"],
                 when=_when(b))
        if kind == "booking.created" and b["status"] == "pending":
            return _("Requested (waiting for approval): %(what)s", what=what)
        if kind == "booking.created":
            return _("Booked %(what)s", what=what)
        if kind == "booking.updated" and b["status"] == "pending":
            return _("Changed, waiting for approval: %(what)s", what=what)
        if kind == "booking.updated":
            return _("Changed: %(what)s", what=what)
        if kind == "booking.released":
            return _("Released, nobody checked in: %(what)s", what=what)
        if kind == "booking.reminder":
            return _("Soon: %(what)s", what=what)
        if kind == "booking.cancelled":
            return (_("Cancelled by %(name)s: %(what)s", name=by, what=what) if by
                    else _("Cancelled: %(what)s", what=what))
        if kind == "occurrence.cancelled":
            return (_("One occurrence cancelled by %(name)s: %(what)s", name=by, what=what) if by
                    else _("One occurrence cancelled: %(what)s", what=what))
        if kind == "approval.requested":
            return _("%(name)s asks to book %(what)s", name=event.get("owner_name"), what=what)
        if kind == "booking.approved":
            return _("Approved: %(what)s", what=what)
        if kind == "booking.rejected":
            return _("Not approved: %(what)s", what=what)
        if kind == "booking.expired":
            return _("Expired without a decision: %(what)s", what=what)
        raise KeyError(kind)
    if "series" in d:
        s = d["series"]
        # Cut short (from one occurrence on, or a part of a series split twice), its
        # rule's own end (COUNT, UNTIL) is no longer where it ends.
        cut = bool(s.get("cancelled_from")) and not d.get("whole")
        what = _("“%(title)s” in %(room)s, repeating (%(rule)s)", title=s["title"],
                 room=s["room_name"], rule=describe(s["recurrence"], ends=not cut))
        since = day_and_time(s["first_start"])
        pending = (event["payload"].get("series") or {}).get("status") == "pending"
        if kind == "series.created" and pending:
            return _("Requested (waiting for approval): %(what)s from %(first)s", what=what,
                     first=since)
        if kind == "series.created":
            return _("Booked %(what)s from %(first)s", what=what, first=since)
        if kind == "series.release_streak":
            return _("Nobody came three times in a row: %(what)s", what=what)
        if kind == "series.occurrence_skipped":
            o = d["occurrence"]
            reason = str(SKIP_REASONS.get(o["reason"], o["reason"]))
            if o["reason"] == "nonexistent_time" and s.get("timezone"):
                # The wall-clock time that does not exist, not where the zone puts it.
                from booking.templating import reason_words
                reason = reason_words(o["reason"], o["start_time"], s["timezone"])
            return _("Not booked: “%(title)s” in %(room)s, %(when)s (%(reason)s)",
                     title=s["title"], room=s["room_name"], when=_when(o), reason=reason)
        if kind == "series.updated" and d.get("split_from"):
            return _("Changed from %(day)s on (it continues as a new repeating booking): "
                     "%(what)s", day=day(d["split_from"]), what=what)
        if kind == "series.updated":
            return _("Changed: %(what)s from %(first)s", what=what, first=since)
        if kind == "approval.requested":
            return _("%(name)s asks to book %(what)s from %(first)s",
                     name=event.get("owner_name"), what=what, first=since)
        if kind == "series.approved":
            return _("Approved: %(what)s from %(first)s", what=what, first=since)
        if kind == "series.rejected":
            return _("Not approved: %(what)s from %(first)s", what=what, first=since)
        if kind == "series.expired":
            return _("Expired without a decision: %(what)s from %(first)s", what=what,
                     first=since)
        if d.get("whole"):
            return (_("Cancelled by %(name)s: %(what)s", name=by, what=what) if by
                    else _("Cancelled: %(what)s", what=what))
        start = day(d["cancelled_from"])
        return (_("Cancelled by %(name)s from %(day)s on: %(what)s", name=by, day=start,
                  what=what) if by
                else _("Cancelled from %(day)s on: %(what)s", day=start, what=what))
    if kind == "endpoint.disabled":
        return _("Webhook endpoint %(url)s was disabled after failing for a day", url=d.get("url"))
    return kind
