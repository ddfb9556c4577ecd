"""The audit page, /admin/audit: who did what and when, newest first (admins only)."""

from flask import Blueprint, render_template, request

from booking.audit import service
from booking.auth import admin_required
from booking.errors import BookingError

bp = Blueprint("audit", __name__)


@bp.get("/admin/audit")
@admin_required
def show():
    filters = {k: request.args.get(k, "").strip() for k in ("user", "room", "from", "to")}
    choices = service.choices()
    # Each entry's time in its room's zone.
    choices["zones"] = {room["id"]: room["timezone"] for room in choices["rooms"]}
    try:
        page = service.entries(request.args)
    except BookingError as err:
        return render_template("admin/audit.html", filters=filters, error=err, entries=[],
                               next_cursor=None, changes=service.changes, **choices), err.status
    return render_template("admin/audit.html", filters=filters, error=None,
                           changes=service.changes, **choices, **page)
