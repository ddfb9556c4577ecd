"""Recurring bookings: create a series, look at it, cancel it, extend it.

A series is booked as its occurrences, each an ordinary row in `bookings`,
materialised up to the booking window (BOOKING_WINDOW_DAYS from now). Every
occurrence passes every booking rule and the exclusion constraint. The
`series extend` command moves the horizon forward for open-ended and long
series; an occurrence taken by then is recorded as skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from flask import current_app

from booking import availability, db, idempotency, pagination, policy, recurrence, rules
from booking.auth import User
from booking.errors import BookingError, not_found
from booking.rooms import service as rooms
from booking.times import LAST_DAY, UTC, localize, parse_datetime, rfc3339, zone


# book_series() (sql/042): the series and its occurrences through book(), under
# the room's policy read in this statement (buffer, approval, quota).
BOOK_SERIES_SQL = """
SELECT kind, requested_start, data
  FROM book_series(%(room)s, %(user)s, %(title)s, %(rrule)s, %(tz)s, %(first)s, %(minutes)s,
                   %(horizon)s, %(starts)s, %(ends)s, %(skip)s, %(admin)s, %(overrides)s)"""

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
                   FROM series_skips k WHERE k.series_id = s.id), '[]') AS skipped
  FROM series s JOIN rooms r ON r.id = s.room_id JOIN users u ON u.id = s.user_id
 WHERE s.id = %(id)s"""

# One statement: who may is decided inside, so a refused cancel changes nothing.
CANCEL_SQL = """
WITH target AS (  -- names the actor for the audit log (sql/007)
    SELECT s.id, s.user_id, set_config('booking.actor', %(actor)s::text, true)
      FROM series s WHERE s.id = %(id)s),
allowed AS (
    SELECT t.id FROM target t WHERE t.user_id = %(actor)s OR %(admin)s),
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
LAGGING_SQL = """
SELECT s.id, s.rrule, s.first_start, s.duration_minutes, s.timezone, s.materialized_until,
       s.cancelled_from, room_json(r) AS room, room_policy(r.id) AS policy,
       u.role = 'admin' AS by_admin
  FROM series s JOIN rooms r ON r.id = s.room_id JOIN users u ON u.id = s.user_id
 WHERE s.cancelled_at IS NULL AND s.materialized_until < %(horizon)s AND s.id > %(after)s
   AND u.active AND s.status IN ('confirmed', 'pending')
 ORDER BY s.id
 LIMIT %(batch)s"""

EXTEND_SQL = """
SELECT booked, skipped
  FROM extend_series(%(id)s, %(from)s, %(until)s, %(starts)s, %(ends)s,
                     %(rule_starts)s, %(rule_ends)s, %(rule_reasons)s)"""

MOST_LISTED = 50  # rule breaks listed in a 422; the count says how many in all


def horizon(now: datetime, policy: rules.Policy) -> datetime:
    """Occurrences are materialised up to here: the end of the room's booking window."""
    return now.astimezone(UTC) + timedelta(days=policy.max_days_ahead)


def create(user: User, room_id: int, title: str, start_raw: datetime, end_raw: datetime,
           rule_text: Any, skip_conflicts: bool, now: datetime,
           key: idempotency.Key | None = None, request_data: Any = None) -> dict[str, Any]:
    """Book a recurring series: {"series", "bookings", "skipped"}, or BookingError.

    Every occurrence passes the room's effective policy (rules.verdict); the
    quota counts every occurrence, and where approval is required the series
    asks once: it and all its occurrences are pending until decided."""
    with db.connection() as conn:
        room, tz, start, end = rooms.for_booking(conn, room_id, start_raw, end_raw)
        until = horizon(now, room["policy"])
        rule = recurrence.parse(rule_text, tz)
        first_local = start.astimezone(tz).replace(tzinfo=None)
        length = end.astimezone(tz).replace(tzinfo=None) - first_local
        _refuse_never_matching(rule, first_local, until.astimezone(tz).replace(tzinfo=None))
        found = recurrence.occurrences(rule, first_local, length, tz, until)
        overrides = _refuse_rule_breaks(room, found, now, user.booker)
        args = {"room": room_id, "user": user.id, "title": title, "rrule": rule.text,
                "tz": tz.key, "first": start, "minutes": _minutes(start, end),
                "horizon": until, "starts": [o.start for o in found],
                "ends": [o.end for o in found], "skip": skip_conflicts,
                "admin": user.is_admin, "overrides": overrides or None}
        if key is None:
            rows = conn.execute(BOOK_SERIES_SQL, args).fetchall()
        else:
            rows = idempotency.rows(idempotency.book_once(
                conn, key, user.id, now, "series", request_data, args))

    series = next((r["data"] for r in rows if r["kind"] == "series"), None)
    if series is None:
        refused = next((r for r in rows if r["kind"] == "refused"), None)
        if refused is not None:
            raise _over_quota(refused["data"], len(found))
        raise _conflict(room, rows, length, now, user)
    return {"series": series,
            "bookings": [r["data"] for r in rows if r["kind"] == "created"],
            "skipped": [r["data"] for r in rows if r["kind"] == "skipped"]}


def _refuse_never_matching(rule: recurrence.Rule, first_local: datetime,
                           last_local: datetime) -> None:
    """422 `invalid` for a rule that matches no time in the booking window: its
    series would be the first start alone (RFC 5545 counts DTSTART whatever the
    rule says), which is not what anyone meant by FREQ=DAILY;INTERVAL=7;BYDAY=WE
    from a Tuesday."""
    if not recurrence.matches(rule, first_local, last_local):
        raise BookingError(
            "invalid", "This rule yields no occurrence in the booking window (from the first "
            "start on): check its weekdays, days and months against the first start.",
            field="recurrence", status=422,
            details={"reason": "no occurrence in the booking window"})


def _minutes(start: datetime, end: datetime) -> int:
    return int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)


def _refuse_rule_breaks(room: Mapping, found: list[recurrence.Occurrence], now: datetime,
                        booker: rules.Booker) -> list[str]:
    """422 listing each occurrence that breaks a rule, if any does; otherwise the
    policy limits an administrator books past (for the record)."""
    broken = []
    overrides: set[str] = set()
    for occurrence in found:
        judged = _verdict(room, occurrence, now, booker)
        overrides.update(judged.overrides)
        for violation in judged.violations:
            (times,) = availability.as_json([(occurrence.start, occurrence.end)], room["timezone"])
            broken.append({**times, **violation.as_json()})
    if broken:
        first = broken[0]
        raise BookingError(
            first["code"],
            f"{len(broken)} occurrence{'s' if len(broken) != 1 else ''} of this series break"
            f"{'s' if len(broken) == 1 else ''} the booking rules; the first, "
            f"{first['start_time'][:16].replace('T', ' ')}: {first['message']}",
            field="recurrence", details={"occurrences": broken[:MOST_LISTED],
                                         "count": len(broken),
                                         **({"source": broken[0]["source"]}
                                            if "source" in broken[0] else {})})
    return sorted(overrides)


def _verdict(room: Mapping, occurrence: recurrence.Occurrence, now: datetime,
             booker: rules.Booker) -> rules.Verdict:
    if not occurrence.exists:
        return rules.Verdict([rules.Violation(
            "nonexistent_time", "The clocks skip this time on that day (daylight saving).",
            "start_time")])
    return rules.verdict(room, occurrence.start, occurrence.end, now, room["policy"], booker)


def _over_quota(details: Mapping[str, Any], count: int) -> BookingError:
    """422 quota_exceeded for a series: the first occurrence its quota refuses."""
    err = rules.quota_refusal(details)
    err.message = (f"This series of {count} would go over a quota on "
                   f"{details['start_time'][:10]}: {err.message}")
    err.details.update(field="recurrence", start_time=details["start_time"],
                       end_time=details["end_time"])
    return err


def _conflict(room: Mapping, rows: list[Mapping], length: timedelta, now: datetime,
              user: User) -> BookingError:
    """409 with one entry per taken occurrence, the bookings in its way, and suggestions."""
    tz = zone(room["timezone"])
    by_start: dict[datetime, list] = {}
    for row in rows:
        if row["kind"] == "conflict":
            by_start.setdefault(row["requested_start"], []).append(row["data"])
    conflicts = []
    for start, blockers in sorted(by_start.items()):
        local = start.astimezone(tz)
        end = localize(local.replace(tzinfo=None) + length, tz, "end_time")
        conflicts.append({**availability.as_json([(start, end)], tz.key)[0],
                          "bookings": blockers})
    details: dict[str, Any] = {"conflicts": conflicts}
    if by_start:
        first = min(by_start)
        first_end = localize(first.astimezone(tz).replace(tzinfo=None) + length, tz, "end_time")
        details["suggestions"] = availability.suggestions(room, rows, first, first_end, now,
                                                          current_app.config, user.booker)
    count = len(conflicts)
    return BookingError("conflict",
                        f"{count} occurrence{'s' if count != 1 else ''} of this series "
                        f"{'are' if count != 1 else 'is'} already taken in {room['name']}. "
                        "Book with skip_conflicts to book the others.",
                        field="start_time", details=details)


def get(series_id: int, limit: Any = None, cursor: str | None = None) -> dict[str, Any]:
    """A series with its live occurrences (keyset-paginated) and its skipped occurrences."""
    page = pagination.Keyset(limit, cursor, default=100, most=500, start=pagination.FIRST)
    with db.connection() as conn:
        row = conn.execute(GET_SQL, {"id": series_id, **page.params()}).fetchone()
    if row is None:
        raise not_found("That series")
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
        raise not_found("That series")
    if row["series"] is None:
        raise BookingError("forbidden", "Only the person who booked this series (or an "
                           "administrator) can cancel it.")
    return {"series": row["series"], "cancelled": row["cancelled"]}


def _series_zone(series_id: int) -> str:
    with db.connection() as conn:
        row = conn.execute("SELECT timezone FROM series WHERE id = %s", (series_id,)).fetchone()
    if row is None:
        raise not_found("That series")
    return row["timezone"]


def extend_all(now: datetime, config: Mapping[str, Any], batch: int = 200) -> dict[str, int]:
    """Materialise every live series up to its room's horizon. Safe to run again."""
    until = horizon(now, rules.Policy.from_config(config))
    totals = {"series": 0, "booked": 0, "skipped": 0}
    after = 0
    while True:
        with db.connection() as conn:
            lagging = conn.execute(LAGGING_SQL, {"horizon": until, "after": after,
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
                                   after=series["materialized_until"])
    stop = series["cancelled_from"]
    bookable, broken = [], []
    for occurrence in found:
        if stop is not None and occurrence.start >= stop:
            continue
        problems = _verdict(room, occurrence, now, booker).violations
        (broken if problems else bookable).append((occurrence, problems))
    with db.connection() as conn:
        row = conn.execute(EXTEND_SQL, {
            "id": series["id"], "from": series["materialized_until"], "until": until,
            "starts": [o.start for o, _ in bookable], "ends": [o.end for o, _ in bookable],
            "rule_starts": [o.start for o, _ in broken], "rule_ends": [o.end for o, _ in broken],
            "rule_reasons": [p[0].code for _, p in broken]}).fetchone()
    return row["booked"], row["skipped"]
