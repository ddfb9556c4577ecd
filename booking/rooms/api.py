"""JSON twins of the rooms pages: /api/rooms..."""

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from booking import inputs
from booking.clock import now
from booking.auth import admin_required, login_required
from booking.rooms import service

bp = Blueprint("rooms_api", __name__, url_prefix="/api")


@bp.get("/rooms")
@login_required
def overview():
    """Every active room (and the inactive ones if asked) with what is on now and next."""
    everything = inputs.boolean(request.args.get("include_inactive", "false"), "include_inactive")
    return service.overview(now(), include_inactive=everything).response(overview_json)


def overview_json(rooms: list) -> dict:
    """The overview twin's body (the page computes its ETag from the same)."""
    return {"rooms": rooms}


@bp.post("/rooms")
@admin_required
def create():
    room = service.create(inputs.json_body(), actor=current_user.id)
    return jsonify(room=room), 201, {"Location": url_for("rooms_api.show", room_id=room["id"])}


@bp.get("/rooms/<id:room_id>")
@login_required
def show(room_id: int):
    return jsonify(room=service.get(room_id))


@bp.patch("/rooms/<id:room_id>")
@admin_required
def update(room_id: int):
    """The fields sent change; `bookings_outside_hours` counts the live bookings from now
    on that the room's hours no longer cover (they stay booked)."""
    room, outside = service.update(room_id, inputs.json_body(), now(), actor=current_user.id)
    return jsonify(room=room, bookings_outside_hours=outside.count)


@bp.get("/rooms/<id:room_id>/policy")
@login_required
def policy(room_id: int):
    """The room's effective policy: every field's value and the level it comes from."""
    found = service.room_policy(room_id)
    return jsonify({k: found[k] for k in ("room_id", "area_id", "areas", "own", "policy")})


@bp.get("/rooms/<id:room_id>/bookings")
@login_required
def day(room_id: int):
    return jsonify(service.day(room_id, request.args.get("date"), now()))


@bp.get("/rooms/<id:room_id>/week")
@login_required
def week(room_id: int):
    """A room's bookings on each day of one week (Monday first): ?start=YYYY-MM-DD."""
    return jsonify(service.week(room_id, request.args.get("start"), now()))


@bp.get("/rooms/<id:room_id>/availability")
@login_required
def availability(room_id: int):
    """Free intervals inside opening hours: ?start=&end= (dates or RFC 3339), &min_minutes=."""
    args = request.args
    return jsonify(service.availability(room_id, args.get("start"), args.get("end"),
                                        args.get("min_minutes"), now(),
                                        booker=current_user.booker))
