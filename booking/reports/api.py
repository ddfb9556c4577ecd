"""JSON twin of the reports page: /api/reports/utilisation."""

from flask import Blueprint, jsonify, request

from booking.clock import now
from booking.auth import admin_required
from booking.reports import service

bp = Blueprint("reports_api", __name__, url_prefix="/api")


@bp.get("/reports/utilisation")
@admin_required
def utilisation():
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (both included, at most 366 days)&building=&group=
    room|building|weekday_hour."""
    params = service.parameters(request.args, now())
    report = service.utilisation(params)
    table = report.pop("tables")[params["group"]]
    return jsonify({**report, "group": params["group"], **table})
