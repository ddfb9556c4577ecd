"""Free time in a room, and what to offer when a slot is taken (pure functions).

A room is free inside its opening hours (room-local wall-clock time, per
local day, as its effective policy has them: per weekday, closed dates left
out) wherever no live booking holds it, and not before the policy's notice:
the current minute still counts, as for booking. A booking holds the room
from its start to its end plus its buffer; a free stretch ends the room's own
buffer before the next booking. What is offered passes booking.rules as
booking would (the same Policy), so nothing offered is then refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from booking import rules
from booking.times import UTC, rfc3339, wall_instant, zone

Interval = tuple[datetime, datetime]


def _opening(room: Mapping, day, policy: rules.Policy) -> Interval | None:
    """When the room opens and closes on a local day (as rules.check reads them),
    None when it is closed that day."""
    hours = policy.open_on(room, day)
    if hours is None:
        return None
    tz = zone(room["timezone"])
    return wall_instant(day, hours[0], tz), wall_instant(day, hours[1], tz)


def free_intervals(room: Mapping, busy: Iterable[Interval], start: datetime, end: datetime,
                   now: datetime, min_minutes: int = 1,
                   policy: rules.Policy | None = None) -> list[Interval]:
    """Free stretches of `room` between `start` and `end` (aware), in order, in UTC.

    `busy` are what the room's live bookings hold (any order): each one's start
    to its end plus its buffer. Stretches shorter than `min_minutes` are left
    out. `policy` is the room's effective policy (default: the room's own hours,
    no buffer, no notice).
    """
    policy = policy or rules.Policy()
    tz = zone(room["timezone"])
    floor_now = now.astimezone(UTC).replace(second=0, microsecond=0)
    earliest = floor_now + timedelta(minutes=policy.min_notice_minutes)
    start, end = max(start.astimezone(UTC), earliest), end.astimezone(UTC)
    taken = sorted((b.astimezone(UTC), e.astimezone(UTC)) for b, e in busy)
    shortest = timedelta(minutes=min_minutes)
    buffer = timedelta(minutes=policy.buffer_minutes)
    found: list[Interval] = []
    if start >= end:
        return found
    day, last_day = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last_day:
        opening = _opening(room, day, policy)
        day += timedelta(days=1)
        if opening is None:
            continue
        open_at, close_at = opening
        cursor, stop = max(open_at, start), min(close_at, end)
        for booked_start, booked_end in taken:
            if booked_end <= cursor or booked_start - buffer >= stop:
                continue
            if booked_start - buffer - cursor >= shortest:
                found.append((cursor, booked_start - buffer))
            cursor = max(cursor, booked_end)
        if stop - cursor >= shortest:
            found.append((cursor, stop))
    # A booking may start at most max_days_ahead ahead (rules: beyond_window): a
    # stretch that starts later offers nothing that could be booked, and one
    # under way then reaches only as far as the longest booking started then. A
    # start is a whole minute: the last one is the window's end on its minute (an
    # end with seconds would be a time no booking may have).
    latest = (now.astimezone(UTC) + timedelta(days=policy.max_days_ahead)).replace(
        second=0, microsecond=0)
    reach = latest + timedelta(minutes=policy.max_minutes)
    return [(s, min(e, reach)) for s, e in found if s <= latest]


QuotaCheck = Callable[[datetime, datetime], "rules.Violation | None"]


def next_slots(room: Mapping, busy: Iterable[Interval], start: datetime, length: timedelta,
               now: datetime, policy: rules.Policy, count: int = 5, days: int = 14,
               groups: frozenset[int] | None = None,
               quota: QuotaCheck | None = None) -> list[Interval]:
    """The first `count` slots of `length` in `room` from `start` on, within `days` days.

    Slots follow each other back to back inside each free stretch, and each
    one passes every booking rule of the room's policy, and its quota
    (`quota(start, end)`: the violation, or None).
    """
    found: list[Interval] = []
    for free_start, free_end in free_intervals(room, busy, start, start + timedelta(days=days),
                                               now, min_minutes=1, policy=policy):
        slot = free_start
        while slot + length <= free_end and len(found) < count:
            if not rules.check(room, slot, slot + length, now, policy, groups) and (
                    quota is None or quota(slot, slot + length) is None):
                found.append((slot, slot + length))
            slot += length
        if len(found) >= count:
            break
    return found


def as_json(intervals: Iterable[Interval], tz_name: str) -> list[dict]:
    tz = zone(tz_name)
    return [{"start_time": rfc3339(s, tz), "end_time": rfc3339(e, tz)} for s, e in intervals]


def busy_of(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """book()'s 'busy' rows as {start_at, end_at}: what holds the room, each
    booking from its start to its end plus its buffer."""
    return [r["data"] for r in rows if r["kind"] == "busy"]


def taken_of(rows: Iterable[Mapping[str, Any]]) -> list[rules.Taken]:
    """The owner's bookings under the same quota, from book()'s 'mine' rows (or
    edit_booking()'s `mine` list)."""
    found = []
    for row in rows:
        if "kind" in row:
            if row["kind"] != "mine":
                continue
            row = row["data"]
        found.append(rules.Taken(row["room_id"], _moment(row["start_at"]),
                                 _moment(row["end_at"])))
    return found


def suggestions(room: Mapping, busy: Iterable[Mapping], start: datetime, end: datetime,
                now: datetime, policy: rules.Policy, booker: rules.Booker,
                other_rooms: list[dict], mine: Iterable[rules.Taken] = ()) -> dict:
    """What to offer instead of a taken slot: nothing the room's policy, or the
    owner's quota there, would then refuse.

    same_room: the next up to 5 free slots of the same length in that room
    (searching forward up to 14 days) that its policy and quota allow, from
    `busy` (what holds the room then, as {start_at, end_at}, buffers included)
    and `mine` (the owner's bookings under its quota); other_rooms: as the
    finder ranks them under their own policies (booking/finder/service.py
    Alternatives).
    """
    taken = list(mine)
    quota = None
    if policy.quota is not None and not booker.admin:
        # `mine` holds only bookings in the rooms of the quota: every one counts.
        def quota(s: datetime, e: datetime) -> rules.Violation | None:
            return rules.quota_violation(room, s, e, policy, taken, lambda r: True)
    groups = None if booker.admin else booker.groups
    held = [(_moment(b["start_at"]), _moment(b["end_at"])) for b in busy]
    same_room = next_slots(room, held, start, end.astimezone(UTC) - start.astimezone(UTC),
                           now, policy, groups=groups, quota=quota)
    return {"same_room": as_json(same_room, room["timezone"]), "other_rooms": other_rooms}


def _moment(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
