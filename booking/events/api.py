"""JSON twins: /api/activity, /api/deliveries, /api/webhooks."""

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from booking import inputs
from booking.clock import now
from booking.auth import admin_required, login_required
from booking.events import service, webhooks

bp = Blueprint("events_api", __name__, url_prefix="/api")


@bp.get("/activity")
@login_required
def activity():
    """Newest first; admins see every event, staff those about their own bookings."""
    return jsonify(service.activity(current_user, request.args.get("limit"),
                                    request.args.get("cursor")))


@bp.get("/deliveries")
@admin_required
def deliveries():
    """?status=failed (default), pending or sent."""
    args = request.args
    return jsonify(service.deliveries(args.get("status"), args.get("limit"), args.get("cursor")))


@bp.post("/deliveries/<id:delivery_id>/resend")
@admin_required
def resend(delivery_id: int):
    return jsonify(delivery=service.resend(delivery_id, now()))


@bp.get("/webhooks")
@admin_required
def endpoints():
    return jsonify(endpoints=webhooks.list_endpoints())


@bp.post("/webhooks")
@admin_required
def create():
    """{url, events?, description?} -> 201 {endpoint, secret}; the secret is shown only now."""
    made = webhooks.create(current_user, inputs.json_body())
    return jsonify(made), 201, {"Location": url_for("events_api.endpoint",
                                                    endpoint_id=made["endpoint"]["id"])}


@bp.get("/webhooks/<id:endpoint_id>")
@admin_required
def endpoint(endpoint_id: int):
    """The endpoint and its delivery log (newest first, ?cursor= for older)."""
    args = request.args
    return jsonify(webhooks.get(endpoint_id, args.get("cursor"), args.get("limit")))


@bp.patch("/webhooks/<id:endpoint_id>")
@admin_required
def update(endpoint_id: int):
    return jsonify(endpoint=webhooks.update(endpoint_id, inputs.json_body()))
