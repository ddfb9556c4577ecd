"""Rooms: the overview, a room's day, and the admin's create and edit.

One function per use case; each borrows a connection for one statement and
returns plain dicts in the JSON shape, which pages and twins both render.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Any, Iterator, Mapping, NamedTuple
from zoneinfo import ZoneInfo

import psycopg
from flask import current_app

from booking import db, inputs, memo, policy, rules
from booking.http import SharedAnswer
from booking.memo.overview import VERSION_SQL
from booking.availability import as_json, free_intervals
from booking.errors import BookingError, from_database, invalid, not_found
from booking.finder.service import ROOMS_JSON, keep_rooms
from booking.times import localize, parse_date, parse_datetime, parse_hm, rfc3339, zone
from booking.i18n import _, field_name

# The JSON shape of a room.
ROOM_FIELDS = """r.id, r.name, r.building, r.floor, r.capacity, r.equipment, r.timezone,
       to_char(r.opens, 'HH24:MI') AS opens, to_char(r.closes, 'HH24:MI') AS closes, r.active,
       r.area_id, r.checkin_required, r.release_after_minutes"""

# Each active room (all rooms for the admin page) with what is on now, what is next today, and how many
# bookings it has today (room-local day). Three short index-only probes of
# bookings_room_start per room, whatever the size of the table.
OVERVIEW_SQL = f"""
SELECT {ROOM_FIELDS},
       (SELECT booking_json(b) FROM booking_api b
         WHERE b.room_id = r.id AND b.live
           AND b.start_at <= %(now)s AND b.end_at > %(now)s
           AND b.start_at > %(now)s - interval '1 day'
         ORDER BY b.start_at DESC LIMIT 1) AS current_booking,
       (SELECT booking_json(b) FROM booking_api b
         WHERE b.room_id = r.id AND b.live
           AND b.start_at > %(now)s AND b.start_at < d.day_end
         ORDER BY b.start_at LIMIT 1) AS next_booking,
       (SELECT count(*) FROM bookings b
         WHERE b.room_id = r.id AND b.cancelled_at IS NULL
           AND b.start_at >= d.day_start AND b.start_at < d.day_end)::int AS bookings_today
  FROM rooms r
 CROSS JOIN LATERAL (
       SELECT date_trunc('day', %(now)s AT TIME ZONE r.timezone) AS local_midnight) m
 CROSS JOIN LATERAL (
       SELECT m.local_midnight AT TIME ZONE r.timezone AS day_start,
              (m.local_midnight + interval '1 day') AT TIME ZONE r.timezone AS day_end) d
 WHERE r.active OR %(everything)s
 ORDER BY r.active DESC, r.building, r.floor, r.name"""

# For the pages only (%(buffers)s): each booking's own buffer, in the bookings'
# order. A booking keeps the buffer it was made with (the room's may have changed
# since; a release sets it to 0), and the pages hold that much after it, as the
# constraint does. Not in the twin, whose bookings have the API's fields.
BUFFERS = """CASE WHEN %(buffers)s THEN
         (SELECT json_agg(b.buffer_minutes ORDER BY b.start_at) FROM bookings b
           WHERE b.room_id = r.id AND b.cancelled_at IS NULL
             AND b.start_at >= {start} - interval '1 day'
             AND b.start_at < {end} AND b.end_at > {start}) END AS buffers"""

# One room and its live bookings on one local day (today in the room's zone
# when no date is given), in one statement. The room is at hand, so each
# booking joins only its owner (booking_json_of(), sql/016).
# bookings_room_start: an index range on (room_id, start_at).
DAY_SQL = f"""
SELECT {ROOM_FIELDS},
       dd.day AS date,
       coalesce((SELECT json_agg(booking_json_of(b.id, b.room_id, r.name, b.user_id, u.name,
                                                 b.title, b.start_at, b.end_at, b.series_id,
                                                 b.cancelled_at, b.created_at, r.timezone,
                                                 b.attendees,
                                                 coalesce(b.created_by, b.user_id), b.status,
                                                 b.checked_in_at, b.released_at)
                                 ORDER BY b.start_at)
                   FROM bookings b JOIN users u ON u.id = b.user_id
                  WHERE b.room_id = r.id AND b.cancelled_at IS NULL
                    AND b.start_at >= d.day_start - interval '1 day'
                    AND b.start_at < d.day_end AND b.end_at > d.day_start),
                '[]') AS bookings,
       {BUFFERS.format(start="d.day_start", end="d.day_end")}
  FROM rooms r
 CROSS JOIN LATERAL (
       SELECT coalesce(%(day)s::date, (%(now)s AT TIME ZONE r.timezone)::date) AS day) dd
 CROSS JOIN LATERAL (
       SELECT dd.day::timestamp AT TIME ZONE r.timezone AS day_start,
              (dd.day + 1)::timestamp AT TIME ZONE r.timezone AS day_end) d
 WHERE r.id = %(room)s"""

ROOM_SQL = f"SELECT {ROOM_FIELDS} FROM rooms r WHERE r.id = %s"

# The room and where its opening hours come from, for its admin page (room_policy(),
# sql/040): its own opens and closes count only where no policy sets opening hours.
ROOM_AND_HOURS_SQL = f"""
SELECT {ROOM_FIELDS}, room_policy(r.id)->'fields'->'opening_hours'->'source' AS hours_from
  FROM rooms r WHERE r.id = %s"""

# The room a booking names and its effective policy (room_policy(), sql/040:
# rooms_pkey, then the area chain by areas_pkey), in the one statement that
# reads the room, so the policy costs a booking no statement of its own.
BOOKING_ROOM_SQL = f"SELECT {ROOM_FIELDS}, room_policy(r.id) AS policy FROM rooms r WHERE r.id = %s"


# The overview page's version statement: also every room and its policy when this
# process's copy of the rooms (booking/memo/rooms.py) is not at the database's
# version (`kept`), so the page draws "Closed now" by the rooms' policies at no
# statement of its own.
PAGE_VERSION_SQL = f"""
SELECT memo_version('overview') AS version, v.rooms_version,
       CASE WHEN v.rooms_version <> %(kept)s::bigint THEN {ROOMS_JSON} END AS rooms
  FROM (SELECT memo_version('rooms') AS rooms_version) v"""


def overview(now: datetime, include_inactive: bool = False,
             with_rooms: bool = False) -> SharedAnswer:
    """Every active room with current_booking, next_booking and bookings_today.

    Everyone sees the same, so the answer is kept while no booking or room has
    changed and the minute is the same (booking/memo/overview.py): one cheap
    statement instead of three index probes per room. `with_rooms` (the page):
    that statement also brings this process's copy of the rooms up to date.
    """
    minute = now.replace(second=0, microsecond=0)
    with db.connection() as conn:
        if with_rooms:
            kept = memo.current().rooms
            row = conn.execute(PAGE_VERSION_SQL, {"kept": kept.current()[0]}).fetchone()
            if row["rooms"] is not None:
                keep_rooms(kept, row["rooms_version"], row["rooms"], current_app.config)
        else:
            row = conn.execute(VERSION_SQL).fetchone()
        version = row["version"]
        return memo.current().overview.get(include_inactive, (version, minute), lambda: conn.execute(
            OVERVIEW_SQL, {"now": minute, "everything": include_inactive}).fetchall())


def day(room_id: int, day_text: str | None, now: datetime,
        buffers: bool = False) -> dict[str, Any]:
    """A room and its live bookings on one room-local day (today by default).
    `buffers` (the page): also "buffers", each booking's own (BUFFERS)."""
    day_value = parse_date(day_text) if day_text else None
    with db.connection() as conn:
        row = conn.execute(DAY_SQL, {"room": room_id, "day": day_value, "now": now,
                                     "buffers": buffers}).fetchone()
    if row is None:
        raise not_found(_("That room does not exist."))
    bookings, held = row.pop("bookings"), row.pop("buffers")
    found = {"room": row, "date": row.pop("date").isoformat(), "bookings": bookings}
    return {**found, "buffers": held or []} if buffers else found


# One room and its live bookings over one room-local week, Monday to Sunday
# (this week when no day is given; any day names the week it is in).
# bookings_room_start: one index range.
WEEK_SQL = f"""
SELECT {ROOM_FIELDS},
       w.monday,
       coalesce((SELECT json_agg(booking_json(b) ORDER BY b.start_at)
                   FROM booking_api b
                  WHERE b.room_id = r.id AND b.live
                    AND b.start_at >= w.week_start - interval '1 day'
                    AND b.start_at < w.week_end AND b.end_at > w.week_start),
                '[]') AS bookings,
       {BUFFERS.format(start="w.week_start", end="w.week_end")}
  FROM rooms r
 CROSS JOIN LATERAL (
       SELECT coalesce(%(day)s::date, (%(now)s AT TIME ZONE r.timezone)::date) AS day) dd
 CROSS JOIN LATERAL (
       SELECT dd.day - (extract(isodow FROM dd.day)::int - 1) AS monday) m
 CROSS JOIN LATERAL (
       SELECT m.monday, m.monday::timestamp AT TIME ZONE r.timezone AS week_start,
              (m.monday + 7)::timestamp AT TIME ZONE r.timezone AS week_end) w
 WHERE r.id = %(room)s"""


def week(room_id: int, start_text: str | None, now: datetime,
         buffers: bool = False) -> dict[str, Any]:
    """A room and its live bookings on each day of one room-local week, Monday first:
    {"room", "days": [{"date", "bookings"}]}. `start` is any day of the week (this
    week by default); the week is the Monday-to-Sunday one it is in. `buffers` (the
    page): each day also has "buffers", its bookings' own (BUFFERS)."""
    day_value = parse_date(start_text, "start") if start_text else None
    with db.connection() as conn:
        row = conn.execute(WEEK_SQL, {"room": room_id, "day": day_value, "now": now,
                                      "buffers": buffers}).fetchone()
    if row is None:
        raise not_found(_("That room does not exist."))
    bookings, monday, held = row.pop("bookings"), row.pop("monday"), row.pop("buffers")
    days = [{"date": (monday + timedelta(days=n)).isoformat(), "bookings": [],
             **({"buffers": []} if buffers else {})} for n in range(7)]
    by_date = {d["date"]: d for d in days}
    for booking, minutes in zip(bookings, held or [None] * len(bookings)):
        day_of = by_date.get(booking["start_time"][:10], days[0])
        day_of["bookings"].append(booking)
        if buffers:
            day_of["buffers"].append(minutes)
    return {"room": row, "days": days}


# A room, its effective policy (room_policy(): every field it, its areas or
# the organisation set, with the level that set it) and the groups' names:
# rooms_pkey, the area chain by areas_pkey.
# (With every area and group: the page's policy form offers them; areas.service.)
POLICY_SQL = """
SELECT {fields}, r.policy AS own, room_policy(r.id) AS effective, {choices}
  FROM rooms r WHERE r.id = %(id)s"""


def room_policy(room_id: int) -> dict[str, Any]:
    """{"room_id", "area_id", "areas", "own": the fields the room itself sets,
    "policy": every field's effective value, its source and how the pages say it}."""
    from booking.areas.service import CHOICES

    with db.connection() as conn:
        row = conn.execute(POLICY_SQL.format(fields=ROOM_FIELDS, choices=CHOICES),
                           {"id": room_id}).fetchone()
    if row is None:
        raise not_found(_("That room does not exist."))
    all_areas, all_groups = row.pop("all_areas"), row.pop("all_groups")
    names = {g["id"]: g["name"] for g in all_groups}
    resolved, own = row.pop("effective"), row.pop("own")
    effective = policy.effective(resolved, current_app.config)
    return {"room_id": row["id"], "area_id": row["area_id"], "areas": resolved["areas"],
            "own": own, "policy": policy.as_json(effective, row, names), "room": row,
            "all_areas": all_areas, "all_groups": all_groups}


# Every room, for the admin's list.
# With the opening hours its policy sets, if any does (room_policy(), sql/040):
# where they are set, the room's own opens and closes are not used.
ALL_ROOMS_SQL = f"""
SELECT {ROOM_FIELDS}, room_policy(r.id)->'fields'->'opening_hours' AS policy_hours
  FROM rooms r ORDER BY r.active DESC, r.building, r.floor, r.name"""


def all_rooms() -> list[dict[str, Any]]:
    """Every room, active or not, without bookings: the admin's list, each with
    `hours` ("HH:MM", "HH:MM": the earliest opening and latest closing of its week;
    None when closed every day) and `hours_from` (the level whose policy sets them,
    None for the room's own opens and closes)."""
    with db.connection() as conn:
        rows = conn.execute(ALL_ROOMS_SQL).fetchall()
    for row in rows:
        set_by = row.pop("policy_hours")
        if set_by is None:
            row["hours"], row["hours_from"] = (row["opens"], row["closes"]), None
            continue
        days = [pair for pair in set_by["value"].values() if pair]
        row["hours"] = (min(p[0] for p in days), max(p[1] for p in days)) if days else None
        row["hours_from"] = set_by["source"]
    return rows


# A room, its effective policy, and what holds it between two bounds, each
# given either as an instant or as room-local wall-clock time (resolved here,
# in the room's zone). A booking holds the room to its end plus its buffer.
# bookings_room_start: one index range (no booking spans a day and buffers are
# at most 4 hours, so start_at > range start - 28 hours bounds it). The end
# plus the buffer written out, as in the finder's FREE_SQL (no SQL function
# call per booking).
AVAILABILITY_SQL = f"""
SELECT {ROOM_FIELDS}, room_policy(r.id) AS policy, w.range_start, w.range_end,
       coalesce((SELECT json_agg(json_build_object(
                            'start_at', b.start_at,
                            'end_at', b.end_at + make_interval(mins => b.buffer_minutes))
                          ORDER BY b.start_at)
                   FROM bookings b
                  WHERE b.room_id = r.id AND b.cancelled_at IS NULL
                    AND b.start_at > w.range_start - interval '28 hours'
                    AND b.start_at < w.range_end
                    AND b.end_at + make_interval(mins => b.buffer_minutes) > w.range_start),
                '[]') AS busy
  FROM rooms r
 CROSS JOIN LATERAL (
       SELECT coalesce(%(start_at)s::timestamptz, %(start_local)s::timestamp AT TIME ZONE r.timezone,
                       date_trunc('day', %(now)s AT TIME ZONE r.timezone) AT TIME ZONE r.timezone)
              AS range_start) s
 CROSS JOIN LATERAL (
       SELECT s.range_start,
              coalesce(%(end_at)s::timestamptz, %(end_local)s::timestamp AT TIME ZONE r.timezone,
                       (date_trunc('day', s.range_start AT TIME ZONE r.timezone) + interval '1 day')
                       AT TIME ZONE r.timezone) AS range_end) w
 WHERE r.id = %(room)s"""

MOST_DAYS = 31


def availability(room_id: int, start_text: str | None, end_text: str | None,
                 min_minutes: Any, now: datetime, with_policy: bool = False,
                 booker: Any = None) -> dict[str, Any]:
    """The room's free intervals between start and end, as its effective policy
    has them: inside the hours of each weekday, not on closed dates, not before
    the notice, kept clear of bookings and their buffers. None for a room that
    is inactive, or that `booker` (rules.Booker, the person asking) may not
    book: nothing offered is then refused.

    `start`/`end` are room-local dates (YYYY-MM-DD; end exclusive) or RFC 3339
    times; by default today. At most 31 days.
    """
    shortest = (None if min_minutes in (None, "")
                else inputs.integer(min_minutes, "min_minutes", high=24 * 60))
    bounds = {**_bound(start_text, "start"), **_bound(end_text, "end"), "room": room_id,
              "now": now}
    _refuse_long_range(bounds)
    with db.connection() as conn:
        row = conn.execute(AVAILABILITY_SQL, bounds).fetchone()
    if row is None:
        raise not_found(_("That room does not exist."))
    start, end, busy = row.pop("range_start"), row.pop("range_end"), row.pop("busy")
    _refuse_skipped_time(start_text, "start", row["timezone"])
    _refuse_skipped_time(end_text, "end", row["timezone"])
    room_policy = policy.effective(row.pop("policy"), current_app.config)
    if shortest is None:       # by default, what the room's policy lets one book
        shortest = room_policy.min_minutes
    if end <= start:
        raise invalid("end", _("%(end)s must be after %(start)s.", end=field_name("end"),
                                 start=field_name("start")))
    if end - start > timedelta(days=MOST_DAYS, hours=1):  # an hour for daylight saving
        raise invalid("end", _("Ask for at most %(most)d days at a time.", most=MOST_DAYS))
    refused = ("inactive" if not row["active"] else "not_permitted"
               if booker is not None and not booker.may_book(room_policy) else None)
    free = [] if refused else free_intervals(
        row, [(datetime.fromisoformat(b["start_at"]), datetime.fromisoformat(b["end_at"]))
              for b in busy], start, end, now, shortest, room_policy)
    found = {"room_id": row["id"], "room": row,
             "start_time": rfc3339(start, zone(row["timezone"])),
             "end_time": rfc3339(end, zone(row["timezone"])),
             "free": as_json(free, row["timezone"])}
    if with_policy:   # the page's: each day's hours, its links' longest booking, and why none
        found["policy"], found["refused"] = room_policy, refused
    return found


def _bound(text: str | None, field: str) -> dict[str, Any]:
    """A range bound as an instant (`<field>_at`) or room-local time (`<field>_local`)."""
    values: dict[str, Any] = {f"{field}_at": None, f"{field}_local": None}
    if text in (None, ""):
        return values
    if len(text.strip()) == 10:
        values[f"{field}_local"] = datetime.combine(parse_date(text, field), time(0))
    else:
        moment = parse_datetime(text, field)
        values[f"{field}_at" if moment.tzinfo else f"{field}_local"] = moment
    return values


def _refuse_skipped_time(text: str | None, field: str, tz_name: str) -> None:
    """400 for a room-local time the clocks skip (PostgreSQL would move it on
    quietly), as booking refuses it (times.localize); a date means its day's start."""
    if text in (None, "") or len(text.strip()) == 10:
        return
    moment = parse_datetime(text, field)
    if moment.tzinfo is None:
        localize(moment, zone(tz_name), field)


def _refuse_long_range(bounds: dict[str, Any]) -> None:
    """Refuse a range over 31 days before asking the database (zones differ by < 1 day)."""
    def rough(field):
        value = bounds[f"{field}_at"] or bounds[f"{field}_local"]
        return value.replace(tzinfo=None) if value is not None else None
    start, end = rough("start"), rough("end")
    if start is not None and end is not None and end - start > timedelta(days=MOST_DAYS + 1):
        raise invalid("end", _("Ask for at most %(most)d days at a time.", most=MOST_DAYS))


# rooms_pkey; users_email_key for the person booked for, delegates_delegate for
# whether the caller may (an admin may book for anyone), group_members_user for
# that person's groups (the room's bookers rule is about who holds the booking).
ROOM_AND_OWNER_SQL = f"""
SELECT {ROOM_FIELDS}, room_policy(r.id) AS policy, o.id AS owner_id,
       (SELECT coalesce(array_agg(m.group_id), '{{}}') FROM group_members m
         WHERE m.user_id = o.id) AS owner_groups,
       (%(admin)s OR EXISTS (SELECT 1 FROM delegates d JOIN users x ON x.id = d.user_id
                              WHERE d.delegate_id = %(actor)s
                                AND lower(x.email) = lower(%(email)s))) AS may_book_for
  FROM rooms r
  LEFT JOIN users o ON lower(o.email) = lower(%(email)s) AND o.active
 WHERE r.id = %(room)s"""


def for_booking(conn: psycopg.Connection, room_id: int, start_raw: datetime,
                end_raw: datetime, booked_for: str | None = None, actor: Any = None
                ) -> tuple[dict[str, Any], ZoneInfo, datetime, datetime]:
    """The room a booking names, its zone, and the booking's start and end
    placed in that zone (times without an offset are the room's wall-clock
    time). A room that does not exist is a 404 naming `room_id`. The room
    carries its effective policy as `room["policy"]` (booking.rules.Policy).

    With `booked_for` (an email), the same statement finds that person, and
    the room dict carries `owner_id` and `owner_groups`: the booking is theirs,
    and the rules see them (rules.Booker.for_owner). Only an admin or
    a delegate they named may (403 otherwise, whether or not the address is
    someone's); an address of no active account is 422 unknown_user."""
    if booked_for is None:
        room = conn.execute(BOOKING_ROOM_SQL, (room_id,)).fetchone()
    else:
        room = conn.execute(ROOM_AND_OWNER_SQL, {"room": room_id, "email": booked_for,
                                                 "admin": actor.is_admin,
                                                 "actor": actor.id}).fetchone()
    if room is None:
        raise BookingError("not_found", _("That room does not exist."), field="room_id")
    if booked_for is not None:
        if not room.pop("may_book_for"):
            raise BookingError("forbidden", _("You may book for someone else only when they "
                                              "named you their delegate (or as an "
                                              "administrator)."), field="booked_for")
        if room["owner_id"] is None:
            raise BookingError("unknown_user", _("No active account has the address "
                                                 "%(address)s.", address=booked_for),
                               field="booked_for")
    room["policy"] = policy.effective(room["policy"], current_app.config)
    tz = zone(room["timezone"])
    return room, tz, localize(start_raw, tz, "start_time"), localize(end_raw, tz, "end_time")


def kept_room(room_id: int) -> dict[str, Any] | None:
    """The room in its JSON shape with its effective policy as room["policy"]
    (booking.rules.Policy), as for_booking() gives it, from this process's copy
    of the rooms (booking/memo/rooms.py); None when the copy does not have it
    (or there is none). The copy may be behind the database by an
    administrator's change: the caller makes sure it is not (a version read
    in its statement)."""
    by_id = memo.current().rooms.current()[1]
    kept = by_id.get(room_id)
    return None if kept is None else {**kept, "policy": by_id.policies[room_id]}


def kept_for_booking(room_id: int, start_raw: datetime, end_raw: datetime
                     ) -> tuple[int, dict[str, Any], ZoneInfo, datetime, datetime] | None:
    """for_booking() without a statement, from this process's copy of the rooms, and
    the version of the copy (that the statement that books must check:
    bookings.service.BOOK_SQL); None when the copy does not have the room."""
    version = memo.current().rooms.current()[0]
    room = kept_room(room_id)
    if room is None:
        return None
    tz = zone(room["timezone"])
    return (version, room, tz, localize(start_raw, tz, "start_time"),
            localize(end_raw, tz, "end_time"))


def get(room_id: int, sql: str = ROOM_SQL) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(sql, (room_id,)).fetchone()
    if row is None:
        raise not_found(_("That room does not exist."))
    return row


# -- admin: create and edit ----------------------------------------------------------

ROOM_COLUMNS = ("name", "building", "floor", "capacity", "equipment", "timezone",
                "opens", "closes", "active", "area_id", "checkin_required",
                "release_after_minutes")

# Both name the admin for the audit log (sql/007) in the same statement:
# set_config(..., true) lasts until this statement's transaction ends, and the
# audit trigger fires after the row is written.
ACTOR = "(SELECT set_config('booking.actor', coalesce(%(actor)s::text, ''), true)) AS actor"

# A room's own policy fields (sql/040) name groups by id: those that do not
# exist are found in the writing statement, which then writes nothing.
MISSING_GROUPS = """(SELECT array_agg(g) FROM unnest(%(groups)s::bigint[]) g
          WHERE NOT EXISTS (SELECT 1 FROM groups x WHERE x.id = g))"""

CREATE_SQL = f"""
WITH made AS (
    INSERT INTO rooms AS r (name, building, floor, capacity, equipment, timezone, opens, closes,
                            active, area_id, policy, checkin_required, release_after_minutes)
    SELECT %(name)s::text, %(building)s::text, %(floor)s::integer, %(capacity)s::integer,
           %(equipment)s::text[], %(timezone)s::text, %(opens)s::time, %(closes)s::time,
           %(active)s::boolean, %(area_id)s::integer, %(set)s::jsonb,
           %(checkin_required)s::boolean, %(release_after_minutes)s::integer
      FROM {ACTOR}
     WHERE {MISSING_GROUPS} IS NULL
    RETURNING r.*)
SELECT {MISSING_GROUPS} AS missing_groups, {ROOM_FIELDS}
  FROM (SELECT 1) one LEFT JOIN made r ON true"""


def create(data: Mapping[str, Any], actor: int | None = None) -> dict[str, Any]:
    """A new room from `data` (validated here); BookingError on bad input.
    `actor`: the admin, for the audit log."""
    config = current_app.config
    values = clean_room(data, partial=False, defaults={
        "building": "", "floor": 0, "equipment": [], "active": True, "area_id": None,
        "checkin_required": False, "release_after_minutes": 15,
        "opens": config["DEFAULT_OPENS"], "closes": config["DEFAULT_CLOSES"]})
    own = policy.merged({}, values.pop("policy", {}))
    with _refusals_as_input_errors(), db.connection() as conn:
        row = conn.execute(CREATE_SQL, {**values, "actor": actor, "set": _json(own),
                                        "groups": policy.groups_named(own)}).fetchone()
    _refuse_missing_groups(row)
    return row


# After a change, the live bookings from now on (bookings_room_start, one range
# from now), the room's own policy and its area's as they now are: those outside
# the hours its effective policy now gives stay booked, and the admin is told
# (outside_hours()). (room_policy() would read the room as it was before this
# statement.)
AFTER_CHANGE = """(SELECT coalesce(json_agg(json_build_array(b.start_at, b.end_at)), '[]')
          FROM bookings b
         WHERE b.room_id = r.id AND b.cancelled_at IS NULL AND b.start_at >= %(now)s
       ) AS future, r.policy AS own_policy, area_policy(r.area_id) AS area_policy"""


class Outside(NamedTuple):
    """After a change: how many future bookings lie outside the room's hours, and
    where its opening hours come from (rules.Source; None: the room's own
    opens and closes, no policy sets them); how many future bookings it has."""
    count: int
    hours_from: rules.Source | None
    future: int = 0


def outside_hours(row: dict[str, Any], config: Mapping[str, Any]) -> Outside:
    """How many of `row`'s future bookings (AFTER_CHANGE) lie outside the hours its
    effective policy gives their day, or on a day it closes. The policy is the
    area's, with the room's own fields nearest, as room_policy() resolves it."""
    own, area = row.pop("own_policy") or {}, row.pop("area_policy") or {}
    here = {"level": "room", "id": row["id"], "name": row["name"]}
    fields = {**(area.get("fields") or {}),
              **{name: {"value": value, "source": here} for name, value in own.items()}}
    effective = policy.effective({"fields": fields}, config)
    future = row.pop("future")
    count = sum(rules.outside_hours(row, datetime.fromisoformat(start),
                                    datetime.fromisoformat(end), effective)
                for start, end in future)
    return Outside(count, None if effective.opening_hours is None
                   else effective.source("opening_hours"), len(future))


def update(room_id: int, data: Mapping[str, Any], now: datetime,
           actor: int | None = None) -> tuple[dict[str, Any], Outside]:
    """Change the given fields of a room; the others stay as they are. Returns the
    room and how many of its bookings from `now` on fall outside its hours."""
    values = clean_room(data, partial=True)
    if not values:
        raise invalid("body", _("Send at least one room field to change."))
    changes = values.pop("policy", {})
    set_fields = {k: v for k, v in changes.items() if v is not None}
    # Column names come from ROOM_COLUMNS, never from the client. A policy field
    # sent as null is unset (inherited again); the others are set.
    # Check-in turned on: a booking's grace counts from now (release_time()'s callers).
    since = (["checkin_since = CASE WHEN %(checkin_required)s AND NOT r.checkin_required "
              "THEN %(now)s ELSE r.checkin_since END"] if "checkin_required" in values else [])
    assignments = ", ".join([f"{column} = %({column})s" for column in values] + since
                            + ["policy = (r.policy || %(set)s::jsonb) - %(unset)s::text[]"])
    sql = (f"WITH r AS (UPDATE rooms AS r SET {assignments}, updated_at = now() "
           f"FROM {ACTOR} WHERE r.id = %(id)s AND {MISSING_GROUPS} IS NULL RETURNING r.*) "
           f"SELECT {MISSING_GROUPS} AS missing_groups, "
           f"(SELECT count(*) FROM rooms WHERE id = %(id)s) > 0 AS found, "
           f"{ROOM_FIELDS}, {AFTER_CHANGE} "
           f"FROM (SELECT 1) one LEFT JOIN r ON true")
    with _refusals_as_input_errors(), db.connection() as conn:
        row = conn.execute(sql, {**values, "id": room_id, "actor": actor, "now": now,
                                 "set": _json(set_fields),
                                 "unset": [k for k, v in changes.items() if v is None],
                                 "groups": policy.groups_named(set_fields)}).fetchone()
    if not row.pop("found"):
        raise not_found(_("That room does not exist."))
    _refuse_missing_groups(row)
    return row, outside_hours(row, current_app.config)


def _json(value: Any) -> str:
    import json
    return json.dumps(value)


def _refuse_missing_groups(row: dict[str, Any]) -> None:
    """422 unknown_group for a policy naming groups that do not exist (nothing was
    written); the row is the room otherwise."""
    missing = row.pop("missing_groups", None)
    if missing:
        raise BookingError("unknown_group", _("No such group: %(groups)s.",
                                              groups=", ".join(map(str, missing))),
                           field="policy", details={"groups": missing})


@contextmanager
def _refusals_as_input_errors() -> Iterator[None]:
    """A constraint the input broke (a taken name, closing before opening) as the
    BookingError naming its field, so the admin page shows it beside the field just
    as the API reports it."""
    try:
        yield
    except psycopg.IntegrityError as exc:
        err = from_database(exc)
        if err is None:
            raise
        raise err from exc


def clean_room(data: Mapping[str, Any], *, partial: bool,
               defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate room fields; unknown fields are refused so typos don't pass silently.
    `policy` (the room's own policy fields, booking/policy.py) comes back as the
    changes clean() makes of it."""
    inputs.only(data, frozenset(ROOM_COLUMNS) | {"id", "policy"})
    values: dict[str, Any] = {}
    check = inputs.Collect()   # every field's error at once (the admin's form shows each)
    if data.get("policy") is not None:
        values["policy"] = check(policy.clean, data["policy"])
    for column in ROOM_COLUMNS:
        if column in data:
            values[column] = check(_CLEANERS[column], data[column])
        elif not partial:
            if defaults and column in defaults:
                values[column] = defaults[column]
                if column in ("opens", "closes"):
                    values[column] = parse_hm(values[column], column)
            else:
                check.fail(column, _("%(field)s is required.", field=field_name(column)))
    opens, closes = values.get("opens"), values.get("closes")
    if opens is not None and closes is not None and opens >= closes:
        check.fail("closes", _("A room must close after it opens."))
    check.done()
    return values


def _timezone(value: Any) -> str:
    try:
        return zone(value).key
    except ValueError:
        raise invalid("timezone", _("%(field)s must be an IANA zone like Europe/Berlin.",
                                    field=field_name("timezone"))) from None


_CLEANERS = {
    "name": lambda v: inputs.text(v, "name", high=100),
    "building": lambda v: inputs.text(v, "building", low=0, high=100),
    "floor": lambda v: inputs.integer(v, "floor", low=-50, high=500),
    "capacity": lambda v: inputs.integer(v, "capacity", low=1, high=10000),
    "equipment": inputs.equipment,
    "timezone": _timezone,
    "opens": lambda v: parse_hm(v, "opens"),
    "closes": lambda v: parse_hm(v, "closes"),
    "active": lambda v: inputs.boolean(v, "active"),
    "area_id": lambda v: None if v in (None, "") else inputs.integer(v, "area_id"),
    "checkin_required": lambda v: inputs.boolean(v, "checkin_required"),
    "release_after_minutes": lambda v: inputs.integer(v, "release_after_minutes", low=1,
                                                      high=60),
}
