"""Policies as data: what an area or room sets, checked; a room's effective policy.

A level (an area, a room) stores the fields it sets as a JSON object
(`areas.policy`, `rooms.policy`, sql/040); `clean()` checks what an admin
sends before it is written. The database resolves the levels (room_policy(),
area_policy(): each field from the nearest level that sets it, with that
level as its source); `effective()` fills in what no level sets from the
organisation's defaults (the settings) and gives the pure rules
(booking.rules.Policy) their input. `as_json()` is what the API and the
policy sections of the admin pages show: every field's effective value and
where it comes from.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any, Mapping

from booking import inputs
from booking.errors import invalid
from booking.rules import ORGANISATION, WEEKDAYS, Policy, Quota, Source
from booking.times import parse_hm
from booking.i18n import _, ngettext

FIELDS = ("min_minutes", "max_minutes", "opening_hours", "closed_dates", "max_days_ahead",
          "min_notice_minutes", "buffer_minutes", "quota", "approval_required", "bookers",
          "approvers")
QUOTA_FIELDS = ("bookings_per_day", "bookings_per_week", "hours_per_week")

# field -> (lowest, highest) for the whole-number fields.
NUMBERS = {"min_minutes": (1, 1440), "max_minutes": (1, 1440), "max_days_ahead": (0, 3650),
           "min_notice_minutes": (0, 525_600), "buffer_minutes": (0, 240)}
QUOTA_LIMITS = {"bookings_per_day": (1, 1000), "bookings_per_week": (1, 1000),
                "hours_per_week": (1, 168)}
MOST_CLOSED_DATES = 400
MOST_GROUPS = 100
_YEARLY = re.compile(r"[0-9]{2}-[0-9]{2}")


# -- what an admin sends -------------------------------------------------------------

def clean(data: Any, field: str = "policy") -> dict[str, Any]:
    """The fields `data` sets or unsets: {name: value} with None meaning "unset here"
    (inherit). 400 naming `policy.<name>` for anything malformed (the first; every
    field's in details.errors)."""
    if not isinstance(data, dict):
        raise invalid(field, _("%(field)s must be an object of policy fields.", field=field))
    inputs.only(data, frozenset(FIELDS))
    check = inputs.Collect()     # every field's error at once (the policy form shows each)
    found = {name: None if value is None else check(_CLEANERS[name], value, f"{field}.{name}")
             for name, value in data.items()}
    shortest, longest = found.get("min_minutes"), found.get("max_minutes")
    if shortest is not None and longest is not None and shortest > longest:
        check.fail(f"{field}.min_minutes", _("The shortest booking (%(min)d minutes) is "
                                             "longer than the longest (%(max)d minutes).",
                                             min=shortest, max=longest))
    check.done()
    return found


def merged(stored: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A level's policy after `changes` (from clean()): None removes a field."""
    result = dict(stored)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def groups_named(policy: Mapping[str, Any]) -> list[int]:
    """Every group id a policy names (to check they exist when it is written)."""
    return sorted({g for name in ("bookers", "approvers") for g in policy.get(name) or ()})


def _number(name: str):
    low, high = NUMBERS[name]
    return lambda value, field: inputs.integer(value, field, low=low, high=high)


def _hours(value: Any, field: str) -> dict[str, list[str] | None]:
    """{"mon": ["09:00", "18:00"], ..., "sun": null}: a day left out is closed."""
    if not isinstance(value, dict):
        raise invalid(field, _("%(field)s is an object like %(example)s.", field=field,
                               example='{"mon": ["09:00", "18:00"], "sun": null}'))
    inputs.only(value, frozenset(WEEKDAYS))
    hours: dict[str, list[str] | None] = {}
    for day in WEEKDAYS:
        pair = value.get(day)
        where = f"{field}.{day}"
        if pair is None:
            hours[day] = None
            continue
        if not isinstance(pair, list) or len(pair) != 2:
            raise invalid(where, _("%(field)s is [opens, closes] like %(example)s, or null "
                                   "when closed.", field=where, example='["09:00", "18:00"]'))
        opens, closes = parse_hm(pair[0], where), parse_hm(pair[1], where)
        if opens >= closes:
            raise invalid(where, _("%(field)s: the room must close after it opens.", field=where))
        hours[day] = [opens.strftime("%H:%M"), closes.strftime("%H:%M")]
    return hours


def _dates(value: Any, field: str) -> list[str]:
    """["2027-12-24", "12-25"]: a date, or a month and day for every year."""
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",")]
    if not isinstance(value, list):
        raise invalid(field, _("%(field)s is a list of dates (2027-12-24) or yearly dates "
                               "(12-25).", field=field))
    found: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise invalid(field, _("%(field)s is a list of dates (2027-12-24) or yearly dates "
                                   "(12-25).", field=field))
        text = item.strip()
        if not text:
            continue
        try:
            if _YEARLY.fullmatch(text):
                date.fromisoformat(f"2000-{text}")     # a leap year: 02-29 is a date
            elif len(text) == 10:
                date.fromisoformat(text)
            else:
                raise ValueError(text)
        except ValueError:
            raise invalid(field, _("%(text)s in %(field)s is not a date (2027-12-24) or a "
                                   "yearly date (12-25).", text=repr(text), field=field)) from None
        if text not in found:
            found.append(text)
    if len(found) > MOST_CLOSED_DATES:
        raise invalid(field, _("%(field)s has at most %(num)d dates.", field=field,
                               num=MOST_CLOSED_DATES))
    return sorted(found)


def _quota(value: Any, field: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise invalid(field, _("%(field)s is an object like %(example)s.", field=field,
                               example='{"bookings_per_day": 3}'))
    inputs.only(value, frozenset(QUOTA_FIELDS))
    quota = {}
    for name in QUOTA_FIELDS:
        if value.get(name) is not None:
            low, high = QUOTA_LIMITS[name]
            quota[name] = inputs.integer(value[name], f"{field}.{name}", low=low, high=high)
    if not quota:
        raise invalid(field, _("%(field)s sets at least one of %(names)s (or send null to "
                               "inherit it).", field=field, names=", ".join(QUOTA_FIELDS)))
    return quota


def _groups(value: Any, field: str) -> list[int]:
    if not isinstance(value, list):
        raise invalid(field, _("%(field)s is a list of group ids (empty: everyone).", field=field))
    if len(value) > MOST_GROUPS:
        raise invalid(field, _("%(field)s names at most %(num)d groups.", field=field,
                               num=MOST_GROUPS))
    return sorted({inputs.integer(v, field) for v in value})


_CLEANERS = {
    **{name: _number(name) for name in NUMBERS},
    "opening_hours": _hours,
    "closed_dates": _dates,
    "quota": _quota,
    "approval_required": lambda value, field: inputs.boolean(value, field),
    "bookers": _groups,
    "approvers": _groups,
}


# -- the effective policy ---------------------------------------------------------------

def effective(resolved: Mapping[str, Any] | None, config: Mapping[str, Any]) -> Policy:
    """The rules' Policy from room_policy()'s answer ({"fields": {name: {"value",
    "source"}}, "areas": [...]}): each field the levels set, with its source; the
    organisation's defaults (the settings) for the rest."""
    base = Policy.from_config(config)
    fields = (resolved or {}).get("fields") or {}
    values: dict[str, Any] = {}
    sources = []
    for name, entry in fields.items():
        if name not in _CONVERT:
            continue
        values[name] = _CONVERT[name](entry["value"])
        sources.append((name, source_of(entry["source"])))
    return Policy(**{**_defaults(base), **values}, sources=tuple(sorted(sources)))


def _defaults(base: Policy) -> dict[str, Any]:
    return {"min_minutes": base.min_minutes, "max_minutes": base.max_minutes,
            "max_days_ahead": base.max_days_ahead}


def source_of(data: Mapping[str, Any]) -> Source:
    """A value's source as room_policy() writes it ({"level", "id", "name"})."""
    return Source(data["level"], data.get("id"), data.get("name"))


def _opening(value: Mapping[str, Any]) -> tuple:
    return tuple(None if value.get(day) is None
                 else (time.fromisoformat(value[day][0]), time.fromisoformat(value[day][1]))
                 for day in WEEKDAYS)


_CONVERT = {
    **{name: int for name in NUMBERS},
    "opening_hours": _opening,
    "closed_dates": frozenset,
    "quota": lambda v: Quota(**{k: v.get(k) for k in QUOTA_FIELDS}),
    "approval_required": bool,
    "bookers": frozenset,
    "approvers": frozenset,
}


def areas_of(resolved: Mapping[str, Any] | None) -> tuple[int, ...]:
    """The areas a room is in, nearest first (room_policy()'s "areas")."""
    return tuple((resolved or {}).get("areas") or ())


def as_json(policy: Policy, room: Mapping[str, Any] | None = None,
            group_names: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Every field's effective value and where it comes from:
    {field: {"value", "source": {"level", "id", "name"}}}. Without opening hours
    set anywhere, a room's are its own opening and closing times every day
    (source: the room); an area's are null (each room's own)."""
    names = group_names or {}
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(policy, name)
        source = policy.source(name)
        if name == "opening_hours":
            if value is None and room is not None:
                value = {day: [room["opens"], room["closes"]] for day in WEEKDAYS}
                source = Source("room", room["id"], room["name"])
            elif value is not None:
                value = {day: None if hours is None else [hours[0].strftime("%H:%M"),
                                                          hours[1].strftime("%H:%M")]
                         for day, hours in zip(WEEKDAYS, value)}
        elif name == "closed_dates":
            value = sorted(value)
        elif name == "quota":
            value = None if value is None else {k: getattr(value, k) for k in QUOTA_FIELDS
                                                if getattr(value, k) is not None}
        elif name in ("bookers", "approvers"):
            value = [{"id": g, "name": names.get(g)} for g in sorted(value)]
        out[name] = {"value": value, "source": source.as_json(), "text": describe(name, value)}
    return out


def problems(effective: Mapping[str, Any]) -> list[str]:
    """What makes a policy in effect (as_json()) book nothing at all, in words: levels
    that each passed their own check can combine into it, so the policy pages say
    it rather than refuse it. Empty when something can be booked."""
    def value(name: str) -> Any:
        return (effective.get(name) or {}).get("value")

    found = []
    shortest, longest = value("min_minutes"), value("max_minutes")
    if shortest and longest and shortest > longest:
        found.append(_("The shortest booking (%(shortest)s) is longer than the longest "
                       "(%(longest)s): nothing can be booked here until one of them changes.",
                       shortest=describe("min_minutes", shortest),
                       longest=describe("max_minutes", longest)))
    hours = value("opening_hours")
    if isinstance(hours, dict):
        open_days = [pair for pair in hours.values() if pair]
        if not open_days:
            found.append(_("It is closed every day of the week: nothing can be booked here."))
        elif shortest and all(_minutes_between(*pair) < shortest for pair in open_days):
            found.append(_("No day's opening hours are as long as the shortest booking "
                           "(%(shortest)s): nothing can be booked here.",
                           shortest=describe("min_minutes", shortest)))
    notice, days = value("min_notice_minutes"), value("max_days_ahead")
    if notice and days is not None and notice > days * 24 * 60:
        found.append(_("The notice (%(notice)s) is longer than the booking window "
                       "(%(window)s): nothing can be booked here.",
                       notice=describe("min_notice_minutes", notice),
                       window=describe("max_days_ahead", days)))
    return found


def _minutes_between(opens: str, closes: str) -> int:
    """ "09:00", "09:30" -> 30."""
    return (int(closes[:2]) * 60 + int(closes[3:5])) - (int(opens[:2]) * 60 + int(opens[3:5]))


def describe(name: str, value: Any) -> str:
    """A value as the policy sections show it, in the reader's language: "4 hours",
    "Mon 09:00–18:00; ...", ..."""
    if name in ("min_minutes", "max_minutes", "min_notice_minutes", "buffer_minutes"):
        from booking.rules import _duration
        return str(_duration(value))
    if name == "max_days_ahead":
        return ngettext("%(num)d day", "%(num)d days", value)
    if name == "approval_required":
        return _("yes") if value else _("no")
    if name == "closed_dates":
        return ", ".join(value) if value else _("none")
    if name == "quota":
        if not value:
            return _("none")
        return ", ".join(_quota_text(k, n) for k, n in value.items())
    if name in ("bookers", "approvers"):
        if not value:
            return _("everyone") if name == "bookers" else _("administrators")
        return ", ".join(g["name"] or _("group %(id)s", id=g["id"]) for g in value)
    if name == "opening_hours":
        if value is None:
            return _("each room's own hours")
        return "; ".join(f"{_day_name(day)} "
                         f"{_('closed') if h is None else f'{h[0]}–{h[1]}'}"
                         for day, h in value.items())
    return str(value)


def _quota_text(kind: str, n: int) -> str:
    if kind == "bookings_per_day":
        return ngettext("%(num)d booking a day", "%(num)d bookings a day", n)
    if kind == "bookings_per_week":
        return ngettext("%(num)d booking a week", "%(num)d bookings a week", n)
    return ngettext("%(num)d hour a week", "%(num)d hours a week", n)


def _day_name(day: str) -> str:
    """"mon" -> "Mon", in the reader's language (Babel's abbreviated weekday)."""
    from babel.dates import get_day_names

    from booking.i18n import locale
    return get_day_names("abbreviated", locale=locale())[WEEKDAYS.index(day)]


ORGANISATION_SOURCE = ORGANISATION.as_json()
