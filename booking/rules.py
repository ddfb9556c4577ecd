"""The booking rules, as pure functions: no database, no Flask.

`check(room, start, end, now, limits)` returns every rule the interval
breaks, most fundamental first; an empty list means it may be booked (if the
room is free: that part is the database's exclusion constraint).

Rules are evaluated in the room's wall-clock time, so "opens at 09:00" means
09:00 in that room's zone on every day, daylight saving or not (an opening
time the clocks skip that night means the moment they skip to:
booking.times.wall_instant). Durations are
real elapsed time: 01:30-03:30 on the night the clocks go forward lasts one
hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Mapping

from booking.errors import BookingError
from booking.i18n import lazy, lazy_plural
from booking.times import UTC, wall_instant, zone


@dataclass(frozen=True)
class Limits:
    min_minutes: int = 15
    max_minutes: int = 240
    window_days: int = 180

    @classmethod
    def from_config(cls, config: Mapping) -> "Limits":
        return cls(min_minutes=config["MIN_BOOKING_MINUTES"],
                   max_minutes=config["MAX_BOOKING_MINUTES"],
                   window_days=config["BOOKING_WINDOW_DAYS"])


@dataclass(frozen=True)
class Violation:
    """A broken rule. Its message is lazy (i18n.lazy): translated only when shown, so
    the finder, which checks rules for rooms it then leaves out, never translates."""
    code: str
    message: Any
    field: str
    details: Mapping | None = None   # what else the error says (over_capacity: capacity)

    def error(self, **details) -> BookingError:
        return BookingError(self.code, self.message, field=self.field,
                            details={**(self.details or {}), **details} or None)


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def as_time(value) -> time:
    """A time of day from a time or "HH:MM"."""
    return value if isinstance(value, time) else time.fromisoformat(value)


def check(room: Mapping, start: datetime, end: datetime, now: datetime,
          limits: Limits) -> list[Violation]:
    """Every rule that booking `room` from `start` to `end` would break.

    `room` needs `timezone` (IANA name), `opens` and `closes` (time or
    "HH:MM", room-local) and `active`, and nothing else of the room: the
    finder checks each combination of these four once. `start`, `end` and
    `now` are aware.
    """
    found: list[Violation] = []
    if not room["active"]:
        found.append(Violation("room_inactive", lazy("This room is not available for booking."),
                               "room_id"))
    found += _minutes_and_length(start, end, limits)
    found += _day_and_hours(room, start, end)
    found += _when(start, now, limits)
    return found


# The rules that hold or fail for an interval whatever the room: the finder
# and auto-assignment answer these with a 422 before looking at any room.
ROOM_INDEPENDENT = frozenset({"not_whole_minutes", "too_short", "too_long", "in_past",
                              "beyond_window"})


def check_interval(start: datetime, end: datetime, now: datetime,
                   limits: Limits) -> list[Violation]:
    """The rules `start`-`end` breaks in every room (codes in ROOM_INDEPENDENT)."""
    return _minutes_and_length(start, end, limits) + _when(start, now, limits)


def _minutes_and_length(start: datetime, end: datetime, limits: Limits) -> list[Violation]:
    found: list[Violation] = []
    # Arithmetic in UTC: Python subtracts two times of one zone as wall-clock
    # times, which is an hour off across a daylight-saving change.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start.second or start.microsecond or end.second or end.microsecond:
        found.append(Violation("not_whole_minutes",
                               lazy("Bookings start and end on whole minutes."),
                               "start_time" if start.second or start.microsecond
                               else "end_time"))

    length = end - start
    if length < timedelta(minutes=limits.min_minutes):
        found.append(Violation("too_short",
                               lazy_plural("A booking lasts at least %(num)d minute.",
                                           "A booking lasts at least %(num)d minutes.",
                                           limits.min_minutes),
                               "end_time"))
    elif length > timedelta(minutes=limits.max_minutes):
        found.append(Violation("too_long",
                               lazy("A booking lasts at most %(duration)s.",
                                    duration=_duration(limits.max_minutes)),
                               "end_time"))
    return found


def _day_and_hours(room: Mapping, start: datetime, end: datetime) -> list[Violation]:
    found: list[Violation] = []
    tz = zone(room["timezone"])
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    length = end.astimezone(UTC) - start.astimezone(UTC)

    # A booking belongs to one local day; ending exactly at the next midnight
    # still counts as that day (the opening hours then decide).
    next_midnight = datetime.combine(local_start.date() + timedelta(days=1), time(0))
    crosses = local_end.replace(tzinfo=None) > next_midnight
    if crosses:
        found.append(Violation("crosses_midnight",
                               lazy("A booking starts and ends on the same day."),
                               "end_time"))

    # Opening and closing as instants of the start's local day (times.wall_instant):
    # the same reading as SQL's room_open(), free time and the reports, also on
    # the nights the clocks change. Closing is before midnight, so a booking
    # that ends at the next midnight ends after it.
    opens, closes = as_time(room["opens"]), as_time(room["closes"])
    early = start < wall_instant(local_start.date(), opens, tz)
    if not crosses and length > timedelta(0) and (
            early or end > wall_instant(local_start.date(), closes, tz)):
        found.append(Violation("outside_hours",
                               lazy("This room can be booked from %(opens)s to %(closes)s "
                                    "(%(zone)s time).", opens=_hm(opens), closes=_hm(closes),
                                    zone=tz.key),
                               "start_time" if early else "end_time"))
    return found


def _when(start: datetime, now: datetime, limits: Limits) -> list[Violation]:
    start, now = start.astimezone(UTC), now.astimezone(UTC)
    # The current minute still counts as now: "book from 14:05" at 14:05:40 is fine.
    if start < now.replace(second=0, microsecond=0):
        return [Violation("in_past", lazy("That time has already passed."), "start_time")]
    if start > now + timedelta(days=limits.window_days):
        return [Violation("beyond_window",
                          lazy_plural("Bookings can be made at most %(num)d day ahead.",
                                      "Bookings can be made at most %(num)d days ahead.",
                                      limits.window_days),
                          "start_time")]
    return []


def check_party(room: Mapping, attendees: int | None) -> list[Violation]:
    """The party rule: no more attendees than the room seats (equal is fine).
    `room` needs `capacity`; no attendees given breaks nothing."""
    if attendees is None or attendees <= room["capacity"]:
        return []
    return [Violation("over_capacity", lazy_plural(
        "%(room)s seats %(capacity)d; %(num)d person does not fit.",
        "%(room)s seats %(capacity)d; %(num)d people do not fit.", attendees,
        room=room.get("name") or lazy("This room"), capacity=room["capacity"]), "attendees",
                      {"capacity": room["capacity"]})]


def first_error(room: Mapping, start: datetime, end: datetime, now: datetime,
                limits: Limits) -> BookingError | None:
    """The error to answer with, or None: the first violation, all of them in details."""
    return as_error(check(room, start, end, now, limits))


def as_error(found: list[Violation]) -> BookingError | None:
    """The first of `found` as the error, every one listed in details.violations."""
    if not found:
        return None
    err = found[0].error()
    err.details["violations"] = [
        {"code": v.code, "message": str(v.message), "field": v.field} for v in found]
    return err


def _duration(minutes: int) -> Any:
    """240 -> "4 hours", 90 -> "1 h 30 min", 45 -> "45 minutes" (lazy, like the messages)."""
    hours, rest = divmod(minutes, 60)
    if not rest:
        return lazy_plural("%(num)d hour", "%(num)d hours", hours)
    if not hours:
        return lazy_plural("%(num)d minute", "%(num)d minutes", rest)
    return lazy("%(hours)d h %(minutes)d min", hours=hours, minutes=rest)
