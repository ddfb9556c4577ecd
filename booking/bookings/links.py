"""Links in mail whose signed address is the credential: the one-tap check-in of a
reminder (/bookings/<id>/checkin/<signed>) and the offer to cancel a series nobody
came to three times in a row (/series/<id>/cancel/<signed>).

The signed part is the credential (booking/bookings/reminders.py): it checks
in to that booking as its organiser, nothing else, and only while check-in
is open and the organiser's account is active (as an approver's one-tap link). GET shows the booking and one button; the check-in itself is the
POST, because mail scanners follow the links in mail (a GET that checked in
would check in for whoever's scanner looked). The form carries no CSRF
token: another site could only submit the capability it already holds.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from booking.bookings import reminders, usage
from booking.series import service as series
from booking.clock import now
from booking.errors import BookingError, not_found
from booking.i18n import _

bp = Blueprint("checkin_links", __name__)


def _organiser(booking_id: int, signed: str) -> int:
    user_id = reminders.read_token(booking_id, signed)
    if user_id is None:
        raise usage.link_void()
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


def _series_organiser(series_id: int, signed: str) -> int:
    user_id = reminders.read_series_token(series_id, signed)
    if user_id is None:
        raise not_found(_("This link is not valid."))
    return user_id


@bp.get("/series/<id:series_id>/cancel/<offer>")
def cancel_series_link(series_id: int, offer: str):
    """The series and a "Cancel the rest" button."""
    shown = series.owned(series_id, _series_organiser(series_id, offer))
    return render_template("series/cancel_offer.html", series=shown, offer=offer,
                           done=False)


@bp.post("/series/<id:series_id>/cancel/<offer>")
def cancel_series_by_link(series_id: int, offer: str):
    """Cancel every occurrence from now on, as the organiser the link was signed for."""
    organiser = _series_organiser(series_id, offer)
    done = series.cancel_as(organiser, series_id, now())
    return render_template("series/cancel_offer.html", series=done["series"], offer=offer,
                           done=True)
