"""What an event says: its JSON `data` (webhooks, activity) and a one-line summary.

The outbox keeps a snapshot of the changed row (to_jsonb in the trigger, so
writing it costs next to nothing); this module turns that snapshot plus the
names joined at read time (room, owner, actor) into the documented shapes.
Pure functions: no database, no Flask.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from booking.recurrence import describe
from booking.times import UTC, rfc3339, zone

KINDS = ("booking.created", "booking.cancelled", "series.created", "series.cancelled",
         "occurrence.cancelled", "booking.approved", "booking.rejected", "booking.expired",
         "series.approved", "series.rejected", "series.expired")
# Never to webhooks: endpoint.disabled is told to whoever registered the endpoint,
# approval.requested to the room's approvers (sql/043).
INTERNAL_KINDS = ("endpoint.disabled", "approval.requested")
# A decision on a request (sql/043): the requester is told, with the reason.
DECISIONS = ("booking.approved", "booking.rejected", "booking.expired", "series.approved",
             "series.rejected", "series.expired")


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
        out: dict[str, Any] = {"booking": {
            "id": b["id"], "room_id": b["room_id"], "room_name": event.get("room_name"),
            "user_id": b["user_id"], "user_name": event.get("owner_name"), "title": b["title"],
            "start_time": _time(b["start_at"], tz), "end_time": _time(b["end_at"], tz),
            "status": _status(b), "series_id": b.get("series_id"),
            "cancelled_at": _time(b.get("cancelled_at"), tz),
            "created_at": _time(b.get("created_at"), tz)}}
        if kind in DECISIONS:
            out.update(_decision(event))
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
        if kind in DECISIONS:
            out.update(_decision(event))
        if kind == "series.cancelled":
            out.update(cancelled_from=_time(payload.get("from"), tz),
                       whole=bool(payload.get("whole")), cancelled_by=actor,
                       by_admin=bool(payload.get("by_admin")))
        return out
    return dict(payload)


def _status(booking: Mapping[str, Any]) -> str:
    """A booking snapshot's status as its JSON says it (cancelled wins, sql/041)."""
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
    start = datetime.fromisoformat(item["start_time"])
    end = datetime.fromisoformat(item["end_time"])
    return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}–{end:%H:%M}"


def summary(event: Mapping[str, Any]) -> str:
    """One line a person reads: in mail subjects and on the activity page."""
    kind, d = event["kind"], data(event)
    by = ""
    if d.get("by_admin") and d.get("cancelled_by"):
        by = f" by {d['cancelled_by']['name']}"
    if "booking" in d:
        b = d["booking"]
        what = f"“{b['title']}” in {b['room_name']}, {_when(b)}"
        if kind == "booking.created" and b["status"] == "pending":
            return f"Requested (waiting for approval): {what}"
        return {"booking.created": f"Booked {what}",
                "booking.cancelled": f"Cancelled{by}: {what}",
                "occurrence.cancelled": f"One occurrence cancelled{by}: {what}",
                "approval.requested": f"{event.get('owner_name')} asks to book {what}",
                "booking.approved": f"Approved: {what}",
                "booking.rejected": f"Not approved: {what}",
                "booking.expired": f"Expired without a decision: {what}"}[kind]
    if "series" in d:
        s = d["series"]
        first = datetime.fromisoformat(s["first_start"])
        what = f"“{s['title']}” in {s['room_name']}, repeating ({describe(s['recurrence'])})"
        since = f"from {first:%a} {first.day} {first:%b %Y}, {first:%H:%M}"
        pending = (event["payload"].get("series") or {}).get("status") == "pending"
        if kind == "series.created" and pending:
            return f"Requested (waiting for approval): {what} {since}"
        if kind == "series.created":
            return f"Booked {what} {since}"
        if kind in ("approval.requested", "series.approved", "series.rejected",
                    "series.expired"):
            return {"approval.requested": f"{event.get('owner_name')} asks to book {what} {since}",
                    "series.approved": f"Approved: {what} {since}",
                    "series.rejected": f"Not approved: {what} {since}",
                    "series.expired": f"Expired without a decision: {what} {since}"}[kind]
        if d.get("whole"):
            return f"Cancelled{by}: {what}"
        start = datetime.fromisoformat(d["cancelled_from"])
        return f"Cancelled{by} from {start:%a} {start.day} {start:%b %Y} on: {what}"
    if kind == "endpoint.disabled":
        return f"Webhook endpoint {d.get('url')} was disabled after failing for a day"
    return kind
