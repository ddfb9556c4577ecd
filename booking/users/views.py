"""The people page, /admin/users: deactivate someone (offering to cancel what they
booked), or reactivate them."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking.auth import admin_required
from booking.clock import now
from booking.errors import BookingError
from booking.users import service
from booking.i18n import _, ngettext

bp = Blueprint("users", __name__)


@bp.get("/admin/users")
@admin_required
def people():
    return render_template("users/people.html", **service.people(now(), None,
                                                                 request.args.get("cursor")),
                           error=None)


@bp.post("/admin/users/<id:user_id>")
@admin_required
def update(user_id: int):
    form = request.form
    data = {key: form[key] for key in ("active",) if key in form}
    if "cancel_future_bookings" in form:
        data["cancel_future_bookings"] = "on"
    try:
        done = service.update(current_user, user_id, data, now())
    except BookingError as err:
        if err.status == 404:
            raise
        return render_template("users/people.html", **service.people(now()),
                               error=err), err.status
    flash(_summary(done), "success")
    return redirect(url_for("users.people"))


def _summary(done: dict) -> str:
    user, cancelled, ended = done["user"], len(done["cancelled"]), done["series_cancelled"]
    if user["active"]:
        text = _("%(name)s is active again", name=user["name"])
    else:
        text = _("%(name)s is deactivated (signed out everywhere, tokens revoked)",
                 name=user["name"])
    if cancelled or ended:
        bookings = ngettext("%(num)d booking", "%(num)d bookings", cancelled)
        if ended:
            text = _("%(text)s; %(bookings)s from now on cancelled and %(series)s ended",
                     text=text, bookings=bookings,
                     series=ngettext("%(num)d series", "%(num)d series", ended))
        else:
            text = _("%(text)s; %(bookings)s from now on cancelled", text=text,
                     bookings=bookings)
    return text + "."
