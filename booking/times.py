"""Reading times from clients and placing them in a room's zone.

API times are RFC 3339 strings. One with an offset is an instant; one without
is wall-clock time in the room's zone (the zone of the room being booked or
viewed). Dates (`YYYY-MM-DD`) are room-local days.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from booking.errors import invalid
from booking.i18n import _, field_name

UTC = timezone.utc
# [0-9], not \d: \d also matches other scripts' digits ("0٩:00"), which the
# parsers behind these patterns refuse with an error we would not catch.
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
                       r"(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|z|[+-][0-9]{2}:[0-9]{2})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")

# The zones the room forms offer first (any IANA name is accepted).
COMMON_ZONES = ("Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York",
                "America/Chicago", "America/Los_Angeles", "Asia/Tokyo", "Asia/Kolkata",
                "Australia/Sydney", "UTC")


@lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    """The IANA zone names known here. Not every file a ZoneInfo can load: not
    "localtime" (whatever the machine is set to, which PostgreSQL may not know
    or may take differently), nor the "posix/" and "right/" copies."""
    return frozenset(available_timezones() - {"localtime"})


def zone(name: object) -> ZoneInfo:
    """The ZoneInfo for an IANA name; ValueError for anything else (a list too)."""
    if not isinstance(name, str) or name not in _iana_names():
        raise ValueError(f"not a time zone: {name!r}")
    return _zone(name)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"not a time zone: {name!r}") from None


# Dates a client may name. Far narrower than what Python can represent, so
# moving a time to another zone, or a day to the next, never overflows
# (9999-12-31T23:00-05:00 in Berlin would be in the year 10000).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def _in_range(day: date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise invalid(field, _("%(field)s must be between %(first)s and %(last)s.", field=field_name(field),
                               first=FIRST_DAY.year, last=LAST_DAY.year))


def parse_datetime(value: object, field: str) -> datetime:
    """An RFC 3339 date-time; naive when the client gave no offset."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value.strip()):
        raise invalid(field, _("%(field)s must be a date and time like 2026-05-04T14:00 "
                               "or 2026-05-04T14:00:00+02:00.", field=field_name(field)))
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, _("%(field)s is not a real date and time.", field=field_name(field))) from None
    _in_range(moment.date(), field)
    return moment


def for_calendar(moment: datetime, tz: ZoneInfo) -> datetime:
    """`moment` in `tz` for an iCalendar DTSTART or DTEND, or in UTC where that
    zone's clock shows the same time twice and this is the second (the night the
    clocks go back): a time with TZID names the first (RFC 5545 3.3.5)."""
    local = moment.astimezone(tz)
    return local.astimezone(UTC) if local.fold else local


def localize(moment: datetime, tz: ZoneInfo, field: str) -> datetime:
    """Read a naive time as wall-clock time in `tz`; leave an instant alone.

    A wall-clock time skipped by a daylight-saving change (02:30 on the
    spring-forward night in Berlin) does not exist and is refused; a repeated
    one (the autumn night) means its first occurrence.
    """
    if moment.tzinfo is not None:
        return moment
    aware = moment.replace(tzinfo=tz, fold=0)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment:
        raise invalid(field, _("%(moment)s does not exist in %(zone)s (the clocks skip it).",
                               moment=f"{moment:%Y-%m-%d %H:%M}", zone=tz.key))
    return aware


def skipped_wall_clock(moment: datetime, tz: ZoneInfo) -> datetime:
    """The wall-clock time (naive) that a time the clocks skip was asked as, from where
    the zone puts it (`moment`, read with the offset before the change): 03:30+02:00
    on 28 March 2027 in Berlin was asked as 02:30. A gap lasts an hour or two, and
    changes are months apart: three hours earlier the zone had the offset before it."""
    before = (moment.astimezone(UTC) - timedelta(hours=3)).astimezone(tz).utcoffset()
    return (moment.astimezone(UTC) + before).replace(tzinfo=None)


def parse_date(value: object, field: str = "date") -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
        raise invalid(field, _("%(field)s must be a date like 2026-05-04.", field=field_name(field)))
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise invalid(field, _("%(field)s is not a real date.", field=field_name(field))) from None
    _in_range(day, field)
    return day


def date_range(start: object, end: object = None, *, most_days: int = 31,
               fields: tuple[str, str] = ("from", "to")) -> tuple[date, date]:
    """Two room-local days, the first and the last included: ("2027-03-01",
    "2027-03-31") is 31 days. Without `end`, the one day `start`. Refuses (400,
    naming the field) a last day before the first, and more than `most_days`
    days, so no list a client can ask for grows without bound.
    """
    def day(value: object, field: str) -> date:
        is_day = isinstance(value, date) and not isinstance(value, datetime)
        return value if is_day else parse_date(value, field)  # type: ignore[return-value]

    first_field, last_field = fields
    first = day(start, first_field)
    last = first if end is None or end == "" else day(end, last_field)
    if last < first:
        raise invalid(last_field, _("%(last)s must not be before %(first)s.", last=last_field,
                                    first=first_field))
    if (last - first).days + 1 > most_days:
        raise invalid(last_field, _("At most %(most)d days at a time.", most=most_days))
    return first, last


def parse_hm(value: object, field: str) -> time:
    """A wall-clock time of day, "HH:MM"."""
    if not isinstance(value, str) or not _HM.fullmatch(value.strip()):
        raise invalid(field, _("%(field)s must be a time of day like 09:00.", field=field_name(field)))
    return time.fromisoformat(value.strip())


def wall_instant(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) a room's clock first reads `clock` or later on `day`: when
    "opens at 02:30" and "closes at 02:30" happen that day.

    Most days that is simply the time. When the time repeats (the night the
    clocks go back), it is the first of the two. When the clocks skip it (the
    night they go forward, 02:00 -> 03:00 in Berlin), it is the moment they
    skip to (03:00), as a clock on the wall shows it; zoneinfo, and PostgreSQL's
    AT TIME ZONE, would read it with the offset from before the jump (03:30).
    SQL's wall_instant() (sql/017_wall_clock.sql) is the same
    definition, so the rules, free time, the finder's SQL and the reports agree.
    """
    naive = datetime.combine(day, clock)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # Skipped. Read with the offset from after the jump it lies before the jump;
    # walk on a minute at a time (a jump is an hour or two) to where it lands.
    moment = naive.replace(tzinfo=tz, fold=1).astimezone(UTC).replace(second=0, microsecond=0)
    while moment.astimezone(tz).replace(tzinfo=None) < naive:
        moment += timedelta(minutes=1)
    return moment


def rfc3339(moment: datetime, tz: ZoneInfo) -> str:
    """The same rendering as SQL's rfc3339(): room-local, with its offset, to the second.
    Through UTC: a wall-clock time the clocks skip, already in `tz` (an occurrence's),
    is written as the zone says that instant (03:30+02:00, not 02:30+01:00)."""
    return moment.astimezone(UTC).astimezone(tz).replace(microsecond=0).isoformat()
