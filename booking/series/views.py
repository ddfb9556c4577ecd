"""The series page: its occurrences, each with a cancel button, and "this and following"."""

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking.clock import now
from booking.auth import login_required
from booking.series import service
from booking.i18n import ngettext

bp = Blueprint("series", __name__)


@bp.get("/series/<id:series_id>")
@login_required
def show(series_id: int):
    data = service.get(series_id, request.args.get("limit"), request.args.get("cursor"))
    owner = current_user.acts_for(data["series"]["user_id"])
    moment = now()
    return render_template("series/show.html", **data,
                           # A rejected or expired series holds nothing left to cancel.
                           may_cancel=owner and data["series"]["status"] in ("confirmed",
                                                                             "pending"),
                           upcoming=lambda b: datetime.fromisoformat(b["start_time"]) >= moment)


@bp.post("/series/<id:series_id>/cancel")
@login_required
def cancel(series_id: int):
    start = request.form.get("from") or None
    result = service.cancel(current_user, series_id, start, now())
    count = len(result["cancelled"])
    if start:
        flash(ngettext("Cancelled this and the following occurrences: %(num)d booking.",
                       "Cancelled this and the following occurrences: %(num)d bookings.",
                       count), "success")
    else:
        flash(ngettext("Cancelled the series: %(num)d booking.",
                       "Cancelled the series: %(num)d bookings.", count), "success")
    return redirect(url_for("series.show", series_id=series_id))
