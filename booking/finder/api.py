"""JSON twins of the finder page: /api/rooms/free, /api/bookings/auto, /api/availability."""

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from booking import idempotency, inputs
from booking.clock import now
from booking.auth import login_required
from booking.finder import service

bp = Blueprint("finder_api", __name__, url_prefix="/api")


@bp.get("/rooms/free")
@login_required
def free():
    """?start_time=&end_time=&capacity=&equipment=screen,video&building=&floor=&timezone=
    &any_timezone= (the caller's home building is preferred, its time zone only unless
    any_timezone)."""
    data = request.args.to_dict()
    if len(request.args.getlist("equipment")) > 1:  # equipment=screen&equipment=video
        data["equipment"] = ",".join(request.args.getlist("equipment"))
    return jsonify(service.find(data, now(), current_user))


@bp.post("/bookings/auto")
@login_required
def auto():
    key = idempotency.from_header()
    result = service.auto_assign(current_user, inputs.json_body(), now(), key=key)
    return idempotency.mark(jsonify(result), key), 201, {
        "Location": url_for("bookings_api.show", booking_id=result["booking"]["id"])}


@bp.post("/availability")
@login_required
def availability():
    return jsonify(service.availability(inputs.json_body()))
