"""RRULE parsing and expansion in a room's wall-clock time (pure: no database).

We accept the part of RFC 5545 a meeting room needs: FREQ DAILY, WEEKLY,
MONTHLY or YEARLY, INTERVAL, COUNT, UNTIL, BYDAY (ordinals such as 2TU, -1FR
with MONTHLY and YEARLY), BYMONTHDAY (not with WEEKLY: RFC 5545 forbids it),
BYMONTH, BYSETPOS (MONTHLY, YEARLY), WKST. Anything else is refused naming the
part, so nobody books a series that means something other than they think; and
the rule is stored as written (upper case, its parts in order), which is what
mail sends to calendars: nothing it holds is left out of the expansion (an empty
list item, BYDAY=TU,,TH, is refused, not skipped).

Expansion is python-dateutil's, on naive wall-clock times: a weekly 09:00
meeting stays at 09:00 when the clocks change. As in RFC 5545, the first
start (DTSTART) is always the first occurrence and counts towards COUNT.

dateutil looks for the next occurrence until the year 9999 when a rule never
matches again (`until` is only compared with occurrences it finds), and that
took half a second of CPU for FREQ=DAILY;INTERVAL=7;BYDAY=WE from a Tuesday.
Two bounds: rule combinations that can never match (February 30th, BYSETPOS
beyond the set, a month INTERVAL that never lands on BYMONTH) are refused up
front, and every expansion runs 400·k years later (`_LATER`), as close to
the year 9999 as it fits, where dateutil's own end of the calendar stops the
search within 400 years of `until`: at most ~21,000 periods of a 7-day
rule, ~25 ms, instead of 417,000. The Gregorian calendar repeats itself
every 400 years (146,097 days, a whole number of weeks), so the rule's
occurrences there are its occurrences here, moved by whole years. A rule
with no occurrence in the booking window is refused when a series is made
(booking/series/service.py).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from math import gcd
from zoneinfo import ZoneInfo

from dateutil import rrule as du

from babel.dates import get_day_names, get_month_names

from booking.errors import BookingError, invalid
from booking.i18n import _, and_list, locale, ngettext, pgettext
from booking.times import FIRST_DAY, LAST_DAY, UTC

FREQS = {"DAILY": du.DAILY, "WEEKLY": du.WEEKLY, "MONTHLY": du.MONTHLY, "YEARLY": du.YEARLY}
DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
MOST_INTERVAL, MOST_COUNT = 999, 1000   # INTERVAL and COUNT, from 1

PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH",
         "BYSETPOS", "WKST")
# [0-9], not \d: int() reads other scripts' digits ("COUNT=٣" would be 3), and
# the rule goes out in mail as written.
_BYDAY = re.compile(r"([+-]?)([0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"([0-9]{8})(T([0-9]{6})(Z?))?")
# Longest month lengths, February counted as 29: a day that fits no chosen month never comes.
_MONTH_DAYS = {m: (29 if m == 2 else calendar.monthrange(2001, m)[1]) for m in range(1, 13)}


def invalid_recurrence(part: str, message: str) -> BookingError:
    return BookingError("invalid_recurrence", message, field="recurrence",
                        details={"part": part})


@dataclass(frozen=True)
class Rule:
    """A parsed RRULE; `text` is its normal form (no RRULE: prefix, upper case)."""
    text: str
    freq: str
    interval: int = 1
    count: int | None = None
    until: datetime | None = None        # naive, room-local, inclusive
    byday: tuple[tuple[int, int], ...] = ()   # (weekday 0=MO, ordinal or 0)
    bymonthday: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: int = 0
    parts: dict = field(default_factory=dict, compare=False)

    @property
    def open_ended(self) -> bool:
        return self.count is None and self.until is None


def parse(text: object, tz: ZoneInfo) -> Rule:
    """Read an RRULE (with or without the `RRULE:` prefix); 422 invalid_recurrence naming
    the part, 400 invalid when it is not text at all (as every mistyped field)."""
    if text is not None and not isinstance(text, str):
        raise invalid("recurrence", _("%(field)s must be text.", field="recurrence"))
    if not isinstance(text, str) or not text.strip():
        raise invalid_recurrence("RRULE", _("recurrence must be an RRULE such as "
                                            "FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270331."))
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if len(body) > 500:
        raise invalid_recurrence("RRULE", _("That recurrence rule is too long."))
    parts: dict[str, str] = {}
    for chunk in body.split(";"):
        if not chunk:
            continue
        name, sep, value = chunk.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise invalid_recurrence(chunk, _("“%(part)s” is not NAME=VALUE.", part=chunk))
        if name not in PARTS:
            raise invalid_recurrence(name, _("%(name)s is not supported in a room booking "
                                             "(supported: %(parts)s).", name=name,
                                             parts=", ".join(PARTS)))
        if name in parts:
            raise invalid_recurrence(name, _("%(name)s appears twice.", name=name))
        parts[name] = value.strip().upper()

    if "FREQ" not in parts:
        raise invalid_recurrence("FREQ", _("FREQ is required (DAILY, WEEKLY, MONTHLY or "
                                           "YEARLY)."))
    freq = parts["FREQ"]
    if freq not in FREQS:
        raise invalid_recurrence("FREQ", _("FREQ=%(freq)s is not supported: use DAILY, "
                                           "WEEKLY, MONTHLY or YEARLY.", freq=freq))
    if "COUNT" in parts and "UNTIL" in parts:
        raise invalid_recurrence("COUNT", _("Use COUNT or UNTIL, not both."))

    interval = _number(parts, "INTERVAL", 1, MOST_INTERVAL, default=1)
    count = _number(parts, "COUNT", 1, MOST_COUNT, default=None)
    until = _until(parts["UNTIL"], tz) if "UNTIL" in parts else None
    byday = tuple(_byday(v, freq, parts) for v in _list(parts, "BYDAY"))
    bymonthday = tuple(_int_in(v, "BYMONTHDAY", -31, 31) for v in _list(parts, "BYMONTHDAY"))
    bymonth = tuple(_int_in(v, "BYMONTH", 1, 12) for v in _list(parts, "BYMONTH"))
    bysetpos = tuple(_int_in(v, "BYSETPOS", -366, 366) for v in _list(parts, "BYSETPOS"))
    wkst = DAYS.get(parts.get("WKST", "MO"))
    if wkst is None:
        raise invalid_recurrence("WKST", _("WKST is a weekday: MO, TU, WE, TH, FR, SA or SU."))

    rule = Rule(text=";".join(f"{k}={parts[k]}" for k in PARTS if k in parts), freq=freq,
                interval=interval, count=count, until=until, byday=byday,
                bymonthday=bymonthday, bymonth=bymonth, bysetpos=bysetpos, wkst=wkst,
                parts=parts)
    _refuse_impossible(rule)
    return rule


def _list(parts: dict, name: str) -> list[str]:
    """A part's comma-separated items. An empty one (BYDAY=TU,,TH) is refused: left
    out here it would stay in the rule, and a calendar (and our mail) cannot read it."""
    if name not in parts:
        return []
    items = parts[name].split(",")
    if not all(items):
        raise invalid_recurrence(name, _("%(name)s=%(value)s has an empty item: separate its "
                                         "values with one comma each.", name=name,
                                         value=parts[name]))
    return items


def _number(parts: dict, name: str, low: int, high: int, default):
    if name not in parts:
        return default
    return _int_in(parts[name], name, low, high)


def _int_in(value: str, name: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[+-]?[0-9]{1,4}", value):
        raise invalid_recurrence(name, _("%(name)s=%(value)s is not a whole number.", name=name,
                                         value=value))
    number = int(value)
    if not low <= number <= high or number == 0:
        raise invalid_recurrence(name, _("%(name)s must be between %(low)d and %(high)d and "
                                         "not 0.", name=name, low=low, high=high) if low < 0
                                 else _("%(name)s must be between %(low)d and %(high)d.",
                                        name=name, low=low, high=high))
    return number


def _byday(value: str, freq: str, parts: dict) -> tuple[int, int]:
    match = _BYDAY.fullmatch(value)
    if not match:
        raise invalid_recurrence("BYDAY", _("BYDAY=%(value)s is not a weekday like MO, 2TU or "
                                            "-1FR.", value=value))
    sign, number, day = match.groups()
    ordinal = int(number) * (-1 if sign == "-" else 1) if number else 0
    if ordinal:
        if freq not in ("MONTHLY", "YEARLY"):
            raise invalid_recurrence("BYDAY", _("An ordinal weekday (%(value)s) needs "
                                                "FREQ=MONTHLY or YEARLY.", value=value))
        in_month = freq == "MONTHLY" or "BYMONTH" in parts
        most = 5 if in_month else 53
        if not 1 <= abs(ordinal) <= most:
            raise invalid_recurrence("BYDAY", _("%(value)s: there are at most %(most)d of a "
                                                "weekday in a month.", value=value, most=most)
                                     if in_month else
                                     _("%(value)s: there are at most %(most)d of a weekday in "
                                       "a year.", value=value, most=most))
    return DAYS[day], ordinal


def _until(value: str, tz: ZoneInfo) -> datetime:
    """UNTIL as naive room-local time, inclusive: a date means the end of that day."""
    match = _UNTIL.fullmatch(value)
    if not match:
        raise invalid_recurrence("UNTIL", _("UNTIL=%(value)s must be a date (20270331) or a "
                                            "time (20270331T170000Z).", value=value))
    day_text, _time, clock, utc = match.groups()
    try:
        day = datetime.strptime(day_text, "%Y%m%d")
        if clock is None:
            moment = datetime.combine(day.date(), time(23, 59, 59))
        else:
            moment = datetime.strptime(day_text + clock, "%Y%m%d%H%M%S")
    except ValueError:
        raise invalid_recurrence("UNTIL", _("UNTIL=%(value)s is not a real date.",
                                            value=value)) from None
    # The days a client may name (booking.times): moved to the room's zone,
    # 9999-12-31T23:59:59Z in Berlin or 0001-01-01T00:00Z in New York would
    # leave the calendar Python can represent.
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise invalid_recurrence("UNTIL", _("UNTIL must be between %(first)s and %(last)s.",
                                            first=FIRST_DAY.year, last=LAST_DAY.year))
    if clock is None:
        return moment
    if utc:
        return moment.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
    return moment


def _refuse_impossible(rule: Rule) -> None:
    if rule.bymonthday and rule.freq == "WEEKLY":
        # RFC 5545 3.3.10: "The BYMONTHDAY rule part MUST NOT be specified when the
        # FREQ rule part is set to WEEKLY."
        raise invalid_recurrence("BYMONTHDAY", _("BYMONTHDAY cannot be used with "
                                                 "FREQ=WEEKLY."))
    if rule.bysetpos and rule.freq not in ("MONTHLY", "YEARLY"):
        raise invalid_recurrence("BYSETPOS", _("BYSETPOS is supported with FREQ=MONTHLY or "
                                               "YEARLY."))
    months = rule.bymonth or tuple(range(1, 13))
    if rule.bymonthday and not any(abs(d) <= _MONTH_DAYS[m]
                                   for m in months for d in rule.bymonthday):
        raise invalid_recurrence("BYMONTHDAY", _("No chosen month has that day: the rule "
                                                 "would never happen."))
    if rule.bysetpos:
        most = _most_per_period(rule)
        if all(abs(p) > most for p in rule.bysetpos):
            raise invalid_recurrence("BYSETPOS", _("BYSETPOS picks from at most %(most)d days "
                                                   "a period here: the rule would never "
                                                   "happen.", most=most))


def _most_per_period(rule: Rule) -> int:
    """An upper bound of the days one MONTHLY or YEARLY period offers BYSETPOS to pick from."""
    months = 1 if rule.freq == "MONTHLY" else (len(rule.bymonth) or 12)
    per_weekday = 5 if rule.freq == "MONTHLY" or rule.bymonth else 53
    bounds = [31 * months]
    if rule.bymonthday:
        bounds.append(len(rule.bymonthday) * months)
    if rule.byday:
        bounds.append(sum(months if ordinal else per_weekday * months
                          for _, ordinal in rule.byday))
    if not rule.bymonthday and not rule.byday:
        bounds.append(months)  # one day a month: the first start's
    return min(bounds)


def _check_interval_reaches_months(rule: Rule, first: datetime) -> None:
    """MONTHLY with an INTERVAL visits only some months; BYMONTH must include one of them."""
    if rule.freq != "MONTHLY" or not rule.bymonth or rule.interval == 1:
        return
    step = gcd(rule.interval, 12)
    reached = {(first.month - 1 + k * step) % 12 + 1 for k in range(12 // step)}
    if not reached & set(rule.bymonth):
        raise invalid_recurrence("BYMONTH", _("Every INTERVAL months from the first start "
                                              "never lands in a BYMONTH month: the rule would "
                                              "never happen."))


# The Gregorian calendar's cycle: 400 years are 146,097 days, 20,871 weeks.
_CYCLE_YEARS = 400


def _later(moment: datetime, cycles: int) -> datetime:
    """The same wall-clock moment `cycles` 400-year cycles later (or earlier): the
    same weekday, and February 29th stays a leap day."""
    return moment.replace(year=moment.year + cycles * _CYCLE_YEARS)


def matches(rule: Rule, first: datetime, until: datetime) -> list[datetime]:
    """The times the rule itself matches from `first` to `until` (naive, room-local,
    inclusive), `first` only if it matches; COUNT and UNTIL not applied.

    dateutil runs 400·k years later, as close to 9999 as `until` allows, so a
    rule that stops matching is searched to the calendar's end there: at most
    400 years beyond `until` instead of 8,000 (the module's docstring).
    """
    _check_interval_reaches_months(rule, first)
    if until < first:
        return []
    cycles = (datetime.max.year - until.year) // _CYCLE_YEARS
    generator = du.rrule(
        FREQS[rule.freq], dtstart=_later(first, cycles), interval=rule.interval,
        until=_later(until, cycles),
        byweekday=[du.weekday(day, ordinal or None) for day, ordinal in rule.byday] or None,
        bymonthday=rule.bymonthday or None, bymonth=rule.bymonth or None,
        bysetpos=rule.bysetpos or None, wkst=rule.wkst, cache=False)
    found = []
    for moment in generator:
        if rule.count is not None and len(found) >= rule.count:
            break            # COUNT is applied by starts(); no need to look further
        found.append(_later(moment, -cycles))
    return found


def starts(rule: Rule, first: datetime, until: datetime) -> list[datetime]:
    """Occurrence starts from `first` up to `until` (both naive, room-local, inclusive).

    `first` is always the first occurrence; COUNT counts it.
    """
    limit = min(until, rule.until) if rule.until else until
    if limit < first:
        _check_interval_reaches_months(rule, first)
        return [first]
    found = [first]
    for moment in matches(rule, first, limit):
        if rule.count is not None and len(found) >= rule.count:
            break
        if moment != first:
            found.append(moment)
    return found


@dataclass(frozen=True)
class Occurrence:
    start: datetime   # aware
    end: datetime     # aware
    exists: bool      # False when the wall-clock time is skipped by a DST change


def occurrences(rule: Rule, first_local: datetime, duration: timedelta, tz: ZoneInfo,
                horizon: datetime, after: datetime | None = None,
                first: tuple[datetime, datetime] | None = None) -> list[Occurrence]:
    """The occurrences starting no later than `horizon` (aware), and after `after` if given.

    `first_local` is the naive wall-clock first start; each occurrence keeps
    that wall-clock time and lasts `duration` of wall-clock time. `first`, the
    first occurrence's start and end as instants (aware), is that occurrence
    as they say: a start in the hour the clocks repeat (the autumn night) is
    the one asked for, 02:30+01:00 in Berlin, which its wall-clock time alone
    cannot tell from 02:30+02:00. The later occurrences there mean the first
    of the two, as a wall-clock time without an offset does (booking.times).
    """
    local_horizon = horizon.astimezone(tz).replace(tzinfo=None) + timedelta(hours=3)
    result = []
    for n, local_start in enumerate(starts(rule, first_local, local_horizon)):
        if n == 0 and first is not None:
            start, end = first
        else:
            start = local_start.replace(tzinfo=tz, fold=0)
            end = (local_start + duration).replace(tzinfo=tz, fold=0)
        if start > horizon or (after is not None and start <= after):
            continue
        exists = start.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local_start
        if not exists:
            # Skipped, and said so with the time it would have had: its length
            # from where the old offset puts its start (never an end before it).
            end = start.astimezone(UTC) + duration
        result.append(Occurrence(start, end, exists))
    return result


# -- the booking form's "Repeat" section -------------------------------------------------

WEEKDAY_CODES = list(DAYS)


def from_form(form, first: date) -> str | None:
    """Build an RRULE from the booking form's Repeat fields; None for "does not repeat".

    Fields: repeat (none|daily|weekdays|weekly|monthly|yearly), every (N), weekdays
    (MO..SU, several), monthly (day|weekday), ends (never|after|on),
    count, until (YYYY-MM-DD).
    """
    repeat = (form.get("repeat") or "none").lower()
    if repeat == "none":
        return None
    if repeat == "weekdays":   # every weekday, Monday to Friday, each week
        if (form.get("every") or "1").strip() != "1":   # said at its field (bookings/views.py)
            raise invalid_recurrence("INTERVAL", _("“Every weekday” repeats each week: leave "
                                                   "Every at 1, or choose Weekly and tick the "
                                                   "days."))
        return ";".join(["FREQ=WEEKLY", "BYDAY=" + ",".join(WORKING_WEEK), *_ends(form)])
    if repeat not in ("daily", "weekly", "monthly", "yearly"):
        raise invalid_recurrence("FREQ", _("Choose how the booking repeats."))
    parts = [f"FREQ={repeat.upper()}"]
    every = (form.get("every") or "1").strip()
    if every != "1":
        parts.append(f"INTERVAL={every}")
    if repeat == "weekly":
        days = [d for d in WEEKDAY_CODES if d in form.getlist("weekdays")] or \
               [WEEKDAY_CODES[first.weekday()]]
        parts.append("BYDAY=" + ",".join(days))
    elif repeat == "monthly" and form.get("monthly") == "weekday":
        nth = (first.day - 1) // 7 + 1          # the 1st..4th such weekday; a 5th is "the last"
        parts.append(f"BYDAY={-1 if nth == 5 else nth}{WEEKDAY_CODES[first.weekday()]}")
    elif repeat == "monthly":
        parts.append(f"BYMONTHDAY={first.day}")
    return ";".join(parts + _ends(form))


def _ends(form) -> list[str]:
    """The form's "Ends" choice as COUNT or UNTIL (nothing for "never")."""
    ends = form.get("ends") or "never"
    if ends == "after":
        return [f"COUNT={(form.get('count') or '').strip()}"]
    if ends == "on":
        return [f"UNTIL={(form.get('until') or '').replace('-', '').strip()}"]
    return []


# -- a rule in words ------------------------------------------------------------------------

WORKING_WEEK = ["MO", "TU", "WE", "TH", "FR"]


def describe(text: str, ends: bool = True) -> str:
    """An RRULE as a person says it, in the reader's language (booking/i18n.py):
    "FREQ=WEEKLY;BYDAY=TU;COUNT=8" -> "Weekly on Tuesday, 8 times" ("Wöchentlich am
    Dienstag, 8-mal", "Toutes les semaines le mardi, 8 fois"). What it cannot put in
    words it leaves as the rule itself, so nothing is ever hidden. Built from whole
    phrases with their slots ("%(rule)s on %(days)s"), each translated on its own;
    weekday and month names and the lists' "and" are Babel's.

    `ends=False`: without the rule's own end (COUNT, UNTIL), for a series that was
    cut short, whose end is said apart from its rule."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    try:
        parts = dict(chunk.split("=", 1) for chunk in body.upper().split(";") if chunk)
        if not ends:
            parts = {k: v for k, v in parts.items() if k not in ("COUNT", "UNTIL")}
        return _describe(parts)
    except (KeyError, ValueError, IndexError):
        return text


def _describe(parts: dict[str, str]) -> str:
    freq = parts["FREQ"]
    every = int(parts.get("INTERVAL", "1"))
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    if freq == "WEEKLY" and every == 1 and days == WORKING_WEEK:
        words = _("Every weekday (Mon–Fri)")
    else:
        words = _once(freq) if every == 1 else _every(freq, every)
        if days:
            words = _("%(rule)s on %(days)s", rule=words,
                      days=and_list([_weekday(d) for d in days]))
        if "BYMONTHDAY" in parts:
            words = _("%(rule)s on %(days)s", rule=words, days=and_list(
                [_month_day(int(d)) for d in parts["BYMONTHDAY"].split(",")]))
        if "BYMONTH" in parts:
            names = get_month_names("wide", locale=locale())
            words = _("%(rule)s in %(months)s", rule=words, months=and_list(
                [names[int(m)] for m in parts["BYMONTH"].split(",")]))
        if "BYSETPOS" in parts:
            words = _("%(rule)s (%(positions)s of those days)", rule=words, positions=and_list(
                [_ordinal(int(p), alone=True) for p in parts["BYSETPOS"].split(",")]))
    if "COUNT" in parts:
        count = int(parts["COUNT"])
        if count == 1:
            words = _("%(rule)s, once", rule=words)
        else:
            words = ngettext("%(rule)s, %(num)d time", "%(rule)s, %(num)d times", count,
                             rule=words)
    elif "UNTIL" in parts:
        from booking.templating import day   # templating shows rules through this module
        until = datetime.strptime(parts["UNTIL"][:8], "%Y%m%d")
        words = _("%(rule)s, until %(day)s", rule=words, day=day(until.date().isoformat()))
    if locale().language == "fr":
        words = words.replace("le avant-dernier", "l’avant-dernier")   # French elides the article
    return words


def _once(freq: str) -> str:
    return {"DAILY": _("Daily"), "WEEKLY": _("Weekly"), "MONTHLY": _("Monthly"),
            "YEARLY": _("Yearly")}[freq]


def _every(freq: str, every: int) -> str:
    if freq == "DAILY":
        return ngettext("Every %(num)d day", "Every %(num)d days", every)
    if freq == "WEEKLY":
        return ngettext("Every %(num)d week", "Every %(num)d weeks", every)
    if freq == "MONTHLY":
        return ngettext("Every %(num)d month", "Every %(num)d months", every)
    if freq == "YEARLY":
        return ngettext("Every %(num)d year", "Every %(num)d years", every)
    raise KeyError(freq)


def _weekday(code: str) -> str:
    match = _BYDAY.fullmatch(code)
    if not match:
        raise ValueError(code)
    sign, number, day = match.groups()
    name = get_day_names("wide", locale=locale())[DAYS[day]]
    if not number:
        return pgettext("a weekday a rule repeats on", "%(weekday)s", weekday=name)
    return _("the %(nth)s %(weekday)s", weekday=name,
             nth=_ordinal(-int(number) if sign == "-" else int(number)))


def _month_day(number: int) -> str:
    if number < 0:
        return _("the %(nth)s day", nth=_ordinal(number))
    return _("day %(day)d", day=number)


def _ordinal(number: int, alone: bool = False) -> str:
    """1 -> "1st", 22 -> "22nd", -1 -> "last", -2 -> "2nd last", in the reader's language
    ("1.", "letzten"; "1er", "dernier"). `alone`: said on its own, not before a noun
    (German declines it then: "der letzte" of those days, "am letzten" Freitag)."""
    language = locale().language
    if language == "de":
        if number > 0:
            return f"{number}."
        ending = "e" if alone else "en"
        return {-1: "letzt", -2: "vorletzt"}.get(number, f"{-number}.-letzt") + ending
    if language == "fr":
        if number > 0:
            return "1er" if number == 1 else f"{number}e"
        return {-1: "dernier", -2: "avant-dernier"}.get(number, f"{-number}e dernier")
    if number == -1:
        return "last"
    if number < 0:
        return f"{_ordinal(-number)} last"
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
