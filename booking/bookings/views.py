"""Bookings pages: book a room, my bookings, one booking, cancel."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking import now
from booking.auth import login_required
from booking.bookings import service
from booking.errors import BookingError
from booking.rooms import service as rooms

bp = Blueprint("bookings", __name__)

@bp.get("/bookings/new")
@login_required
def new():
    args = request.args
    form = {"room_id": args.get("room_id", ""), "title": args.get("title", ""),
            "date": args.get("date", ""), "start": args.get("start", ""),
            "end": args.get("end", "")}
    return _form(form, None)


@bp.post("/bookings/new")
@login_required
def create():
    form = request.form
    data = {"room_id": form.get("room_id", ""), "title": form.get("title", ""),
            "start_time": f"{form.get('date', '')}T{form.get('start', '')}",
            "end_time": f"{form.get('date', '')}T{form.get('end', '')}"}
    try:
        booking = service.create(current_user, data, now())
    except BookingError as err:
        return _form(form, err), err.status
    flash(f"Booked {booking['room_name']}, {booking['start_time'][11:16]}"
          f"–{booking['end_time'][11:16]}.", "success")
    return redirect(url_for("bookings.show", booking_id=booking["id"]))


def _form(form, error: BookingError | None):
    conflicts = error.details.get("conflicts") if error else None
    if conflicts:
        # The room is taken: offer to change the time in the same room (its
        # name is in the conflict) and link to the full form for another room.
        # Listing every room here would cost a fourth SQL statement.
        choice = {"id": conflicts[0]["room_id"], "name": conflicts[0]["room_name"]}
        return render_template("bookings/new.html", form=form, error=error,
                               rooms=[choice], conflicts=conflicts, only_room=True)
    return render_template("bookings/new.html", form=form, error=error,
                           rooms=rooms.choices(), conflicts=None, only_room=False)


@bp.get("/bookings/mine")
@login_required
def mine():
    args = request.args
    when = args.get("when") or "upcoming"
    page = service.mine(current_user, when, args.get("limit"), args.get("cursor"), now())
    return render_template("bookings/mine.html", when=when, **page)


@bp.get("/bookings/<id:booking_id>")
@login_required
def show(booking_id: int):
    booking = service.get(booking_id)
    return render_template("bookings/show.html", booking=booking,
                           may_cancel=service.may_cancel(current_user, booking, now()))


@bp.post("/bookings/<id:booking_id>/cancel")
@login_required
def cancel(booking_id: int):
    booking = service.cancel(current_user, booking_id, now())
    flash(f"Cancelled “{booking['title']}” in {booking['room_name']}.", "success")
    back = request.form.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect(url_for("bookings.show", booking_id=booking_id))
