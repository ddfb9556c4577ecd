"""The booking rules, as pure functions: no database, no Flask.

One rule engine for every path that books or offers time (create, series,
auto-assignment, the finder, availability, next free slots, suggestions):
`verdict(room, start, end, now, policy, booker)` says what refuses an interval
and, for an administrator, which limits they book past. `check()` lists every
rule the interval breaks, most fundamental first; an empty list means it may
be booked, if the room is free and the booker's quota allows: those depend on
other rows and are decided by the database in the statement that books (the
exclusion constraint, buffers included; quota_refusals() in sql/042).
`quota_violation()` is the same quota rule over bookings given as data, for
what is offered.

The rules read the room's *effective policy* (`Policy`): each field from the
nearest level that sets it (room, area, parent area, ..., the organisation's
defaults from the settings), with the level it came from (`Source`), which a
refusal names in its details. booking/policy.py builds it from the database's
answer (room_policy(), sql/040).

Rules are evaluated in the room's wall-clock time, so "opens at 09:00" means
09:00 in that room's zone on every day, daylight saving or not (an opening
time the clocks skip that night means the moment they skip to:
booking.times.wall_instant), and a closed date is the room's local date.
Durations are real elapsed time: 01:30-03:30 on the night the clocks go
forward lasts one hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Iterable, Mapping

from booking.errors import BookingError
from booking.i18n import lazy, lazy_day, lazy_plural
from booking.times import UTC, wall_instant, zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# "closed on Mondays": lazy, translated when the message is shown.
DAY_NAMES = (lazy("on Mondays"), lazy("on Tuesdays"), lazy("on Wednesdays"),
             lazy("on Thursdays"), lazy("on Fridays"), lazy("on Saturdays"),
             lazy("on Sundays"))


@dataclass(frozen=True)
class Source:
    """Where a policy value comes from: the organisation's defaults (the settings),
    an area, or the room itself."""
    level: str = "organisation"
    id: int | None = None
    name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"level": self.level, "id": self.id, "name": self.name}

    def describe(self) -> Any:
        """"from Building B", for people (lazy, like the messages it goes into)."""
        if self.level == "organisation":
            return lazy("the organisation's default")
        if self.level == "area":
            return lazy("from %(name)s", name=self.name)
        return lazy("set on %(name)s", name=self.name)


ORGANISATION = Source()


@dataclass(frozen=True)
class Quota:
    """How much one person may book within the quota's level (an area and the areas
    in it, or one room): None means no limit of that kind."""
    bookings_per_day: int | None = None
    bookings_per_week: int | None = None
    hours_per_week: int | None = None


Hours = tuple[time, time] | None   # (opens, closes) on a weekday; None: closed


@dataclass(frozen=True)
class Policy:
    """A room's effective policy: every field has a value, and `sources` says which
    level set it (fields not listed come from the organisation's defaults).

    `opening_hours` is seven entries, Monday first; None (not set anywhere) means
    the room's own opening and closing times every day. `closed_dates` holds
    "YYYY-MM-DD" (that day) and "MM-DD" (that day every year). `bookers` and
    `approvers` are group ids; no bookers means everyone may book.
    """
    min_minutes: int = 15
    max_minutes: int = 240
    max_days_ahead: int = 180
    opening_hours: tuple[Hours, ...] | None = None
    closed_dates: frozenset[str] = frozenset()
    min_notice_minutes: int = 0
    buffer_minutes: int = 0
    quota: Quota | None = None
    approval_required: bool = False
    bookers: frozenset[int] = frozenset()
    approvers: frozenset[int] = frozenset()
    sources: tuple[tuple[str, Source], ...] = ()

    def __hash__(self) -> int:
        # Worked out once: a policy is a key of the finder's per-search memos
        # (week_open_minutes, quotas), asked for every room of every search, and
        # hashing its frozensets each time was a tenth of a search's Python.
        found = self.__dict__.get("_hash")
        if found is None:
            found = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", found)
        return found

    # What check() reads of a policy (besides the sources its refusals name).
    # Not among them: buffer_minutes (the constraint's), quota (quota_violation),
    # approval_required and approvers (a booking's status, not whether it may be made).
    CHECKED = ("min_minutes", "max_minutes", "max_days_ahead", "opening_hours",
               "closed_dates", "min_notice_minutes", "bookers")

    @property
    def checked(self) -> tuple:
        """The values check() reads: policies equal in these allow and refuse the
        same bookings, whatever level set them and whoever approves."""
        found = self.__dict__.get("_checked")
        if found is None:
            found = tuple(getattr(self, name) for name in self.CHECKED)
            object.__setattr__(self, "_checked", found)
        return found

    @classmethod
    def from_config(cls, config: Mapping) -> "Policy":
        """The organisation's defaults: the settings, and nothing else set."""
        return cls(min_minutes=config["MIN_BOOKING_MINUTES"],
                   max_minutes=config["MAX_BOOKING_MINUTES"],
                   max_days_ahead=config["BOOKING_WINDOW_DAYS"])

    def source(self, name: str) -> Source:
        for key, source in self.sources:
            if key == name:
                return source
        return ORGANISATION

    def hours_source(self, room: Mapping) -> Source:
        """Where a room's opening hours come from: the level that set them, or, set
        nowhere, the room's own opening and closing (as booking/policy.py shows it)."""
        if self.opening_hours is None and room.get("id") is not None:
            return Source("room", room["id"], room.get("name"))
        return self.source("opening_hours")

    def hours(self, room: Mapping, day: date) -> Hours:
        """Opening and closing on `day` (room-local), None when closed that weekday."""
        if self.opening_hours is None:
            return as_time(room["opens"]), as_time(room["closes"])
        return self.opening_hours[day.weekday()]

    def closed_date(self, day: date) -> bool:
        return bool(self.closed_dates) and (
            day.isoformat() in self.closed_dates or day.strftime("%m-%d") in self.closed_dates)

    def week_hours(self, room: Mapping) -> Hours:
        """The earliest opening and the latest closing of any weekday, None when it
        is closed every day: what a form's time fields allow before a date is known."""
        if self.opening_hours is None:
            return as_time(room["opens"]), as_time(room["closes"])
        days = [hours for hours in self.opening_hours if hours is not None]
        if not days:
            return None
        return min(h[0] for h in days), max(h[1] for h in days)

    def open_on(self, room: Mapping, day: date) -> Hours:
        """The hours the room is open on `day`; None when it is closed all day."""
        return None if self.closed_date(day) else self.hours(room, day)


@dataclass(frozen=True)
class Booker:
    """Who is booking, as the rules see them: an administrator books past every
    policy limit; `groups` are theirs (None: the bookers rule is not checked,
    e.g. for a series already permitted when it was made)."""
    admin: bool = False
    groups: frozenset[int] | None = None
    for_someone: bool = False      # the groups are the owner's, not the caller's

    @classmethod
    def for_owner(cls, actor: Any, owner_id: int | None,
                  owner_groups: Iterable[int] | None) -> "Booker":
        """Who the rules see when `actor` books or changes a booking that is
        `owner_id`'s: the room's bookers rule asks about the person who will
        hold it (a delegate may book a lab room for a lab member, and not for
        someone outside the lab); an administrator stays one."""
        if owner_id is None or owner_id == actor.id:
            return actor.booker
        return cls(admin=actor.is_admin, groups=frozenset(owner_groups or ()), for_someone=True)

    def may_book(self, policy: Policy) -> bool:
        """Whether the policy's bookers rule lets them book (check()'s not_permitted):
        an administrator books every room, and no bookers means everyone."""
        return self.admin or bookers_allow(policy, self.groups)


@dataclass(frozen=True)
class Violation:
    """A broken rule. Its message is lazy (i18n.lazy): translated only when shown, so
    the finder, which checks rules for rooms it then leaves out, never translates.
    `source`: the policy level that set the rule; `extra`: what else the error
    says (quota: quota, used, limit; over_capacity: capacity)."""
    code: str
    message: Any
    field: str
    source: Source | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        found = {"code": self.code, "message": str(self.message), "field": self.field}
        if self.source is not None:
            found["source"] = self.source.as_json()
        return found

    def error(self, **details) -> BookingError:
        more = dict(self.extra)
        if self.source is not None:
            more["source"] = self.source.as_json()
        return BookingError(self.code, self.message, field=self.field,
                            details={**more, **details} or None)


# The limits of a policy: an administrator books past these (and past a quota);
# never past the others (an inactive room, whole minutes, one day, the past),
# nor past the exclusion constraint.
OVERRIDABLE = frozenset({"not_permitted", "too_short", "too_long", "closed", "outside_hours",
                         "too_soon", "beyond_window", "quota_exceeded"})

# The rules that hold or fail for an interval whatever the room and its policy:
# the finder and auto-assignment answer these with a 422 before looking at rooms.
ROOM_INDEPENDENT = frozenset({"not_whole_minutes", "in_past"})
# The rules a room's policy decides for the interval alone (not its hours): when
# every room refuses it by one of these, the finder answers that 422.
INTERVAL_RULES = frozenset({"not_whole_minutes", "too_short", "too_long", "in_past",
                            "too_soon", "beyond_window"})


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def as_time(value) -> time:
    """A time of day from a time or "HH:MM"."""
    return value if isinstance(value, time) else time.fromisoformat(value)


@dataclass
class Verdict:
    """What refuses an interval (`violations`, most fundamental first) and, for an
    administrator, the policy limits they book past (`overrides`, recorded with
    the booking and so in the audit log)."""
    violations: list[Violation]
    overrides: list[str] = field(default_factory=list)

    @property
    def error(self) -> BookingError | None:
        return as_error(self.violations)


def verdict(room: Mapping, start: datetime, end: datetime, now: datetime, policy: Policy,
            booker: Booker) -> Verdict:
    """The one entry point every path that books or moves a booking calls."""
    found = check(room, start, end, now, policy, booker.groups, booker.for_someone)
    if not booker.admin:
        return Verdict(found)
    # Past a policy's shortest booking, yes; past "ends after it starts", never.
    overridable = OVERRIDABLE if end > start else OVERRIDABLE - {"too_short"}
    return Verdict([v for v in found if v.code not in overridable],
                   sorted({v.code for v in found if v.code in overridable}))


def check(room: Mapping, start: datetime, end: datetime, now: datetime, policy: Policy,
          groups: frozenset[int] | None = None, for_someone: bool = False) -> list[Violation]:
    """Every rule that booking `room` from `start` to `end` would break.

    `room` needs `timezone` (IANA name), `opens` and `closes` (time or "HH:MM",
    room-local; used when the policy sets no opening hours) and `active`.
    `start`, `end` and `now` are aware. `groups`: the booker's groups, checked
    against the policy's bookers (None: not checked); `for_someone`: they are
    the groups of the person the booking is for (the refusal says so).
    """
    found: list[Violation] = []
    if not room["active"]:
        found.append(Violation("room_inactive", lazy("This room is not available for booking."),
                               "room_id"))
    if not bookers_allow(policy, groups):
        message = (lazy("Only some groups may book this room, and the person it is for is "
                        "not in one of them.") if for_someone else
                   lazy("Only some groups may book this room, and you are not in one of them."))
        found.append(Violation("not_permitted", message, "room_id", policy.source("bookers")))
    found += _minutes_and_length(start, end, policy)
    found += _day_and_hours(room, start, end, policy)
    found += _when(start, now, policy)
    return found


def outside_hours(room: Mapping, start: datetime, end: datetime, policy: Policy) -> bool:
    """Whether `start`-`end` lies outside the hours `policy` gives `room` that day, or
    on a day it closes (check()'s outside_hours and closed)."""
    return any(v.code in ("outside_hours", "closed")
               for v in _day_and_hours(room, start, end, policy))


def bookers_allow(policy: Policy, groups: frozenset[int] | None) -> bool:
    """The bookers rule: no bookers means everyone; else someone in one of their
    groups (`groups` None: not checked)."""
    return groups is None or not policy.bookers or bool(groups & policy.bookers)


def check_interval(start: datetime, end: datetime, now: datetime) -> list[Violation]:
    """The rules `start`-`end` breaks in every room whatever its policy
    (codes in ROOM_INDEPENDENT)."""
    found = [v for v in _minutes_and_length(start, end, Policy(min_minutes=0, max_minutes=10**6))
             if v.code == "not_whole_minutes"]
    return found + [v for v in _when(start, now, Policy(max_days_ahead=10**6))
                    if v.code == "in_past"]


def _minutes_and_length(start: datetime, end: datetime, policy: Policy) -> list[Violation]:
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
    if length <= timedelta(0):
        found.append(Violation("too_short", lazy("A booking ends after it starts."), "end_time"))
    elif length < timedelta(minutes=policy.min_minutes):
        found.append(Violation("too_short",
                               lazy("A booking lasts at least %(duration)s.",
                                    duration=_duration(policy.min_minutes)),
                               "end_time", policy.source("min_minutes")))
    elif length > timedelta(minutes=policy.max_minutes):
        found.append(Violation("too_long",
                               lazy("A booking lasts at most %(duration)s.",
                                    duration=_duration(policy.max_minutes)),
                               "end_time", policy.source("max_minutes")))
    return found


def _day_and_hours(room: Mapping, start: datetime, end: datetime,
                   policy: Policy) -> list[Violation]:
    found: list[Violation] = []
    tz = zone(room["timezone"])
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    length = end.astimezone(UTC) - start.astimezone(UTC)
    day = local_start.date()

    # A booking belongs to one local day; ending exactly at the next midnight
    # still counts as that day (the opening hours then decide).
    next_midnight = datetime.combine(day + timedelta(days=1), time(0))
    crosses = local_end.replace(tzinfo=None) > next_midnight
    if crosses:
        found.append(Violation("crosses_midnight",
                               lazy("A booking starts and ends on the same day."), "end_time"))

    if policy.closed_date(day):
        found.append(Violation("closed", lazy("This room is closed on %(date)s.",
                                              date=lazy_day(day)),
                               "start_time", policy.source("closed_dates")))
        return found
    hours = policy.hours(room, day)
    if hours is None:
        found.append(Violation("closed", lazy("This room is closed %(days)s.",
                                              days=DAY_NAMES[day.weekday()]),
                               "start_time", policy.source("opening_hours")))
        return found

    # Opening and closing as instants of the start's local day (times.wall_instant):
    # the same reading as SQL's room_open(), free time and the reports, also on
    # the nights the clocks change. Closing is before midnight, so a booking
    # that ends at the next midnight ends after it.
    opens, closes = hours
    early = start < wall_instant(day, opens, tz)
    if not crosses and length > timedelta(0) and (
            early or end > wall_instant(day, closes, tz)):
        found.append(Violation("outside_hours",
                               lazy("This room can be booked from %(opens)s to %(closes)s "
                                    "(%(zone)s time).", opens=_hm(opens), closes=_hm(closes),
                                    zone=tz.key),
                               "start_time" if early else "end_time",
                               policy.hours_source(room)))
    return found


def _when(start: datetime, now: datetime, policy: Policy) -> list[Violation]:
    start, now = start.astimezone(UTC), now.astimezone(UTC)
    # The current minute still counts as now: "book from 14:05" at 14:05:40 is fine.
    this_minute = now.replace(second=0, microsecond=0)
    if start < this_minute:
        return [Violation("in_past", lazy("That time has already passed."), "start_time")]
    if start < this_minute + timedelta(minutes=policy.min_notice_minutes):
        return [Violation("too_soon", lazy("This room is booked at least %(duration)s ahead.",
                                           duration=_duration(policy.min_notice_minutes)),
                          "start_time",
                          policy.source("min_notice_minutes"))]
    if start > now + timedelta(days=policy.max_days_ahead):
        return [Violation("beyond_window",
                          lazy_plural("Bookings can be made at most %(num)d day ahead.",
                                      "Bookings can be made at most %(num)d days ahead.",
                                      policy.max_days_ahead),
                          "start_time", policy.source("max_days_ahead"))]
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
                      extra=(("capacity", room["capacity"]),))]


def first_error(room: Mapping, start: datetime, end: datetime, now: datetime,
                policy: Policy) -> BookingError | None:
    """The error to answer with, or None: the first violation, all of them in details."""
    return as_error(check(room, start, end, now, policy))


def as_error(found: list[Violation]) -> BookingError | None:
    """The first of `found` as the error, every one listed in details.violations."""
    if not found:
        return None
    err = found[0].error()
    err.details["violations"] = [v.as_json() for v in found]
    return err


def every_room_refuses(violations: Iterable[list[Violation]]) -> Violation | None:
    """The first interval rule (INTERVAL_RULES) that each room's violations include,
    if one does for every room: the finder's 422 when no room allows the interval
    at all (None when some room does, or the rooms refuse it for different reasons
    of their own, such as their hours)."""
    common: dict[str, Violation] | None = None
    for found in violations:
        codes = {v.code: v for v in found if v.code in INTERVAL_RULES}
        common = codes if common is None else {c: v for c, v in common.items() if c in codes}
        if not common:
            return None
    if not common:
        return None
    order = ("not_whole_minutes", "too_short", "too_long", "in_past", "too_soon",
             "beyond_window")
    return next(common[c] for c in order if c in common)


# -- quotas over bookings given as data --------------------------------------------

@dataclass(frozen=True)
class Taken:
    """One of the booker's live bookings, for counting a quota."""
    room_id: int
    start: datetime
    end: datetime


def in_quota_scope(policy: Policy, room_id: int,
                   areas_of: Callable[[int], Iterable[int]]) -> Callable[[int], bool]:
    """Whether a booking in room `r` counts against the quota of `room_id`'s policy:
    a quota set on an area counts bookings in every room of that area (and of the
    areas in it); one set on the room, bookings in that room."""
    source = policy.source("quota")
    if source.level == "area":
        return lambda r: source.id in areas_of(r)
    return lambda r: r == room_id


def quota_violation(room: Mapping, start: datetime, end: datetime, policy: Policy,
                    taken: Iterable[Taken], counts: Callable[[int], bool]) -> Violation | None:
    """The quota a booking of `room` from `start` to `end` would exceed, given the
    booker's live bookings `taken` (cancelled and released ones left out) and
    which rooms' bookings count (`counts`): the same rule as quota_refusals() in
    sql/042, which decides it for the booking itself under concurrency. Days and
    weeks (Monday to Sunday) are the room's local ones."""
    quota = policy.quota
    if quota is None:
        return None
    tz = zone(room["timezone"])
    day = start.astimezone(tz).date()
    monday = day - timedelta(days=day.weekday())
    bounds = {name: (wall_start, wall_end) for name, wall_start, wall_end in (
        ("day", day, day + timedelta(days=1)), ("week", monday, monday + timedelta(days=7)))}
    edges = {name: (datetime.combine(a, time(0), tz).astimezone(UTC),
                    datetime.combine(b, time(0), tz).astimezone(UTC))
             for name, (a, b) in bounds.items()}
    mine = [t for t in taken if counts(t.room_id)]

    def within(name: str) -> list[Taken]:
        low, high = edges[name]
        return [t for t in mine if low <= t.start.astimezone(UTC) < high]

    checks = (
        ("bookings_per_day", quota.bookings_per_day, lambda: len(within("day")), 1),
        ("bookings_per_week", quota.bookings_per_week, lambda: len(within("week")), 1),
        ("hours_per_week", quota.hours_per_week,
         lambda: sum((t.end - t.start).total_seconds() for t in within("week")) / 3600,
         (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600),
    )
    for name, limit, used_now, adding in checks:
        if limit is None:
            continue
        used = used_now()
        if used + adding > limit:
            return quota_exceeded(name, used, limit, policy.source("quota"))
    return None


def quota_exceeded(name: str, used: float, limit: int, source: Source,
                   for_someone: bool = False) -> Violation:
    """The refusal for a quota, with details quota, used and limit. `for_someone`: the
    quota is the person's the booking is for, not the caller's (said so)."""
    used_shown = round(used, 2) if name == "hours_per_week" else int(used)
    words = _quota_message_for_someone if for_someone else _quota_message
    return Violation("quota_exceeded",
                     words(name, limit=limit, source=source.describe(), used=f"{used_shown:g}"),
                     "start_time", source,
                     (("quota", name), ("used", used_shown), ("limit", limit)))


def _quota_message(name: str, limit: int, **values) -> Any:
    """One whole sentence per quota, so each language can say it its own way (and
    count its limit: "at most 1 booking a day")."""
    if name == "bookings_per_day":
        return lazy_plural("You may have at most %(num)d booking a day here (%(source)s); "
                           "you have %(used)s.",
                           "You may have at most %(num)d bookings a day here (%(source)s); "
                           "you have %(used)s.", limit, **values)
    if name == "bookings_per_week":
        return lazy_plural("You may have at most %(num)d booking a week here (%(source)s); "
                           "you have %(used)s.",
                           "You may have at most %(num)d bookings a week here (%(source)s); "
                           "you have %(used)s.", limit, **values)
    return lazy_plural("You may have at most %(num)d hour a week here (%(source)s); "
                       "you have %(used)s.",
                       "You may have at most %(num)d hours a week here (%(source)s); "
                       "you have %(used)s.", limit, **values)


def _quota_message_for_someone(name: str, limit: int, **values) -> Any:
    """_quota_message() of the person a booking is for (a delegate's, an admin's)."""
    if name == "bookings_per_day":
        return lazy_plural("The person it is for may have at most %(num)d booking a day "
                           "here (%(source)s); they have %(used)s.",
                           "The person it is for may have at most %(num)d bookings a day "
                           "here (%(source)s); they have %(used)s.", limit, **values)
    if name == "bookings_per_week":
        return lazy_plural("The person it is for may have at most %(num)d booking a week "
                           "here (%(source)s); they have %(used)s.",
                           "The person it is for may have at most %(num)d bookings a week "
                           "here (%(source)s); they have %(used)s.", limit, **values)
    return lazy_plural("The person it is for may have at most %(num)d hour a week here "
                       "(%(source)s); they have %(used)s.",
                       "The person it is for may have at most %(num)d hours a week here "
                       "(%(source)s); they have %(used)s.", limit, **values)


def _duration(minutes: int) -> Any:
    """240 -> "4 hours", 90 -> "1 h 30 min", 45 -> "45 minutes" (lazy, like the messages)."""
    hours, rest = divmod(minutes, 60)
    if minutes == 0:
        return lazy_plural("%(num)d minute", "%(num)d minutes", 0)
    if not rest:
        return lazy_plural("%(num)d hour", "%(num)d hours", hours)
    if not hours:
        return lazy_plural("%(num)d minute", "%(num)d minutes", rest)
    return lazy("%(hours)d h %(minutes)d min", hours=hours, minutes=rest)


def quota_refusal(details: Mapping[str, Any], for_someone: bool = False) -> BookingError:
    """The 422 for a quota the database refused a booking by (quota_refusals()'s
    details: quota, used, limit, source); `for_someone` as quota_exceeded()."""
    source = details.get("source") or {}
    return quota_exceeded(details["quota"], details["used"], details["limit"],
                          Source(source.get("level", "organisation"), source.get("id"),
                                 source.get("name")), for_someone).error()
