"""The planning board: every active room over one day, with filters, in one statement.

`board()` answers the page (/board) and its twin (/api/board) alike:
{"date", "rooms": [{"room", "bookings": [{id, title, user_name, start_time,
end_time, status}]}]} plus, for the page's filters, the buildings and floors there
are. The rooms come grouped as the page draws them: by time zone (the zone
with most rooms first), then building, floor and name.

An `area` filter shows the rooms of that area and of the areas inside it.

`date` is a day in each room's own zone: the board of 2 March shows 2 March
in Berlin for the Berlin rooms and 2 March in New York for the New York
ones. Without a date, today in the zone most active rooms are in.

A process keeps each board it read (booking/memo/board.py) with the version
it was read at; the statement sends the board again only when the version
moved, so a repeat costs one primary-key read. Today's board by default is
kept until the day turns in the zone it is counted in (`today_zone`), not
read again at every minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from booking import db, inputs, memo
from booking.http import SharedAnswer
from booking.memo.rooms import NONE
from booking.times import parse_date, zone

# The board's version and, when it is not the kept one (or the day is today
# by default, which depends on the clock), the board. An area filter keeps the
# rooms of that area and of the areas in it (area_rooms(), sql/040: areas_parent,
# rooms_area); a change to the areas bumps the board's version (sql/040).
#
# Per room, one short range of bookings_room_start: an index-only scan (the
# index includes end_at, id, user_id, title and status) for the room-local day; no
# booking spans a day, so start_at > day start - 1 day bounds it. users_pkey
# for each owner's name (a subquery per booking, so the planner never hashes
# every user once per room). The default day is today in the zone most active
# rooms are in.
BOARD_SQL = """
WITH v AS (SELECT memo_version('board') AS n),
z AS (
    SELECT coalesce((SELECT r.timezone FROM rooms r WHERE r.active
                      GROUP BY r.timezone ORDER BY count(*) DESC, r.timezone LIMIT 1),
                    'UTC') AS today_zone),
d AS (
    SELECT coalesce(%(day)s::date, (%(now)s AT TIME ZONE z.today_zone)::date) AS day FROM z),
shown AS (
    SELECT r, count(*) OVER (PARTITION BY r.timezone) AS in_zone
      FROM rooms r
     WHERE r.active
       AND (%(building)s::text IS NULL OR lower(r.building) = lower(%(building)s::text))
       AND (%(floor)s::int IS NULL OR r.floor = %(floor)s::int)
       AND (%(area)s::int IS NULL OR r.id IN (SELECT area_rooms(%(area)s::int))))
SELECT v.n AS version, d.day AS date, z.today_zone,
       CASE WHEN v.n IS DISTINCT FROM %(kept)s THEN json_build_object(
         'buildings', (SELECT coalesce(json_agg(x.building ORDER BY x.building), '[]')
                         FROM (SELECT DISTINCT building FROM rooms WHERE active) x),
         'floors', (SELECT coalesce(json_agg(x.floor ORDER BY x.floor), '[]')
                      FROM (SELECT DISTINCT floor FROM rooms WHERE active) x),
         'areas', (SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name)
                                            ORDER BY lower(a.name), a.id), '[]')
                     FROM areas a),
         'rooms', (SELECT coalesce(json_agg(json_build_object(
                     'room', room_json(s.r),
                     'bookings', (
                       SELECT coalesce(json_agg(json_build_object(
                                'id', b.id, 'title', b.title,
                                'user_name', (SELECT u.name FROM users u WHERE u.id = b.user_id),
                                'start_time', rfc3339(b.start_at, (s.r).timezone),
                                'end_time', rfc3339(b.end_at, (s.r).timezone),
                                'status', b.status,
                                -- held after it (the board draws it so): its own
                                'buffer_minutes', b.buffer_minutes)
                                ORDER BY b.start_at), '[]')
                         FROM bookings b
                        WHERE b.room_id = (s.r).id AND b.cancelled_at IS NULL
                          AND b.start_at > (d.day::timestamp AT TIME ZONE (s.r).timezone)
                                           - interval '1 day'
                          AND b.start_at < ((d.day + 1)::timestamp AT TIME ZONE (s.r).timezone)
                          AND b.end_at > (d.day::timestamp AT TIME ZONE (s.r).timezone)))
                     ORDER BY s.in_zone DESC, (s.r).timezone, (s.r).building, (s.r).floor,
                              (s.r).name, (s.r).id), '[]')
                     FROM shown s))
       END AS board
  FROM v, z, d"""


@dataclass
class Board:
    """One board: what the twin says, and the filters' choices for the page."""
    date: str
    rooms: list[dict[str, Any]]
    buildings: list[str]
    floors: list[int]
    version: int
    areas: list[dict[str, Any]] = field(default_factory=list)
    today_zone: str = "UTC"   # where "today" is counted when no date is asked for
    answer: SharedAnswer = field(init=False)
    zones: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.answer = SharedAnswer(self.as_json())
        self.zones = tuple(dict.fromkeys(entry["room"]["timezone"] for entry in self.rooms))

    def is_today(self, now: datetime) -> bool:
        """Whether this board's day is still today where the default day is counted."""
        return self.date == now.astimezone(zone(self.today_zone)).date().isoformat()

    def as_json(self) -> dict[str, Any]:
        """The twin's body: {"date", "rooms"}."""
        return {"date": self.date, "rooms": self.rooms}


def filters(building: Any, floor: Any, area: Any = None
            ) -> tuple[str | None, int | None, int | None]:
    """The board's filters; empty means all. 400 naming the field otherwise."""
    building = inputs.text(building, "building", low=0, high=100) if building else None
    floor = inputs.integer(floor, "floor", low=-50, high=500) if floor not in (None, "") else None
    area = inputs.integer(area, "area") if area not in (None, "") else None
    return building or None, floor, area


def board(day_text: Any, building: Any, floor: Any, now: datetime, area: Any = None) -> Board:
    """The board of `day_text` (YYYY-MM-DD; today by default) for the rooms of
    `building`, `floor` and `area` (all when empty): one statement, or none of its
    bookings when this process has that board at the current version."""
    day = parse_date(day_text) if day_text else None
    building, floor, area = filters(building, floor, area)
    kept_boards = memo.current().board
    key = (day, building.lower() if building else None, floor, area)
    kept = kept_boards.kept(key)
    if kept is not None and day is None and not kept[1].is_today(now):
        kept = None   # today by default: the day has turned where it is counted
    with db.connection() as conn:
        row = conn.execute(BOARD_SQL, {"day": day, "now": now, "building": building,
                                       "floor": floor, "area": area,
                                       "kept": kept[0] if kept is not None else NONE}).fetchone()
    if row["board"] is None:
        return kept[1]   # the version is the kept one's: nothing changed
    made = row["board"]
    return kept_boards.keep(key, row["version"], Board(
        date=row["date"].isoformat(), rooms=made["rooms"], buildings=made["buildings"],
        floors=made["floors"], version=row["version"], areas=made["areas"],
        today_zone=row["today_zone"]))
