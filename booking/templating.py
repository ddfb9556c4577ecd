"""How pages are drawn: the Jinja environment, and what every template may call.

- `TemplateEnvironment` reads `row.name` from a dict at once: a page's data
  is rows and JSON, and Jinja's getattr-first lookup raised and caught an
  AttributeError for nearly every one.
- Template globals: `url_for` (links alike on every page built once per
  process), `csrf_token` (signed once per session), `calendar_url`,
  `new_idempotency_key`, `error_field_of`.
- Filters: `hm` ("14:00"), `clock` (an "HH:MM" time of day), `day` ("Mon 4 May
  2026"), `short_day` ("Mon 4 May") of the API's times and dates; `in_zone` (a
  UTC time as "Mon 4 May 2026, 14:00" in a zone); `rule_words` (an RRULE said
  in words); `number`, `decimal`, `percent`. Every date, time and number a page
  shows goes through these, and they write it for the reader's language with
  Babel (booking/i18n.py): "Mo., 4. Mai 2026", "lun. 4 mai 2026". Times stay
  the room's wall-clock time, as the API rendered them.
- Template globals besides: `lang` (what <html lang> says), `weekday_name`,
  `reason_words` and `held_words` (codes said in words), `role_name`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import (format_date, format_time, get_datetime_format, get_day_names,
                         get_time_format, match_skeleton)
from babel.numbers import format_decimal, format_percent
from flask import Flask, g, request, session, templating
from flask.sessions import NullSession
from flask_wtf.csrf import generate_csrf

from booking import i18n, memo, recurrence
from booking.i18n import _
from booking.times import UTC, skipped_wall_clock, zone


class TemplateEnvironment(templating.Environment):
    """Flask's Jinja environment, quicker at `room.name` when `room` is a dict.

    Jinja reads `x.y` as getattr(x, "y") first and x["y"] only after that
    fails; a page's data is dicts (rows, JSON), so nearly every lookup raised
    and caught an AttributeError first: about a tenth of a room's day page.
    A key that is also a dict method (`items`, `get`, ...) is still read
    Jinja's way, so `d.items()` keeps meaning the method.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj and not hasattr(dict, attribute):
            return obj[attribute]
        return super().getattr(obj, attribute)


# Pages ask for a date and two times of day where the API takes two date-times.
FORM_FIELD_FOR = {"start_time": "start", "end_time": "end"}


def error_field_of(error) -> str | None:
    """The form field an error belongs to, so the page shows it there."""
    field = error.details.get("field") if error else None
    return FORM_FIELD_FOR.get(field, field)


def errors_for(error, field: str) -> list[str]:
    """Every message of `error` about the form field `field`: a form reports each
    field's error at once (details.errors from inputs.Collect, details.violations
    from the booking rules), and the error itself when it names the field."""
    if not error:
        return []
    found = [e["message"] for e in error.details.get("errors") or ()
             if FORM_FIELD_FOR.get(e["field"], e["field"]) == field]
    found += [v["message"] for v in error.details.get("violations") or ()
              if FORM_FIELD_FOR.get(v["field"], v["field"]) == field
              and v["message"] not in found]
    if not found and error_field_of(error) == field:
        found.append(error.message)
    return found


def csrf_token() -> str:
    """flask-wtf's CSRF token for this session, signed once per process.

    Its signature carries the time it was made, but tokens never expire
    (WTF_CSRF_TIME_LIMIT=None): one signed earlier for the same session is as
    good, and signing costs a page two HMACs.
    """
    if isinstance(session, NullSession):
        return ""   # an API call judged by its token (booking/http.py): no session, no form
    signed = memo.current().pages.csrf_tokens
    raw = session.get("csrf_token")
    token = signed.get(raw) if isinstance(raw, str) else None
    if token is None:
        token = generate_csrf()
        signed.put(session["csrf_token"], token)
    g.csrf_token = token
    return token


# -- dates, times and numbers in the reader's language (Babel) ---------------------------

# CLDR skeletons: what each filter shows, in whatever order and words a language uses.
DAY, SHORT_DAY = "yMMMEd", "MMMEd"
# English as its pages have always written a day, "Mon 4 May 2026": en_GB's own
# "Mon 4 May" with the year (its yMMMEd adds a comma the pages never had).
PATTERN_OVERRIDES = {("en_GB", DAY): "E d MMM y"}


@lru_cache(maxsize=64)
def _pattern(locale_name: str, skeleton: str) -> str:
    """The date pattern `locale_name` writes `skeleton` with ("E, d. MMM y" in German)."""
    if (locale_name, skeleton) in PATTERN_OVERRIDES:
        return PATTERN_OVERRIDES[(locale_name, skeleton)]
    found = Locale.parse(locale_name).datetime_skeletons
    return found[match_skeleton(skeleton, found)].pattern


@lru_cache(maxsize=16)
def _time_pattern(locale: Locale | str) -> str:
    """The short time pattern of a locale; keyed by the Locale itself (its hash is
    a tuple's), since building its name ("de_DE") anew cost more than the lookup."""
    return get_time_format("short", Locale.parse(locale)).pattern


@lru_cache(maxsize=16)
def _datetime_joiner(locale_name: str) -> str:
    """How a language joins a date and a time ("{1}, {0}")."""
    return get_datetime_format("medium", Locale.parse(locale_name))


def clock(value: str | None) -> str:
    """A wall-clock time of day "HH:MM" ("14:00") as the reader's language writes it.

    English (en_GB), German and French all write "HH:mm", so on every page today
    this is the text as given; a language with another clock gets Babel's."""
    if not value:
        return ""
    locale = i18n.locale()
    pattern = _time_pattern(locale)
    if pattern == "HH:mm":
        return value[:5]
    return format_time(time.fromisoformat(value[:5]), pattern, locale=locale)


def hm(value: str | None) -> str:
    """"2026-05-04T14:00:00+02:00" -> "14:00": the room-local time the API rendered."""
    return clock(value[11:16]) if value else ""


def _date_in(value: str, skeleton: str) -> str:
    locale = i18n.locale()
    return format_date(date.fromisoformat(value[:10]), _pattern(str(locale), skeleton),
                       locale=locale)


def day(value: str | None) -> str:
    """"2026-05-04T14:00:00+02:00" (or "2026-05-04") -> "Mon 4 May 2026"
    ("Mo., 4. Mai 2026", "lun. 4 mai 2026"): the date as given, the room's."""
    return _date_in(value, DAY) if value else ""


def short_day(value: str | None) -> str:
    """"2026-05-04" (or a time on it) -> "Mon 4 May": a day in a week's columns."""
    return _date_in(value, SHORT_DAY) if value else ""


def day_and_time(value: str) -> str:
    """"2026-05-04T14:00:00+02:00" -> "Mon 4 May 2026, 14:00", joined as the language does."""
    joiner = _datetime_joiner(str(i18n.locale()))
    return joiner.replace("{1}", day(value)).replace("{0}", hm(value))


def in_zone(value: str | None, zone_name: str | None) -> str:
    """A UTC time ("2026-05-04T12:00:00Z") as "Mon 4 May 2026, 14:00" in `zone_name`
    (UTC when None): activity and the audit log show each time in its room's zone."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:
        moment = moment.astimezone(zone(zone_name or "UTC"))
    except ValueError:
        moment = moment.astimezone(UTC)
    return day_and_time(moment.isoformat())


def weekday_name(number: int, width: str = "abbreviated") -> str:
    """ISO weekday 1 (Monday) .. 7 as the reader's language names it ("Mo.", "lundi")."""
    return get_day_names(width, locale=i18n.locale())[number - 1]


def number(value: Any) -> str:
    """A whole number: "1,234" ("1.234" in German, "1 234" in French); "—" for none."""
    return "—" if value is None else format_decimal(value, "#,##0", locale=i18n.locale())


def decimal(value: Any) -> str:
    """One decimal: "2.5" ("2,5"); "—" for none."""
    return "—" if value is None else format_decimal(value, "#,##0.0", locale=i18n.locale())


@lru_cache(maxsize=16)
def _percent_pattern(locale_name: str) -> str:
    """The language's percent pattern with one decimal ("#,##0.0\u00a0%" in German)."""
    return Locale.parse(locale_name).percent_formats[None].pattern.replace("#,##0", "#,##0.0", 1)


def percent(share: Any) -> str:
    """A share as a percentage with one decimal: 0.425 -> "42.5%" ("42,5 %"); "—" for none."""
    if share is None:
        return "—"
    locale = i18n.locale()
    return format_percent(share, _percent_pattern(str(locale)), locale=locale)


def reason_words(code: str | None, start_time: str | None = None,
                 zone_name: str | None = None) -> str:
    """Why an occurrence was skipped, from its code ("conflict", "in_past", ...). With
    its start (RFC 3339) and zone, one the clocks skip names the wall-clock time that
    does not exist (02:30), not the time the zone writes it as (03:30+02:00)."""
    if code == "nonexistent_time" and start_time and zone_name:
        wall = skipped_wall_clock(datetime.fromisoformat(start_time), zone(zone_name))
        return _("the clocks skip %(time)s that day", time=clock(f"{wall:%H:%M}"))
    words = {"conflict": _("already taken"), "in_past": _("in the past"),
             "outside_hours": _("outside opening hours"), "too_short": _("too short"),
             "too_long": _("too long"), "crosses_midnight": _("crosses midnight"),
             "beyond_window": _("beyond the booking window"),
             "room_inactive": _("the room cannot be booked"),
             "nonexistent_time": _("the clocks skip this time"),
             "not_whole_minutes": _("not on whole minutes")}
    return words.get(code or "", (code or "").replace("_", " "))


def held_words() -> dict[str, str]:
    """Why free time is held on a drawn day, by reason (booking/timeline.py Limits),
    in the reader's language: translated once per drawing, not once per stretch."""
    return {"buffer": _("kept free between bookings"), "notice": _("too soon to book"),
            "window": _("too far ahead to book"), "short": _("too short to book"),
            "not_permitted": _("only some groups may book this room"),
            "inactive": _("not bookable")}


def role_name(role: str) -> str:
    """"staff" or "admin" as the reader's language says it (the API keeps the code)."""
    return {"staff": _("staff"), "admin": _("administrator")}.get(role, role)


def rule_words(rule: str | None, ends: bool = True) -> str:
    """An RRULE as words in the reader's language: "FREQ=WEEKLY;BYDAY=TU;COUNT=8" ->
    "Weekly on Tuesday, 8 times" ("Wöchentlich am Dienstag, 8-mal"); `ends=False`
    leaves out its COUNT or UNTIL (a series cut short, whose end the page says)."""
    return recurrence.describe(rule, ends) if rule else ""


def init_app(app: Flask) -> None:
    from booking.feeds.service import calendar_url
    from booking.idempotency import new_key

    links = memo.of(app).pages.links

    def url_for(endpoint: str, **values: Any) -> str:
        """Flask's url_for, remembering the links that are alike on every page (the
        menu's, the static files'): built once per process instead of once per link."""
        if endpoint.startswith(".") or not values.keys() <= {"filename"}:
            return app.url_for(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        link = links.get(key)
        return link if link is not None else links.put(key, app.url_for(endpoint, **values))

    app.add_template_global(url_for)
    app.add_template_global(calendar_url)
    app.add_template_global(new_key, "new_idempotency_key")
    app.add_template_global(error_field_of)
    app.add_template_global(errors_for)
    app.add_template_global(i18n.language, "lang")
    app.add_template_global(weekday_name)
    app.add_template_global(reason_words)
    app.add_template_global(held_words)
    app.add_template_global(role_name)
    app.add_template_filter(clock)
    app.add_template_filter(hm)
    app.add_template_filter(number)
    app.add_template_filter(decimal)
    app.add_template_filter(percent)
    app.add_template_filter(day)
    app.add_template_filter(short_day)
    app.add_template_filter(in_zone)
    app.add_template_filter(rule_words)
    # After flask-wtf's own context processor, so this one is what templates call.
    app.context_processor(lambda: {"csrf_token": csrf_token})
