"""The series page: its occurrences, each with a cancel button, and "this and following"."""

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking.clock import now
from booking.auth import login_required
from booking.series import service

bp = Blueprint("series", __name__)


@bp.get("/series/<id:series_id>")
@login_required
def show(series_id: int):
    data = service.get(series_id, request.args.get("limit"), request.args.get("cursor"))
    owner = current_user.acts_for(data["series"]["user_id"])
    moment = now()
    return render_template("series/show.html", **data,
                           may_cancel=owner and data["series"]["cancelled_at"] is None,
                           upcoming=lambda b: datetime.fromisoformat(b["start_time"]) >= moment)


@bp.post("/series/<id:series_id>/cancel")
@login_required
def cancel(series_id: int):
    start = request.form.get("from") or None
    result = service.cancel(current_user, series_id, start, now())
    count = len(result["cancelled"])
    what = "this and the following occurrences" if start else "the series"
    flash(f"Cancelled {what}: {count} booking{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("series.show", series_id=series_id))
