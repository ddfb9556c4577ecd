"""Pages: /activity, /admin/deliveries, /admin/webhooks."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking.clock import now
from booking.auth import admin_required, login_required
from booking.errors import BookingError
from booking.events import render, service, webhooks
from booking.i18n import _

bp = Blueprint("events", __name__)


@bp.get("/activity")
@login_required
def activity():
    page = service.activity(current_user, request.args.get("limit"), request.args.get("cursor"))
    return render_template("events/activity.html", **page)


@bp.get("/admin/deliveries")
@admin_required
def deliveries():
    args = request.args
    page = service.deliveries(args.get("status"), args.get("limit"), args.get("cursor"))
    return render_template("events/deliveries.html", **page)


@bp.post("/admin/deliveries/<id:delivery_id>/resend")
@admin_required
def resend(delivery_id: int):
    service.resend(delivery_id, now())
    flash(_("Delivery %(id)s is queued again.", id=delivery_id), "success")
    return redirect(url_for("events.deliveries", status="failed"))


@bp.get("/admin/webhooks")
@admin_required
def endpoints():
    return _endpoints_page(form={}, error=None)


def _endpoints_page(form, error, made=None, status=200):
    return render_template("events/webhooks.html", endpoints=webhooks.list_endpoints(),
                           kinds=render.KINDS, form=form, error=error, made=made), status


@bp.post("/admin/webhooks")
@admin_required
def create():
    form = request.form
    data = {"url": form.get("url", ""), "description": form.get("description", ""),
            "events": form.getlist("events") or None}
    try:
        made = webhooks.create(current_user, data)
    except BookingError as err:
        return _endpoints_page(form, err, status=err.status)
    # The secret is on this response only.
    return _endpoints_page({}, None, made=made, status=201)


@bp.get("/admin/webhooks/<id:endpoint_id>")
@admin_required
def endpoint(endpoint_id: int):
    page = webhooks.get(endpoint_id, request.args.get("cursor"), request.args.get("limit"))
    return render_template("events/webhook.html", **page)


@bp.post("/admin/webhooks/<id:endpoint_id>")
@admin_required
def update(endpoint_id: int):
    active = request.form.get("active") == "true"
    row = webhooks.update(endpoint_id, {"active": active})
    flash(_("Endpoint %(url)s enabled.", url=row["url"]) if active
          else _("Endpoint %(url)s disabled.", url=row["url"]), "success")
    return redirect(url_for("events.endpoint", endpoint_id=endpoint_id))
