"""JSON twin of the series page: /api/series/<id>."""

from flask import Blueprint, jsonify, request
from flask_login import current_user

from booking import inputs
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


@bp.patch("/series/<id:series_id>")
@login_required
def edit(series_id: int):
    """Change this occurrence and the following ones (?from=<RFC 3339 start of an
    occurrence>; from the first one, the whole series): 200 {series, bookings, skipped}."""
    return jsonify(service.edit(current_user, series_id, request.args.get("from"),
                                inputs.json_body(), now()))
