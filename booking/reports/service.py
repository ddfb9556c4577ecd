"""Utilisation analytics, computed by PostgreSQL in one statement per figure set.

For a range of room-local days (`from` and `to`, both included, at most 366)
and optionally one building:

- open minutes: every active room's opening hours on every day of the range
  (`generate_series` over days x rooms), in real time: the opening hours are
  placed in the room's zone day by day, so a daylight-saving day counts the
  minutes it really has;
- booked minutes: each live booking's minutes inside its day's opening hours;
- utilisation = booked / open; bookings, distinct bookers, average length,
  cancelled bookings and the cancellation rate (cancelled / all made for the
  range), the median lead time (from booking to start);
- a booking rate per room: bookings and series made in the last hour and the
  last 24 hours (from the outbox);
- the busiest hours: booked over open minutes per room-local weekday x hour.

No Python loop ever sees a booking: Python only checks the input and shapes
the rows.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from booking import db
from booking.errors import BookingError, invalid
from booking.times import UTC, parse_date

MOST_DAYS = 366
GROUPS = ("room", "building", "weekday_hour")

# The rooms in the report, each with the instants its first and last local day
# begin and end.
_ROOMS = """
r AS (
    SELECT r.id, r.name, r.building, r.timezone, r.opens, r.closes,
           %(from)s::date::timestamp AT TIME ZONE r.timezone AS range_start,
           (%(to)s::date + 1)::timestamp AT TIME ZONE r.timezone AS range_end
      FROM rooms r
     WHERE r.active AND (%(building)s::text IS NULL OR r.building = %(building)s)),
-- bookings_room_start: one index range per room; the booking's day is the
-- room-local day it starts on (no booking crosses midnight).
live AS (
    SELECT b.room_id, b.user_id, b.start_at, b.end_at, b.created_at,
           (b.start_at AT TIME ZONE r.timezone)::date AS day,
           r.timezone, r.opens, r.closes
      FROM r JOIN bookings b
        ON b.room_id = r.id AND b.cancelled_at IS NULL
       AND b.start_at >= r.range_start AND b.start_at < r.range_end),
clipped AS (
    SELECT l.*, greatest(0, extract(epoch FROM
               least(l.end_at, (l.day + l.closes) AT TIME ZONE l.timezone)
             - greatest(l.start_at, (l.day + l.opens) AT TIME ZONE l.timezone)) / 60) AS booked
      FROM live l)"""

# Per room or building, and the total (GROUPING SETS): one statement.
_FIGURES = """
WITH {rooms},
open AS (
    -- generate_series over days x rooms: each day's opening hours, in real minutes
    SELECT r.id AS room_id,
           sum(extract(epoch FROM (d::date + r.closes) AT TIME ZONE r.timezone
                                - (d::date + r.opens) AT TIME ZONE r.timezone) / 60) AS minutes
      FROM r CROSS JOIN generate_series(%(from)s::date::timestamp, %(to)s::date::timestamp, interval '1 day') d
     GROUP BY r.id),
-- bookings_room_cancelled
cancelled AS (
    SELECT b.room_id FROM r JOIN bookings b
        ON b.room_id = r.id AND b.cancelled_at IS NOT NULL
       AND b.start_at >= r.range_start AND b.start_at < r.range_end),
-- outbox_created (BRIN): what was booked lately, whatever its date
made AS (
    SELECT o.room_id, o.created_at > %(now)s - interval '1 hour' AS last_hour
      FROM outbox o
     WHERE o.created_at > %(now)s - interval '24 hours' AND o.created_at <= %(now)s
       AND o.kind IN ('booking.created', 'series.created')
       AND o.room_id IN (SELECT id FROM r)),
facts AS (
    SELECT room_id, minutes AS open_m, NULL::numeric AS booked_m, NULL::bigint AS user_id,
           NULL::numeric AS length_m, NULL::numeric AS lead_m, 0 AS live, 0 AS gone,
           0 AS hour_made, 0 AS day_made FROM open
    UNION ALL
    SELECT room_id, NULL, booked, user_id, extract(epoch FROM end_at - start_at) / 60,
           extract(epoch FROM start_at - created_at) / 60, 1, 0, 0, 0 FROM clipped
    UNION ALL
    SELECT room_id, NULL, NULL, NULL, NULL, NULL, 0, 1, 0, 0 FROM cancelled
    UNION ALL
    SELECT room_id, NULL, NULL, NULL, NULL, NULL, 0, 0, last_hour::int, 1 FROM made)
SELECT grouping({key}) = 1 AS total, {columns},
       coalesce(sum(f.open_m), 0)::float8 AS open_minutes,
       coalesce(sum(f.booked_m), 0)::float8 AS booked_minutes,
       sum(f.live)::int AS bookings,
       count(DISTINCT f.user_id)::int AS bookers,
       avg(f.length_m)::float8 AS average_minutes,
       sum(f.gone)::int AS cancelled,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.lead_m) AS median_lead_minutes,
       sum(f.hour_made)::int AS made_last_hour,
       sum(f.day_made)::int AS made_last_24h,
       (%(building)s::text IS NULL
        OR EXISTS (SELECT 1 FROM rooms x WHERE x.building = %(building)s)) AS building_known
  FROM facts f JOIN r ON r.id = f.room_id
 GROUP BY GROUPING SETS (({group_by}), ())
 ORDER BY total, {order}"""

BY_ROOM_SQL = _FIGURES.format(
    rooms=_ROOMS, key="r.id", columns="r.id AS room_id, r.name AS room_name, r.building",
    group_by="r.id, r.name, r.building", order="r.building, r.name")
BY_BUILDING_SQL = _FIGURES.format(
    rooms=_ROOMS, key="r.building", columns="r.building", group_by="r.building",
    order="r.building")

# Weekday x hour, room-local. Open minutes come from generate_series over
# days x hours for each distinct opening-hours set (rooms sharing one are
# counted together); booked minutes from each booking's hours.
BY_WEEKDAY_HOUR_SQL = """
WITH {rooms},
kinds AS (
    SELECT timezone, opens, closes, count(*) AS rooms FROM r GROUP BY 1, 2, 3),
open AS (
    SELECT extract(isodow FROM d)::int AS weekday, h AS hour,
           sum(k.rooms * greatest(0, extract(epoch FROM
                   least((d::date + make_interval(hours => h + 1)) AT TIME ZONE k.timezone,
                         (d::date + k.closes) AT TIME ZONE k.timezone)
                 - greatest((d::date + make_interval(hours => h)) AT TIME ZONE k.timezone,
                            (d::date + k.opens) AT TIME ZONE k.timezone)) / 60)) AS minutes
      FROM kinds k
     CROSS JOIN generate_series(%(from)s::date::timestamp, %(to)s::date::timestamp, interval '1 day') d
     CROSS JOIN generate_series(extract(hour FROM k.opens)::int,
                                least(23, extract(hour FROM k.closes - interval '1 second')::int)) h
     GROUP BY 1, 2),
booked AS (
    SELECT extract(isodow FROM c.day)::int AS weekday, h AS hour,
           sum(greatest(0, extract(epoch FROM
                   least(c.end_at, (c.day + make_interval(hours => h + 1)) AT TIME ZONE c.timezone,
                         (c.day + c.closes) AT TIME ZONE c.timezone)
                 - greatest(c.start_at, (c.day + make_interval(hours => h)) AT TIME ZONE c.timezone,
                            (c.day + c.opens) AT TIME ZONE c.timezone)) / 60)) AS minutes,
           count(*) FILTER (WHERE h = extract(hour FROM c.start_at AT TIME ZONE c.timezone)) AS started
      FROM clipped c
     CROSS JOIN generate_series(extract(hour FROM c.start_at AT TIME ZONE c.timezone)::int,
                                extract(hour FROM c.end_at AT TIME ZONE c.timezone
                                                  - interval '1 second')::int) h
     WHERE c.booked > 0
     GROUP BY 1, 2)
SELECT o.weekday, o.hour, o.minutes::float8 AS open_minutes,
       coalesce(b.minutes, 0)::float8 AS booked_minutes, coalesce(b.started, 0)::int AS bookings,
       (%(building)s::text IS NULL
        OR EXISTS (SELECT 1 FROM rooms x WHERE x.building = %(building)s)) AS building_known
  FROM open o LEFT JOIN booked b USING (weekday, hour)
 WHERE o.minutes > 0
 ORDER BY o.weekday, o.hour""".format(rooms=_ROOMS)

SQL = {"room": BY_ROOM_SQL, "building": BY_BUILDING_SQL, "weekday_hour": BY_WEEKDAY_HOUR_SQL}


def parameters(args: Any, now: datetime) -> dict[str, Any]:
    """The report's range, building and group from the query; 400/422 when they are wrong."""
    today = now.astimezone(UTC).date()
    end = parse_date(args.get("to"), "to") if args.get("to") else today
    start = (parse_date(args.get("from"), "from") if args.get("from")
             else end - timedelta(days=29))
    if end < start:
        raise BookingError("bad_range", "The report's end (to) is before its start (from).",
                           field="to")
    days = (end - start).days + 1
    if days > MOST_DAYS:
        raise BookingError("range_too_long", f"A report covers at most {MOST_DAYS} days; "
                           f"this one asks for {days}.", field="to")
    building = args.get("building") or None
    if building is not None and len(building) > 100:
        raise invalid("building", "A building name has at most 100 characters.")
    group = args.get("group") or "room"
    if group not in GROUPS:
        raise invalid("group", "group is room, building or weekday_hour.")
    return {"from": start, "to": end, "building": building, "group": group, "now": now,
            "days": days}


def utilisation(params: dict[str, Any], groups: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The report for params["group"] (or each of `groups`), one statement each."""
    wanted = groups or (params["group"],)
    found: dict[str, list[dict[str, Any]]] = {}
    with db.connection() as conn:
        for group in wanted:
            found[group] = conn.execute(SQL[group], params).fetchall()
    report: dict[str, Any] = {"from": params["from"].isoformat(), "to": params["to"].isoformat(),
                              "days": params["days"], "building": params["building"]}
    for group, rows in found.items():
        if rows and not rows[0]["building_known"]:
            raise BookingError("unknown_building", f"There is no building called "
                               f"{params['building']!r}.", field="building")
        report[group] = _shape(group, rows)
    return report


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 4) if whole else None


def _shape(group: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    if group == "weekday_hour":
        return {"rows": [{"weekday": r["weekday"], "hour": r["hour"],
                          "open_minutes": round(r["open_minutes"], 2),
                          "booked_minutes": round(r["booked_minutes"], 2),
                          "utilisation": _ratio(r["booked_minutes"], r["open_minutes"]),
                          "bookings": r["bookings"]} for r in rows]}
    shaped = []
    for r in rows:
        made = r["bookings"] + r["cancelled"]
        item = {"room_id": r["room_id"], "room_name": r["room_name"],
                "building": r["building"]} if group == "room" else {"building": r["building"]}
        item.update({
            "open_minutes": round(r["open_minutes"], 2),
            "booked_minutes": round(r["booked_minutes"], 2),
            "utilisation": _ratio(r["booked_minutes"], r["open_minutes"]),
            "bookings": r["bookings"], "bookers": r["bookers"],
            "average_minutes": round(r["average_minutes"], 2) if r["average_minutes"] is not None
            else None,
            "cancelled": r["cancelled"], "cancellation_rate": _ratio(r["cancelled"], made),
            "median_lead_minutes": round(r["median_lead_minutes"], 2)
            if r["median_lead_minutes"] is not None else None,
            "made_last_hour": r["made_last_hour"], "made_last_24h": r["made_last_24h"]})
        shaped.append((r["total"], item))
    return {"rows": [item for total, item in shaped if not total],
            "total": next((item for total, item in shaped if total), None)}


COLUMNS = {
    "room": ["room_id", "room_name", "building", "open_minutes", "booked_minutes", "utilisation",
             "bookings", "bookers", "average_minutes", "cancelled", "cancellation_rate",
             "median_lead_minutes", "made_last_hour", "made_last_24h"],
    "weekday_hour": ["weekday", "hour", "open_minutes", "booked_minutes", "utilisation",
                     "bookings"],
}
COLUMNS["building"] = [c for c in COLUMNS["room"] if c not in ("room_id", "room_name")]


def as_csv(report: dict[str, Any], group: str) -> str:
    """A report table as CSV (the total, where there is one, last)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS[group], extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    table = report[group]
    for row in table["rows"]:
        writer.writerow(row)
    if table.get("total"):
        writer.writerow({**table["total"], COLUMNS[group][0]: "total"})
    return out.getvalue()


