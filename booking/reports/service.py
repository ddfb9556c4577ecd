"""Utilisation analytics, computed by PostgreSQL in one statement per figure set.

For a range of room-local days (`from` and `to`, both included, at most 366)
and optionally one building:

- open minutes: every active room's opening hours on every day of the range
  (`generate_series` over days x rooms) as its effective policy has them (that
  weekday's hours, none on a closed date), in real time: the opening hours are
  placed in the room's zone day by day, so a daylight-saving day counts the
  minutes it really has;
- booked minutes: each live booking's minutes inside its day's opening hours;
- utilisation = booked / open; bookings, distinct bookers (people: not a door
  panel's account), average length,
  cancelled bookings and the cancellation rate (cancelled / all made for the
  range), the median lead time (from booking to start; bookings made after
  their start, such as an admin's backfill, are left out);
- a booking rate per room: bookings and series made in the last hour and the
  last 24 hours (from the outbox);
- the busiest hours: booked over open minutes per room-local weekday x hour;
- used, released and ghost minutes (issue 17): booked minutes of bookings
  checked in; minutes a release gave back (from the release to the end as
  booked); and "ghost" time, the booked minutes (as booked, before a release
  cut them) of bookings released or, in a check-in room, over without a
  check-in while check-in was required (since rooms.checkin_since).

No Python loop ever sees a booking: Python only checks the input and shapes
the rows.
"""

from __future__ import annotations

import contextvars
import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from booking import db, inputs
from booking.errors import BookingError, invalid
from booking.times import UTC, parse_date
from booking.i18n import _

MOST_DAYS = 366
GROUPS = ("room", "building", "weekday_hour")

# The rooms in the report; their days (generate_series over days x rooms),
# each with its opening hours placed in the room's zone, so a daylight-saving
# day has the real minutes it has; the live bookings of the range, each
# joined to its day (the room-local day it starts on: no booking crosses
# midnight) and clipped to that day's opening hours. Arithmetic in float8
# (date_part), not numeric (extract): a quarter has ~250,000 bookings.
_ROOMS = """
r AS (
    SELECT r.id, r.name, r.building, r.timezone, r.opens, r.closes, r.checkin_required,
           r.checkin_since,
           -- what of its effective policy sets its days (room_policy(), sql/040):
           -- the hours of each weekday ({}: its own every day) and its closed dates
           coalesce(p.fields->'opening_hours'->'value', '{}') AS week,
           coalesce(p.fields->'closed_dates'->'value', '[]') AS closed,
           %(from)s::date::timestamp AT TIME ZONE r.timezone AS range_start,
           (%(to)s::date + 1)::timestamp AT TIME ZONE r.timezone AS range_end
      FROM rooms r
     CROSS JOIN LATERAL (SELECT room_policy(r.id)->'fields' AS fields) p
     WHERE r.active AND (%(building)s::text IS NULL OR lower(r.building) = lower(%(building)s))),
-- Each day's opening and closing instant, placed once per kind of days (rooms
-- share a handful) rather than per room: wall_instant() (sql/017_wall_clock.sql)
-- reads them as the rules do on the nights the clocks change, at ~1.4 us a call.
-- A day the policy closes (its weekday, or a closed date) opens and closes at
-- once: nothing of it is open, and a booking on it is counted, with no minutes.
hours AS MATERIALIZED (
    SELECT k.timezone, k.opens, k.closes, k.week, k.closed, x.day, x.day_opens, x.day_closes,
           wall_instant(x.day, x.day_opens, k.timezone) AS open_at,
           wall_instant(x.day, x.day_closes, k.timezone) AS close_at
      FROM (SELECT DISTINCT timezone, opens, closes, week, closed FROM r) k
     CROSS JOIN generate_series(%(from)s::date::timestamp, %(to)s::date::timestamp,
                                interval '1 day') d
     CROSS JOIN LATERAL (
           SELECT CASE WHEN k.closed ? to_char(d, 'YYYY-MM-DD') OR k.closed ? to_char(d, 'MM-DD')
                       THEN NULL
                       WHEN k.week = '{}' THEN jsonb_build_array(k.opens, k.closes)
                       ELSE nullif(k.week->((ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat',
                                                   'sun'])[extract(isodow FROM d)::int]),
                                   'null')
                  END AS pair) w
     CROSS JOIN LATERAL (
           SELECT d::date AS day,
                  coalesce((w.pair->>0)::time, k.opens) AS day_opens,
                  coalesce((w.pair->>1)::time, k.opens) AS day_closes) x),
days AS MATERIALIZED (   -- placed once, not once per booking that uses them
    SELECT r.id AS room_id, h.day, h.day_opens, h.day_closes, h.open_at, h.close_at
      FROM r JOIN hours h USING (timezone, opens, closes, week, closed)),
-- bookings_room_start: one index-only range per room
live AS (
    SELECT b.room_id, b.user_id, b.start_at, b.end_at, b.created_at,
           (b.start_at AT TIME ZONE r.timezone)::date AS day, r.timezone,
           b.checked_in_at, b.released_at, coalesce(b.end_before_release, b.end_at) AS booked_end,
           -- ghost: released, or over in a check-in room without anyone checking in,
           -- held while check-in was required (a booking over before it was turned
           -- on had nothing to check in to: rooms.checkin_since, sql/076)
           b.released_at IS NOT NULL
             OR (r.checkin_required AND b.checked_in_at IS NULL AND b.end_at <= %(now)s
                 AND b.end_at > coalesce(r.checkin_since, '-infinity'))
             AS ghost
      FROM r JOIN bookings b
        ON b.room_id = r.id AND b.cancelled_at IS NULL
       AND b.start_at >= r.range_start AND b.start_at < r.range_end),
clipped AS (
    SELECT l.*, d.open_at, d.close_at, d.day_opens, d.day_closes,
           greatest(0, date_part('epoch', least(l.end_at, d.close_at)
                                          - greatest(l.start_at, d.open_at)) / 60) AS booked,
           -- as booked, before a release cut it
           greatest(0, date_part('epoch', least(l.booked_end, d.close_at)
                                          - greatest(l.start_at, d.open_at)) / 60) AS as_booked
      FROM live l JOIN days d ON d.room_id = l.room_id AND d.day = l.day)"""

# Per room or building, and the total (GROUPING SETS): one statement.
_FIGURES = """
WITH {rooms},
open AS (
    SELECT room_id, sum(date_part('epoch', close_at - open_at) / 60) AS minutes
      FROM days GROUP BY room_id),
-- bookings_room_cancelled. Cancelled by someone: a request rejected, or expired
-- undecided, is no cancellation (both set cancelled_at), and neither is an
-- occurrence a change of its series replaced (cancelled and booked anew in the
-- change's transaction: series_changed_at(), sql/091).
cancelled AS (
    SELECT b.room_id FROM r JOIN bookings b
        ON b.room_id = r.id AND b.cancelled_at IS NOT NULL
       AND b.start_at >= r.range_start AND b.start_at < r.range_end
     WHERE b.status NOT IN ('rejected', 'expired')
       AND NOT (b.series_id IS NOT NULL AND series_changed_at(b.series_id, b.cancelled_at))),
-- outbox_created (BRIN): what was booked lately, whatever its date
made AS (
    SELECT o.room_id, o.created_at > %(now)s - interval '1 hour' AS last_hour
      FROM outbox o
     WHERE o.created_at > %(now)s - interval '24 hours' AND o.created_at <= %(now)s
       AND o.kind IN ('booking.created', 'series.created')
       AND o.room_id IN (SELECT id FROM r)),
facts AS (
    SELECT room_id, minutes AS open_m, NULL::float8 AS booked_m, NULL::bigint AS user_id,
           NULL::float8 AS length_m, NULL::float8 AS lead_m, 0 AS live, 0 AS gone,
           0 AS hour_made, 0 AS day_made, NULL::float8 AS used_m, NULL::float8 AS released_m,
           NULL::float8 AS ghost_m FROM open
    UNION ALL
    -- Lead: booking to start. A booking made after its start (an admin's
    -- backfill) had no lead at all, and is left out rather than counted negative.
    -- Used: checked in; released: what a release gave back; ghost: booked, unused.
    -- A booker is a person: a door panel's account (its walk-ins) is none.
    SELECT room_id, NULL, booked,
           CASE WHEN user_id NOT IN (SELECT p.user_id FROM panel_tokens p) THEN user_id END,
           date_part('epoch', end_at - start_at) / 60,
           CASE WHEN created_at <= start_at THEN date_part('epoch', start_at - created_at) / 60
           END, 1, 0, 0, 0,
           CASE WHEN checked_in_at IS NOT NULL THEN booked END,
           CASE WHEN released_at IS NOT NULL THEN as_booked - booked END,
           CASE WHEN ghost THEN as_booked END FROM clipped
    UNION ALL
    SELECT room_id, NULL, NULL, NULL, NULL, NULL, 0, 1, 0, 0, NULL, NULL, NULL FROM cancelled
    UNION ALL
    SELECT room_id, NULL, NULL, NULL, NULL, NULL, 0, 0, last_hour::int, 1, NULL, NULL, NULL
      FROM made)
SELECT grouping({key}) = 1 AS total, {columns},
       coalesce(sum(f.open_m), 0) AS open_minutes,
       coalesce(sum(f.booked_m), 0) AS booked_minutes,
       sum(f.live)::int AS bookings,
       count(DISTINCT f.user_id)::int AS bookers,
       avg(f.length_m) AS average_minutes,
       sum(f.gone)::int AS cancelled,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.lead_m) AS median_lead_minutes,
       sum(f.hour_made)::int AS made_last_hour,
       sum(f.day_made)::int AS made_last_24h,
       coalesce(sum(f.used_m), 0) AS used_minutes,
       coalesce(sum(f.released_m), 0) AS released_minutes,
       coalesce(sum(f.ghost_m), 0) AS ghost_minutes,
       (%(building)s::text IS NULL
        OR EXISTS (SELECT 1 FROM rooms x
                    WHERE lower(x.building) = lower(%(building)s))) AS building_known
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
# counted together). Booked minutes: each booking's piece in each hour it
# touches. On a day whose opening hours hold no clock change ("stable", all
# but a few nights a year), local hour h begins at the day's opening instant
# minus the opening time plus h hours, with no time zone lookups; otherwise
# each hour's start is placed in the zone (local_hour_start(): where the clock
# first shows it, so both passes of a repeated hour count in it).
BY_WEEKDAY_HOUR_SQL = """
WITH {rooms},
kinds AS (
    SELECT timezone, opens, closes, week, closed, count(*) AS rooms FROM r GROUP BY 1, 2, 3, 4, 5),
open AS (
    SELECT extract(isodow FROM d.day)::int AS weekday, h AS hour,
           sum(k.rooms * greatest(0, date_part('epoch',
                   least(local_hour_start(d.day, h + 1, k.timezone),
                         d.close_at)
                 - greatest(local_hour_start(d.day, h, k.timezone),
                            d.open_at)) / 60)) AS minutes
      FROM kinds k
      JOIN hours d USING (timezone, opens, closes, week, closed)
     CROSS JOIN generate_series(
           extract(hour FROM d.day_opens)::int,
           least(23, extract(hour FROM d.day_closes - interval '1 second')::int)) h
     WHERE d.day_closes > d.day_opens
     GROUP BY 1, 2),
pieces AS MATERIALIZED (
    SELECT c.day, c.timezone, c.start_at,
           greatest(c.start_at, c.open_at) AS cs, least(c.end_at, c.close_at) AS ce,
           c.open_at - (c.day_opens - time '00:00') AS base,
           c.close_at - c.open_at = c.day_closes - c.day_opens AS stable
      FROM clipped c
     WHERE c.booked > 0),
slots AS (
    SELECT p.day, p.start_at, p.cs, p.ce, h,
           CASE WHEN p.stable THEN p.base + h * interval '1 hour'
                ELSE local_hour_start(p.day, h, p.timezone) END AS s0,
           CASE WHEN p.stable THEN p.base + (h + 1) * interval '1 hour'
                ELSE local_hour_start(p.day, h + 1, p.timezone) END AS s1
      FROM pieces p
     CROSS JOIN LATERAL generate_series(
           CASE WHEN p.stable THEN floor(date_part('epoch', p.cs - p.base) / 3600)::int
                ELSE extract(hour FROM p.cs AT TIME ZONE p.timezone)::int END,
           CASE WHEN p.stable THEN floor((date_part('epoch', p.ce - p.base) - 0.001) / 3600)::int
                ELSE extract(hour FROM (p.ce - interval '1 millisecond')
                                       AT TIME ZONE p.timezone)::int END) h),
booked AS (
    SELECT extract(isodow FROM day)::int AS weekday, h AS hour,
           sum(greatest(0, date_part('epoch', least(ce, s1) - greatest(cs, s0)) / 60)) AS minutes,
           count(*) FILTER (WHERE start_at >= s0 AND start_at < s1) AS started
      FROM slots
     GROUP BY 1, 2)
-- One row at least, hours or none (weekday NULL), to say whether the building is
-- known: a building no room is in has no hours at all.
SELECT o.weekday, o.hour, o.minutes AS open_minutes,
       coalesce(b.minutes, 0) AS booked_minutes, coalesce(b.started, 0)::int AS bookings,
       k.building_known
  FROM (SELECT %(building)s::text IS NULL
               OR EXISTS (SELECT 1 FROM rooms x
                           WHERE lower(x.building) = lower(%(building)s)) AS building_known) k
  LEFT JOIN (open o LEFT JOIN booked b USING (weekday, hour)) ON o.minutes > 0
 ORDER BY o.weekday, o.hour""".format(rooms=_ROOMS)

SQL = {"room": BY_ROOM_SQL, "building": BY_BUILDING_SQL, "weekday_hour": BY_WEEKDAY_HOUR_SQL}


def parameters(args: Any, now: datetime) -> dict[str, Any]:
    """The report's range, building and group from the query; 400/422 when they are wrong."""
    today = now.astimezone(UTC).date()
    end = parse_date(args.get("to"), "to") if args.get("to") else today
    start = (parse_date(args.get("from"), "from") if args.get("from")
             else end - timedelta(days=29))
    if end < start:
        raise BookingError("bad_range", _("The report's end (to) is before its start (from)."),
                           field="to")
    days = (end - start).days + 1
    if days > MOST_DAYS:
        raise BookingError("range_too_long", _("A report covers at most %(most)d days; this "
                                               "one asks for %(days)d.", most=MOST_DAYS,
                                               days=days), field="to")
    building = args.get("building") or None
    if building is not None and len(building) > 100:
        raise invalid("building", _("A building name has at most 100 characters."))
    if building is not None:   # as room buildings are read (a NUL is a 400 naming it)
        building = inputs.text(building, "building", low=0, high=100) or None
    group = args.get("group") or "room"
    if group not in GROUPS:
        raise invalid("group", _("group is room, building or weekday_hour."))
    return {"from": start, "to": end, "building": building, "group": group, "now": now,
            "days": days}


def utilisation(params: dict[str, Any], groups: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The report for params["group"] (or each of `groups`), one statement each: its
    range and building filter, and each group's table in `tables`."""
    wanted = groups or (params["group"],)
    if len(wanted) == 1:
        found = {wanted[0]: _rows(wanted[0], params)}
    else:
        # The page's two figure sets run side by side, each on its own pooled
        # connection: the page takes as long as the slower one, not the sum.
        # Each thread runs in a copy of this request's context (app, SQL counter).
        futures = {group: _parallel.submit(contextvars.copy_context().run, _rows, group, params)
                   for group in wanted}
        found = {group: future.result() for group, future in futures.items()}
    report: dict[str, Any] = {"from": params["from"].isoformat(), "to": params["to"].isoformat(),
                              "days": params["days"], "building": params["building"],
                              "tables": {}}
    for group, rows in found.items():
        if rows and not rows[0]["building_known"]:
            raise BookingError("unknown_building", _("There is no building called "
                                                     "“%(building)s”.",
                                                     building=params["building"]),
                               field="building")
        report["tables"][group] = _shape(group, rows)
    return report


def _rows(group: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return conn.execute(SQL[group], params).fetchall()


_parallel = ThreadPoolExecutor(max_workers=4, thread_name_prefix="booking-report")


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 4) if whole else None


def _shape(group: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    if group == "weekday_hour":
        return {"rows": [{"weekday": r["weekday"], "hour": r["hour"],
                          "open_minutes": round(r["open_minutes"], 2),
                          "booked_minutes": round(r["booked_minutes"], 2),
                          "utilisation": _ratio(r["booked_minutes"], r["open_minutes"]),
                          "bookings": r["bookings"]}
                         for r in rows if r["weekday"] is not None]}
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
            "made_last_hour": r["made_last_hour"], "made_last_24h": r["made_last_24h"],
            "used_minutes": round(r["used_minutes"], 2),
            "released_minutes": round(r["released_minutes"], 2),
            "ghost_minutes": round(r["ghost_minutes"], 2)})
        shaped.append((r["total"], item))
    return {"rows": [item for total, item in shaped if not total],
            "total": next((item for total, item in shaped if total), None)}


COLUMNS = {
    "room": ["room_id", "room_name", "building", "open_minutes", "booked_minutes", "utilisation",
             "bookings", "bookers", "average_minutes", "cancelled", "cancellation_rate",
             "median_lead_minutes", "made_last_hour", "made_last_24h", "used_minutes",
             "released_minutes", "ghost_minutes"],
    "weekday_hour": ["weekday", "hour", "open_minutes", "booked_minutes", "utilisation",
                     "bookings"],
}
COLUMNS["building"] = [c for c in COLUMNS["room"] if c not in ("room_id", "room_name")]


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet splitting on ";" or tabs would start a cell with a formula.
SPLIT_FORMULA = re.compile(r"([;\t])([=+\-@])")


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, defused with a leading
    apostrophe: a room named "=cmd|' /C calc'!A0" stays its name. So is each
    part after a ";" (or a tab): German Excel splits cells there, whatever the
    quotes, so ";=8 r13" would be a cell "=8 r13". Numbers are left alone (a
    negative number is a number, not text)."""
    if not isinstance(value, str):
        return value
    value = SPLIT_FORMULA.sub(r"\1'\2", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def as_csv(report: dict[str, Any], group: str) -> str:
    """A report table as CSV (the total, where there is one, last)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS[group], extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    table = report["tables"][group]
    for row in table["rows"]:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    if table.get("total"):
        writer.writerow({**table["total"], COLUMNS[group][0]: "total"})
    return out.getvalue()


