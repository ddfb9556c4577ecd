"""Using a booked room: check in, end early, extend (issue 17).

Each is one call of a function in sql/050_checkin.sql (or, for extend, the
edit path of issue 16) that locks the booking's row and decides on it as it
is, so a check-in racing the worker's release sweep, or two people ending
one meeting, end in one consistent answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from flask import current_app

from booking import db, inputs
from booking.auth import User
from booking.bookings import service
from booking.errors import BookingError, invalid, not_found
from booking.i18n import _

# checkin_booking() locks the row (bookings_pkey) and reads its room (rooms_pkey).
CHECKIN_SQL = """
SELECT checkin_booking(%(id)s, %(actor)s, %(email)s, %(admin)s, %(panel)s::int, %(now)s,
                       %(opens)s) AS result"""

# end_booking(): bookings_pkey, locked.
END_SQL = """
SELECT end_booking(%(id)s, %(actor)s, %(admin)s, %(panel)s::int, %(now)s, %(end)s) AS result"""


def panel_room(user: User) -> int | None:
    """The room a door panel's token is bound to (None for a person)."""
    return getattr(user, "panel_room", None)


def checkin(user: User, booking_id: int, now: datetime) -> dict[str, Any]:
    """Check in to a booking: the booking as GET shows it, with checked_in_at.

    The window opens CHECKIN_OPENS_MINUTES before the start (earlier: 409
    checkin_not_open) and closes at the release time (then: 409 released); a
    second check-in changes nothing and answers the same.
    """
    opens = timedelta(minutes=int(current_app.config["CHECKIN_OPENS_MINUTES"]))
    with db.connection() as conn:
        result = conn.execute(CHECKIN_SQL, {
            "id": booking_id, "actor": user.id, "email": user.email, "admin": user.is_admin,
            "panel": panel_room(user), "now": now, "opens": opens}).fetchone()["result"]
    if result["kind"] == "checked_in":
        return result["booking"]
    raise _refusal(result)


def checkin_as_organiser(booking_id: int, user_id: int, now: datetime) -> dict[str, Any]:
    """Check in for the booking's organiser `user_id` (a reminder's signed link):
    the same window and answers as checkin()."""
    opens = timedelta(minutes=int(current_app.config["CHECKIN_OPENS_MINUTES"]))
    with db.connection() as conn:
        result = conn.execute(CHECKIN_LINK_SQL, {
            "id": booking_id, "actor": user_id, "email": None, "admin": False, "panel": None,
            "now": now, "opens": opens}).fetchone()["result"]
    if result["kind"] == "checked_in":
        return result["booking"]
    if result["kind"] == "inactive":
        raise link_void()
    raise _refusal(result)


# A check-in link's: only while its organiser's account is active (users_pkey), as
# an approver's one-tap link is; deactivating someone voids the links in their mail.
CHECKIN_LINK_SQL = """
SELECT CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = %(actor)s AND u.active)
            THEN checkin_booking(%(id)s, %(actor)s, %(email)s, %(admin)s, %(panel)s::int,
                                 %(now)s, %(opens)s)
            ELSE json_build_object('kind', 'inactive') END AS result"""

# bookings_pkey: the booking a check-in link names, if it is its organiser's, and
# whether that organiser's account is still active (users_pkey).
LINK_BOOKING_SQL = """
SELECT booking_detail_json(b) AS booking,
       EXISTS (SELECT 1 FROM users u WHERE u.id = b.user_id AND u.active) AS active
  FROM booking_api b
 WHERE b.id = %(id)s AND b.user_id = %(user)s"""


def link_booking(booking_id: int, user_id: int) -> dict[str, Any]:
    """The booking a reminder's check-in link is for (404 when it no longer is theirs,
    or their account was deactivated)."""
    with db.connection() as conn:
        row = conn.execute(LINK_BOOKING_SQL, {"id": booking_id, "user": user_id}).fetchone()
    if row is None:
        raise not_found(_("That booking does not exist."))
    if not row["active"]:
        raise link_void()
    return row["booking"]


def link_void() -> BookingError:
    """404 for a check-in link that is not (or no longer) a credential."""
    return not_found(_("This check-in link is not valid."))


def end(user: User, booking_id: int, now: datetime) -> dict[str, Any]:
    """End a booking under way now: its end becomes now rounded up to the minute and
    the rest is free. Before its start: 409 not_started (cancel it instead)."""
    with db.connection() as conn:
        result = conn.execute(END_SQL, {
            "id": booking_id, "actor": user.id, "admin": user.is_admin,
            "panel": panel_room(user), "now": now, "end": ceil_minute(now)}).fetchone()["result"]
    if result["kind"] == "updated":
        return result["booking"]
    if result["kind"] == "forbidden":     # invitees check in, but do not end it
        raise BookingError("forbidden", _("Only the person who booked it, someone they named "
                                          "as delegate, an administrator or the room's panel "
                                          "can end it."))
    raise _refusal(result)


def extend(user: User, booking_id: int, data: Mapping[str, Any], now: datetime
           ) -> dict[str, Any]:
    """Move a booking's end later ({"end_time"}): every rule of a new booking holds
    and the room is free, or 409 conflict with suggestions and the booking as it
    was. It is issue 16's edit with only the end changed (edit_booking(), sql/021)."""
    inputs.only(data, frozenset({"end_time"}))
    if "end_time" not in data:
        raise invalid("end_time", _("Send end_time: the new, later end."))

    return service.edit(user, booking_id, {"end_time": data["end_time"]}, now,
                        check=_later, panel_room=panel_room(user), extending=True)


def _later(row: Mapping[str, Any], end_at: datetime) -> None:
    """An extension's own refusal, before anything is written: the new end must be
    later (400). (A released booking, or one past its release time, is refused by
    bookings.service.edit as 409 released.)"""
    if end_at <= row["end_at"]:
        raise invalid("end_time", _("An extension ends later than the booking does now; "
                                    "to end it sooner, end it early."))


def extend_by(user: User, booking_id: int, minutes: int, now: datetime) -> dict[str, Any]:
    """Extend by `minutes` from the booking's current end (the panel's button), on
    the same path and with the same refusals as extend()."""
    return service.edit(user, booking_id, {}, now, check=_later,
                        panel_room=panel_room(user), later_by=timedelta(minutes=minutes),
                        extending=True)


def ceil_minute(moment: datetime) -> datetime:
    """`moment` rounded up to the whole minute (bookings are on whole minutes)."""
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def _refusal(result: Mapping[str, Any]) -> BookingError:
    kind = result["kind"]
    if kind == "not_found":
        return not_found(_("That booking does not exist."))
    if kind == "forbidden":
        return BookingError("forbidden", _("Only the person who booked it, someone they named "
                                           "as delegate, an invitee, an administrator or the "
                                           "room's panel can check in."))
    if kind == "not_open":
        return BookingError("checkin_not_open",
                            _("Check-in opens at %(time)s.", time=result["opens_at"][11:16]),
                            details={"opens_at": result["opens_at"]})
    if kind == "released":
        return service.released()
    if kind == "pending":
        return BookingError("not_editable", _("This booking is waiting for approval: it can be "
                                              "checked in once it is approved."))
    if kind == "not_started":
        return BookingError("not_started", _("This booking has not started yet; cancel it "
                                             "instead."))
    if kind == "cancelled" or result.get("cancelled"):
        return BookingError("not_editable", _("This booking was cancelled."))
    return BookingError("not_editable", _("This booking has ended; it stays on record as it "
                                          "was."))
