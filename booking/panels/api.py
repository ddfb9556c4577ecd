"""JSON twin of the door panel: GET /api/rooms/<id>/panel (what the page polls)."""

from flask import Blueprint, jsonify

from booking.auth import login_required
from booking.clock import now
from booking.panels import service

bp = Blueprint("panels_api", __name__, url_prefix="/api")


@bp.get("/rooms/<id:room_id>/panel")
@login_required
def panel(room_id: int):
    """The room, its state, current and next bookings, and the Book now lengths on
    offer; with an ETag, so the panel's 15-second poll is mostly a 304."""
    return jsonify(service.state(room_id, now()))
