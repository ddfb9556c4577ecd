"""The approvals page, /approvals, and the one-tap links of the approvers' mail."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking.approvals import service
from booking.auth import login_required
from booking.errors import BookingError
from booking.http import local_path
from booking.i18n import _

bp = Blueprint("approvals", __name__)


@bp.get("/approvals")
@login_required
def pending():
    return render_template("approvals/pending.html",
                           **service.pending(current_user, None, request.args.get("cursor")),
                           error=None)


@bp.post("/approvals/<id:booking_id>/approve")
@login_required
def approve(booking_id: int):
    return _decide(booking_id, "approve")


@bp.post("/approvals/<id:booking_id>/reject")
@login_required
def reject(booking_id: int):
    return _decide(booking_id, "reject")


def _decide(booking_id: int, action: str):
    """Both buttons: the decision, then the list again (with the error, if refused)."""
    try:
        reason = service.reason_of({"reason": request.form.get("reason", "")})
        booking = service.decide(current_user.id, action, booking_id=booking_id, reason=reason)
    except BookingError as err:
        if err.status == 404:
            raise
        return render_template("approvals/pending.html", **service.pending(current_user),
                               error=err), err.status
    if action == "approve":
        flash(_("Approved “%(title)s” in %(room)s.", title=booking["title"],
                room=booking["room_name"]), "success")
    else:
        flash(_("Rejected “%(title)s” in %(room)s.", title=booking["title"],
                room=booking["room_name"]), "success")
    # Back where the buttons were: the list, or the booking's own page.
    return redirect(local_path(request.form.get("next")) or url_for("approvals.pending"))


@bp.get("/approvals/tap/<tapped>")
def tap(tapped: str):
    """What a mailed link decides, with one button: opening the link changes nothing
    (mail scanners open links too)."""
    return render_template("approvals/tap.html", token=tapped, done=None, error=None,
                           **service.tap_view(tapped))


@bp.post("/approvals/tap/<tapped>")
def tap_decide(tapped: str):
    token = tapped
    view = service.tap_view(token)
    try:
        reason = service.reason_of({"reason": request.form.get("reason", "")})
        booking = service.tap_decide(token, reason)
    except BookingError as err:
        if err.status == 404:
            raise
        return render_template("approvals/tap.html", token=token, done=None, error=err,
                               **view), err.status
    return render_template("approvals/tap.html", token=token, done=booking, error=None,
                           **{**view, "booking": booking, "waiting": False})
