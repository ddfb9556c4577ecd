"""Bookings: book (one, or a series: booking.series), look up, list mine, cancel.

The rules (booking.rules) are checked in Python before anything is written;
the one rule Python cannot check race-free, "the room is free", is the
exclusion constraint's job: `book()` (sql/001_core.sql) inserts and, when
the slot is taken, returns the bookings in the way.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Mapping

from flask import current_app

from booking import availability, db, idempotency, inputs, pagination, rules
from booking.series import service as series
from booking.auth import User
from booking.errors import BookingError, invalid, not_found
from booking.rooms import service as rooms
from booking.times import parse_date, parse_datetime, rfc3339, zone

CREATE_FIELDS = frozenset({"room_id", "title", "start_time", "end_time", "recurrence",
                           "skip_conflicts"})


# book() (sql/042): reads the room's policy again in the statement that books
# (buffer, approval, quota under the booker's lock) and inserts against
# bookings_no_overlap.
BOOK_SQL = """
SELECT kind, requested_start, data
  FROM book(%(room)s, %(user)s, %(title)s, %(starts)s, %(ends)s, NULL, false, %(admin)s,
            %(overrides)s)"""

# bookings_pkey
GET_SQL = "SELECT booking_json(b) AS booking FROM booking_api b WHERE b.id = %s"

# bookings_pkey, one index probe per id; answered in the order asked
GET_MANY_SQL = """
SELECT booking_json(b) AS booking FROM booking_api b
 WHERE b.id = ANY (%(ids)s)
 ORDER BY array_position(%(ids)s, b.id)"""

# bookings_user_start, read forward from the cursor. A booking never spans
# more than a day, so "not ended yet" starts at most a day ago: that bound
# keeps the index range short.
MINE_UPCOMING_SQL = """
SELECT booking_json(b) AS booking, b.start_at, b.id, b.timezone
  FROM booking_api b
 WHERE b.user_id = %(user)s AND b.live
   AND b.start_at > %(now)s - interval '1 day' AND b.end_at > %(now)s
   AND (b.start_at, b.id) > (%(after_at)s, %(after_id)s)
 ORDER BY b.start_at, b.id
 LIMIT %(limit)s"""

# bookings_user_start, read backward from the cursor.
MINE_PAST_SQL = """
SELECT booking_json(b) AS booking, b.start_at, b.id, b.timezone
  FROM booking_api b
 WHERE b.user_id = %(user)s AND b.live
   AND b.start_at < %(now)s AND b.end_at <= %(now)s
   AND (b.start_at, b.id) < (%(after_at)s, %(after_id)s)
 ORDER BY b.start_at DESC, b.id DESC
 LIMIT %(limit)s"""

# Cancel in one statement: who may is decided in the UPDATE's WHERE, so two
# concurrent cancels cannot both succeed; the outer SELECT says what happened.
CANCEL_SQL = """
WITH done AS (
    UPDATE bookings b
       SET cancelled_at = now(), cancelled_by = %(actor)s
     WHERE b.id = %(id)s AND b.cancelled_at IS NULL AND b.end_at > %(now)s
       AND (b.user_id = %(actor)s OR %(admin)s)
 RETURNING b.id, b.cancelled_at)
SELECT booking_json(b) AS booking, b.timezone, b.live, b.end_at <= %(now)s AS ended,
       done.cancelled_at AS cancelled_now
  FROM booking_api b LEFT JOIN done ON done.id = b.id
 WHERE b.id = %(id)s"""

DEFAULT_PAGE = 20
MAX_PAGE = 100


def create(user: User, data: Mapping[str, Any], now: datetime,
           key: idempotency.Key | None = None) -> dict[str, Any]:
    """Book a room: {"booking"}, or with `recurrence` a series: {"series", "bookings",
    "skipped"}. BookingError (400, 404, 409, 422) otherwise.

    With an idempotency `key`, a repeat of an earlier request that booked gets
    that request's answer again (and key.replayed is set) instead of a booking.
    """
    inputs.only(data, CREATE_FIELDS)
    room_id = inputs.integer(data.get("room_id"), "room_id")
    title = inputs.title(data.get("title"))
    start_raw = parse_datetime(data.get("start_time"), "start_time")
    end_raw = parse_datetime(data.get("end_time"), "end_time")
    skip_conflicts = inputs.boolean(data.get("skip_conflicts", False), "skip_conflicts")
    if data.get("recurrence") not in (None, ""):
        return series.create(user, room_id, title, start_raw, end_raw, data["recurrence"],
                             skip_conflicts, now, key=key, request_data=data)

    with db.connection() as conn:
        room, tz, start, end = rooms.for_booking(conn, room_id, start_raw, end_raw)
        judged = rules.verdict(room, start, end, now, room["policy"], user.booker)
        if judged.error:
            raise judged.error
        args = {"room": room_id, "title": title, "starts": [start], "ends": [end],
                "admin": user.is_admin, "overrides": judged.overrides or None}
        if key is None:
            rows = conn.execute(BOOK_SQL, {**args, "user": user.id}).fetchall()
        else:
            rows = idempotency.rows(idempotency.book_once(conn, key, user.id, now, "book",
                                                          data, args))

    for row in rows:
        if row["kind"] == "created":
            return {"booking": row["data"]}
        if row["kind"] == "refused":
            raise rules.quota_refusal(row["data"])
    raise BookingError(
        "conflict", f"{room['name']} is already booked at that time.", field="start_time",
        details={"conflicts": [r["data"] for r in rows if r["kind"] == "conflict"],
                 "suggestions": availability.suggestions(room, rows, start, end, now,
                                                         current_app.config, user.booker)})


def get(booking_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(GET_SQL, (booking_id,)).fetchone()
    if row is None:
        raise not_found("That booking")
    return row["booking"]


def get_many(ids_text: Any) -> dict[str, Any]:
    """Several bookings by id in one query; ids that do not exist are listed as missing."""
    ids = inputs.id_list(ids_text, "ids", most=100)
    with db.connection() as conn:
        bookings = [r["booking"] for r in conn.execute(GET_MANY_SQL, {"ids": ids})]
    found = {booking["id"] for booking in bookings}
    return {"bookings": bookings, "missing": [i for i in ids if i not in found]}


def mine(user: User, when: str | None, limit: Any, cursor: str | None,
         now: datetime) -> dict[str, Any]:
    """The user's live bookings, upcoming (soonest first) or past (latest first).

    Keyset pagination: `next_cursor` names the last row shown; the next page
    starts after it, however many bookings there are.
    """
    when = when or "upcoming"
    if when not in ("upcoming", "past"):
        raise invalid("when", "when is upcoming or past.")
    page = pagination.Keyset(limit, cursor, default=DEFAULT_PAGE, most=MAX_PAGE,
                             start=pagination.FIRST if when == "upcoming" else pagination.LAST)
    sql = MINE_UPCOMING_SQL if when == "upcoming" else MINE_PAST_SQL
    with db.connection() as conn:
        rows = conn.execute(sql, {"user": user.id, "now": now, **page.params()}).fetchall()
    rows, next_cursor = page.cut(rows, lambda r: (r["start_at"], r["id"]))
    # `zones`: each booking's room zone, for the page (the twin leaves it out).
    return {"bookings": [r["booking"] for r in rows], "next_cursor": next_cursor,
            "zones": [r["timezone"] for r in rows]}


# bookings_user_start: one range, the user's live bookings starting in the week
# (Monday to Sunday in `zone`; without one, the zone most active rooms are in).
MINE_WEEK_SQL = """
WITH z AS (
    SELECT coalesce(%(zone)s::text,
                    (SELECT timezone FROM rooms WHERE active
                      GROUP BY timezone ORDER BY count(*) DESC, timezone LIMIT 1),
                    'UTC') AS tz),
d AS (SELECT z.tz, coalesce(%(day)s::date, (%(now)s AT TIME ZONE z.tz)::date) AS day FROM z),
w AS (SELECT d.tz, d.day - (extract(isodow FROM d.day)::int - 1) AS monday FROM d)
SELECT w.tz AS timezone, w.monday,
       coalesce((SELECT json_agg(json_build_object(
                          'booking', booking_json(b), 'timezone', b.timezone,
                          'day', (b.start_at AT TIME ZONE w.tz)::date)
                        ORDER BY b.start_at, b.id)
                   FROM booking_api b
                  WHERE b.user_id = %(user)s AND b.live
                    AND b.start_at >= w.monday::timestamp AT TIME ZONE w.tz
                    AND b.start_at < (w.monday + 7)::timestamp AT TIME ZONE w.tz), '[]') AS rows
  FROM w"""


def my_week(user: User, start: str | None, now: datetime) -> dict[str, Any]:
    """The user's live bookings in one week, Monday to Sunday, in their own zone (or
    the zone most rooms are in): {"view": "week", "timezone", "start", "days":
    [{"date", "bookings"}]}, plus `zones` (each booking's room zone, per day) for the
    page. `start` is any day of the week; this week by default."""
    day = parse_date(start, "start") if start else None
    with db.connection() as conn:
        row = conn.execute(MINE_WEEK_SQL, {"zone": user.timezone, "day": day, "now": now,
                                           "user": user.id}).fetchone()
    monday = row["monday"]
    days = [{"date": (monday + timedelta(days=n)).isoformat(), "bookings": [], "zones": []}
            for n in range(7)]
    for entry in row["rows"]:
        found = days[(date.fromisoformat(entry["day"]) - monday).days]
        found["bookings"].append(entry["booking"])
        found["zones"].append(entry["timezone"])
    return {"view": "week", "timezone": row["timezone"], "start": monday.isoformat(),
            "days": days}


def cancel(user: User, booking_id: int, now: datetime) -> dict[str, Any]:
    """Cancel a booking: its owner may, an admin may (recorded as cancelled_by)."""
    with db.connection() as conn:
        row = conn.execute(CANCEL_SQL, {"id": booking_id, "actor": user.id,
                                        "admin": user.is_admin, "now": now}).fetchone()
    if row is None:
        raise not_found("That booking")
    booking = row["booking"]
    if booking["user_id"] != user.id and not user.is_admin:
        raise BookingError("forbidden", "Only the person who booked it (or an administrator) "
                           "can cancel this booking.")
    if row["cancelled_now"] is not None:
        # The statement's snapshot predates its own UPDATE: fill in the new state.
        booking["cancelled_at"] = rfc3339(row["cancelled_now"], zone(row["timezone"]))
        booking["status"] = "cancelled"
    elif row["live"] and row["ended"]:
        raise BookingError("in_past", "This booking has already ended; it stays on record.")
    return booking  # already cancelled: cancelling again changes nothing


def may_cancel(user: User, booking: Mapping[str, Any], now: datetime) -> bool:
    """Whether to offer a cancel button: the booking is live, not over, and theirs (or admin)."""
    if booking["cancelled_at"] is not None or not (user.is_admin or booking["user_id"] == user.id):
        return False
    return datetime.fromisoformat(booking["end_time"]) > now


def week_view(view: str | None, start: str | None = None) -> bool:
    """?view=week (a week) or nothing, "list" (the list); 400 for anything else, and
    for a `start` that is not a date, whichever view it comes with."""
    if start:
        parse_date(start, "start")
    if view in (None, "", "list"):
        return False
    if view == "week":
        return True
    raise invalid("view", "view is list or week.")
