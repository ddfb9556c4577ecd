"""Finding and assigning rooms: the finder, automatic assignment, batch availability.

The ranking (the README documents it for users):

- Hard constraints filter: the room is active, seats the party, has every
  piece of equipment asked for, is open for the whole interval (inside its
  hours on one local day of its own zone), and no live booking overlaps.
- Where the person is: rooms in another time zone than their building's are
  not offered unless asked (`any_timezone`). Their building is the one
  requested (`building`), or else their home building (booking.auth.User:
  chosen on /account, or where they booked most lately).
- Soft preferences order what is left: that building first, then the
  requested floor, then the smallest room that fits (don't put three people
  in the boardroom), then the room with the fewest bookings that day (spread
  the load), then the name.
- `score` sums up the first three: 50 points for that building (or when
  there is none), 30 for the requested floor (likewise), and up to 20 for
  fit, 20 x party / capacity. The weights make each criterion outrank the
  ones after it, so scores never increase down the list; rooms with equal
  scores are ordered by that day's bookings (`bookings_that_day`), then name.

booking.rules stays the source of truth for the booking rules. The search
chooses its candidates (`choose`, a pure function) from this process's copy
of the rooms (booking/memo/rooms.py), checked with `rules.check`, and the
database only says which of them are free. Suggestions filter in SQL with
`room_open()` (sql/003_finder.sql), the same hours rule, and what they offer
is checked with `rules.check` too. Rules that do not depend on the room
(length, whole minutes, past, window) are answered with a 422 before any SQL
runs.

Times: RFC 3339. An offset makes an instant. Rooms searched may be in several
zones, so a time without offset is read in the `timezone` given with the
request (an IANA name); without one it is a 400.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from flask import current_app

from booking import db, idempotency, inputs, memo, rules
from booking.auth import User
from booking.errors import BookingError, invalid
from booking.times import UTC, localize, parse_datetime, zone
from booking.i18n import _, and_list, ngettext

FIND_FIELDS = frozenset({"start_time", "end_time", "capacity", "equipment", "building",
                         "floor", "timezone", "any_timezone"})
AUTO_FIELDS = frozenset({"title", "start_time", "end_time", "attendees", "equipment",
                         "building", "floor", "timezone", "any_timezone"})
CHECK_FIELDS = frozenset({"room_id", "start_time", "end_time"})
MAX_CHECKS = 500

# The free rooms among the candidates, and each one's bookings that (room-local)
# day, in one statement. The candidates are the rooms `choose` picked from this
# process's copy of the rooms (booking/memo/rooms.py): per candidate, two short
# ranges of bookings_room_start (index-only), the overlap probe (no booking
# spans a day, so start_at > start - 1 day bounds it) and the count of that
# day's bookings. When the copy's version is no longer the database's, the
# statement also sends every room, and probes every active room that seats
# the party and has the equipment instead (the rules then pick from those).
FREE_SQL = """
SELECT v.n AS rooms_version,
       CASE WHEN v.n <> %(version)s THEN
            (SELECT json_agg(room_json(r) ORDER BY r.id) FROM rooms r)
       END AS rooms,
       f.ids, f.loads
  FROM (SELECT memo_version('rooms') AS n) v
 CROSS JOIN LATERAL (
       SELECT coalesce(array_agg(c.id), '{}') AS ids,
              coalesce(array_agg((
                  SELECT count(*) FROM bookings b
                   WHERE b.room_id = c.id AND b.cancelled_at IS NULL
                     AND b.start_at >= d.day::timestamp AT TIME ZONE c.timezone
                     AND b.start_at < (d.day + 1)::timestamp AT TIME ZONE c.timezone)::int),
                       '{}') AS loads
         FROM (SELECT u.id, (%(zones)s::text[])[u.z] AS timezone
                 FROM unnest(%(rooms)s::int[], %(zone_of)s::int[]) u(id, z)
                WHERE v.n = %(version)s
                UNION ALL
               SELECT r.id, r.timezone FROM rooms r
                WHERE v.n <> %(version)s AND r.active AND r.capacity >= %(people)s
                  AND r.equipment @> %(equipment)s::text[]) c
        CROSS JOIN LATERAL (SELECT (%(start)s AT TIME ZONE c.timezone)::date AS day) d
        WHERE NOT EXISTS (
              SELECT 1 FROM bookings b
               WHERE b.room_id = c.id AND b.cancelled_at IS NULL
                 AND b.start_at < %(end)s AND b.end_at > %(start)s
                 AND b.start_at > %(start)s - interval '1 day')) f"""

# Nearest free times and near-miss rooms (sql/003_finder.sql): per fitting
# room and day, one short range of bookings_room_start.
SUGGEST_SQL = """
SELECT room_suggestions(%(start)s, %(end)s, %(people)s, %(equipment)s::text[],
                        %(building)s::text, %(floor)s::int, %(not_before)s, %(until)s)
       AS suggestions"""

# Tries the ranked candidates in order, each with INSERT ... ON CONFLICT DO
# NOTHING against bookings_no_overlap; suggestions when all are taken.
AUTO_BOOK_SQL = """
SELECT auto_book(%(rooms)s::int[], %(user)s, %(title)s, %(start)s, %(end)s,
                 %(people)s, %(equipment)s::text[], %(building)s::text, %(floor)s::int,
                 %(not_before)s, %(until)s) AS result"""

# Many (room, interval) checks, answered in input order. A time without offset
# is wall-clock time in that check's room, so it is resolved here, where the
# room's zone is known; `skipped` flags a wall-clock time the clocks skip.
# Per check: rooms_pkey, then one short range of bookings_room_start.
AVAILABILITY_SQL = """
SELECT c.n,
       CASE WHEN r.id IS NULL THEN 'not_found'
            WHEN NOT r.active OR NOT room_open(r.timezone, r.opens, r.closes, t.s, t.e)
                 THEN 'closed'
            WHEN EXISTS (
                 SELECT 1 FROM bookings b
                  WHERE b.room_id = r.id AND b.cancelled_at IS NULL
                    AND b.start_at < t.e AND b.end_at > t.s
                    AND b.start_at > t.s - interval '1 day') THEN 'booked'
       END AS reason,
       t.e <= t.s AS backwards,
       c.s_local IS NOT NULL AND (t.s AT TIME ZONE r.timezone) <> c.s_local AS start_skipped,
       c.e_local IS NOT NULL AND (t.e AT TIME ZONE r.timezone) <> c.e_local AS end_skipped
  FROM unnest(%(rooms)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[],
              %(local_starts)s::timestamp[], %(local_ends)s::timestamp[])
       WITH ORDINALITY AS c(room_id, s_at, e_at, s_local, e_local, n)
  LEFT JOIN rooms r ON r.id = c.room_id
  LEFT JOIN LATERAL (
       SELECT coalesce(c.s_at, c.s_local AT TIME ZONE r.timezone) AS s,
              coalesce(c.e_at, c.e_local AT TIME ZONE r.timezone) AS e) t ON true
 ORDER BY c.n"""

@dataclass(frozen=True)
class Need:
    """What a room must offer: an interval, seats, equipment; preferred place.

    `building` is the one requested; `home` the person's home building, which
    stands in for it when none is requested; `any_zone` lifts the rule that
    only rooms in that building's time zone are offered.
    """
    start: datetime
    end: datetime
    people: int
    equipment: tuple[str, ...] = ()
    building: str | None = None
    floor: int | None = None
    home: str | None = None
    any_zone: bool = False
    zone: str | None = None   # only rooms in this time zone (a refused booking's room's)

    @property
    def place(self) -> str | None:
        """The building preferred: the one requested, else the person's home building."""
        return self.building if self.building is not None else self.home

    def zones_in(self, by_id: Mapping[int, Mapping[str, Any]]) -> frozenset[str] | None:
        """The time zones whose rooms may be offered (None: any): those of the
        preferred building's active rooms (one, unless a building spans zones),
        from the rooms given. A building without such rooms restricts nothing."""
        if self.zone is not None:
            return frozenset({self.zone})
        if self.any_zone or self.place is None:
            return None
        place = self.place.lower()
        zones = frozenset(room["timezone"] for room in by_id.values()
                          if room["active"] and room["building"].lower() == place)
        return zones or None

    def params(self, now: datetime, limits: rules.Limits) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "people": self.people,
                "equipment": list(self.equipment), "building": self.place,
                "floor": self.floor, "not_before": _next_quarter_hour(now),
                "until": now + timedelta(days=limits.window_days)}

    def describe(self) -> str:
        """"8 people with screen and video": for messages."""
        if self.equipment:
            return ngettext("%(num)d person with %(equipment)s",
                            "%(num)d people with %(equipment)s", self.people,
                            equipment=and_list(self.equipment))
        return ngettext("%(num)d person", "%(num)d people", self.people)


# -- the finder ------------------------------------------------------------------------

def find(data: Mapping[str, Any], now: datetime, user: User | None = None) -> dict[str, Any]:
    """Free rooms that fit, best first: {"rooms": [...], "suggestions": ...}.

    `suggestions` is None when some room fits, otherwise what auto-assignment
    would suggest (see `no_room`). `user`: whose home building is preferred.
    """
    inputs.only(data, FIND_FIELDS)
    limits = rules.Limits.from_config(current_app.config)
    need = parse_need(data, "capacity", people_required=False, user=user)
    _check_interval(need, now, limits)
    with db.connection() as conn:
        rooms, zones = free_rooms(conn, need, now, limits)
        suggestions = None
        if not rooms:
            row = conn.execute(SUGGEST_SQL, need.params(now, limits)).fetchone()
            suggestions = _checked(row["suggestions"], need, now, limits, zones)
    return {"rooms": rooms, "suggestions": suggestions}


def parse_need(data: Mapping[str, Any], people_field: str, *, people_required: bool,
               user: User | None = None) -> Need:
    """The Need in `data`, with `user`'s home building; 400 naming the field for
    malformed input."""
    start, end = _interval(data)
    people = data.get(people_field)
    if people in (None, ""):
        if people_required:
            raise invalid(people_field, _("%(field)s is required.", field=people_field))
        people = 1
    equipment = data.get("equipment")
    building = data.get("building")
    floor = data.get("floor")
    return Need(
        start=start, end=end,
        people=inputs.integer(people, people_field, low=1, high=10000),
        equipment=tuple(inputs.equipment(equipment)) if equipment not in (None, "") else (),
        building=(inputs.text(building, "building", low=0, high=100) or None)
        if building is not None else None,
        floor=inputs.integer(floor, "floor", low=-50, high=500)
        if floor not in (None, "") else None,
        home=user.building if user is not None else None,
        any_zone=inputs.boolean(data.get("any_timezone", False), "any_timezone"))


def _interval(data: Mapping[str, Any]) -> tuple[datetime, datetime]:
    start = parse_datetime(data.get("start_time"), "start_time")
    end = parse_datetime(data.get("end_time"), "end_time")
    tz_name = data.get("timezone")
    if tz_name in (None, ""):
        for field, moment in (("start_time", start), ("end_time", end)):
            if moment.tzinfo is None:
                raise invalid(field, _("%(field)s has no UTC offset, and the rooms searched may "
                                       "be in different time zones: give one "
                                       "(2027-03-02T14:00:00+01:00), or send timezone (an IANA "
                                       "name like Europe/Berlin) to read it in.", field=field))
        return start, end
    try:
        tz = zone(tz_name)
    except ValueError:
        raise invalid("timezone", _("timezone must be an IANA zone like Europe/Berlin.")) from None
    return localize(start, tz, "start_time"), localize(end, tz, "end_time")


def _check_interval(need: Need, now: datetime, limits: rules.Limits) -> None:
    """422 for an interval no room allows (too short, in the past, ...)."""
    error = rules.as_error(rules.check_interval(need.start, need.end, now, limits))
    if error:
        raise error


def free_rooms(conn, need: Need, now: datetime, limits: rules.Limits
               ) -> tuple[list[dict], frozenset[str] | None]:
    """The rooms free for `need` that the booking rules allow, best first (the
    ranking in the module's docstring), each with `score`, `bookings_that_day`,
    and `start_time` and `end_time`: the interval in the room's own zone; and
    the time zones offered (None: any).

    One statement (FREE_SQL), whether this process's copy of the rooms is
    current or not.
    """
    search = Search(need, now, limits)
    row = conn.execute(FREE_SQL, search.params).fetchone()
    return search.ranked(row), search.zones


class Search:
    """One free-room search: FREE_SQL's parameters for `need` (the candidates from
    this process's copy of the rooms), and its answer ranked. The finder runs it
    as a statement of its own; a refused booking asks it inside the statement that
    refused it (Alternatives)."""

    def __init__(self, need: Need, now: datetime, limits: rules.Limits):
        self.need, self.now, self.limits = need, now, limits
        self.kept = memo.current().rooms
        version, by_id = self.kept.current()
        self.allowed = Allowed(need, now, limits, need.zones_in(by_id))
        self.by_id = by_id
        self.params = free_params(need, self.allowed, version, by_id, self.kept)

    @property
    def zones(self) -> frozenset[str] | None:
        return self.allowed.zones

    def ranked(self, row: Mapping[str, Any]) -> list[dict]:
        """FREE_SQL's row (rooms_version, rooms, ids, loads) as ranked rooms."""
        by_id, free = self.by_id, zip(row["ids"], row["loads"])
        if row["rooms"] is not None:
            # The copy was out of date: the rooms were picked by seats and equipment
            # alone, and the rules (and where the person is) pick from them now.
            by_id = self.kept.replace(row["rooms_version"], row["rooms"])
            self.allowed = Allowed(self.need, self.now, self.limits, self.need.zones_in(by_id))
            free = [(room_id, load) for room_id, load in free if self.allowed(by_id[room_id])]
        return _ranked(by_id, free, self.need)


class Alternatives:
    """Other rooms for a booking refused because its room is taken (`other_rooms` in
    every 409: create, series, edit), found and ranked exactly as the finder finds
    and ranks (Search, _ranked): rooms in the requested room's time zone only, its
    building first, then its floor, with every piece of its equipment, seating
    `attendees` (or as many as the requested room), the smallest that fits first.

    No statement of its own: `sql(gate)` is the finder's query as a scalar
    subquery that the refusing statement runs only when `gate` (SQL over that
    statement's answer) says it was refused; `ranked(answer)` reads its JSON.
    """

    PREFIX = "alt_"
    MOST = 5

    def __init__(self, room: Mapping[str, Any], start: datetime, end: datetime,
                 attendees: int | None, now: datetime, limits: rules.Limits):
        self.room_id = room["id"]
        need = Need(start=start, end=end, people=attendees or room["capacity"],
                    equipment=tuple(sorted(room["equipment"])), building=room["building"],
                    floor=room["floor"], zone=room["timezone"])
        self.search = Search(need, now, limits)

    def params(self) -> dict[str, Any]:
        return {self.PREFIX + name: value for name, value in self.search.params.items()}

    @classmethod
    def sql(cls, gate: str) -> str:
        text = FREE_SQL.replace("%(", "%(" + cls.PREFIX)
        return f"(SELECT row_to_json(f) FROM ({text}) f WHERE {gate})"

    def ranked(self, answer: Mapping[str, Any] | None) -> list[dict]:
        if not answer:
            return []
        rooms = self.search.ranked(answer)
        return [room for room in rooms if room["id"] != self.room_id][:self.MOST]


# A room's opening rules read these four fields and nothing else of it (see
# rules.check): rooms that share them are checked once.
SHAPE_FIELDS = ("active", "timezone", "opens", "closes")


def shape(room: Mapping[str, Any]) -> tuple:
    return tuple(room[name] for name in SHAPE_FIELDS)


class Allowed:
    """Whether rules.check lets a room be booked for the need's interval, and it is
    in a time zone offered (`zones`, None: any), asked once per room shape:
    hundreds of rooms share a handful of shapes."""

    def __init__(self, need: Need, now: datetime, limits: rules.Limits,
                 zones: frozenset[str] | None = None):
        self.need, self.now, self.limits, self.zones = need, now, limits, zones
        self._by_shape: dict[tuple, bool] = {}

    def shape_ok(self, each: tuple) -> bool:
        ok = self._by_shape.get(each)
        if ok is None:
            room = dict(zip(SHAPE_FIELDS, each))
            ok = self._by_shape[each] = (
                (self.zones is None or room["timezone"] in self.zones)
                and not rules.check(room, self.need.start, self.need.end, self.now,
                                    self.limits))
        return ok

    def __call__(self, room: Mapping[str, Any]) -> bool:
        return self.shape_ok(shape(room))


def choose(rooms: Iterable[Mapping[str, Any]], people: int, equipment: Iterable[str],
           shapes: frozenset) -> list[Mapping[str, Any]]:
    """The rooms of an allowed shape that seat `people` and have all of `equipment`.

    Pure: the finder's candidates, whatever list of rooms it is given.
    """
    wanted = frozenset(equipment)
    return [room for room in rooms
            if room["capacity"] >= people and wanted <= set(room["equipment"])
            and shape(room) in shapes]


def free_params(need: Need, allowed: Allowed, version: int = memo.rooms.NONE,
                by_id: Mapping[int, Mapping[str, Any]] | None = None,
                kept: memo.rooms.Rooms | None = None) -> dict[str, Any]:
    """FREE_SQL's parameters: the candidates `choose` picks from the rooms of the
    copy at `version`, remembered with that copy when `kept` is given. Without a
    copy (version NONE), the statement sends the rooms."""
    by_id = by_id or {}
    def derived(key, make):
        return kept.derived(version, key, make) if kept is not None else make()

    shapes = derived("shapes", lambda: frozenset(shape(r) for r in by_id.values()))
    ok = frozenset(s for s in shapes if allowed.shape_ok(s))
    ids, zone_of, zones = derived((ok, need.people, need.equipment), lambda: _as_arrays(
        choose(by_id.values(), need.people, need.equipment, ok)))
    return {"version": version, "rooms": ids, "zone_of": zone_of, "zones": zones,
            "start": need.start, "end": need.end, "people": need.people,
            "equipment": list(need.equipment)}


def _as_arrays(rooms: list[Mapping[str, Any]]) -> tuple[str, str, list[str]]:
    """Candidates as FREE_SQL takes them: their ids, and for each the position of its
    zone in the list of zones (counted from 1), as int-array literals: psycopg writes
    128 of them in a fifth of the time a list takes."""
    zones: dict[str, int] = {}
    zone_of = [zones.setdefault(room["timezone"], len(zones) + 1) for room in rooms]
    return (_int_array([room["id"] for room in rooms]), _int_array(zone_of), list(zones))


def _int_array(values: list[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _ranked(by_id: Mapping[int, Mapping[str, Any]], free: Iterable[tuple[int, int]],
            need: Need) -> list[dict]:
    """The free rooms (id, that day's bookings) in their JSON shape, best first."""
    building = need.place.lower() if need.place is not None else None
    times: dict[str, tuple[str, str]] = {}
    found = []
    for room_id, load in free:
        room = by_id[room_id]
        in_building = building is None or room["building"].lower() == building
        on_floor = need.floor is None or room["floor"] == need.floor
        capacity = room["capacity"]
        # Tenths of a point, rounded half up: 20 x party / capacity for fit.
        tenths = 500 * in_building + 300 * on_floor + (400 * need.people + capacity) // (2 * capacity)
        tz = room["timezone"]
        interval = times.get(tz)
        if interval is None:
            interval = times[tz] = (need.start.astimezone(zone(tz)).isoformat(),
                                    need.end.astimezone(zone(tz)).isoformat())
        found.append(((not in_building, not on_floor, capacity, load, room["name"], room_id),
                      {**room, "score": tenths / 10, "bookings_that_day": load,
                       "start_time": interval[0], "end_time": interval[1]}))
    found.sort(key=lambda pair: pair[0])
    return [room for _, room in found]


def _checked(suggestions: dict, need: Need, now: datetime, limits: rules.Limits,
             zones: frozenset[str] | None = None) -> dict:
    """Suggestions the booking rules allow, in the zones offered (None: any); at most
    five of each kind."""
    def here(room: Mapping[str, Any]) -> bool:
        return zones is None or room["timezone"] in zones

    times = [t for t in suggestions["times"]
             if here(t["room"]) and not rules.check(
                 t["room"], datetime.fromisoformat(t["start_time"]),
                 datetime.fromisoformat(t["end_time"]), now, limits)]
    rooms = [a for a in suggestions["rooms"]
             if here(a["room"]) and not rules.check(a["room"], need.start, need.end, now, limits)]
    return {"times": times[:5], "rooms": rooms[:5]}


def _next_quarter_hour(now: datetime) -> datetime:
    """The first quarter hour at or after `now`: no suggestion starts before it."""
    seconds = now.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(math.ceil(seconds / 900) * 900, UTC)


# What the finder page offers: the usual zone, the buildings there are and the
# equipment in use (active rooms), in one statement.
# Every room, and the version it is read at: this process's copy when it has
# none yet (a page that offers rooms before any search).
ROOMS_SQL = """
SELECT memo_version('rooms') AS version,
       coalesce((SELECT json_agg(room_json(r) ORDER BY r.id) FROM rooms r), '[]') AS rooms"""


def rooms_copy() -> tuple[int, Mapping[int, Mapping[str, Any]]]:
    """(version, rooms by id): this process's copy of the rooms (booking/memo/rooms.py),
    read once if it has none; every search keeps it current."""
    kept = memo.current().rooms
    version, by_id = kept.current()
    if version == memo.rooms.NONE:
        with db.connection() as conn:
            row = conn.execute(ROOMS_SQL).fetchone()
        version, by_id = row["version"], kept.replace(row["version"], row["rooms"])
    return version, by_id


def choices() -> dict[str, Any]:
    """{"timezone", "buildings", "equipment"}: the finder form's choices, and the zone
    most rooms are in (what a page shows times in for someone without a zone of
    their own), made once per copy of the rooms."""
    version, by_id = rooms_copy()
    return memo.current().rooms.derived(version, "choices", lambda: _choices(by_id.values()))


def _choices(rooms: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The choices, from a list of rooms (pure)."""
    active = [room for room in rooms if room["active"]]
    zones: dict[str, int] = {}
    for room in active:
        zones[room["timezone"]] = zones.get(room["timezone"], 0) + 1
    return {"timezone": min(zones, key=lambda z: (-zones[z], z)) if zones else "UTC",
            "buildings": sorted({room["building"] for room in active if room["building"]}),
            "equipment": sorted({tag for room in active for tag in room["equipment"]})}


# -- automatic assignment ----------------------------------------------------------------

def auto_assign(user: User, data: Mapping[str, Any], now: datetime,
                only_room: int | None = None,
                key: idempotency.Key | None = None) -> dict[str, Any]:
    """Book the best free room that fits: {"booking", "room"}, or BookingError.

    Race-free: the candidates go, best first, to auto_book(), which inserts
    against the exclusion constraint and moves to the next one when a room was
    taken since it was ranked. Three statements at most, authentication
    included: the ranking, then auto_book() (or the suggestions when nothing
    fits at all).

    `only_room` books that room or none ("Book this" on the finder page); when
    it is no longer free the 409 `conflict` lists the rooms still free.

    With an idempotency `key` the booking goes through book_once(), even when
    no room is free now: the room a first request booked is no longer free,
    and its repeat must get that first answer, not a 409.
    """
    inputs.only(data, AUTO_FIELDS)
    limits = rules.Limits.from_config(current_app.config)
    need = parse_need(data, "attendees", people_required=True, user=user)
    title = inputs.title(data.get("title"))
    _check_interval(need, now, limits)
    params = need.params(now, limits)

    with db.connection() as conn:
        rooms, zones = free_rooms(conn, need, now, limits)
        candidates = [r for r in rooms if only_room is None or r["id"] == only_room]
        if key is not None:
            result = idempotency.book_once(
                conn, key, user.id, now, "auto", {"data": data, "only_room": only_room},
                {**params, "rooms": [r["id"] for r in candidates], "title": title,
                 "room_json": {str(r["id"]): r for r in candidates}})
            if key.replayed or result["room_id"] is not None:
                return {"booking": result["booking"], "room": result["room"]}
        elif not candidates:
            if only_room is not None:
                raise _taken(only_room, rooms)
            row = conn.execute(SUGGEST_SQL, params).fetchone()
            raise no_room(need, _checked(row["suggestions"], need, now, limits, zones))
        else:
            result = conn.execute(AUTO_BOOK_SQL, {**params, "user": user.id, "title": title,
                                                  "rooms": [r["id"] for r in candidates]}
                                  ).fetchone()["result"]

    if result["room_id"] is None:
        if only_room is not None:
            raise _taken(only_room, [r for r in rooms if r["id"] != only_room])
        raise no_room(need, _checked(result["suggestions"], need, now, limits, zones))
    room = next(r for r in rooms if r["id"] == result["room_id"])
    return {"booking": result["booking"], "room": room}


def no_room(need: Need, suggestions: dict) -> BookingError:
    return BookingError("no_room", _("No free room for %(need)s at that time.",
                                     need=need.describe()),
                        details={"suggestions": suggestions})


def _taken(room_id: int, still_free: list[dict]) -> BookingError:
    return BookingError("conflict", _("That room is no longer free for this request; "
                                      "the rooms still free are listed."), field="room_id",
                        details={"room_id": room_id, "rooms": still_free})


# -- batch availability -------------------------------------------------------------------

def availability(data: Mapping[str, Any]) -> dict[str, Any]:
    """{"results": [...]} for up to 500 (room, interval) checks, in one statement.

    Each result repeats the check's room_id, and its start_time and end_time as sent,
    with `available` and `reason`: null, "not_found" (no such room), "closed"
    (inactive, or not open for the whole interval) or "booked" (a live booking
    overlaps).
    """
    inputs.only(data, {"checks"})
    checks = data.get("checks")
    if not isinstance(checks, list):
        raise invalid("checks", _("checks must be a list of {room_id, start_time, end_time}."))
    if len(checks) > MAX_CHECKS:
        raise invalid("checks", _("At most %(most)d checks at a time.", most=MAX_CHECKS))
    columns: dict[str, list] = {"rooms": [], "starts": [], "ends": [], "local_starts": [],
                                "local_ends": []}
    for i, check in enumerate(checks):
        room_id, start, end = _check(check, f"checks[{i}]")
        columns["rooms"].append(room_id)
        columns["starts"].append(start if start.tzinfo else None)
        columns["local_starts"].append(None if start.tzinfo else start)
        columns["ends"].append(end if end.tzinfo else None)
        columns["local_ends"].append(None if end.tzinfo else end)
    if not checks:
        return {"results": []}

    with db.connection() as conn:
        rows = conn.execute(AVAILABILITY_SQL, columns).fetchall()

    results = []
    for i, (check, room_id, row) in enumerate(zip(checks, columns["rooms"], rows)):
        for flag, field in (("start_skipped", "start_time"), ("end_skipped", "end_time")):
            if row[flag]:
                raise invalid(f"checks[{i}].{field}",
                              _("%(field)s does not exist in the room's time zone (the "
                                "clocks skip it).", field=f"checks[{i}].{field}"))
        if row["backwards"]:
            raise invalid(f"checks[{i}].end_time", _("%(field)s must be after its start_time.",
                                                      field=f"checks[{i}].end_time"))
        results.append({"room_id": room_id, "start_time": check["start_time"],
                        "end_time": check["end_time"], "available": row["reason"] is None,
                        "reason": row["reason"]})
    return {"results": results}


def _check(check: Any, where: str) -> tuple[int, datetime, datetime]:
    if not isinstance(check, dict):
        raise invalid(where, _("%(field)s must be an object with room_id, start_time, "
                               "end_time.", field=where))
    unknown = sorted(k for k in check if k not in CHECK_FIELDS)
    if unknown:
        raise invalid(f"{where}.{unknown[0]}", _("Unknown field: %(field)s.",
                                                 field=f"{where}.{unknown[0]}"))
    room_id = inputs.integer(check.get("room_id"), f"{where}.room_id")
    start = parse_datetime(check.get("start_time"), f"{where}.start_time")
    end = parse_datetime(check.get("end_time"), f"{where}.end_time")
    if (start.tzinfo is None) == (end.tzinfo is None) and end <= start:
        raise invalid(f"{where}.end_time", _("%(field)s must be after its start_time.",
                                              field=f"{where}.end_time"))
    return room_id, start, end
