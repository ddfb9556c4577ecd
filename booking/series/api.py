"""JSON twin of the series page: /api/series/<id>."""

from flask import Blueprint, jsonify, request
from flask_login import current_user

from booking.clock import now
from booking.auth import login_required
from booking.series import service

bp = Blueprint("series_api", __name__, url_prefix="/api")


@bp.get("/series/<id:series_id>")
@login_required
def show(series_id: int):
    return jsonify(service.get(series_id, request.args.get("limit"), request.args.get("cursor")))


@bp.delete("/series/<id:series_id>")
@login_required
def cancel(series_id: int):
    """Cancel every future occurrence; ?from=<RFC 3339> cancels that one and all after it."""
    return jsonify(service.cancel(current_user, series_id, request.args.get("from"), now()))
