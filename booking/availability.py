"""Free time in a room, and what to offer when a slot is taken (pure functions).

A room is free inside its opening hours (room-local wall-clock time, per
local day) wherever no live booking lies, and not in the past: the current
minute still counts, as for booking.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Mapping

from booking import rules
from booking.times import UTC, rfc3339, wall_instant, zone

Interval = tuple[datetime, datetime]


def _opening(room: Mapping, day) -> Interval:
    """When the room opens and closes on a local day (as rules.check reads them)."""
    tz = zone(room["timezone"])
    return (wall_instant(day, rules.as_time(room["opens"]), tz),
            wall_instant(day, rules.as_time(room["closes"]), tz))


def free_intervals(room: Mapping, busy: Iterable[Interval], start: datetime, end: datetime,
                   now: datetime, min_minutes: int = 1) -> list[Interval]:
    """Free stretches of `room` between `start` and `end` (aware), in order, in UTC.

    `busy` are the room's live bookings (any order). Stretches shorter than
    `min_minutes` are left out.
    """
    tz = zone(room["timezone"])
    floor_now = now.astimezone(UTC).replace(second=0, microsecond=0)
    start, end = max(start.astimezone(UTC), floor_now), end.astimezone(UTC)
    taken = sorted((b.astimezone(UTC), e.astimezone(UTC)) for b, e in busy)
    shortest = timedelta(minutes=min_minutes)
    found: list[Interval] = []
    if start >= end:
        return found
    day, last_day = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last_day:
        open_at, close_at = _opening(room, day)
        cursor, stop = max(open_at, start), min(close_at, end)
        for booked_start, booked_end in taken:
            if booked_end <= cursor or booked_start >= stop:
                continue
            if booked_start - cursor >= shortest:
                found.append((cursor, booked_start))
            cursor = max(cursor, booked_end)
        if stop - cursor >= shortest:
            found.append((cursor, stop))
        day += timedelta(days=1)
    return found


def next_slots(room: Mapping, busy: Iterable[Interval], start: datetime, length: timedelta,
               now: datetime, limits: rules.Limits, count: int = 5,
               days: int = 14) -> list[Interval]:
    """The first `count` slots of `length` in `room` from `start` on, within `days` days.

    Slots follow each other back to back inside each free stretch, and each
    one passes every booking rule.
    """
    found: list[Interval] = []
    for free_start, free_end in free_intervals(room, busy, start, start + timedelta(days=days),
                                               now, min_minutes=1):
        slot = free_start
        while slot + length <= free_end and len(found) < count:
            if not rules.check(room, slot, slot + length, now, limits):
                found.append((slot, slot + length))
            slot += length
        if len(found) >= count:
            break
    return found


def as_json(intervals: Iterable[Interval], tz_name: str) -> list[dict]:
    tz = zone(tz_name)
    return [{"start_time": rfc3339(s, tz), "end_time": rfc3339(e, tz)} for s, e in intervals]


def suggestions(room: Mapping, busy: Iterable[Mapping], start: datetime, end: datetime,
                now: datetime, limits: rules.Limits, other_rooms: list[dict]) -> dict:
    """What to offer instead of a taken slot.

    same_room: the next up to 5 free slots of the same length in that room
    (searching forward up to 14 days), from `busy` (the room's live bookings
    then, as {start_at, end_at}); other_rooms: as the finder ranks them
    (booking/finder/service.py Alternatives).
    """
    taken = [(_moment(b["start_at"]), _moment(b["end_at"])) for b in busy]
    same_room = next_slots(room, taken, start, end.astimezone(UTC) - start.astimezone(UTC),
                           now, limits)
    return {"same_room": as_json(same_room, room["timezone"]), "other_rooms": other_rooms}


def busy_rows(rows: Iterable[Mapping]) -> list[Mapping]:
    """book()'s 'busy' rows as {start_at, end_at}."""
    return [r["data"] for r in rows if r["kind"] == "busy"]


def _moment(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
