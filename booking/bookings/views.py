"""Bookings pages: book a room, my bookings, one booking, cancel."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking import idempotency, recurrence
from booking.clock import now
from booking.auth import login_required
from booking.bookings import service
from booking.errors import BookingError, invalid
from booking.http import local_path
from booking.rooms import service as rooms
from booking.times import parse_date

bp = Blueprint("bookings", __name__)


@bp.get("/bookings/new")
@login_required
def new():
    """The booking form, pre-filled from the query (room_id, title, date, start, end)."""
    return _form(request.args, None)


@bp.post("/bookings/new")
@login_required
def create():
    form = request.form
    try:
        key = idempotency.from_form(form)
        made = service.create(current_user, _booking_from_form(form), now(), key=key)
    except BookingError as err:
        return _form(form, err), err.status
    # A second submit of the same form (key.replayed) lands on the same page.
    if "series" in made:
        count, skipped = len(made["bookings"]), len(made["skipped"])
        flash(f"Booked {count} occurrence{'s' if count != 1 else ''}"
              + (f"; {skipped} taken and skipped." if skipped else "."), "success")
        return redirect(url_for("series.show", series_id=made["series"]["id"]))
    booking = made["booking"]
    flash(f"Booked {booking['room_name']}, {booking['start_time'][11:16]}"
          f"–{booking['end_time'][11:16]}.", "success")
    return redirect(url_for("bookings.show", booking_id=booking["id"]))


def _booking_from_form(form) -> dict:
    """The API's booking fields from the form's date, two times and Repeat section."""
    for field, message in (("date", "Choose a date."), ("start", "Choose a start time."),
                           ("end", "Choose an end time.")):
        if not form.get(field, "").strip():
            raise invalid(field, message)
    day = parse_date(form["date"], "date")
    data = {"room_id": form.get("room_id", ""), "title": form.get("title", ""),
            "start_time": f"{day.isoformat()}T{form['start'].strip()}",
            "end_time": f"{day.isoformat()}T{form['end'].strip()}"}
    rule = recurrence.from_form(form, day)
    if rule:
        data["recurrence"] = rule
        data["skip_conflicts"] = "skip_conflicts" in form
    return data


def _form(form, error: BookingError | None):
    conflicts = error.details.get("conflicts") if error else None
    if conflicts:
        # The room is taken: offer it (other times), and the rooms the conflict
        # found free then, as choices and as one-click suggestions. Listing
        # every room here would cost a fourth SQL statement ("choose another
        # room" links to the form with all of them).
        blocker = conflicts[0]["bookings"][0] if "bookings" in conflicts[0] else conflicts[0]
        taken = {"id": blocker["room_id"], "name": blocker["room_name"]}
        suggestions = error.details.get("suggestions") or {}
        series = (form.get("repeat") or "none") != "none"
        # The page's own words wherever the message shows (above and by the field).
        error = BookingError(error.code, _conflict_message(error, taken, series),
                             status=error.status, details=error.details)
        return render_template("bookings/new.html", form=form, error=error,
                               rooms=[taken] + list(suggestions.get("other_rooms") or []),
                               taken_room=taken, conflicts=conflicts, only_room=True,
                               suggestions=suggestions, series=series,
                               conflict_message=error.message)
    return render_template("bookings/new.html", form=form, error=error, rooms=rooms.choices(),
                           conflicts=None, only_room=False, suggestions=None, series=False)


def _conflict_message(error: BookingError, taken: dict, series: bool) -> str:
    """The 409 for people: a series' conflict names the form's checkbox, not the API's
    `skip_conflicts` field the JSON answer speaks of."""
    if not series:
        return error.message
    count = len(error.details["conflicts"])
    return (f"{count} date{'s' if count != 1 else ''} of this series "
            f"{'are' if count != 1 else 'is'} already taken in {taken['name']}. Book the "
            "other dates there (the taken ones are skipped), book the series in another "
            "room, or change it below.")


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
    back = local_path(request.form.get("next"))
    return redirect(back or url_for("bookings.show", booking_id=booking_id))
