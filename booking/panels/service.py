"""Door panels: their tokens, what a panel shows, and what it may do.

A panel token is bound to one room (sql/052_panels.sql). It signs in as the
room's panel account with `panel_room` set (booking/auth.py), and `fence()`
lets such a caller reach only the panel's own routes for its own room; the
statements that check in, end and extend decide the room again on the row
(sql/050: p_panel_room).
"""

from __future__ import annotations

import io
import secrets
from datetime import datetime, timedelta
from typing import Any

import segno
from flask import current_app

from booking import db, memo, policy as policies, rules
from booking.auth import PANEL_PREFIX, User, forget, hash_token
from booking.bookings import service as bookings
from booking.bookings.release import RELEASE_AT
from booking.bookings.usage import ceil_minute
from booking.errors import BookingError, invalid, not_found
from booking.i18n import _
from booking.rooms.service import ROOM_FIELDS
from booking.times import rfc3339, zone

BOOK_NOW_MINUTES = (15, 30, 60)
WALK_IN = "Walk-in"

# What a panel may reach (endpoint names), for its own room; a panel token anywhere
# else is 403, but on the routes that need no sign-in (fence(), `public`).
ENDPOINTS = frozenset({"panels.panel", "panels.qr", "panels.act", "panels_api.panel",
                       "bookings_api.checkin", "bookings_api.end", "bookings_api.extend",
                       "static"})
# Open to anyone, yet not to a panel: a tablet on a wall is no place to sign in as a
# person (their session would stay on it after they walk away).
SIGNING_IN = frozenset({"account.login", "account.login_submit", "account.logout"})

# rooms_pkey, then bookings_room_start: the booking under way now, the rest of
# the room-local day's, and one that ended but whose buffer still holds the room.
PANEL_SQL = f"""
SELECT {ROOM_FIELDS},
       coalesce((SELECT json_agg(json_build_object(
                          'id', b.id, 'title', b.title, 'user_id', b.user_id,
                          'user_name', u.name,
                          'start_time', rfc3339(b.start_at, r.timezone),
                          'end_time', rfc3339(b.end_at, r.timezone),
                          'checked_in_at', rfc3339(b.checked_in_at, r.timezone),
                          'start_at', b.start_at, 'end_at', b.end_at,
                          'buffer_minutes', b.buffer_minutes, 'status', b.status,
                          'release_at', {RELEASE_AT})
                        ORDER BY b.start_at)
                   FROM bookings b JOIN users u ON u.id = b.user_id
                  WHERE b.room_id = r.id AND b.cancelled_at IS NULL
                    AND b.start_at > %(now)s - interval '1 day'
                    AND b.start_at < d.day_end
                    AND plus_minutes(b.end_at, b.buffer_minutes) > %(now)s),
                '[]') AS bookings,
       d.day_end, room_policy(r.id) AS policy
  FROM rooms r
 CROSS JOIN LATERAL (
       SELECT ((%(now)s AT TIME ZONE r.timezone)::date + 1)::timestamp
              AT TIME ZONE r.timezone AS day_end) d
 WHERE r.id = %(room)s"""


def state(room_id: int, now: datetime, viewer_id: int | None = None,
          booker: rules.Booker | None = None) -> dict[str, Any]:
    """What the panel shows: the room, its state (free, awaiting check-in, in use),
    the current and next bookings (titles hidden unless PANEL_SHOW_TITLES), and
    the Book now lengths that fit up to the next booking and within the rules.
    `viewer_id`: the panel's account, whose own walk-in it may end before it starts;
    `booker`: who Book now books as (its groups meet the room's bookers rule)."""
    with db.connection() as conn:
        row = conn.execute(PANEL_SQL, {"room": room_id, "now": now}).fetchone()
    if row is None:
        raise not_found(_("That room does not exist."))
    items = row.pop("bookings")
    row.pop("day_end")
    policy = policies.effective(row.pop("policy"), current_app.config)
    for item in items:
        for key in ("start_at", "end_at", "release_at"):
            item[key] = datetime.fromisoformat(item[key])
    # A walk-in starts on the next whole minute: from the moment it is made, it is now's.
    soon = ceil_minute(now)
    # Current: holds the room at that next whole minute. A booking ended early
    # ends on the minute after now (end_booking() rounds up): from then on the
    # room is free, as the panel already says (and offers Book now from there).
    current = next((b for b in items if b["start_at"] <= soon < b["end_at"]), None)
    upcoming = [b for b in items if b["start_at"] > soon]
    if current is None:
        status = "free"
    elif row["checkin_required"] and current["checked_in_at"] is None:
        status = "awaiting"
    else:
        status = "in_use"
    shown = _shown(current, row, now, viewer_id) if current else None
    if shown is not None:
        shown["may_extend"] = _may_extend(row, policy, current, upcoming, now)
    return {"room": row, "status": status,
            "today": now.astimezone(zone(row["timezone"])).date().isoformat(),
            "current": shown,
            "next": [_shown(b, row, now, viewer_id) for b in upcoming[:3]],
            **_book_now(row, policy, current, upcoming, now,
                        [b for b in items if b["end_at"] <= soon], booker or rules.Booker())}


def _shown(b: dict[str, Any], room: dict[str, Any], now: datetime,
           viewer_id: int | None = None) -> dict[str, Any]:
    """A booking as the panel shows it: the title only when PANEL_SHOW_TITLES.
    `may_end`: End early is on offer once it is under way (before, only the
    panel's own walk-in, which is then cancelled: anyone else's is theirs);
    `may_extend`: Extend 15 min, on the current booking only (_may_extend)."""
    show = bool(current_app.config["PANEL_SHOW_TITLES"])
    opens = b["start_at"] - timedelta(minutes=int(current_app.config["CHECKIN_OPENS_MINUTES"]))
    return {"id": b["id"], "title": b["title"] if show else None,
            "user_name": b["user_name"] if show else None,
            "start_time": b["start_time"], "end_time": b["end_time"],
            "checked_in_at": b["checked_in_at"],
            "may_check_in": (room["checkin_required"] and b["checked_in_at"] is None
                             and b["status"] == "confirmed"
                             and opens <= now < b["release_at"]),
            "under_way": b["start_at"] <= now,
            "may_end": b["start_at"] <= now or (viewer_id is not None
                                                and b["user_id"] == viewer_id),
            "may_extend": False}   # the current one's: state()


EXTEND_MINUTES = 15   # the panel's "Extend 15 min"


def _may_extend(room: dict[str, Any], policy: rules.Policy, current: dict[str, Any],
                upcoming: list[dict], now: datetime) -> bool:
    """Whether "Extend 15 min" would go through (the owner's quota aside): the next
    booking is that and the buffer away, and the longer booking passes every rule
    of the room's policy but its start's (it has begun)."""
    end = current["end_at"] + timedelta(minutes=EXTEND_MINUTES)
    buffer = timedelta(minutes=policy.buffer_minutes or 0)
    if upcoming and end + buffer > upcoming[0]["start_at"]:
        return False
    return not [v for v in rules.check(room, current["start_at"], end, now, policy)
                if v.code not in ("in_past", "too_soon")]


def _book_now(room: dict[str, Any], policy: rules.Policy, current: dict | None,
              upcoming: list[dict], now: datetime, ended: list[dict],
              booker: rules.Booker) -> dict[str, Any]:
    """`book_now`: the lengths on offer, from now (on the next minute, or after the
    buffer of a booking that has ended) up to the next booking less the room's
    buffer, each one passing every rule of the room's effective policy (issue 18)
    for the panel's account. None in a room whose bookings need approval: a
    walk-in would only ask, and expire at its start.

    `book_now_reason`: when the room is free and none is on offer, why (the rule
    the shortest walk-in breaks, or the next booking too close), so the panel
    says it rather than showing no button; otherwise null."""
    if current is not None:
        return {"book_now": [], "book_now_reason": None}
    if walk_in_waits(policy, booker):
        return {"book_now": [], "book_now_reason": _(
            "Bookings of this room need approval: ask for one on the booking pages.")}
    buffer = timedelta(minutes=policy.buffer_minutes or 0)
    start = walk_in_start(now, ended)
    limit = upcoming[0]["start_at"] if upcoming else None
    offers: list[dict[str, Any]] = []
    reason = None
    for minutes in BOOK_NOW_MINUTES:
        end = start + timedelta(minutes=minutes)
        if limit is not None and end + buffer > limit:
            reason = reason or _("The next booking starts too soon to book now.")
            break
        refused = rules.check(room, start, end, now, policy,
                              None if booker.admin else booker.groups)
        if refused:
            reason = reason or str(refused[0].message)
            continue
        tz = zone(room["timezone"])
        offers.append({"minutes": minutes, "start_time": rfc3339(start, tz),
                       "end_time": rfc3339(end, tz)})
    return {"book_now": offers, "book_now_reason": None if offers else reason}


def walk_in_waits(policy: rules.Policy | None, booker: rules.Booker) -> bool:
    """Whether a walk-in here would wait for approval (new_booking_status(), sql/043)."""
    return policy is not None and policy.approval_required and not booker.admin


def walk_in_start(now: datetime, ended: list[dict]) -> datetime:
    """Where a walk-in starts: the next whole minute, or later where a booking that
    has ended still holds the room for its buffer (its own, as the constraint
    keeps it: the policy's when it was booked)."""
    return max([ceil_minute(now)] + [b["end_at"] + timedelta(minutes=b["buffer_minutes"])
                                     for b in ended])


# How far from now a Book now the panel offered may start: a buffer's most (bookings'
# buffer_minutes CHECK), after a booking that has just ended.
LATEST_OFFERED_START = timedelta(minutes=240)


def book_now(user: User, room_id: int, minutes: Any, now: datetime,
             offered_start: Any = None) -> dict[str, Any]:
    """A walk-in booking for 15, 30 or 60 minutes, through the ordinary create path
    (rules, the exclusion constraint); the panel's account owns it. It starts
    where the panel offered it (`offered_start`, after an ended booking's buffer)
    while that is still ahead, else on the next whole minute."""
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        minutes = 0
    if minutes not in BOOK_NOW_MINUTES:
        raise invalid("minutes", _("Book now for 15, 30 or 60 minutes."))
    from booking.finder.service import policy_of
    if walk_in_waits(policy_of(room_id), user.booker):
        raise BookingError("forbidden", _("Bookings of this room need approval: book it "
                                          "on the booking pages, not at the door."))
    start = ceil_minute(now)
    try:
        offered = datetime.fromisoformat(str(offered_start)) if offered_start else None
    except ValueError:
        offered = None
    if offered is not None and offered.tzinfo is not None \
            and start < offered <= start + LATEST_OFFERED_START:
        start = offered
    # Booked at the door: checked in as it is made (a room that needs check-in would
    # otherwise release it while its people sit in it), when it starts within the
    # check-in window: a start the form was sent later than now is not checked in.
    opens = timedelta(minutes=int(current_app.config["CHECKIN_OPENS_MINUTES"]))
    return bookings.create(user, {
        "room_id": room_id, "title": WALK_IN,
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(minutes=minutes)).isoformat()}, now,
        checked_in=now if start - now <= opens else None)


def fence(user: Any, endpoint: str | None, view_args: dict | None,
          public: bool = False) -> None:
    """403 for a panel caller outside the panel's routes or its room. A `public`
    route (one that needs no sign-in: the API's document, the probes, a link that
    is its own credential) answers a panel as it answers anyone, without loading
    the caller; signing in is not for panels (SIGNING_IN)."""
    if public and endpoint not in ENDPOINTS and endpoint not in SIGNING_IN:
        return
    room = getattr(user, "panel_room", None)
    if room is None:
        return
    other_room = view_args and "room_id" in view_args and view_args["room_id"] != room
    if endpoint not in ENDPOINTS or other_room:
        raise BookingError("forbidden", _("A door panel can only show and use its own room."))


def qr_svg(url: str) -> bytes:
    """The QR code of `url` as an SVG image (segno; made here, nothing fetched),
    made once per link and language (booking/memo/pages.py): every panel's page
    shows it, and the link changes once a day."""
    title = _("Book this room on your phone")
    codes = memo.current().pages.qr_codes
    found = codes.get((url, title))
    if found is None:
        image = io.BytesIO()
        segno.make(url, error="m").save(image, kind="svg", scale=4, dark="#000",
                                         light="#fff", title=title)
        found = codes.put((url, title), image.getvalue())
    return found


# -- tokens ---------------------------------------------------------------------------

# FROM, not SELECT (f()).*: that would call the function once per column. The
# admin is named as the audit log's actor first (LATERAL: before the function
# runs), for the panel's account it may make (user.create); NULL from the
# command line.
CREATE_SQL = """
SELECT p.* FROM set_config('booking.actor', coalesce(%(actor)s::text, ''), true) AS a(actor)
 CROSS JOIN LATERAL create_panel_token(%(room)s, nullif(a.actor, '')::bigint, %(hash)s,
                                       %(prefix)s) p"""

# panel_tokens_room
LIST_SQL = """
SELECT p.id, p.prefix, rfc3339(p.created_at, r.timezone) AS created_at,
       rfc3339(p.revoked_at, r.timezone) AS revoked_at, c.name AS created_by_name
  FROM panel_tokens p JOIN rooms r ON r.id = p.room_id
  LEFT JOIN users c ON c.id = p.created_by
 WHERE p.room_id = %s ORDER BY p.id DESC"""

# panel_tokens_pkey; audited in the same statement.
REVOKE_SQL = """
WITH done AS (
    UPDATE panel_tokens SET revoked_at = now()
     WHERE id = %(id)s AND room_id = %(room)s AND revoked_at IS NULL
    RETURNING *),
logged AS (
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, after)
    SELECT %(actor)s, 'panel.revoke', user_id, room_id, 'panel ' || id,
           to_jsonb(done) - 'token_hash'
      FROM done
    RETURNING 1)
SELECT (SELECT count(*) FROM done)::int AS revoked, (SELECT user_id FROM done) AS user_id"""


def create_token(room_id: int, actor: int | None) -> tuple[dict[str, Any], str]:
    """A new panel token for the room: (its row, the token, shown only now)."""
    if not 0 < room_id < 2**31:            # rooms.id is an integer: no such room
        raise not_found(_("That room does not exist."))
    plain = PANEL_PREFIX + secrets.token_urlsafe(32)
    with db.connection() as conn:
        row = conn.execute(CREATE_SQL, {"room": room_id, "actor": actor,
                                        "hash": hash_token(plain), "prefix": plain[:10]}
                           ).fetchone()
    if row is None or row["id"] is None:
        raise not_found(_("That room does not exist."))
    return row, plain


def tokens(room_id: int) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return conn.execute(LIST_SQL, (room_id,)).fetchall()


def revoke(room_id: int, token_id: int, actor: int) -> None:
    with db.connection() as conn:
        row = conn.execute(REVOKE_SQL, {"id": token_id, "room": room_id, "actor": actor}
                           ).fetchone()
    if not row["revoked"]:
        raise not_found(_("That panel token does not exist or was revoked already."))
    # This process forgets the panel at once; the others hear it on the memo channel.
    forget(user_id=row["user_id"])
