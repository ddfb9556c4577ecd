"""JSON twin of the people page: /api/users (admins)."""

from flask import Blueprint, jsonify, request
from flask_login import current_user

from booking import inputs
from booking.auth import admin_required
from booking.clock import now
from booking.users import service

bp = Blueprint("users_api", __name__, url_prefix="/api")


@bp.get("/users")
@admin_required
def people():
    """Everyone, newest first, with their future bookings and live series counted."""
    return jsonify(service.people(now(), request.args.get("limit"), request.args.get("cursor")))


@bp.patch("/users/<id:user_id>")
@admin_required
def update(user_id: int):
    """{"active": false, "cancel_future_bookings": true} deactivates and cancels."""
    return jsonify(service.update(current_user, user_id, inputs.json_body(), now()))
