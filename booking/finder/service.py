"""Finding and assigning rooms: the finder, automatic assignment, batch availability.

The ranking (the README documents it for users):

- Hard constraints filter: the room is active, seats the party, has every
  piece of equipment asked for, its effective policy allows the interval for
  this person (booking.rules: length, hours of that weekday, closed dates,
  notice, window, bookers; and their quota there), and nothing holds it (a
  live booking, or the buffer after one, or the room's own buffer before the
  next one).
- Where the person is: rooms in another time zone than their building's are
  not offered unless asked (`any_timezone`). Their building is the one
  requested (`building`), or else their home building (booking.auth.User:
  chosen on /account, or where they booked most lately).
- Soft preferences are weighted points, summed up in `score`: 50 for that
  building (or when there is none), 30 for the requested floor (likewise),
  up to 20 for fit (20 x party / capacity: don't put three people in the
  boardroom), and up to ASSIGN_BALANCE_WEIGHT for balance (that weight x
  (1 - the room's utilisation this week, its booked minutes over its open
  minutes, Monday to Sunday in its zone)), so that among rooms equally good
  otherwise the less used one wins. Highest score first; equal scores by that
  day's bookings (`bookings_that_day`), then name.

booking.rules stays the source of truth for the booking rules. The search
chooses its candidates (`choose`, a pure function) from this process's copy
of the rooms and their policies (booking/memo/rooms.py), checked with
`rules.check`, and the database only says which of them are free, how busy
they are and what the person already holds (for quotas). Suggestions are
found in SQL (room_suggestions(), with each room's buffer and weekly hours)
and everything offered is checked with the same rules and quotas. Rules no
room or policy can change (whole minutes, the past) are answered with a 422
before any SQL runs; an interval that every room's policy refuses for the
same reason (too long everywhere, say) is that 422 after the search.

Times: RFC 3339. An offset makes an instant. Rooms searched may be in several
zones, so a time without offset is read in the `timezone` given with the
request (an IANA name); without one it is a 400.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Any, Iterable, Mapping

from flask import current_app

from booking import db, idempotency, inputs, memo, policy as policies, rules
from booking.auth import User
from booking.errors import BookingError, invalid
from booking.times import UTC, localize, parse_datetime, wall_instant, zone
from booking.i18n import _, and_list, field_name, ngettext

FIND_FIELDS = frozenset({"start_time", "end_time", "capacity", "equipment", "building",
                         "floor", "timezone", "any_timezone"})
AUTO_FIELDS = frozenset({"title", "start_time", "end_time", "attendees", "equipment",
                         "building", "floor", "timezone", "any_timezone"})
CHECK_FIELDS = frozenset({"room_id", "start_time", "end_time"})
MAX_CHECKS = 500

# The ranking's documented weights (points of `score`); ASSIGN_BALANCE_WEIGHT
# (booking/config.py) is the fourth.
BUILDING_POINTS, FLOOR_POINTS, FIT_POINTS = 50, 30, 20

# The free rooms among the candidates, each one's bookings that (room-local)
# day and booked minutes that week, and the person's own bookings around the
# interval (for quotas), in one statement. The candidates are the rooms
# `choose` picked from this process's copy of the rooms (booking/memo/rooms.py),
# each with its buffer: per candidate, short ranges of bookings_room_start
# (index-only): the overlap probe (a booking holds its room to its end plus
# its buffer; no booking spans a day and buffers are at most 4 hours, so
# start_at > start - 28 hours bounds it), the count of that day's bookings and
# the minutes of that week's. The person's bookings: one range of
# bookings_user_start. When the copy's version is no longer the database's,
# the statement also sends every room with its policy, and probes every
# active room that seats the party and has the equipment instead (the rules
# then pick from those). The end plus the buffer is written out, not
# plus_minutes(): the constraint's index needs that function IMMUTABLE, so it
# is never inlined: a refused booking's alternatives called it some 700
# times, one SQL function call per booking probed.
FREE_SQL = """
SELECT v.n AS rooms_version,
       CASE WHEN v.n <> %(version)s THEN
            (SELECT json_agg(json_build_object('room', room_json(r), 'policy', room_policy(r.id))
                             ORDER BY r.id) FROM rooms r)
       END AS rooms,
       f.ids, f.loads, f.week_minutes,
       CASE WHEN %(mine_user)s::bigint IS NOT NULL AND (v.n <> %(version)s OR %(want_mine)s) THEN
            (SELECT coalesce(json_agg(json_build_object('id', b.id, 'room_id', b.room_id,
                                                        'start_at', b.start_at,
                                                        'end_at', b.end_at)), '[]')
               FROM bookings b
              WHERE b.user_id = %(mine_user)s AND b.cancelled_at IS NULL
                AND b.status <> 'released'
                AND b.start_at >= %(mine_from)s AND b.start_at < %(mine_until)s)
       END AS mine
  FROM (SELECT memo_version('rooms') AS n) v
 CROSS JOIN LATERAL (
       SELECT coalesce(array_agg(c.id), '{}') AS ids,
              coalesce(array_agg((
                  SELECT count(*) FROM bookings b
                   WHERE b.room_id = c.id AND b.cancelled_at IS NULL
                     AND b.start_at >= d.day::timestamp AT TIME ZONE c.timezone
                     AND b.start_at < (d.day + 1)::timestamp AT TIME ZONE c.timezone)::int),
                       '{}') AS loads,
              coalesce(array_agg((
                  SELECT coalesce(sum(extract(epoch FROM b.end_at - b.start_at)) / 60, 0)
                    FROM bookings b
                   WHERE b.room_id = c.id AND b.cancelled_at IS NULL
                     AND b.start_at >= d.monday::timestamp AT TIME ZONE c.timezone
                     AND b.start_at < (d.monday + 7)::timestamp AT TIME ZONE c.timezone)::int),
                       '{}') AS week_minutes
         FROM (SELECT u.id, (%(zones)s::text[])[u.z] AS timezone, u.buffer
                 FROM unnest(%(rooms)s::int[], %(zone_of)s::int[], %(buffers)s::int[])
                      u(id, z, buffer)
                WHERE v.n = %(version)s
                UNION ALL
               SELECT r.id, r.timezone, policy_buffer(room_policy(r.id)) FROM rooms r
                WHERE v.n <> %(version)s AND r.active AND r.capacity >= %(people)s
                  AND r.equipment @> %(equipment)s::text[]) c
        CROSS JOIN LATERAL (SELECT (%(start)s AT TIME ZONE c.timezone)::date AS local_day) l
        CROSS JOIN LATERAL (
              SELECT l.local_day AS day,
                     l.local_day - (extract(isodow FROM l.local_day)::int - 1) AS monday) d
        WHERE NOT EXISTS (
              SELECT 1 FROM bookings b
               WHERE b.room_id = c.id AND b.cancelled_at IS NULL
                 AND b.start_at < %(end)s::timestamptz + make_interval(mins => c.buffer)
                 AND b.end_at + make_interval(mins => b.buffer_minutes) > %(start)s
                 AND b.start_at > %(start)s - interval '28 hours')) f"""

# Nearest free times and near-miss rooms (sql/042 room_suggestions(), with the
# rooms' buffers and weekly hours): per fitting room and day, one short range
# of bookings_room_start.
SUGGEST_SQL = """
SELECT room_suggestions(%(start)s, %(end)s, %(people)s, %(equipment)s::text[],
                        %(building)s::text, %(floor)s::int, %(not_before)s, %(until)s,
                        %(rules)s::jsonb)
       AS suggestions"""

# Tries the ranked candidates in order, each under its own policy (buffer,
# approval, quota) with INSERT ... ON CONFLICT DO NOTHING against
# bookings_no_overlap; suggestions when all are taken.
AUTO_BOOK_SQL = """
SELECT auto_book(%(rooms)s::int[], %(user)s, %(title)s, %(start)s, %(end)s,
                 %(people)s, %(equipment)s::text[], %(building)s::text, %(floor)s::int,
                 %(not_before)s, %(until)s, %(rules)s::jsonb, %(admin)s) AS result"""

# Many (room, interval) checks, answered in input order. A time without offset
# is wall-clock time in that check's room, so it is resolved here, where the
# room's zone is known; `skipped` flags a wall-clock time the clocks skip.
# Each room named once with its effective policy (rooms_pkey, the area chain);
# per check one short range of bookings_room_start (a booking holds its room
# to its end plus its buffer, and the room's buffer is kept before the next).
AVAILABILITY_SQL = """
WITH c AS (
    SELECT * FROM unnest(%(rooms)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[],
                         %(local_starts)s::timestamp[], %(local_ends)s::timestamp[])
           WITH ORDINALITY AS c(room_id, s_at, e_at, s_local, e_local, n)),
r AS (
    SELECT r.id, r.timezone, to_char(r.opens, 'HH24:MI') AS opens,
           to_char(r.closes, 'HH24:MI') AS closes, r.active, room_policy(r.id) AS policy
      FROM rooms r WHERE r.id IN (SELECT c.room_id FROM c))
SELECT c.n, r.id AS found, r.timezone, r.opens, r.closes, r.active, r.policy, t.s, t.e,
       r.id IS NOT NULL AND EXISTS (
           SELECT 1 FROM bookings b
            WHERE b.room_id = r.id AND b.cancelled_at IS NULL
              AND b.start_at < t.e + make_interval(mins => policy_buffer(r.policy))
              AND b.end_at + make_interval(mins => b.buffer_minutes) > t.s
              AND b.start_at > t.s - interval '28 hours') AS booked,
       t.e <= t.s AS backwards,
       c.s_local IS NOT NULL AND (t.s AT TIME ZONE r.timezone) <> c.s_local AS start_skipped,
       c.e_local IS NOT NULL AND (t.e AT TIME ZONE r.timezone) <> c.e_local AS end_skipped
  FROM c
  LEFT JOIN r ON r.id = c.room_id
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

    def params(self, now: datetime, search: "Search") -> dict[str, Any]:
        """room_suggestions()'s and auto_book()'s parameters: the longest booking
        window of any room bounds what is suggested (each offer is checked
        against its own room's afterwards)."""
        return {"start": self.start, "end": self.end, "people": self.people,
                "equipment": list(self.equipment), "building": self.place,
                "floor": self.floor, "not_before": _next_quarter_hour(now),
                "until": now + timedelta(days=search.longest_window()),
                "rules": search.suggestion_rules()}

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
    would suggest (see `no_room`). `user`: whose home building is preferred,
    whose groups and quotas the policies are checked against.
    """
    inputs.only(data, FIND_FIELDS)
    need = parse_need(data, "capacity", people_required=False, user=user)
    _check_interval(need, now)
    with db.connection() as conn:
        rooms, search = free_rooms(conn, need, now, user)
        suggestions = None
        if not rooms:
            search.refuse_when_no_room_allows()
            row = conn.execute(SUGGEST_SQL, need.params(now, search)).fetchone()
            suggestions = _checked(row["suggestions"], need, search)
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
        raise invalid("timezone", _("%(field)s must be an IANA zone like Europe/Berlin.",
                                    field=field_name("timezone"))) from None
    return localize(start, tz, "start_time"), localize(end, tz, "end_time")


def _check_interval(need: Need, now: datetime) -> None:
    """422 for an interval no room and no policy allows (not on whole minutes, in
    the past), before any SQL."""
    error = rules.as_error(rules.check_interval(need.start, need.end, now))
    if error:
        raise error


# A room's rules read these fields and its effective policy, and nothing else of
# it (see rules.check): rooms that share them are checked once.
SHAPE_FIELDS = ("active", "timezone", "opens", "closes")


def shape(room: Mapping[str, Any], policy: rules.Policy | None = None) -> tuple:
    return tuple(room[name] for name in SHAPE_FIELDS) + (policy,)


class Search:
    """One search's view of the rooms: which shapes the rules allow for the need's
    interval and this person (`shape_ok`, checked once per kind of shape:
    hundreds of rooms share a handful), the time zones offered (`zones`, None:
    any), and the person's bookings for their quotas (`mine`, once the statement
    read them).
    """

    def __init__(self, need: Need, now: datetime, by_id: Mapping[int, Mapping[str, Any]],
                 booker: rules.Booker | None = None, user_id: int | None = None,
                 base: rules.Policy | None = None):
        self.need, self.now = need, now
        self.by_id = by_id
        self.booker = booker or rules.Booker()
        self.user_id = user_id
        self.base = base or rules.Policy()
        self.zones = _zones_in(need, by_id)
        self.mine: list[rules.Taken] = []
        # An administrator books past quotas; without a person there are none to count.
        self.counts_quotas = user_id is not None and not self.booker.admin
        self._policies: Mapping[int, rules.Policy] = getattr(by_id, "policies", {})
        self._areas: Mapping[int, tuple[int, ...]] = getattr(by_id, "areas", {})
        self._by_rules: dict[tuple, bool] = {}
        self._quota: dict[tuple, bool] = {}

    # -- the rooms' policies ----------------------------------------------------------

    def policy(self, room_id: int) -> rules.Policy:
        return self._policies.get(room_id, self.base)

    def areas(self, room_id: int) -> tuple[int, ...]:
        return self._areas.get(room_id, ())

    def shape(self, room: Mapping[str, Any]) -> tuple:
        return shape(room, self.policy(room["id"]))

    @property
    def groups(self) -> frozenset[int] | None:
        return None if self.booker.admin else self.booker.groups

    def in_zone(self, each: tuple) -> bool:
        """Whether rooms of this shape are active and in a zone the search offers
        (shape_ok asks this before the rules, which refuse an inactive room too)."""
        active, timezone = each[0], each[1]
        return bool(active) and (self.zones is None or timezone in self.zones)

    def shape_ok(self, each: tuple) -> bool:
        # Shapes whose policies differ only in what check() does not read (where a
        # value comes from, who approves) are checked once: a room that names its
        # own approvers is a shape of its own.
        policy = each[-1] or self.base
        alike = each[:-1] + (policy.checked,)
        ok = self._by_rules.get(alike)
        if ok is None:
            room = dict(zip(SHAPE_FIELDS, each[:-1]))
            ok = self._by_rules[alike] = self.in_zone(each) and not rules.check(
                room, self.need.start, self.need.end, self.now, policy, self.groups)
        return ok

    def __call__(self, room: Mapping[str, Any]) -> bool:
        return self.shape_ok(self.shape(room))

    def alike(self, shapes: Iterable[tuple]) -> tuple[tuple[tuple, frozenset], ...]:
        """`shapes` grouped by what shape_ok reads of them: (one of them, all of them)
        per group. The rooms' fifty-odd shapes are a dozen kinds, so a search asks
        shape_ok a dozen times (kept with the copy of the rooms: free_params)."""
        groups: dict[tuple, list[tuple]] = {}
        for each in shapes:
            groups.setdefault(each[:-1] + ((each[-1] or self.base).checked,), []).append(each)
        return tuple((members[0], frozenset(members)) for members in groups.values())

    # -- quotas -------------------------------------------------------------------------

    def wants_mine(self) -> bool:
        """Whether the statement must send the person's bookings: some room's policy
        has a quota (a candidate's, or a suggestion's; an administrator books
        past quotas)."""
        return self.counts_quotas and any(p.quota is not None for p in self._policies.values())

    def mine_params(self) -> dict[str, Any]:
        """The person and the range of their bookings the quotas of this search and
        its suggestions can count: the week before the interval to the week after
        the last day suggested."""
        return {"mine_user": self.user_id if self.counts_quotas else None,
                "mine_from": self.need.start - timedelta(days=8),
                "mine_until": self.need.start + timedelta(days=16)}

    def quota_ok(self, room: Mapping[str, Any], start: datetime | None = None,
                 end: datetime | None = None) -> bool:
        """Whether the room's quota takes a booking by this person (from the need's
        interval by default)."""
        if not self.counts_quotas:
            return True
        room_policy = self.policy(room["id"])
        if room_policy.quota is None:
            return True
        scope = room["id"] if room_policy.source("quota").level == "room" else None
        # The need's own interval is left out of the key: hashing two zoned
        # datetimes for each free room cost more than the count it saves.
        key = ((room_policy, room["timezone"], scope) if start is None and end is None
               else (room_policy, room["timezone"], scope, start, end))
        ok = self._quota.get(key)
        if ok is None:
            start, end = start or self.need.start, end or self.need.end
            counts = rules.in_quota_scope(room_policy, room["id"], self.areas)
            ok = self._quota[key] = rules.quota_violation(
                room, start, end, room_policy, self.mine, counts) is None
        return ok

    def refusals(self, room: Mapping[str, Any]) -> list[rules.Violation]:
        """What booking `room` for the need would be told by the rules: its policy
        for this person, the party's size, their quota (empty when they allow it).
        "Book this" on a room the rules refuse says why, not that it was taken."""
        found = rules.check(room, self.need.start, self.need.end, self.now,
                            self.policy(room["id"]), self.groups)
        found += rules.check_party(room, self.need.people)
        if not found and not self.quota_ok(room):
            room_policy = self.policy(room["id"])
            found.append(rules.quota_violation(
                room, self.need.start, self.need.end, room_policy, self.mine,
                rules.in_quota_scope(room_policy, room["id"], self.areas)))
        return found

    def offered(self, room: Mapping[str, Any], start: datetime, end: datetime) -> bool:
        """Whether a suggestion of `room` from `start` to `end` may be offered: its
        policy allows it for this person, in a zone offered, within their quota."""
        if self.zones is not None and room["timezone"] not in self.zones:
            return False
        return not rules.check(room, start, end, self.now, self.policy(room["id"]),
                               self.groups) and self.quota_ok(room, start, end)

    # -- what suggestions need ------------------------------------------------------

    def longest_window(self) -> int:
        found = [p.max_days_ahead for p in self._policies.values()]
        return max(found + [self.base.max_days_ahead])

    def suggestion_rules(self) -> str:
        """room_suggestions()'s p_rules (JSON text): the buffer, notice and weekly hours
        of each room whose policy sets them, made once per copy of the rooms, and the
        time zones offered (sql/055: rooms elsewhere are not searched)."""
        import json

        def make() -> dict[str, Any]:
            found = {}
            for room_id, room_policy in self._policies.items():
                entry: dict[str, Any] = {}
                if room_policy.buffer_minutes:
                    entry["buffer"] = room_policy.buffer_minutes
                if room_policy.min_notice_minutes:
                    entry["notice"] = room_policy.min_notice_minutes
                if room_policy.opening_hours is not None:
                    entry["hours"] = [None if h is None else [h[0].strftime("%H:%M"),
                                                              h[1].strftime("%H:%M")]
                                      for h in room_policy.opening_hours]
                if entry:
                    found[str(room_id)] = entry
            return found

        def with_zones(found: dict[str, Any]) -> str:
            if self.zones is None:
                return json.dumps(found)
            return json.dumps({**found, "zones": sorted(self.zones)})

        kept = memo.current().rooms
        return kept.derived_of(self.by_id, ("suggestion_rules", self.zones), lambda: with_zones(
            kept.derived_of(self.by_id, "suggestion_rules", make)))

    def refuse_when_no_room_allows(self) -> None:
        """422 when every active room (in the zones offered) refuses the interval by
        the same rule of its policy: too short, too long, too soon or too far
        ahead everywhere is that error, not an empty list."""
        shapes = {self.shape(room) for room in self.by_id.values() if room["active"]
                  and (self.zones is None or room["timezone"] in self.zones)}
        if not shapes:
            return
        common = rules.every_room_refuses(
            rules.check(dict(zip(SHAPE_FIELDS, each[:-1])), self.need.start, self.need.end,
                        self.now, each[-1] or self.base, self.groups) for each in shapes)
        if common is not None:
            raise rules.as_error([common])


NO_ZONES: frozenset[str] = frozenset()   # kept for "restricts nothing" (derived() keeps no None)


def _zones_in(need: Need, by_id: Mapping[int, Mapping[str, Any]]) -> frozenset[str] | None:
    """need.zones_in(by_id), found once per copy of the rooms and place: looking
    through 500 rooms for the person's building was a tenth of a search's Python."""
    if need.zone is not None or need.any_zone or need.place is None:
        return need.zones_in(by_id)
    return memo.current().rooms.derived_of(
        by_id, ("zones", need.place.lower()), lambda: need.zones_in(by_id) or NO_ZONES) or None


def free_rooms(conn, need: Need, now: datetime, user: User | None
               ) -> tuple[list[dict], Search]:
    """The rooms free for `need` that the booking rules (and the person's quotas)
    allow, best first (the ranking in the module's docstring), each with `score`,
    `bookings_that_day`, `utilisation_this_week`, and `start_time` and
    `end_time`: the interval in the room's own zone; and the search (the zones
    offered, the policies read).

    One statement (FREE_SQL), whether this process's copy of the rooms is
    current or not.
    """
    probe = Probe(need, now, user.booker if user is not None else None,
                  user.id if user is not None else None)
    row = conn.execute(FREE_SQL, probe.params).fetchone()
    return probe.ranked(row), probe.search


class Probe:
    """One free-room search: FREE_SQL's parameters for `need` (the candidates from
    this process's copy of the rooms, each under its policy for `booker`, and
    `owner`'s quotas), and its answer ranked. The finder runs it as a statement
    of its own; a refused booking asks it inside the statement that refused it
    (Alternatives). `exclude`: a booking being moved, which counts against no
    quota (it moves, it does not add)."""

    def __init__(self, need: Need, now: datetime, booker: rules.Booker | None,
                 owner: int | None, exclude: int | None = None, rules_later: bool = False):
        self.config = current_app.config
        self.need, self.now = need, now
        self.booker, self.owner, self.exclude = booker or rules.Booker(), owner, exclude
        self.rules_later = rules_later
        self.base = rules.Policy.from_config(self.config)
        self.kept = memo.current().rooms
        version, by_id = self.kept.current()
        self.search = Search(need, now, by_id, self.booker, owner, self.base)
        self.params = free_params(need, self.search, version, by_id, self.kept, rules_later)

    def ranked(self, row: Mapping[str, Any]) -> list[dict]:
        """FREE_SQL's row (rooms_version, rooms, ids, loads, week_minutes, mine) as
        ranked rooms."""
        search = self.search
        by_id = search.by_id
        free = list(zip(row["ids"], row["loads"], row["week_minutes"]))
        if row["rooms"] is not None:
            # The copy was out of date: the statement read the rooms again.
            by_id = keep_rooms(self.kept, row["rooms_version"], row["rooms"], self.config)
            search = self.search = Search(self.need, self.now, by_id, self.booker, self.owner,
                                          self.base)
        if row["rooms"] is not None or self.rules_later:
            # The rooms were picked by seats and equipment alone (and, from the copy,
            # by zone): the rules (and where the person is) pick from the free ones now.
            free = [f for f in free if search(by_id[f[0]])]
        search.mine = [rules.Taken(m["room_id"], datetime.fromisoformat(m["start_at"]),
                                   datetime.fromisoformat(m["end_at"]))
                       for m in row["mine"] or () if m.get("id") != self.exclude
                       or self.exclude is None]
        free = [f for f in free if search.quota_ok(by_id[f[0]])]
        return _ranked(search, free, self.need, self.config["ASSIGN_BALANCE_WEIGHT"])


class Alternatives:
    """Other rooms for a booking refused because its room is taken (`other_rooms` in
    every 409: create, series, edit), found and ranked exactly as the finder finds
    and ranks (Probe, _ranked), under each room's policy for this booker and the
    owner's quotas there, so nothing offered is then refused: rooms in the
    requested room's time zone only, its building first, then its floor, with
    every piece of its equipment, seating `attendees` (or as many as the
    requested room), the smallest that fits first.

    No statement of its own: `sql(gate)` is the finder's query as a scalar
    subquery that the refusing statement runs only when `gate` (SQL over that
    statement's answer) says it was refused; `ranked(answer)` reads its JSON.
    Most bookings are not refused, so the rules are applied after the
    statement, to the free rooms only (Probe's `rules_later`): the candidates
    are the rooms in the zone with the seats and equipment, and a booking
    that succeeds checks no other room's rules at all.
    """

    PREFIX = "alt_"
    MOST = 5

    def __init__(self, room: Mapping[str, Any], start: datetime, end: datetime,
                 attendees: int | None, now: datetime, booker: rules.Booker,
                 owner: int, exclude: int | None = None):
        self.room_id = room["id"]
        need = Need(start=start, end=end, people=attendees or room["capacity"],
                    equipment=tuple(sorted(room["equipment"])), building=room["building"],
                    floor=room["floor"], zone=room["timezone"])
        self.probe = Probe(need, now, booker, owner, exclude, rules_later=True)

    def params(self) -> dict[str, Any]:
        return {self.PREFIX + name: value for name, value in self.probe.params.items()}

    @classmethod
    def sql(cls, gate: str) -> str:
        text = FREE_SQL.replace("%(", "%(" + cls.PREFIX)
        return f"(SELECT row_to_json(f) FROM ({text}) f WHERE {gate})"

    def ranked(self, answer: Mapping[str, Any] | None) -> list[dict]:
        if not answer:
            return []
        rooms = self.probe.ranked(answer)
        return [room for room in rooms if room["id"] != self.room_id][:self.MOST]


def keep_rooms(kept: memo.rooms.Rooms, version: int, rows: list[dict[str, Any]],
               config: Mapping[str, Any]) -> memo.rooms.RoomsById:
    """Keep the rooms the statement sent ({room, policy: room_policy()'s answer}) as
    this process's copy, each room's effective policy and areas beside it.

    Rooms whose policies are equal (an area's rooms that set nothing of their
    own) share one Policy object, so the searches' memos keyed by policy find
    theirs by identity rather than comparing every field."""
    rooms, found, areas = [], {}, {}
    alike: dict[rules.Policy, rules.Policy] = {}
    for row in rows:
        room, resolved = row["room"], row["policy"]
        effective = policies.effective(resolved, config)
        found[room["id"]] = alike.setdefault(effective, effective)
        areas[room["id"]] = policies.areas_of(resolved)
        rooms.append(room)
    return kept.replace(version, rooms, found, areas)


def choose(rooms: Iterable[Mapping[str, Any]], people: int, equipment: Iterable[str],
           shapes: frozenset, shape_of=shape) -> list[Mapping[str, Any]]:
    """The rooms of an allowed shape that seat `people` and have all of `equipment`.

    Pure: the finder's candidates, whatever list of rooms it is given.
    """
    wanted = frozenset(equipment)
    return [room for room in rooms
            if room["capacity"] >= people and wanted <= set(room["equipment"])
            and shape_of(room) in shapes]


def free_params(need: Need, search: Search, version: int = memo.rooms.NONE,
                by_id: Mapping[int, Mapping[str, Any]] | None = None,
                kept: memo.rooms.Rooms | None = None,
                rules_later: bool = False) -> dict[str, Any]:
    """FREE_SQL's parameters: the candidates `choose` picks from the rooms of the
    copy at `version`, remembered with that copy when `kept` is given. Without a
    copy (version NONE), the statement sends the rooms. With `rules_later`, the
    candidates are the active rooms in the zones offered, whatever their rules
    say: the caller applies those to what the statement found free."""
    by_id = by_id or {}
    def derived(key, make):
        return kept.derived(version, key, make) if kept is not None else make()

    shapes = derived("shapes", lambda: frozenset(search.shape(r) for r in by_id.values()))
    if rules_later:
        # Which shapes are in the zones offered depends on the zones alone: found
        # once per copy, and the same object keys the candidates (its hash kept).
        ok = derived(("in_zone", search.zones),
                     lambda: frozenset(s for s in shapes if search.in_zone(s)))
        key = ok
    else:
        # The kinds of shape the rules allow, by their place in the copy's list:
        # a key that hashes cheaply, and the shapes themselves only on a miss.
        kinds = derived("alike", lambda: search.alike(shapes))
        key = tuple(n for n, (first, _) in enumerate(kinds) if search.shape_ok(first))
        ok = None
    chosen, ids, zone_of, zones, buffers = derived(
        (key, need.people, need.equipment), lambda: _as_arrays(
            choose(by_id.values(), need.people, need.equipment,
                   ok if ok is not None else frozenset().union(*(kinds[n][1] for n in key)),
                   search.shape), search))
    return {"version": version, "rooms": ids, "zone_of": zone_of, "zones": zones,
            "buffers": buffers, "start": need.start, "end": need.end, "people": need.people,
            "equipment": list(need.equipment), "want_mine": search.wants_mine(),
            **search.mine_params()}


def _as_arrays(rooms: list[Mapping[str, Any]], search: Search
               ) -> tuple[tuple[int, ...], str, str, list[str], str]:
    """Candidates as FREE_SQL takes them: their ids, for each the position of its
    zone in the list of zones (counted from 1), and each one's buffer, as
    int-array literals: psycopg writes 128 of them in a fifth of the time a list
    takes."""
    zones: dict[str, int] = {}
    zone_of = [zones.setdefault(room["timezone"], len(zones) + 1) for room in rooms]
    ids = [room["id"] for room in rooms]
    return (tuple(ids), _int_array(ids), _int_array(zone_of), list(zones),
            _int_array([search.policy(r["id"]).buffer_minutes for r in rooms]))


def _int_array(values: list[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


@lru_cache(maxsize=4096)
def week_open_minutes(policy: rules.Policy, tz_name: str, opens: str, closes: str,
                      monday: date) -> int:
    """The minutes a room is open from `monday` to Sunday under its policy (real
    minutes: a daylight-saving day counts what it has)."""
    room = {"opens": opens, "closes": closes}
    tz = zone(tz_name)
    total = 0
    for n in range(7):
        day = monday + timedelta(days=n)
        hours = policy.open_on(room, day)
        if hours is not None:
            total += int((wall_instant(day, hours[1], tz)
                          - wall_instant(day, hours[0], tz)).total_seconds() // 60)
    return total


def points(need: Need, room: Mapping[str, Any], week_minutes: int, open_minutes: int,
           balance_weight: float) -> tuple[int, int]:
    """A room's score, exactly, as (numerator, denominator) in lowest terms: 50 for
    the building, 30 for the floor, up to 20 for fit, up to `balance_weight` for
    being little used this week (its booked minutes over its open minutes, at
    most all of them).

    Worked out in integers over one common denominator: the finder scores every
    free room of every search, and a Fraction per room (made, reduced, and read
    back through its properties) cost more than the arithmetic."""
    building = _lower(need.place)
    in_building = building is None or _lower(room["building"]) == building
    on_floor = need.floor is None or room["floor"] == need.floor
    weight, weight_of = _weight(balance_weight)
    capacity, spare = room["capacity"], max(open_minutes - week_minutes, 0)
    if not open_minutes:   # never open this week: counts as unused
        open_minutes, spare = 1, 1
    denominator = capacity * open_minutes * weight_of
    numerator = ((BUILDING_POINTS * in_building + FLOOR_POINTS * on_floor) * denominator
                 + FIT_POINTS * need.people * open_minutes * weight_of
                 + weight * capacity * spare)
    common = math.gcd(numerator, denominator)
    return numerator // common, denominator // common


@lru_cache(maxsize=16)
def _weight(balance_weight: float) -> tuple[int, int]:
    """The weight as an exact fraction's numerator and denominator (0.25: 1, 4)."""
    exact = Fraction(str(balance_weight))
    return exact.numerator, exact.denominator


def _lower(name: str | None) -> str | None:
    """A building's name for comparing."""
    return name.lower() if name is not None else None


def _ranked(search: Search, free: Iterable[tuple[int, int, int]], need: Need,
            balance_weight: float) -> list[dict]:
    """The free rooms (id, that day's bookings, that week's booked minutes) in their
    JSON shape, best first."""
    by_id = search.by_id
    zones: dict[str, tuple[str, str, date]] = {}
    found = []
    for room_id, load, week_minutes in free:
        room = by_id[room_id]
        tz = room["timezone"]
        here = zones.get(tz)
        if here is None:
            local_day = need.start.astimezone(zone(tz)).date()
            here = zones[tz] = (need.start.astimezone(zone(tz)).isoformat(),
                                need.end.astimezone(zone(tz)).isoformat(),
                                local_day - timedelta(days=local_day.weekday()))
        open_minutes = week_open_minutes(search.policy(room_id), tz, room["opens"],
                                         room["closes"], here[2])
        numerator, denominator = points(need, room, week_minutes, open_minutes, balance_weight)
        # Tenths of a point, rounded half up: floor(10 x + 1/2) / 10, in integers.
        score = (20 * numerator + denominator) // (2 * denominator) / 10
        utilisation = min(week_minutes / open_minutes, 1) if open_minutes else 0
        found.append((numerator, denominator, load, room["name"], room_id,
                      {**room, "score": score, "bookings_that_day": load,
                       "utilisation_this_week": round(utilisation, 3),
                       "start_time": here[0], "end_time": here[1]}))
    # Best first by the exact score: as integers over the scores' common
    # denominator, which compare as fast as any, where Fractions took as long
    # to sort as everything else the finder does in Python.
    common = math.lcm(*(entry[1] for entry in found)) if found else 1
    found.sort(key=lambda entry: (-entry[0] * (common // entry[1]), entry[2], entry[3], entry[4]))
    return [entry[5] for entry in found]


def _checked(suggestions: dict, need: Need, search: Search) -> dict:
    """Suggestions the booking rules and the person's quotas allow, in the zones
    offered; at most five of each kind."""
    times = [t for t in suggestions["times"]
             if search.offered(t["room"], datetime.fromisoformat(t["start_time"]),
                               datetime.fromisoformat(t["end_time"]))]
    rooms = [a for a in suggestions["rooms"]
             if search.offered(a["room"], need.start, need.end)]
    return {"times": times[:5], "rooms": rooms[:5]}


def _next_quarter_hour(now: datetime) -> datetime:
    """The first quarter hour at or after `now`: no suggestion starts before it."""
    seconds = now.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(math.ceil(seconds / 900) * 900, UTC)


# Every room with its policy, and the version it is read at: this process's copy
# when it has none yet (a page that offers rooms before any search).
ROOMS_JSON = """coalesce((SELECT json_agg(json_build_object('room', room_json(r),
                                                    'policy', room_policy(r.id))
                                  ORDER BY r.id) FROM rooms r), '[]')"""
ROOMS_SQL = f"SELECT memo_version('rooms') AS version, {ROOMS_JSON} AS rooms"


def rooms_copy() -> tuple[int, Mapping[int, Mapping[str, Any]]]:
    """(version, rooms by id): this process's copy of the rooms (booking/memo/rooms.py),
    read once if it has none; every search keeps it current."""
    kept = memo.current().rooms
    version, by_id = kept.current()
    if version == memo.rooms.NONE:
        with db.connection() as conn:
            row = conn.execute(ROOMS_SQL).fetchone()
        version, by_id = row["version"], keep_rooms(kept, row["version"], row["rooms"],
                                                    current_app.config)
    return version, by_id


def policy_of(room_id: int) -> Any:
    """The room's effective policy (booking.rules.Policy) from this process's copy of
    the rooms (read once if it has none); None for a room the copy does not have.
    For what a page only shows: a booking's own check makes sure the copy is
    current (rooms.service.kept_room)."""
    return rooms_copy()[1].policies.get(room_id)


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
    against the exclusion constraint (each under its room's policy: buffer,
    approval, quota) and moves to the next one when a room was taken since it
    was ranked. Three statements at most, authentication included: the
    ranking, then auto_book() (or the suggestions when nothing fits at all).

    `only_room` books that room or none ("Book this" on the finder page); when
    it is no longer free the 409 `conflict` lists the rooms still free, and when
    none is, the suggestions the search would now give (as `no_room` does).

    With an idempotency `key` the booking goes through book_once(), even when
    no room is free now: the room a first request booked is no longer free,
    and its repeat must get that first answer, not a 409.
    """
    inputs.only(data, AUTO_FIELDS)
    need = parse_need(data, "attendees", people_required=True, user=user)
    title = inputs.title(data.get("title"))
    _check_interval(need, now)

    with db.connection() as conn:
        rooms, search = free_rooms(conn, need, now, user)
        params = need.params(now, search)
        candidates = [r for r in rooms if only_room is None or r["id"] == only_room]
        if key is not None:
            result = idempotency.book_once(
                conn, key, user.id, now, "auto", {"data": data, "only_room": only_room},
                {**params, "rooms": [r["id"] for r in candidates], "title": title,
                 "admin": user.is_admin, "rules": _json(params["rules"]),
                 "room_json": {str(r["id"]): r for r in candidates}})
            if key.replayed or result["room_id"] is not None:
                return {"booking": result["booking"], "room": result["room"]}
        elif not candidates:
            if only_room is not None:
                _refused(search, only_room)
            if only_room is not None and rooms:
                raise _taken(only_room, rooms)
            search.refuse_when_no_room_allows()
            row = conn.execute(SUGGEST_SQL, params).fetchone()
            suggestions = _checked(row["suggestions"], need, search)
            if only_room is not None:
                raise _taken(only_room, [], suggestions)
            raise no_room(need, suggestions)
        else:
            result = conn.execute(AUTO_BOOK_SQL, {**params, "user": user.id, "title": title,
                                                  "admin": user.is_admin,
                                                  "rooms": [r["id"] for r in candidates]}
                                  ).fetchone()["result"]

    if result["room_id"] is None:
        if only_room is not None:
            _refused(search, only_room)
            still_free = [r for r in rooms if r["id"] != only_room]
            raise _taken(only_room, still_free, None if still_free else
                         _checked(result["suggestions"], need, search))
        raise no_room(need, _checked(result["suggestions"], need, search))
    room = next(r for r in rooms if r["id"] == result["room_id"])
    return {"booking": result["booking"], "room": room}


def _json(text: str) -> Any:
    import json
    return json.loads(text)


def no_room(need: Need, suggestions: dict) -> BookingError:
    return BookingError("no_room", _("No free room for %(need)s at that time.",
                                     need=need.describe()),
                        details={"suggestions": suggestions})


def _refused(search: Search, room_id: int) -> None:
    """Raise what the rules say of booking `room_id` for the search's need, when
    they refuse it: "Book this" on a room refused by its policy, the party's size
    or a quota (one used up since the search) names that rule, as booking the
    room directly would, rather than calling the room taken."""
    room = search.by_id.get(room_id)
    refused = rules.as_error(search.refusals(room)) if room is not None else None
    if refused is not None:
        raise refused


def _taken(room_id: int, still_free: list[dict],
           suggestions: dict | None = None) -> BookingError:
    """The 409 for "Book this" on a room taken since: the rooms still free, and when
    there are none, what a search would suggest instead (other times, rooms
    missing one thing), so the page can show what the search now shows."""
    message = (_("That room is no longer free for this request; the rooms still free are "
                 "listed.") if still_free else
               _("That room is no longer free for this request, and no other room that fits "
                 "is free then."))
    return BookingError("conflict", message, field="room_id",
                        details={"room_id": room_id, "rooms": still_free,
                                 "suggestions": suggestions})


# -- batch availability -------------------------------------------------------------------

# What makes a room "closed" for a check: not active, or not open for the whole
# interval under its policy (hours of that weekday, closed dates, one day).
CLOSED_BY = frozenset({"room_inactive", "closed", "outside_hours", "crosses_midnight"})


def availability(data: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """{"results": [...]} for up to 500 (room, interval) checks, in one statement.

    Each result repeats the check's room_id, and its start_time and end_time as sent,
    with `available` and `reason`: null, "not_found" (no such room), "closed"
    (inactive, or not open for the whole interval by its policy: weekday hours,
    closed dates) or "booked" (a live booking, or the buffer around one, is in
    the way).
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

    config = current_app.config
    results = []
    by_room: dict[int, rules.Policy] = {}
    for i, (check, room_id, row) in enumerate(zip(checks, columns["rooms"], rows)):
        for flag, field in (("start_skipped", "start_time"), ("end_skipped", "end_time")):
            if row[flag]:
                raise invalid(f"checks[{i}].{field}",
                              _("%(field)s does not exist in the room's time zone (the "
                                "clocks skip it).", field=f"checks[{i}].{field}"))
        if row["backwards"]:
            raise invalid(f"checks[{i}].end_time", _("%(field)s must be after its start_time.",
                                                      field=f"checks[{i}].end_time"))
        reason = _reason(row, by_room, config)
        results.append({"room_id": room_id, "start_time": check["start_time"],
                        "end_time": check["end_time"], "available": reason is None,
                        "reason": reason})
    return {"results": results}


def _reason(row: Mapping[str, Any], by_room: dict[int, rules.Policy],
            config: Mapping[str, Any]) -> str | None:
    """not_found, closed, booked (checked in that order), or None: available."""
    if row["found"] is None:
        return "not_found"
    room_policy = by_room.get(row["found"])
    if room_policy is None:
        room_policy = by_room[row["found"]] = policies.effective(row["policy"], config)
    # Only the rules about the room being open are asked (the past, length and
    # window are booking's): `now` does not matter to them.
    found = rules.check(row, row["s"], row["e"], row["s"], room_policy)
    if any(v.code in CLOSED_BY for v in found):
        return "closed"
    return "booked" if row["booked"] else None


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
