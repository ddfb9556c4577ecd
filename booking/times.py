"""Reading times from clients and placing them in a room's zone.

API times are RFC 3339 strings. One with an offset is an instant; one without
is wall-clock time in the room's zone (the zone of the room being booked or
viewed). Dates (`YYYY-MM-DD`) are room-local days.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from booking.errors import invalid

UTC = timezone.utc
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                       r"(Z|z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; ValueError when there is none.

    The type is checked before the cache sees the value: a JSON object or list
    sent as a time zone is unhashable, and must be a ValueError, not a TypeError.
    """
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")):
        raise ValueError(name)
    return _zone(name)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(name) from None


def parse_datetime(value: object, field: str) -> datetime:
    """An RFC 3339 date-time; naive when the client gave no offset."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value.strip()):
        raise invalid(field, f"{field} must be a date and time like 2026-05-04T14:00 "
                             "or 2026-05-04T14:00:00+02:00.")
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, f"{field} is not a real date and time.") from None


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
        raise invalid(field, f"{moment:%Y-%m-%d %H:%M} does not exist in {tz.key} "
                             "(the clocks skip it).")
    return aware


def parse_date(value: object, field: str = "date") -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
        raise invalid(field, f"{field} must be a date like 2026-05-04.")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise invalid(field, f"{field} is not a real date.") from None


def parse_hm(value: object, field: str) -> time:
    """A wall-clock time of day, "HH:MM"."""
    if not isinstance(value, str) or not _HM.fullmatch(value.strip()):
        raise invalid(field, f"{field} must be a time of day like 09:00.")
    return time.fromisoformat(value.strip())


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants at which a local day starts and the next one starts.

    On a daylight-saving day these are 23 or 25 hours apart.
    """
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def local_today(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()


def rfc3339(moment: datetime, tz: ZoneInfo) -> str:
    """The same rendering as SQL's rfc3339(): room-local, with its offset, to the second."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()
