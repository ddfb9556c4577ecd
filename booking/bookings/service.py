"""Bookings: book (one, or a series: booking.series), look up, list mine, change, cancel.

The rules (booking.rules) are checked in Python before anything is written;
the one rule Python cannot check race-free, "the room is free", is the
exclusion constraint's job: `book()` (sql/021_edit_and_move.sql) inserts and
`edit_booking()` updates under it and, when the slot is taken, return the
bookings in the way; the same statement asks the finder for other rooms
(booking/finder/service.py Alternatives), so a refused request costs nothing
more.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Mapping

from flask import current_app

from booking import availability, db, idempotency, inputs, memo, pagination, rules
from booking.bookings.release import RELEASE_AT
from booking.series import service as series
from booking.auth import User
from booking.errors import BookingError, invalid, not_found
from booking.finder.service import ROOMS_JSON, Alternatives, keep_rooms
from booking.http import etag_listed, twin_etag
from booking.rooms import service as rooms
from booking.times import UTC, localize, parse_date, parse_datetime, rfc3339, zone
from booking.i18n import _

CREATE_FIELDS = frozenset({"room_id", "title", "start_time", "end_time", "recurrence",
                           "skip_conflicts", "booked_for"}) | inputs.PEOPLE_FIELDS
EDIT_FIELDS = frozenset({"title", "start_time", "end_time", "room_id"}) | inputs.PEOPLE_FIELDS

# book() (sql/042) under bookings_no_overlap: it reads the room's policy again in
# the statement that books (buffer, approval, the owner's quota under their
# lock); when the room was taken ('busy' rows: the room's next days), the
# finder's query for other rooms, in the same statement.
#
# The rules were checked in Python against the room and policy of
# `rooms_version` (this process's copy of the rooms, booking/memo/rooms.py), or,
# with a NULL version, against what an earlier statement read. When the copy is
# behind the database (an administrator changed a room, an area or a policy
# since), nothing is booked (the gate is a one-time filter: book() does not
# run), and whenever it is behind, or this process has none (`kept`: -1), the
# rooms come back to be kept ('rooms').
BOOK_SQL = f"""
WITH copy AS MATERIALIZED (SELECT memo_version('rooms') AS version),
b AS MATERIALIZED (
    SELECT kind, requested_start, data
      FROM book(%(room)s, %(owner)s, %(title)s, %(starts)s, %(ends)s, NULL, false,
                %(creator)s, %(attendees)s::int, %(invitees)s::text[], %(notes)s::text,
                %(admin)s, %(overrides)s::text[], false, %(checked_in)s::timestamptz)
     WHERE %(rooms_version)s::bigint IS NULL
        OR %(rooms_version)s = (SELECT version FROM copy))
SELECT kind, requested_start, data FROM b
UNION ALL
SELECT 'alternatives', NULL, {Alternatives.sql("true")}
 WHERE EXISTS (SELECT 1 FROM b WHERE kind = 'busy')
UNION ALL
SELECT 'rooms', NULL, json_build_object('version', copy.version, 'rooms', {ROOMS_JSON})
  FROM copy WHERE copy.version <> %(kept)s::bigint"""

# bookings_pkey
GET_SQL = "SELECT booking_detail_json(b) AS booking FROM booking_api b WHERE b.id = %s"

# The booking's page: the booking, and until when it may be checked in where its
# room requires check-in and nobody has yet (release_time(), sql/076).
PAGE_SQL = f"""
SELECT booking_detail_json(b) AS booking,
       (SELECT {RELEASE_AT}
          FROM rooms r
         WHERE r.id = b.room_id AND r.checkin_required AND b.checked_in_at IS NULL
           AND b.status = 'confirmed') AS checkin_until
  FROM booking_api b WHERE b.id = %s"""

# bookings_pkey, one index probe per id; answered in the order asked
GET_MANY_SQL = """
SELECT booking_detail_json(b) AS booking FROM booking_api b
 WHERE b.id = ANY (%(ids)s)
 ORDER BY array_position(%(ids)s, b.id)"""

# The user's own (bookings_user_start, index-only) and the bookings they are
# invited to (booking_invitations_user, then bookings_pkey for each of the
# page), each read forward from the cursor and cut at the page, then merged.
# A booking never spans more than a day, so "not ended yet" starts at most a
# day ago: that bound keeps the index ranges short.
MINE_UPCOMING_SQL = """
SELECT x.booking, x.role, x.start_at, x.id, x.timezone
  FROM ((SELECT booking_json(b) AS booking, 'organiser' AS role, b.start_at, b.id, b.timezone
           FROM booking_api b
          WHERE b.user_id = %(user)s AND b.live
            AND b.start_at > %(now)s - interval '1 day' AND b.end_at > %(now)s
            AND (b.start_at, b.id) > (%(after_at)s, %(after_id)s)
          ORDER BY b.start_at, b.id
          LIMIT %(limit)s)
        UNION ALL
        (SELECT booking_json(b), 'invitee', i.start_at, i.booking_id, b.timezone
           FROM booking_invitations i JOIN booking_api b ON b.id = i.booking_id AND b.live
          WHERE i.user_id = %(user)s
            AND i.start_at > %(now)s - interval '1 day' AND i.end_at > %(now)s
            AND (i.start_at, i.booking_id) > (%(after_at)s, %(after_id)s)
          ORDER BY i.start_at, i.booking_id
          LIMIT %(limit)s)) x
 ORDER BY x.start_at, x.id
 LIMIT %(limit)s"""

# The same, read backward from the cursor.
MINE_PAST_SQL = """
SELECT x.booking, x.role, x.start_at, x.id, x.timezone
  FROM ((SELECT booking_json(b) AS booking, 'organiser' AS role, b.start_at, b.id, b.timezone
           FROM booking_api b
          WHERE b.user_id = %(user)s AND b.live
            AND b.start_at < %(now)s AND b.end_at <= %(now)s
            AND (b.start_at, b.id) < (%(after_at)s, %(after_id)s)
          ORDER BY b.start_at DESC, b.id DESC
          LIMIT %(limit)s)
        UNION ALL
        (SELECT booking_json(b), 'invitee', i.start_at, i.booking_id, b.timezone
           FROM booking_invitations i JOIN booking_api b ON b.id = i.booking_id AND b.live
          WHERE i.user_id = %(user)s
            AND i.start_at < %(now)s AND i.end_at <= %(now)s
            AND (i.start_at, i.booking_id) < (%(after_at)s, %(after_id)s)
          ORDER BY i.start_at DESC, i.booking_id DESC
          LIMIT %(limit)s)) x
 ORDER BY x.start_at DESC, x.id DESC
 LIMIT %(limit)s"""

# Cancel in one statement: who may (the owner, a delegate they named, an
# admin) is decided in the UPDATE's WHERE, so two concurrent cancels cannot
# both succeed, and a move racing it either lands first (and the moved
# booking is cancelled) or finds it cancelled; the outer SELECT says what
# happened.
CANCEL_SQL = """
WITH done AS (
    UPDATE bookings b
       SET cancelled_at = now(), cancelled_by = %(actor)s
     WHERE b.id = %(id)s AND b.cancelled_at IS NULL AND b.end_at > %(now)s
       AND (b.user_id = %(actor)s OR %(admin)s
            OR EXISTS (SELECT 1 FROM delegates d
                        WHERE d.user_id = b.user_id AND d.delegate_id = %(actor)s))
 RETURNING b.*),
-- A series occurrence cancelled on its own stays cancelled when the series is
-- changed (sql/067): recorded at the start the series gave it.
kept_off AS (
    INSERT INTO series_skips (series_id, start_at, end_at, reason)
    SELECT d.series_id, coalesce(d.original_start, d.start_at),
           coalesce(d.original_start, d.start_at) + (d.end_at - d.start_at), 'cancelled'
      FROM done d WHERE d.series_id IS NOT NULL
    ON CONFLICT DO NOTHING)
-- The booking as the UPDATE left it: when a move of it committed while this
-- waited for its row, the statement's snapshot (booking_api) still shows the old
-- times, the updated row the new ones.
SELECT coalesce((SELECT booking_json_of(d.id, d.room_id, r.name, d.user_id, u.name, d.title,
                                        d.start_at, d.end_at, d.series_id, d.cancelled_at,
                                        d.created_at, r.timezone, d.attendees,
                                        coalesce(d.created_by, d.user_id), d.status,
                                        d.checked_in_at, d.released_at)
                   FROM done d JOIN rooms r ON r.id = d.room_id
                   JOIN users u ON u.id = d.user_id),
                booking_json(b)) AS booking,
       b.timezone, b.live, b.end_at <= %(now)s AS ended, done.cancelled_at AS cancelled_now,
       (b.user_id = %(actor)s OR %(admin)s
        OR EXISTS (SELECT 1 FROM delegates d
                    WHERE d.user_id = b.user_id AND d.delegate_id = %(actor)s)) AS allowed
  FROM booking_api b LEFT JOIN done ON done.id = b.id
 WHERE b.id = %(id)s"""

# What an edit starts from: the booking as GET shows it (its ETag), its row
# (bookings_pkey) and the owner's groups (group_members_user: the rules see the
# person who holds the booking). The rooms and their policies come from this
# process's copy (booking/memo/rooms.py), current as of this statement: when
# the copy is behind or missing (`kept`: -1), every room comes with the answer
# to be kept, so the policy costs an edit no statement of its own.
EDIT_READ_SQL = f"""
SELECT booking_detail_json(b) AS booking, b.user_id, b.room_id, b.start_at, b.end_at,
       b.sequence, b.attendees, b.live,
       -- An extension's: not checked in where check-in is required, released from
       -- then (sql/076). Other edits do not ask.
       (SELECT {RELEASE_AT}
          FROM rooms r
         WHERE %(extending)s AND r.id = b.room_id AND r.checkin_required
           AND b.checked_in_at IS NULL) AS release_at,
       -- With If-Match: what edit_booking() compares on the locked row (sql/068).
       CASE WHEN %(if_match)s THEN md5(booking_detail_json(b)::text) END AS fingerprint,
       (SELECT coalesce(array_agg(m.group_id), '{{}}') FROM group_members m
         WHERE m.user_id = b.user_id) AS owner_groups,
       v.version AS rooms_version,
       CASE WHEN v.version <> %(kept)s::bigint THEN {ROOMS_JSON} END AS rooms
  FROM booking_api b
 CROSS JOIN (SELECT memo_version('rooms') AS version) v
 WHERE b.id = %(id)s"""

# edit_booking() (sql/044, 056: the target room's buffer, approval and the owner's
# quota without this booking, under their lock) under bookings_no_overlap;
# when the room was taken, the finder's query for other rooms, in the same
# statement.
EDIT_SQL = f"""
WITH e AS MATERIALIZED (
    SELECT edit_booking(%(id)s, %(actor)s, %(admin)s, %(now)s, %(sequence)s::int,
                        %(room)s::int, %(start)s::timestamptz, %(end)s::timestamptz,
                        %(title)s::text, %(set_attendees)s, %(attendees)s::int,
                        %(invitees)s::text[], %(set_notes)s, %(notes)s::text,
                        %(overrides)s::text[], %(panel)s::int, %(fingerprint)s::text)
           AS result)
SELECT e.result, {Alternatives.sql("e.result->>'kind' = 'conflict'")} AS alternatives
  FROM e"""

DEFAULT_PAGE = 20
MAX_PAGE = 100


def create(user: User, data: Mapping[str, Any], now: datetime,
           key: idempotency.Key | None = None,
           checked_in: datetime | None = None) -> dict[str, Any]:
    """Book a room: {"booking"}, or with `recurrence` a series: {"series", "bookings",
    "skipped"}. BookingError (400, 403, 404, 409, 422) otherwise.

    `booked_for` (an email) makes the booking that person's, the caller its
    creator: an admin may, and a delegate that person named.

    With an idempotency `key`, a repeat of an earlier request that booked gets
    that request's answer again (and key.replayed is set) instead of a booking.
    `checked_in`: the booking is made checked in then (a door panel's walk-in).
    """
    inputs.only(data, CREATE_FIELDS)
    room_id = inputs.integer(data.get("room_id"), "room_id")
    title = inputs.title(data.get("title"))
    start_raw = parse_datetime(data.get("start_time"), "start_time")
    end_raw = parse_datetime(data.get("end_time"), "end_time")
    skip_conflicts = inputs.boolean(data.get("skip_conflicts", False), "skip_conflicts")
    people = inputs.people(data)
    booked_for = (None if data.get("booked_for") in (None, "")
                  else inputs.email(data["booked_for"], "booked_for"))
    if booked_for is not None and booked_for.lower() == user.email.lower():
        booked_for = None             # for oneself: an ordinary booking
    if data.get("recurrence") not in (None, ""):
        return series.create(user, room_id, title, start_raw, end_raw, data["recurrence"],
                             skip_conflicts, now, key=key, request_data=data,
                             people=people, booked_for=booked_for)

    # The room and its policy from this process's copy of the rooms when it has
    # one, checked by BOOK_SQL's gate; otherwise (and with an Idempotency-Key or
    # booked_for, which read more) by a statement of their own.
    copy = (rooms.kept_for_booking(room_id, start_raw, end_raw)
            if key is None and booked_for is None else None)
    gated = copy is not None
    with db.connection() as conn:
        while True:
            version, room, tz, start, end = copy or (None, *rooms.for_booking(
                conn, room_id, start_raw, end_raw, booked_for, user))
            owner = room.get("owner_id") or user.id
            booker = rules.Booker.for_owner(user, owner, room.get("owner_groups"))
            judged = rules.verdict(room, start, end, now, room["policy"], booker)
            error = rules.as_error(judged.violations + rules.check_party(room, people["attendees"]))
            if error:
                raise error
            alternatives = Alternatives(room, start, end, people["attendees"], now, booker, owner)
            args = {"room": room_id, "owner": owner, "title": title, "starts": [start],
                    "ends": [end], "creator": user.id, **people, "admin": user.is_admin,
                    "overrides": judged.overrides or None}
            if key is not None:
                rows = idempotency.rows(idempotency.book_once(
                    conn, key, user.id, now, "book", data, args, alternatives))
                break
            rows = conn.execute(BOOK_SQL, {
                **args, "checked_in": checked_in, "rooms_version": version if gated else None,
                "kept": version if version is not None else memo.current().rooms.current()[0],
                **alternatives.params()}).fetchall()
            if not _kept_rooms_sent(rows) or not gated:
                break
            # The copy was behind, and nothing was booked. Checked again against the
            # rooms just read, the booking goes in without the gate, as it does
            # after a statement of its own has read the room.
            copy, gated = rooms.kept_for_booking(room_id, start_raw, end_raw), False
            if copy is None:
                raise BookingError("not_found", _("That room does not exist."), field="room_id")

    for row in rows:
        if row["kind"] == "created":
            return {"booking": row["data"]}
        if row["kind"] == "refused":
            raise rules.quota_refusal(row["data"], booker.for_someone)
    raise conflict(room, rows, start, end, now, booker, alternatives)


def _kept_rooms_sent(rows: list[dict[str, Any]]) -> bool:
    """Keep the rooms BOOK_SQL sent ('rooms': this process's copy was behind or
    missing) as the copy, and take that row out of `rows`; whether there was one."""
    for i, row in enumerate(rows):
        if row["kind"] == "rooms":
            del rows[i]
            keep_rooms(memo.current().rooms, row["data"]["version"], row["data"]["rooms"],
                       current_app.config)
            return True
    return False


def conflict(room: Mapping[str, Any], rows: list[Mapping[str, Any]], start: datetime,
             end: datetime, now: datetime, booker: rules.Booker,
             alternatives: Alternatives) -> BookingError:
    """The 409 for a single booking refused by book(): the bookings in the way, and
    what to book instead (nothing the rooms' policies or the owner's quotas
    would refuse)."""
    other = next((r["data"] for r in rows if r["kind"] == "alternatives"), None)
    return BookingError(
        "conflict", _("%(room)s is already booked at that time.", room=room["name"]),
        field="start_time",
        details={"conflicts": [r["data"] for r in rows if r["kind"] == "conflict"],
                 "suggestions": availability.suggestions(
                     room, availability.busy_of(rows), start, end, now, room["policy"], booker,
                     alternatives.ranked(other), availability.taken_of(rows))})


def get(booking_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(GET_SQL, (booking_id,)).fetchone()
    if row is None:
        raise not_found(_("That booking does not exist."))
    return row["booking"]


def for_page(booking_id: int) -> tuple[dict[str, Any], datetime | None]:
    """The booking, and until when it may be checked in (None: nothing to check in)."""
    with db.connection() as conn:
        row = conn.execute(PAGE_SQL, (booking_id,)).fetchone()
    if row is None:
        raise not_found(_("That booking does not exist."))
    return row["booking"], row["checkin_until"]


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
        raise invalid("when", _("when is upcoming or past."))
    page = pagination.Keyset(limit, cursor, default=DEFAULT_PAGE, most=MAX_PAGE,
                             start=pagination.FIRST if when == "upcoming" else pagination.LAST)
    sql = MINE_UPCOMING_SQL if when == "upcoming" else MINE_PAST_SQL
    with db.connection() as conn:
        rows = conn.execute(sql, {"user": user.id, "now": now, **page.params()}).fetchall()
    rows, next_cursor = page.cut(rows, lambda r: (r["start_at"], r["id"]))
    # `zones`: each booking's room zone, for the page (the twin leaves it out).
    return {"bookings": [{**r["booking"], "role": r["role"]} for r in rows],
            "next_cursor": next_cursor, "zones": [r["timezone"] for r in rows]}


# bookings_user_start: one range, the user's live bookings starting in the week
# (Monday to Sunday in `zone`; without one, the zone most active rooms are in);
# booking_invitations_user: one range, those they are invited to.
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
                          'booking', x.booking, 'timezone', x.timezone, 'role', x.role,
                          'day', (x.start_at AT TIME ZONE w.tz)::date)
                        ORDER BY x.start_at, x.id)
                   FROM (SELECT booking_json(b) AS booking, b.timezone, 'organiser' AS role,
                                b.start_at, b.id
                           FROM booking_api b
                          WHERE b.user_id = %(user)s AND b.live
                            AND b.start_at >= w.monday::timestamp AT TIME ZONE w.tz
                            AND b.start_at < (w.monday + 7)::timestamp AT TIME ZONE w.tz
                         UNION ALL
                         SELECT booking_json(b), b.timezone, 'invitee', b.start_at, b.id
                           FROM booking_invitations i
                           JOIN booking_api b ON b.id = i.booking_id AND b.live
                          WHERE i.user_id = %(user)s
                            AND i.start_at >= w.monday::timestamp AT TIME ZONE w.tz
                            AND i.start_at < (w.monday + 7)::timestamp AT TIME ZONE w.tz) x),
                '[]') AS rows
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
        found["bookings"].append({**entry["booking"], "role": entry["role"]})
        found["zones"].append(entry["timezone"])
    return {"view": "week", "timezone": row["timezone"], "start": monday.isoformat(),
            "days": days}


def cancel(user: User, booking_id: int, now: datetime) -> dict[str, Any]:
    """Cancel a booking: its owner may, a delegate they named, an admin (recorded as
    cancelled_by)."""
    with db.connection() as conn:
        row = conn.execute(CANCEL_SQL, {"id": booking_id, "actor": user.id,
                                        "admin": user.is_admin, "now": now}).fetchone()
    if row is None:
        raise not_found(_("That booking does not exist."))
    booking = row["booking"]
    if not row["allowed"]:
        raise BookingError("forbidden", _("Only the person who booked it, someone they named "
                                          "as delegate, or an administrator can cancel this "
                                          "booking."))
    if row["cancelled_now"] is None and row["live"] and row["ended"]:
        raise BookingError("in_past", _("This booking has already ended; it stays on record."))
    return booking  # already cancelled: cancelling again changes nothing


def may_cancel(user: User, booking: Mapping[str, Any], now: datetime) -> bool:
    """Whether to offer cancel and change buttons: the booking is live, not over, and
    theirs (or they are its owner's delegate, or an admin)."""
    if booking["cancelled_at"] is not None or not user.acts_for(booking["user_id"]):
        return False
    return datetime.fromisoformat(booking["end_time"]) > now


may_edit = may_cancel


def edit_refusal(user: User, booking: Mapping[str, Any], now: datetime) -> BookingError:
    """Why `user` may not change `booking` (may_edit said no): for the edit page."""
    if not user.acts_for(booking["user_id"]):
        return _refusal({"kind": "forbidden"})
    return _refusal({"kind": "not_editable", "cancelled": booking["cancelled_at"] is not None,
                     "status": booking.get("status")})


# -- change and move ---------------------------------------------------------------------

def edit(user: User, booking_id: int, data: Mapping[str, Any], now: datetime,
         if_match: str | None = None, check=None, panel_room: int | None = None,
         later_by: timedelta | None = None, extending: bool = False) -> dict[str, Any]:
    """Change a booking: any of title, start_time, end_time, room_id, attendees,
    invitees, notes. The booking as GET shows it, or BookingError.

    Only start_time moves the booking and keeps its length; only end_time
    keeps its start; room_id alone keeps its times. New times or room pass
    every rule of a new booking under the target room's effective policy,
    exactly as create applies it (rules.verdict(): closed, too_soon,
    not_permitted, ...; an admin books past its limits, recorded); a change of
    title or people alone needs none (the room may have become inactive
    since). The change is one call of edit_booking() under the exclusion
    constraint, which also keeps the room's buffer, counts the owner's quota
    without this booking (422 quota_exceeded) and makes a booking moved into a
    room that needs approval pending: 409 `conflict` (with suggestions that
    the policies allow) leaves the booking exactly as it was. `if_match`: the
    ETag of GET /api/bookings/<id>; 412 when the booking changed since.
    `check(row, end)`: a caller's own refusal before anything is written
    (extend, booking/bookings/usage.py); `panel_room`: a door panel's room,
    whose bookings it may change (as the panel: every rule and the owner's
    quota apply, as they do to the owner); `later_by`: the new end is
    the current one plus this (a panel's "Extend 15 min", without a statement
    to read the end first); `extending`: an extension, which a booking released,
    or past its release time and not checked in, refuses as 409 `released`.
    """
    inputs.only(data, EDIT_FIELDS)
    if not data and later_by is None:
        raise invalid("body", _("Send at least one field to change: title, start_time, "
                                "end_time, room_id, attendees, invitees or notes."))
    title = inputs.title(data["title"]) if "title" in data else None
    room_id = inputs.integer(data["room_id"], "room_id") if "room_id" in data else None
    start_raw = parse_datetime(data["start_time"], "start_time") if "start_time" in data else None
    end_raw = parse_datetime(data["end_time"], "end_time") if "end_time" in data else None
    people = inputs.people(data, present_only=True)

    with db.connection() as conn:
        row = conn.execute(EDIT_READ_SQL, {
            "id": booking_id, "kept": memo.current().rooms.current()[0],
            "if_match": if_match is not None, "extending": extending}).fetchone()
        if row is None:
            raise not_found(_("That booking does not exist."))
        if row["rooms"] is not None:
            keep_rooms(memo.current().rooms, row["rooms_version"], row["rooms"],
                       current_app.config)
        on_panel = panel_room is not None and panel_room == row["room_id"]
        _may_edit(user, row, now, if_match, on_panel, extending)
        target = rooms.kept_room(row["room_id"] if room_id is None else room_id)
        if target is None:
            raise BookingError("not_found", _("That room does not exist."), field="room_id")
        if later_by is not None:
            end_raw = row["end_at"] + later_by
        start, end = _new_times(row, zone(target["timezone"]), start_raw, end_raw)
        if check is not None:
            check(row, end)
        moved = (start, end, target["id"]) != (row["start_at"], row["end_at"], row["room_id"])
        attendees = people["attendees"] if "attendees" in people else row["attendees"]
        booker = rules.Booker.for_owner(user, row["user_id"], row["owner_groups"])
        overrides = _check_change(row, target, start, end, attendees, moved,
                                  "attendees" in people, now, booker)
        alternatives = Alternatives(target, start, end, attendees, now, booker,
                                    row["user_id"], exclude=booking_id)
        answer = conn.execute(EDIT_SQL, {
            "id": booking_id, "actor": user.id, "admin": user.is_admin,
            "panel": row["room_id"] if on_panel else None, "now": now,
            "sequence": row["sequence"] if if_match is not None else None,
            "fingerprint": row["fingerprint"],
            "room": target["id"] if moved else None, "start": start if moved else None,
            "end": end if moved else None, "title": title,
            "set_attendees": "attendees" in people, "attendees": people.get("attendees"),
            "invitees": people.get("invitees"), "set_notes": "notes" in people,
            "notes": people.get("notes"), "overrides": overrides or None,
            **alternatives.params()}).fetchone()
    result = answer["result"]
    if result["kind"] == "updated":
        return result["booking"]
    if result["kind"] == "refused":
        raise rules.quota_refusal(result["quota"], booker.for_someone)
    if result["kind"] == "conflict":
        raise BookingError(
            "conflict", _("%(room)s is already booked at that time.", room=target["name"]),
            field="start_time",
            details={"conflicts": result["conflicts"],
                     "suggestions": availability.suggestions(
                         target, result["busy"], start, end, now, target["policy"],
                         booker, alternatives.ranked(answer["alternatives"]),
                         availability.taken_of(result["mine"]))})
    raise _refusal(result)


def _may_edit(user: User, row: Mapping[str, Any], now: datetime, if_match: str | None,
              on_panel: bool = False, extending: bool = False) -> None:
    """403, 409 not_editable (`released` for an extension) or 412 before anything is
    written (edit_booking() decides each again on the locked row)."""
    if not (on_panel or user.acts_for(row["user_id"])):
        raise _refusal({"kind": "forbidden"})
    if extending and (row["booking"].get("released_at") or (
            row["release_at"] is not None and now >= row["release_at"])):
        raise _refusal({"kind": "released"})
    if not row["live"] or row["end_at"] <= now:
        raise _refusal({"kind": "not_editable", "cancelled": not row["live"],
                        "status": row["booking"].get("status")})
    if if_match is not None and not etag_matches(if_match, row["booking"]):
        raise _refusal({"kind": "precondition_failed"})


def released() -> BookingError:
    """409 released: a check-in or extension of a booking released because nobody
    checked in, or past its release time (booking/bookings/usage.py too)."""
    return BookingError("released", _("This booking was released because nobody checked "
                                      "in; its room is free for others."))


def _refusal(result: Mapping[str, Any]) -> BookingError:
    kind = result["kind"]
    if kind == "not_found":
        return not_found(_("That booking does not exist."))
    if kind == "forbidden":
        return BookingError("forbidden", _("Only the person who booked it, someone they named "
                                           "as delegate, or an administrator can change this "
                                           "booking."))
    if kind == "released":
        return released()
    if kind == "not_editable":
        if not result.get("cancelled"):
            return BookingError("not_editable", _("This booking has ended; it stays on record "
                                                  "as it was."))
        said = {"rejected": _("This booking request was rejected; it cannot be changed."),
                "expired": _("This booking request expired unanswered; it cannot be changed."),
                "released": _("This booking was released when nobody checked in; it cannot "
                              "be changed.")}
        return BookingError("not_editable", said.get(result.get("status") or "") or
                            _("This booking was cancelled; it cannot be changed."))
    return BookingError("precondition_failed", _("This booking changed since you read it "
                                                 "(If-Match no longer matches its ETag): read "
                                                 "it again and resend your change."),
                        field="If-Match")


def if_match(header: str | None) -> str | None:
    """The If-Match header, or None; 400 for one no ETag could match (over 200
    characters, or not printable ASCII)."""
    if header is None:
        return None
    if len(header) > 200 or not all(" " <= ch <= "~" for ch in header):
        raise invalid("If-Match", _("If-Match is the ETag GET /api/bookings/<id> sent "
                                    "(at most 200 printable ASCII characters), or *."))
    return header


def etag_matches(header: str, booking: Mapping[str, Any]) -> bool:
    """Whether If-Match names the booking as GET /api/bookings/<id> answers it now:
    its ETag, weak or strong (the gzipped answer's is the same tag made weak), or *."""
    return etag_listed(header, twin_etag(booking=booking))


def _new_times(row: Mapping[str, Any], tz, start_raw: datetime | None,
               end_raw: datetime | None) -> tuple[datetime, datetime]:
    """The new start and end: a new start alone keeps the length (a move), a new end
    alone keeps the start; times without offset are the target room's wall clock."""
    start = localize(start_raw, tz, "start_time") if start_raw is not None else None
    end = localize(end_raw, tz, "end_time") if end_raw is not None else None
    if start is not None and end is None:
        # In UTC: an aware datetime plus a timedelta adds wall-clock time, an hour
        # off across a change of the clocks.
        end = start.astimezone(UTC) + (row["end_at"] - row["start_at"])
    if start is None:
        start = row["start_at"]
    if end is None:
        end = row["end_at"]
    return start, end


def _check_change(row: Mapping[str, Any], target: Mapping[str, Any], start: datetime,
                  end: datetime, attendees: int | None, moved: bool, party_changed: bool,
                  now: datetime, booker: rules.Booker) -> list[str]:
    """422 (403 not_permitted) for new times or room that break a create rule of the
    target room's effective policy, or a party the room cannot seat; otherwise the
    policy limits an admin moves it past (recorded with the booking). A start
    already passed that stays where it is (a meeting under way gets a later end)
    is neither "in the past" nor "too soon". The party is judged when it or the
    room changes: a room that seats fewer since does not hold the booking to
    its old times."""
    found: list[rules.Violation] = []
    overrides: list[str] = []
    if moved:
        judged = rules.verdict(target, start, end, now, target["policy"], booker)
        found, overrides = judged.violations, judged.overrides
        if start == row["start_at"]:
            found = [v for v in found if v.code not in ("in_past", "too_soon")]
    if party_changed or target["id"] != row["room_id"]:
        found += rules.check_party(target, attendees)
    error = rules.as_error(found)
    if error:
        raise error
    return overrides


def week_view(view: str | None, start: str | None = None) -> bool:
    """?view=week (a week) or nothing, "list" (the list); 400 for anything else, and
    for a `start` that is not a date, whichever view it comes with."""
    if start:
        parse_date(start, "start")
    if view in (None, "", "list"):
        return False
    if view == "week":
        return True
    raise invalid("view", _("view is list or week."))
