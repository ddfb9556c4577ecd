"""JSON twins of the door panel (GET /api/rooms/<id>/panel, what the page polls) and of
the room admin page's panel tokens."""

from flask import Blueprint, jsonify
from flask_login import current_user

from booking.auth import admin_required, login_required
from booking.clock import now
from booking.panels import service

bp = Blueprint("panels_api", __name__, url_prefix="/api")


@bp.get("/rooms/<id:room_id>/panel")
@login_required
def panel(room_id: int):
    """The room, its state, current and next bookings, and the Book now lengths on
    offer; with an ETag, so the panel's 15-second poll is mostly a 304."""
    return jsonify(service.state(room_id, now(), current_user.id, current_user.booker))


# -- the admin's panel tokens (twin of the room's admin page) ------------------------------

@bp.get("/rooms/<id:room_id>/panels")
@admin_required
def tokens(room_id: int):
    """The room's panel tokens, newest first (prefix, made, revoked)."""
    return jsonify(panels=service.tokens(room_id))


@bp.post("/rooms/<id:room_id>/panels")
@admin_required
def create_token(room_id: int):
    """A new panel token: 201 {panel, token}; the token is shown only now."""
    row, plain = service.create_token(room_id, current_user.id)
    shown = next(p for p in service.tokens(room_id) if p["id"] == row["id"])
    return jsonify(panel=shown, token=plain), 201


@bp.delete("/rooms/<id:room_id>/panels/<id:panel_id>")
@admin_required
def revoke_token(room_id: int, panel_id: int):
    """Revoke a panel token: the tablet is signed out at once."""
    service.revoke(room_id, panel_id, current_user.id)
    return jsonify(revoked=panel_id)
