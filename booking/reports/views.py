"""The reports page (/reports) and its CSV downloads."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from booking.clock import now
from booking.auth import admin_required
from booking.reports import charts, service

bp = Blueprint("reports", __name__)


@bp.get("/reports")
@admin_required
def report():
    """Rooms (or buildings) and the weekday x hour heatmap: two statements."""
    params = service.parameters(request.args, now())
    by = "building" if params["group"] == "building" else "room"
    data = service.utilisation(params, groups=(by, "weekday_hour"))
    return render_template("reports/report.html", report=data, by=by, params=params,
                           args=request.args, bars=charts.bars(data["tables"][by]["rows"], by),
                           heatmap=charts.heatmap(data["tables"]["weekday_hour"]["rows"]))


@bp.get("/reports/utilisation.csv")
@admin_required
def download():
    params = service.parameters(request.args, now())
    data = service.utilisation(params)
    name = f"utilisation-{params['group']}-{params['from']}-{params['to']}.csv"
    return Response(service.as_csv(data, params["group"]), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
