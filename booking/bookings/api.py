"""JSON twins of the bookings pages: /api/bookings..."""

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from booking import idempotency, inputs
from booking.clock import now
from booking.auth import login_required
from booking.bookings import service, usage
from booking.http import twin_etag

bp = Blueprint("bookings_api", __name__, url_prefix="/api")


@bp.post("/bookings")
@login_required
def create():
    key = idempotency.from_header()
    made = service.create(current_user, inputs.json_body(), now(), key=key)
    return idempotency.mark(jsonify(made), key), 201, {"Location": (
        url_for("series_api.show", series_id=made["series"]["id"]) if "series" in made
        else url_for("bookings_api.show", booking_id=made["booking"]["id"]))}


@bp.get("/bookings")
@login_required
def many():
    """Several bookings in one request: ?ids=1,2,3 (at most 100)."""
    return jsonify(service.get_many(request.args.get("ids")))


@bp.get("/bookings/mine")
@login_required
def mine():
    """Upcoming or past (?when=), keyset-paginated; or ?view=week&start= one week."""
    args = request.args
    if service.week_view(args.get("view"), args.get("start")):
        week = service.my_week(current_user, args.get("start"), now())
        for day in week["days"]:
            day.pop("zones")
        return jsonify(week)
    page = service.mine(current_user, args.get("when"), args.get("limit"), args.get("cursor"),
                        now())
    page.pop("zones")
    return jsonify(page)


@bp.get("/bookings/<id:booking_id>")
@login_required
def show(booking_id: int):
    return jsonify(booking=service.get(booking_id))


@bp.delete("/bookings/<id:booking_id>")
@login_required
def cancel(booking_id: int):
    return jsonify(booking=service.cancel(current_user, booking_id, now()))


@bp.patch("/bookings/<id:booking_id>")
@login_required
def edit(booking_id: int):
    """Change or move a booking: 200 with it as GET shows it (and its new ETag);
    If-Match makes it conditional (412 when it changed since)."""
    booking = service.edit(current_user, booking_id, inputs.json_body(), now(),
                           service.if_match(request.headers.get("If-Match")))
    return jsonify(booking=booking), 200, {"ETag": twin_etag(booking=booking)}


@bp.post("/bookings/<id:booking_id>/checkin")
@login_required
def checkin(booking_id: int):
    """Check in (owner, delegate, staff invitee, admin, the room's panel): 200 with the
    booking and its checked_in_at; a second check-in is the same 200."""
    return jsonify(booking=usage.checkin(current_user, booking_id, now()))


@bp.post("/bookings/<id:booking_id>/end")
@login_required
def end(booking_id: int):
    """End a booking under way: its end becomes now, rounded up to the minute."""
    return jsonify(booking=usage.end(current_user, booking_id, now()))


@bp.post("/bookings/<id:booking_id>/extend")
@login_required
def extend(booking_id: int):
    """A later end {"end_time"}, if every rule holds and the room is free (409
    conflict with suggestions otherwise, the booking unchanged)."""
    booking = usage.extend(current_user, booking_id, inputs.json_body(), now())
    return jsonify(booking=booking), 200, {"ETag": twin_etag(booking=booking)}
