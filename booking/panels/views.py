"""The door panel page (/rooms/<id>/panel), its buttons, and the admin's panel tokens."""

from __future__ import annotations

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user

from booking import inputs
from booking.auth import PANEL_COOKIE, admin_required, login_required
from booking.bookings import service as bookings, usage
from booking.clock import now
from booking.errors import BookingError, invalid
from booking.i18n import _
from booking.panels import service
from booking.times import parse_date

bp = Blueprint("panels", __name__)

# The buttons that act on a booking (Book now makes one).
ACTIONS = ("checkin", "end")


@bp.get("/rooms/<id:room_id>/panel")
def panel(room_id: int):
    """The panel. `?key=<panel token>` (once, when the tablet is set up) keeps the
    token in a cookie for this page and sends the tablet on without it in the
    address; after that the cookie signs the panel in."""
    key = request.args.get("key")
    if key is not None:
        response = redirect(url_for("panels.panel", room_id=room_id))
        if key.startswith("bkp_") and len(key) < 200:
            response.set_cookie(PANEL_COOKIE, key, max_age=10 * 365 * 24 * 3600,
                                httponly=True, samesite="Strict",
                                secure=bool(current_app.config["SECURE_COOKIES"]))
        return response
    return _show(room_id)


@login_required
def _show(room_id: int, error: BookingError | None = None, status: int = 200):
    shown = service.state(room_id, now(), current_user.id, current_user.booker)
    return render_template("panels/panel.html", **shown, error=error), status


@bp.get("/rooms/<id:room_id>/panel/qr.svg")
@login_required
def qr(room_id: int):
    """The panel's QR code: the room's booking form for `date` on a phone. An image
    of its own, so the tablet fetches it once a day (its address has the day), not
    with each reload of the page (every change, every minute)."""
    day = parse_date(request.args.get("date"))
    image = service.qr_svg(current_app.config["PUBLIC_URL"].rstrip("/")
                           + url_for("bookings.new", room_id=room_id, date=day.isoformat()))
    response = Response(image, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.add_etag()
    return response.make_conditional(request)


@bp.post("/rooms/<id:room_id>/panel")
@login_required
def act(room_id: int):
    """A button: Book now (minutes), Check in, End early or Extend 15 min (booking_id)."""
    form = request.form
    action = form.get("action")
    try:
        if action == "book":
            booking = service.book_now(current_user, room_id, form.get("minutes"), now(),
                                       form.get("start_time"))
            flash(_("Booked until %(time)s.", time=booking["booking"]["end_time"][11:16]),
                  "success")
        elif action in ACTIONS or action == "extend":
            booking_id = inputs.integer(form.get("booking_id"), "booking_id")
            _act_on(action, booking_id)
        else:
            raise invalid("action", _("Choose Book now, Check in, End early or Extend."))
    except BookingError as err:
        if err.status in (401, 403, 404):
            raise
        return _show(room_id, error=err, status=err.status)
    return redirect(url_for("panels.panel", room_id=room_id))


def _act_on(action: str, booking_id: int) -> None:
    if action == "extend":
        booking = usage.extend_by(current_user, booking_id, service.EXTEND_MINUTES, now())
        flash(_("Extended until %(time)s.", time=booking["end_time"][11:16]), "success")
    elif action == "end":
        try:
            usage.end(current_user, booking_id, now())
        except BookingError as err:
            # A walk-in starts on the next minute: ended before then, it is cancelled
            # (the panel's own booking; anyone else's stays, 403).
            if err.code != "not_started":
                raise
            bookings.cancel(current_user, booking_id, now())
        flash(_("Ended: the room is free."), "success")
    else:
        usage.checkin(current_user, booking_id, now())
        flash(_("Checked in."), "success")


# -- the admin's panel tokens, on the room's admin page ------------------------------------

@bp.post("/admin/rooms/<id:room_id>/panels")
@admin_required
def create_token(room_id: int):
    """A new panel token, shown once on the room's admin page."""
    row, plain = service.create_token(room_id, current_user.id)
    flash(_("New panel token (shown only now): %(token)s — open %(url)s on the tablet.",
            token=plain, url=url_for("panels.panel", room_id=room_id, key=plain,
                                     _external=True)), "success")
    return redirect(url_for("rooms.admin_edit", room_id=room_id))


@bp.post("/admin/rooms/<id:room_id>/panels/<id:panel_id>/revoke")
@admin_required
def revoke_token(room_id: int, panel_id: int):
    service.revoke(room_id, panel_id, current_user.id)
    flash(_("Panel token revoked: that tablet is signed out."), "success")
    return redirect(url_for("rooms.admin_edit", room_id=room_id))
