"""The one-tap check-in link of a reminder mail: /bookings/<id>/checkin/<signed>.

The signed part is the credential (booking/bookings/reminders.py): it checks
in to that booking as its organiser, nothing else, and only while check-in
is open. GET shows the booking and one button; the check-in itself is the
POST, because mail scanners follow the links in mail (a GET that checked in
would check in for whoever's scanner looked). The form carries no CSRF
token: another site could only submit the capability it already holds.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from booking.bookings import reminders, usage
from booking.clock import now
from booking.errors import BookingError, not_found
from booking.i18n import _

bp = Blueprint("checkin_links", __name__)


def _organiser(booking_id: int, signed: str) -> int:
    user_id = reminders.read_token(booking_id, signed)
    if user_id is None:
        raise not_found(_("This check-in link is not valid."))
    return user_id


@bp.get("/bookings/<id:booking_id>/checkin/<signed>")
def checkin_link(booking_id: int, signed: str):
    """The booking and a "Check in" button."""
    booking = usage.link_booking(booking_id, _organiser(booking_id, signed))
    return render_template("bookings/checkin.html", booking=booking, signed=signed,
                           error=None, done=False)


@bp.post("/bookings/<id:booking_id>/checkin/<signed>")
def checkin_by_link(booking_id: int, signed: str):
    """Check in as the organiser the link was signed for."""
    organiser = _organiser(booking_id, signed)
    try:
        booking = usage.checkin_as_organiser(booking_id, organiser, now())
    except BookingError as err:
        if err.status != 409:
            raise
        return render_template("bookings/checkin.html", booking=None, signed=signed,
                               error=err, done=False), 409
    return render_template("bookings/checkin.html", booking=booking, signed=signed,
                           error=None, done=True)
