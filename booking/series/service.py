"""Recurring bookings: create a series, look at it, change it, cancel it, extend it.

A series is booked as its occurrences, each an ordinary row in `bookings`,
materialised a week past the booking window (BOOKING_WINDOW_DAYS + AHEAD_DAYS
from now), so no future occurrence becomes bookable by someone else before
its series has claimed it. Every occurrence passes every booking rule and
the exclusion constraint. The delivery worker moves the horizon forward at
start and at least hourly (`series extend` does the same for cron); an
occurrence taken by then is recorded as skipped and its organiser told.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from flask import current_app

from booking import availability, db, idempotency, inputs, pagination, policy, recurrence, rules
from booking.auth import User
from booking.errors import BookingError, invalid, not_found
from booking.finder.service import Alternatives
from booking.rooms import service as rooms
from booking.times import LAST_DAY, UTC, localize, parse_datetime, rfc3339, zone
from booking.i18n import LazyString, _, lazy, lazy_day, ngettext
from booking.templating import clock, day_and_time

# How far past the booking window a series holds its occurrences: a week, so
# the hourly extension has days to spare before a day enters the window.
AHEAD_DAYS = 7

NO_PEOPLE = {"attendees": None, "invitees": [], "notes": None}

# book_series() (sql/042) under bookings_no_overlap: the series and its
# occurrences through book(), under the room's policy read in this statement
# (buffer, approval, the owner's quota); when it refused (no series made), the
# finder's query for other rooms at the first occurrence, in the same statement.
BOOK_SERIES_SQL = f"""
WITH b AS MATERIALIZED (
    SELECT kind, requested_start, data
      FROM book_series(%(room)s, %(owner)s, %(title)s, %(rrule)s, %(tz)s, %(first)s,
                       %(minutes)s, %(horizon)s, %(starts)s, %(ends)s, %(skip)s,
                       %(creator)s, %(attendees)s::int, %(invitees)s::text[], %(notes)s::text,
                       %(admin)s, %(overrides)s::text[], %(rule_starts)s::timestamptz[],
                       %(rule_ends)s::timestamptz[], %(rule_reasons)s::text[]))
SELECT kind, requested_start, data FROM b
UNION ALL
SELECT 'alternatives', NULL, {Alternatives.sql("true")}
 WHERE NOT EXISTS (SELECT 1 FROM b WHERE kind IN ('series', 'refused'))"""

# series_pkey; bookings_series for the live occurrences, keyset on (start_at, id)
GET_SQL = """
SELECT series_json(s) AS series, r.name AS room_name, u.name AS user_name,
       coalesce((SELECT json_agg(json_build_object('booking', o.booking, 'start_at', o.start_at,
                                                   'id', o.id) ORDER BY o.start_at, o.id)
                   FROM (SELECT booking_json(b) AS booking, b.start_at, b.id
                           FROM booking_api b
                          WHERE b.series_id = s.id AND b.live
                            AND (b.start_at, b.id) > (%(after_at)s, %(after_id)s)
                          ORDER BY b.start_at, b.id
                          LIMIT %(limit)s) o), '[]') AS occurrences,
       coalesce((SELECT json_agg(json_build_object(
                        'start_time', rfc3339(k.start_at, s.timezone),
                        'end_time', rfc3339(k.end_at, s.timezone),
                        'reason', k.reason) ORDER BY k.start_at)
                   FROM series_skips k
                  WHERE k.series_id = s.id AND k.reason <> 'cancelled'), '[]') AS skipped
  FROM series s JOIN rooms r ON r.id = s.room_id JOIN users u ON u.id = s.user_id
 WHERE s.id = %(id)s"""

# One statement: who may is decided inside, so a refused cancel changes nothing.
# Cut shorter, the series tells it (series.cancelled): the occurrences it cancels
# are quiet (sql/085). Not cut shorter (from past where a split already ended it),
# there is no such event: an occurrence changed on its own that the old part kept
# past its cut is told as itself.
CANCEL_SQL = """
WITH target AS (  -- names the actor for the audit log (sql/007)
    SELECT s.id, s.user_id, set_config('booking.actor', %(actor)s::text, true),
           set_config('booking.quiet_series',
                      CASE WHEN %(from)s < coalesce(s.cancelled_from, 'infinity')
                           THEN s.id::text ELSE '' END, true)
      FROM series s WHERE s.id = %(id)s),
allowed AS (
    SELECT t.id FROM target t
     WHERE t.user_id = %(actor)s OR %(admin)s
        OR EXISTS (SELECT 1 FROM delegates d
                    WHERE d.user_id = t.user_id AND d.delegate_id = %(actor)s)),
series_done AS (
    UPDATE series s
       SET cancelled_from = least(coalesce(s.cancelled_from, 'infinity'), %(from)s),
           cancelled_at = CASE WHEN %(whole)s THEN coalesce(s.cancelled_at, now())
                               ELSE s.cancelled_at END,
           -- Who cancelled (series.cancelled says so): kept once the whole series is.
           cancelled_by = CASE WHEN s.cancelled_at IS NULL THEN %(actor)s
                               ELSE s.cancelled_by END
      FROM allowed a WHERE s.id = a.id
 RETURNING s AS row),
bookings_done AS (
    UPDATE bookings b SET cancelled_at = now(), cancelled_by = %(actor)s
      FROM allowed a
     WHERE b.series_id = a.id AND b.cancelled_at IS NULL AND b.start_at >= %(from)s
 RETURNING b.id)
SELECT t.user_id,
       (SELECT series_json(d.row) FROM series_done d) AS series,
       (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM bookings_done) AS cancelled
  FROM target t"""

# series_live_horizon: the series whose horizon lags behind, with their rooms,
# of people still active: a deactivated person's series stop booking (what is
# booked stays, unless an admin cancels it: booking/users/service.py).
# The live series held less far than their room's horizon: series_live_horizon
# bounds the range by the longest window any policy may set, and each series is
# then compared with its own room's (room_policy(): a room whose window is
# longer than the organisation's keeps its series held that far too).
LAGGING_SQL = """
SELECT s.id, s.rrule, s.first_start, s.duration_minutes, s.timezone, s.materialized_until,
       s.cancelled_from, room_json(r) AS room, p.policy,
       u.role = 'admin' AS by_admin
  FROM series s JOIN rooms r ON r.id = s.room_id JOIN users u ON u.id = s.user_id
 CROSS JOIN LATERAL (SELECT room_policy(r.id) AS policy) p
 WHERE s.cancelled_at IS NULL AND s.materialized_until < %(horizon)s AND s.id > %(after)s
   AND u.active AND s.status IN ('confirmed', 'pending')
   AND s.materialized_until < %(now)s + make_interval(days => coalesce(
           (p.policy->'fields'->'max_days_ahead'->>'value')::integer, %(window_days)s)
           + %(ahead_days)s)
 ORDER BY s.id
 LIMIT %(batch)s"""

EXTEND_SQL = """
SELECT booked, skipped
  FROM extend_series(%(id)s, %(from)s, %(until)s, %(starts)s, %(ends)s,
                     %(rule_starts)s, %(rule_ends)s, %(rule_reasons)s)"""

MOST_LISTED = 50  # rule breaks listed in a 422; `count` says how many occurrences break one


def horizon(now: datetime, policy: rules.Policy) -> datetime:
    """Occurrences are materialised up to here: a week past the room's booking window."""
    return now.astimezone(UTC) + timedelta(days=policy.max_days_ahead + AHEAD_DAYS)


def ahead(policy: rules.Policy) -> rules.Policy:
    """The policy a series' later occurrences are held to: the window reaches as far
    as the series is materialised (its first occurrence keeps the usual window)."""
    return dataclasses.replace(policy, max_days_ahead=policy.max_days_ahead + AHEAD_DAYS)


def create(user: User, room_id: int, title: str, start_raw: datetime, end_raw: datetime,
           rule_text: Any, skip_conflicts: bool, now: datetime,
           key: idempotency.Key | None = None, request_data: Any = None,
           people: Mapping[str, Any] | None = None,
           booked_for: str | None = None) -> dict[str, Any]:
    """Book a recurring series: {"series", "bookings", "skipped"}, or BookingError.

    Every occurrence passes the room's effective policy (rules.verdict); the
    quota (the owner's) counts every occurrence, and where approval is
    required the series asks once: it and all its occurrences are pending
    until decided."""
    people = dict(people or NO_PEOPLE)
    with db.connection() as conn:
        room, tz, start, end = rooms.for_booking(conn, room_id, start_raw, end_raw,
                                                 booked_for, user)
        until = horizon(now, room["policy"])
        rule = recurrence.parse(rule_text, tz)
        _refuse_a_past_start(start, end, now)
        first_local = start.astimezone(tz).replace(tzinfo=None)
        length = end.astimezone(tz).replace(tzinfo=None) - first_local
        owner = room.get("owner_id") or user.id
        booker = rules.Booker.for_owner(user, owner, room.get("owner_groups"))
        _refuse_a_far_start(room, start, end, now, booker)
        _refuse_never_matching(rule, first_local, until.astimezone(tz).replace(tzinfo=None))
        found = recurrence.occurrences(rule, first_local, length, tz, until,
                                       first=(start, end))
        judged = _refuse_rule_breaks(room, found, now, booker, skip=skip_conflicts)
        _refuse_party(room, people["attendees"])
        alternatives = Alternatives(room, start, end, people["attendees"], now, booker, owner)
        args = {"room": room_id, "user": user.id, "owner": owner,
                "creator": user.id, "title": title, "rrule": rule.text,
                "tz": tz.key, "first": start, "minutes": _minutes(start, end),
                "horizon": until, "skip": skip_conflicts, **people,
                "admin": user.is_admin, **judged.params()}
        if key is None:
            rows = conn.execute(BOOK_SERIES_SQL, {**args, **alternatives.params()}).fetchall()
        else:
            rows = idempotency.rows(idempotency.book_once(
                conn, key, user.id, now, "series", request_data, args, alternatives))

    series = next((r["data"] for r in rows if r["kind"] == "series"), None)
    if series is None:
        refused = next((r for r in rows if r["kind"] == "refused"), None)
        if refused is not None:
            raise _over_quota(refused["data"], len(found))
        raise _conflict(room, rows, judged.bookable, now, booker, alternatives)
    return {"series": series,
            "bookings": [r["data"] for r in rows if r["kind"] == "created"],
            "skipped": [r["data"] for r in rows if r["kind"] == "skipped"]}


def _refuse_a_past_start(start: datetime, end: datetime, now: datetime) -> None:
    """The rules no room or role changes (in_past, whole minutes), for the first
    occurrence, before the rule is expanded: from a start in 1900, a daily rule made
    ~46,000 occurrences to the horizon, each checked, seconds of CPU to answer a
    422 that the first one decides."""
    error = rules.as_error(rules.check_interval(start, end, now))
    if error is not None:
        raise error


def _refuse_a_far_start(room: Mapping[str, Any], start: datetime, end: datetime,
                       now: datetime, booker: rules.Booker) -> None:
    """422 beyond_window for a first start past the booking window, as the same times
    alone are refused, before the rule is looked at: the booking window holds no
    occurrence of it then, whatever its weekdays (an administrator books past it)."""
    judged = rules.verdict(room, start, end, now, room["policy"], booker)
    error = rules.as_error([v for v in judged.violations if v.code == "beyond_window"])
    if error is not None:
        raise error


def _refuse_party(room: Mapping[str, Any], attendees: int | None) -> None:
    error = rules.as_error(rules.check_party(room, attendees))
    if error:
        raise error


def _refuse_never_matching(rule: recurrence.Rule, first_local: datetime,
                           last_local: datetime) -> None:
    """422 `invalid` for a rule that matches no time in the booking window: its
    series would be the first start alone (RFC 5545 counts DTSTART whatever the
    rule says), which is not what anyone meant by FREQ=DAILY;INTERVAL=7;BYDAY=WE
    from a Tuesday. A rule ending (UNTIL) before the first start is refused too:
    it was the first start alone, "until" a day before it."""
    if rule.until is not None and rule.until < first_local:
        raise recurrence.invalid_recurrence("UNTIL", _(
            "The series ends (%(until)s) before its first date (%(first)s).",
            until=f"{rule.until:%Y-%m-%d}", first=f"{first_local:%Y-%m-%d}"))
    if not recurrence.matches(rule, first_local, last_local):
        raise BookingError(
            "invalid", _("This rule yields no occurrence in the booking window (from the first "
                         "start on): check its weekdays, days and months against the first "
                         "start."),
            field="recurrence", status=422,
            details={"reason": "no occurrence in the booking window"})


def _minutes(start: datetime, end: datetime) -> int:
    return int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)


# What skip_conflicts skips besides a taken time: an occurrence the room's calendar
# refuses on its own day (a closed date or weekday, that weekday's hours, a time the
# clocks skip), as the series' extension records it. A rule every occurrence breaks
# alike (too long, not permitted, the notice of the first) still refuses the series.
DAY_REASONS = frozenset({"closed", "outside_hours", "nonexistent_time"})


@dataclasses.dataclass
class Sorted:
    """A series' occurrences after the rules: those to book, those skipped for their
    day (with the reason), and the policy limits an administrator books past."""
    bookable: list[recurrence.Occurrence]
    skipped: list[tuple[recurrence.Occurrence, str]]
    overrides: list[str]

    def params(self) -> dict[str, Any]:
        """book_series()' and edit_series()' arguments for them (sql/079)."""
        return {"starts": [o.start for o in self.bookable],
                "ends": [o.end for o in self.bookable],
                "rule_starts": [o.start for o, _ in self.skipped],
                "rule_ends": [o.end for o, _ in self.skipped],
                "rule_reasons": [reason for _, reason in self.skipped],
                "overrides": self.overrides or None}


def _refuse_rule_breaks(room: Mapping, found: list[recurrence.Occurrence], now: datetime,
                        booker: rules.Booker, skip: bool = False) -> Sorted:
    """422 listing each occurrence that breaks a rule, if any does (with `skip`,
    skip_conflicts: any but those refused only for their day, DAY_REASONS, which
    are skipped, unless that is all of them); otherwise what to book."""
    broken = []        # each rule an occurrence breaks
    occurrences = 0    # the occurrences that break one
    overrides: set[str] = set()
    bookable, skipped, held_back = [], [], []
    for n, occurrence in enumerate(found):
        # The first occurrence keeps the booking window; the later ones reach as far
        # as a series is held (horizon()).
        judged = _verdict(room, occurrence, now, booker, later=n > 0)
        overrides.update(judged.overrides)
        codes = {violation.code for violation in judged.violations}
        if not codes:
            bookable.append(occurrence)
            continue
        (times,) = availability.as_json([(occurrence.start, occurrence.end)], room["timezone"])
        refusals = [{**times, **violation.as_json()} for violation in judged.violations]
        if skip and codes <= DAY_REASONS:
            skipped.append((occurrence, judged.violations[0].code))
            held_back += refusals
            continue
        occurrences += 1
        broken += refusals
    if skip and not bookable and not broken:
        # Every day refused: nothing to book, said as without skip_conflicts.
        broken, occurrences = held_back, len(skipped)
    if broken:
        first = broken[0]
        if first["code"] == "nonexistent_time":
            # Its message names its day and the wall-clock time that does not exist.
            message = ngettext("%(num)d occurrence of this series breaks the booking rules; "
                               "the first: %(message)s",
                               "%(num)d occurrences of this series break the booking rules; "
                               "the first: %(message)s", occurrences,
                               message=first["message"])
        else:
            message = ngettext(
                "%(num)d occurrence of this series breaks the booking rules; the first, "
                "%(start)s: %(message)s",
                "%(num)d occurrences of this series break the booking rules; the first, "
                "%(start)s: %(message)s", occurrences,
                start=day_and_time(first["start_time"]), message=first["message"])
        raise BookingError(first["code"], message, field="recurrence",
                           details={"occurrences": broken[:MOST_LISTED], "count": occurrences,
                                    **({"source": broken[0]["source"]}
                                       if "source" in broken[0] else {})})
    return Sorted(bookable, skipped, sorted(overrides))


def _verdict(room: Mapping, occurrence: recurrence.Occurrence, now: datetime,
             booker: rules.Booker, later: bool = False) -> rules.Verdict:
    """The one rule engine for an occurrence, under the room's effective policy
    (room["policy"]); `later`: not the first, so the window reaches as far as a
    series is held."""
    if not occurrence.exists:
        # Said as the wall-clock time asked for (02:30), which does not exist: its
        # start_time is where the zone puts it (03:30+02:00), a time that does.
        wall = occurrence.start.replace(tzinfo=None)
        return rules.Verdict([rules.Violation(
            "nonexistent_time",
            lazy("%(time)s does not exist on %(day)s (the clocks skip it).",
                 time=LazyString(lambda: clock(f"{wall:%H:%M}")), day=lazy_day(wall.date())),
            "start_time")])
    room_policy = ahead(room["policy"]) if later else room["policy"]
    return rules.verdict(room, occurrence.start, occurrence.end, now, room_policy, booker)


def _over_quota(details: Mapping[str, Any], count: int) -> BookingError:
    """422 quota_exceeded for a series: the first occurrence its quota refuses."""
    err = rules.quota_refusal(details)
    err.message = _("This series of %(count)d would go over a quota on %(date)s: %(reason)s",
                    count=count, date=lazy_day(date.fromisoformat(details["start_time"][:10])),
                    reason=err.message)
    err.details.update(field="recurrence", start_time=details["start_time"],
                       end_time=details["end_time"])
    return err


def _conflict(room: Mapping, rows: list[Mapping], asked: list[recurrence.Occurrence],
              now: datetime, booker: rules.Booker, alternatives: Alternatives) -> BookingError:
    """409 with one entry per taken occurrence (of those `asked`), the bookings in its
    way, and suggestions: the room's next free slots from the first taken
    occurrence, and the other rooms free at the first occurrence (the time asked
    for), nothing that the rooms' policies or the owner's quotas would refuse."""
    tz = zone(room["timezone"])
    # Each occurrence's end as it was asked for (one ending in a time the clocks
    # skip ends where the zone puts it: its wall-clock end is no time at all).
    ends = {o.start.astimezone(UTC): o.end.astimezone(UTC) for o in asked}
    by_start: dict[datetime, list] = {}
    for row in rows:
        if row["kind"] == "conflict":
            by_start.setdefault(row["requested_start"], []).append(row["data"])
    conflicts = []
    for start, blockers in sorted(by_start.items()):
        conflicts.append({**availability.as_json([(start, ends[start.astimezone(UTC)])],
                                                 tz.key)[0],
                          "bookings": blockers})
    details: dict[str, Any] = {"conflicts": conflicts}
    if by_start:
        first = min(by_start)
        first_end = ends[first.astimezone(UTC)]
        other = next((r["data"] for r in rows if r["kind"] == "alternatives"), None)
        details["suggestions"] = availability.suggestions(
            room, availability.busy_of(rows), first, first_end, now, room["policy"], booker,
            alternatives.ranked(other), availability.taken_of(rows))
    count = len(conflicts)
    if count == len(asked):
        # Every occurrence to book is taken (with skip_conflicts too: sql/087):
        # skipping them leaves nothing, so the message offers no skip_conflicts.
        return BookingError("conflict",
                            ngettext("%(num)d occurrence of this series is already taken in "
                                     "%(room)s, and no other is left to book.",
                                     "%(num)d occurrences of this series are already taken "
                                     "in %(room)s, and no other is left to book.",
                                     count, room=room["name"]),
                            field="start_time", details=details)
    return BookingError("conflict",
                        ngettext("%(num)d occurrence of this series is already taken in "
                                 "%(room)s. Book with skip_conflicts to book the others.",
                                 "%(num)d occurrences of this series are already taken in "
                                 "%(room)s. Book with skip_conflicts to book the others.",
                                 count, room=room["name"]),
                        field="start_time", details=details)


def get(series_id: int, limit: Any = None, cursor: str | None = None) -> dict[str, Any]:
    """A series with its live occurrences (keyset-paginated) and its skipped occurrences."""
    page = pagination.Keyset(limit, cursor, default=100, most=500, start=pagination.FIRST)
    with db.connection() as conn:
        row = conn.execute(GET_SQL, {"id": series_id, **page.params()}).fetchone()
    if row is None:
        raise not_found(_("That series does not exist."))
    occurrences, next_cursor = page.cut(
        row["occurrences"], lambda o: (datetime.fromisoformat(o["start_at"]), o["id"]))
    series = {**row["series"], "room_name": row["room_name"], "user_name": row["user_name"],
              "last_start": last_start(row["series"])}
    return {"series": series, "bookings": [o["booking"] for o in occurrences],
            "skipped": row["skipped"], "next_cursor": next_cursor}


def last_start(series: Mapping[str, Any]) -> str | None:
    """Where a series really ends: its last occurrence's start (RFC 3339, room-local),
    by its rule's COUNT or UNTIL and a "this and following" cancellation; None
    when it repeats without end (or nothing is left). How far it is booked (`materialized_until`)
    follows the booking window and says nothing about that: 8 weekly
    occurrences ending on 31 December are not "booked up to 1 June"."""
    tz = zone(series["timezone"])
    rule = recurrence.parse(series["recurrence"], tz)
    stop = series["cancelled_from"]
    if rule.open_ended and stop is None:
        return None
    first = datetime.fromisoformat(series["first_start"]).astimezone(tz)
    first_local = first.replace(tzinfo=None)
    # COUNT alone: as far as the calendar goes (the expansion stops at COUNT).
    limit = rule.until or datetime.combine(LAST_DAY, datetime.min.time())
    if stop is not None:
        limit = min(limit, datetime.fromisoformat(stop).astimezone(tz).replace(tzinfo=None)
                    - timedelta(microseconds=1))
    found = recurrence.starts(rule, first_local, limit) if limit >= first_local else []
    if not found:
        return None   # cancelled from its first occurrence on: nothing is left
    if len(found) == 1:
        return rfc3339(first, tz)   # the instant it was made with (in a repeated hour too)
    return rfc3339(found[-1].replace(tzinfo=tz, fold=0), tz)


def cancel(user: User, series_id: int, from_text: str | None, now: datetime) -> dict[str, Any]:
    """Cancel every future occurrence, or (with `from`) that one and all after it.

    Without `from` the series itself is cancelled too, so it is never extended.
    """
    whole = not from_text
    start = now
    if from_text:
        moment = parse_datetime(from_text, "from")
        if moment.tzinfo is None:
            tz_name = _series_zone(series_id)
            moment = localize(moment, zone(tz_name), "from")
        start = max(moment, now)  # what has already begun stays on record
    with db.connection() as conn:
        row = conn.execute(CANCEL_SQL, {"id": series_id, "actor": user.id,
                                        "admin": user.is_admin, "from": start,
                                        "whole": whole}).fetchone()
    if row is None:
        raise not_found(_("That series does not exist."))
    if row["series"] is None:
        raise BookingError("forbidden", _("Only the person who booked this series, someone "
                                          "they named as delegate, or an administrator can "
                                          "cancel it."))
    return {"series": row["series"], "cancelled": row["cancelled"]}


def cancel_as(owner_id: int, series_id: int, now: datetime) -> dict[str, Any]:
    """Cancel the rest of a series (every occurrence from `now`) as its organiser: a
    signed link in mail (booking/bookings/links.py) acts for them."""
    with db.connection() as conn:
        row = conn.execute(CANCEL_SQL, {"id": series_id, "actor": owner_id, "admin": False,
                                        "from": now, "whole": True}).fetchone()
    if row is None or row["series"] is None:
        raise not_found(_("That series does not exist."))
    return {"series": row["series"], "cancelled": row["cancelled"]}


# series_pkey: a series as its organiser's signed link shows it.
OWNED_SQL = "SELECT series_json(s) AS series FROM series s WHERE s.id = %s AND s.user_id = %s"


def owned(series_id: int, owner_id: int) -> dict[str, Any]:
    """The series a signed link names, if it is still that organiser's (404 otherwise)."""
    with db.connection() as conn:
        row = conn.execute(OWNED_SQL, (series_id, owner_id)).fetchone()
    if row is None:
        raise not_found(_("That series does not exist."))
    return row["series"]


def _series_zone(series_id: int) -> str:
    with db.connection() as conn:
        row = conn.execute("SELECT timezone FROM series WHERE id = %s", (series_id,)).fetchone()
    if row is None:
        raise not_found(_("That series does not exist."))
    return row["timezone"]


def extend_all(now: datetime, config: Mapping[str, Any], batch: int = 200) -> dict[str, int]:
    """Materialise every live series up to its room's horizon. Safe to run again."""
    base = rules.Policy.from_config(config)
    longest = dataclasses.replace(base, max_days_ahead=max(base.max_days_ahead,
                                                           policy.NUMBERS["max_days_ahead"][1]))
    totals = {"series": 0, "booked": 0, "skipped": 0}
    after = 0
    while True:
        with db.connection() as conn:
            lagging = conn.execute(LAGGING_SQL, {
                "horizon": horizon(now, longest), "now": now, "after": after,
                "window_days": base.max_days_ahead, "ahead_days": AHEAD_DAYS,
                "batch": batch}).fetchall()
        if not lagging:
            return totals
        for series in lagging:
            after = series["id"]
            booked, skipped = _extend_one(series, now, config)
            totals["series"] += 1
            totals["booked"] += booked
            totals["skipped"] += skipped


def _extend_one(series: Mapping, now: datetime, config: Mapping[str, Any]) -> tuple[int, int]:
    """Book what entered this series' room's window: what its rules refuse is
    recorded as skipped (so is what is taken, and what its quota refuses: sql/042)."""
    room = {**series["room"], "policy": policy.effective(series["policy"], config)}
    until = max(horizon(now, room["policy"]), series["materialized_until"])
    # The owner's: an administrator's series keeps booking past the limits it passed.
    booker = rules.Booker(admin=series["by_admin"])
    tz = zone(series["timezone"])
    rule = recurrence.parse(series["rrule"], tz)
    first_local = series["first_start"].astimezone(tz).replace(tzinfo=None)
    length = timedelta(minutes=series["duration_minutes"])
    # Wall-clock length: the first occurrence's, as when the series was made.
    first_end = (series["first_start"].astimezone(UTC) + length).astimezone(tz)
    wall_length = first_end.replace(tzinfo=None) - first_local
    found = recurrence.occurrences(rule, first_local, wall_length, tz, until,
                                   after=series["materialized_until"],
                                   first=(series["first_start"], first_end))
    stop = series["cancelled_from"]
    bookable, broken = [], []
    for occurrence in found:
        if stop is not None and occurrence.start >= stop:
            continue
        problems = _verdict(room, occurrence, now, booker, later=True).violations
        (broken if problems else bookable).append((occurrence, problems))
    with db.connection() as conn:
        row = conn.execute(EXTEND_SQL, {
            "id": series["id"], "from": series["materialized_until"], "until": until,
            "starts": [o.start for o, _ in bookable], "ends": [o.end for o, _ in bookable],
            "rule_starts": [o.start for o, _ in broken], "rule_ends": [o.end for o, _ in broken],
            "rule_reasons": [p[0].code for _, p in broken]}).fetchone()
    return row["booked"], row["skipped"]


# -- "this and following" ------------------------------------------------------------------

EDIT_FIELDS = frozenset({"title", "room_id", "start_time", "end_time", "recurrence",
                         "skip_conflicts"}) | inputs.PEOPLE_FIELDS

# series_pkey and rooms_pkey, each room with its effective policy (room_policy(),
# sql/040); the owner's groups (group_members_user: the rules see the person who
# holds the series); bookings_series for the occurrences changed on their own
# (which the change leaves alone), also those of the parts this one continues (a
# changed occurrence stays in the part it was changed in; series_continued_by, sql/080).
EDIT_READ_SQL = """
SELECT s.id, s.user_id, s.room_id, s.title, s.rrule, s.first_start, s.duration_minutes,
       s.timezone, s.cancelled_at, s.cancelled_from, s.attendees, s.invitees, s.notes,
       s.sequence,
       (SELECT coalesce(array_agg(m.group_id), '{}') FROM group_members m
         WHERE m.user_id = s.user_id) AS owner_groups,
       (SELECT json_build_object('room', room_json(r), 'policy', room_policy(r.id))
          FROM rooms r WHERE r.id = s.room_id) AS room,
       (SELECT json_build_object('room', room_json(t), 'policy', room_policy(t.id))
          FROM rooms t WHERE t.id = %(target)s::int AND t.id <> s.room_id) AS target,
       ARRAY(WITH RECURSIVE part(id) AS (
                  SELECT s.id
                  UNION
                  SELECT x.id FROM series x JOIN part ON x.continued_by = part.id)
             SELECT b.original_start FROM part JOIN bookings b ON b.series_id = part.id
              WHERE b.cancelled_at IS NULL AND b.original_start IS NOT NULL) AS changed,
       ARRAY(SELECT k.start_at FROM series_skips k
              WHERE k.series_id = s.id AND k.reason = 'cancelled') AS cancelled
  FROM series s
 WHERE s.id = %(id)s"""

# edit_series() (sql/044: the target room's buffer, approval and the owner's
# quota, counted after the replaced occurrences, under their lock) under
# bookings_no_overlap; when it refused, the finder's query for other rooms at
# the new first occurrence.
EDIT_SQL = f"""
WITH b AS MATERIALIZED (
    SELECT kind, requested_start, data
      FROM edit_series(%(id)s, %(actor)s, %(admin)s, %(now)s, %(from)s, %(split)s, %(room)s,
                       %(title)s, %(rrule)s, %(tz)s, %(first)s, %(minutes)s, %(horizon)s,
                       %(starts)s, %(ends)s, %(skip)s, %(attendees)s::int,
                       %(invitees)s::text[], %(notes)s::text, %(overrides)s::text[],
                       %(rule_starts)s::timestamptz[], %(rule_ends)s::timestamptz[],
                       %(rule_reasons)s::text[], %(sequence)s::int))
SELECT kind, requested_start, data FROM b
UNION ALL
SELECT 'alternatives', NULL, {Alternatives.sql("true")}
 WHERE EXISTS (SELECT 1 FROM b WHERE kind = 'busy')
   AND NOT EXISTS (SELECT 1 FROM b WHERE kind = 'series')"""


def edit(user: User, series_id: int, from_text: str | None, data: Mapping[str, Any],
         now: datetime) -> dict[str, Any]:
    """Change a series from one occurrence on ("this and following"): {"series",
    "bookings", "skipped"}, like creating one, or BookingError.

    `from` names an occurrence by its start. From a later occurrence the series
    is split: the old one ends before it, a new one (the answer's `series`)
    takes over with what `data` changes (title, room_id, start_time/end_time:
    the new times of that first occurrence; recurrence; attendees, invitees,
    notes). From the first occurrence the series itself changes. Occurrences
    changed on their own stay as they are. Every new occurrence passes the
    rules; a taken one makes it 409 and changes nothing, unless skip_conflicts.
    """
    inputs.only(data, EDIT_FIELDS)
    if from_text in (None, ""):
        raise invalid("from", _("from is required: the start of the first occurrence to "
                                "change (RFC 3339)."))
    moment = parse_datetime(from_text, "from")
    title = inputs.title(data["title"]) if "title" in data else None
    room_id = inputs.integer(data["room_id"], "room_id") if "room_id" in data else None
    start_raw = parse_datetime(data["start_time"], "start_time") if "start_time" in data else None
    end_raw = parse_datetime(data["end_time"], "end_time") if "end_time" in data else None
    skip_conflicts = inputs.boolean(data.get("skip_conflicts", False), "skip_conflicts")
    people = inputs.people(data, present_only=True)

    for _attempt in range(STALE_TRIES):
        with db.connection() as conn:
            row = conn.execute(EDIT_READ_SQL, {"id": series_id, "target": room_id}).fetchone()
            if row is None:
                raise not_found(_("That series does not exist."))
            if not user.acts_for(row["user_id"]):
                raise _edit_refusal("forbidden")
            booker = rules.Booker.for_owner(user, row["user_id"], row["owner_groups"])
            plan = _plan(row, moment, room_id, title, start_raw, end_raw,
                         data.get("recurrence"), people, now, booker, skip_conflicts)
            alternatives = Alternatives(plan["room"], plan["first"], plan["first_end"],
                                        plan["attendees"], now, booker, row["user_id"])
            rows = _change(conn, series_id, user, now, plan, skip_conflicts, row["sequence"],
                           alternatives)
        if not (len(rows) == 1 and rows[0]["kind"] == "stale"):
            break
    else:
        raise BookingError("conflict", _("The series changed while this change was being "
                                         "made, again and again; nothing was changed. Try "
                                         "again."), details={"conflicts": []})

    if len(rows) == 1 and rows[0]["kind"] in ("not_found", "forbidden", "not_editable"):
        raise _edit_refusal(rows[0]["kind"])
    series = next((r["data"] for r in rows if r["kind"] == "series"), None)
    if series is None:
        refused = next((r for r in rows if r["kind"] == "refused"), None)
        if refused is not None:
            raise _over_quota(refused["data"], len(plan["found"]))
        raise _conflict(plan["room"], rows, plan["judged"].bookable, now, booker, alternatives)
    return {"series": series,
            "bookings": [r["data"] for r in rows if r["kind"] == "created"],
            "skipped": [r["data"] for r in rows if r["kind"] == "skipped"]}


# How often a change planned from a series another change altered meanwhile is
# planned again (edit_series() answers 'stale', sql/084) before giving up.
STALE_TRIES = 3


def _change(conn, series_id: int, user: User, now: datetime, plan: Mapping[str, Any],
            skip_conflicts: bool, sequence: int, alternatives: Alternatives) -> list:
    """edit_series()' rows for `plan`, made from the series at `sequence`."""
    return conn.execute(EDIT_SQL, {
        "id": series_id, "actor": user.id, "admin": user.is_admin, "now": now,
        "from": plan["from"], "split": plan["split"], "room": plan["room"]["id"],
        "title": plan["title"], "rrule": plan["rule"].text, "tz": plan["tz"].key,
        "first": plan["first"], "minutes": _minutes(plan["first"], plan["first_end"]),
        "horizon": plan["until"], "skip": skip_conflicts, "sequence": sequence,
        "attendees": plan["attendees"], "invitees": plan["invitees"],
        "notes": plan["notes"], **plan["judged"].params(),
        **alternatives.params()}).fetchall()


def _edit_refusal(kind: str) -> BookingError:
    if kind == "not_found":
        return not_found(_("That series does not exist."))
    if kind == "forbidden":
        return BookingError("forbidden", _("Only the person who booked this series, someone "
                                           "they named as delegate, or an administrator can "
                                           "change it."))
    return BookingError("not_editable", _("That occurrence has begun, or the series was "
                                          "cancelled from there on: it cannot be changed."),
                        field="from")


def _plan(row: Mapping[str, Any], moment: datetime, room_id: int | None, title: str | None,
          start_raw: datetime | None, end_raw: datetime | None, rule_text: Any,
          people: Mapping[str, Any], now: datetime, booker: rules.Booker,
          skip: bool = False) -> dict[str, Any]:
    """What the change books: the room (with its effective policy), the new first
    occurrence and rule, the occurrences from it to the horizon (each checked by
    the rules under the room's policy, as create checks them), the people, and
    the policy limits an admin books past. 400/403/404/409/422 for what cannot
    be."""
    series_tz = zone(row["timezone"])
    cut = localize(moment, series_tz, "from")
    held = _with_policy(row["room"])["policy"]
    if cut > horizon(now, held):
        # Not held yet, and expanding a rule to year 9999 to look for it would cost seconds.
        raise BookingError("beyond_window", _("Change a series from an occurrence within "
                                              "the next %(days)d days.",
                                              days=held.max_days_ahead + AHEAD_DAYS),
                           field="from")
    old_rule = recurrence.parse(row["rrule"], series_tz)
    old_first = row["first_start"].astimezone(series_tz).replace(tzinfo=None)
    cut_local = cut.astimezone(series_tz).replace(tzinfo=None)
    before = recurrence.starts(old_rule, old_first, cut_local)
    if before == [cut_local] == [old_first]:
        # The first occurrence is the instant the series was made with, which may be
        # the second of two same wall-clock times (the autumn night): its wall-clock
        # time without an offset names it too.
        cut = row["first_start"]
    if not before or before[-1] != cut_local:
        raise invalid("from", _("from is not the start of an occurrence of this series."))
    stopped = row["cancelled_from"] is not None and cut >= row["cancelled_from"]
    if row["cancelled_at"] is not None or stopped or cut < now.replace(second=0, microsecond=0):
        raise _edit_refusal("not_editable")

    room = _with_policy(row["room"] if room_id in (None, row["room_id"]) else row["target"])
    if room is None:
        raise BookingError("not_found", _("That room does not exist."), field="room_id")
    tz = zone(room["timezone"])
    old_length = timedelta(minutes=row["duration_minutes"])
    start = localize(start_raw, tz, "start_time") if start_raw is not None else None
    end = localize(end_raw, tz, "end_time") if end_raw is not None else None
    if start is None:
        start = cut if end is None else end - old_length
    if end is None:
        end = start + old_length
    _refuse_a_past_start(start, end, now)
    first_local = start.astimezone(tz).replace(tzinfo=None)
    length = end.astimezone(tz).replace(tzinfo=None) - first_local

    if rule_text not in (None, ""):
        rule = recurrence.parse(rule_text, tz)
    else:
        rule = _remaining(old_rule, old_first, len(before) - 1, tz)
    until = horizon(now, room["policy"])
    _refuse_a_far_start(room, start, end, now, booker)
    _refuse_never_matching(rule, first_local, until.astimezone(tz).replace(tzinfo=None))
    # An occurrence changed on its own stands for its day, and one cancelled on its own
    # keeps its day free: the new rule books none there.
    kept_days = {c.astimezone(series_tz).date() for c in (*row["changed"], *row["cancelled"])
                 if c >= cut}
    found = [o for o in recurrence.occurrences(rule, first_local, length, tz, until,
                                               first=(start, end))
             if o.start.astimezone(series_tz).date() not in kept_days]
    if row["cancelled_from"] is not None:
        # Split before (or cancelled from there on): the days from that occurrence's
        # on are the continuing series', whatever time or rule this part now has.
        split_day = row["cancelled_from"].astimezone(series_tz).date()
        found = [o for o in found if o.start.astimezone(series_tz).date() < split_day]
    judged = _refuse_rule_breaks(room, found, now, booker, skip)
    attendees = people["attendees"] if "attendees" in people else row["attendees"]
    _refuse_party(room, attendees)
    return {"from": cut, "split": cut != row["first_start"], "room": room, "tz": tz,
            "title": title or row["title"], "rule": rule, "first": start, "first_end": end,
            "length": length, "found": found, "attendees": attendees, "until": until,
            "judged": judged,
            "invitees": people["invitees"] if "invitees" in people else list(row["invitees"]),
            "notes": people["notes"] if "notes" in people else row["notes"]}


def _with_policy(found: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """EDIT_READ_SQL's {room, policy} as the room with its effective policy
    (booking.rules.Policy) as room["policy"], as rooms.for_booking() gives it."""
    if found is None:
        return None
    return {**found["room"], "policy": policy.effective(found["policy"], current_app.config)}


def _remaining(rule: recurrence.Rule, first_local: datetime, used: int,
               tz) -> recurrence.Rule:
    """The rule for what is left of a series after `used` occurrences: the same, with
    COUNT reduced by them, and an UNTIL time as the date of its last occurrence.

    An UNTIL that is a time (20270426T150000Z, 17:00 in Berlin) bounds the old
    times: a series at 17:00 moved to 18:00 would lose its last date to it. What
    the old rule meant is its dates, so the bound is carried as the last of them.
    Every occurrence has the first start's wall-clock time, so that date is
    UNTIL's own day if that time is not past UNTIL's, else the day before."""
    if rule.count is not None:
        left = max(rule.count - used, 1)
        replace = ("COUNT=", f"COUNT={left}")
    elif rule.until is not None and "T" in rule.parts["UNTIL"]:
        last_day = rule.until.date()
        if first_local.time() > rule.until.time():
            last_day -= timedelta(days=1)
        replace = ("UNTIL=", f"UNTIL={last_day:%Y%m%d}")
    else:
        return rule
    name, part = replace
    return recurrence.parse(";".join(part if chunk.startswith(name) else chunk
                                     for chunk in rule.text.split(";")), tz)
