"""JSON twin of the approvals page: /api/approvals, and deciding a request."""

from flask import Blueprint, jsonify, request
from flask_login import current_user

from booking import inputs
from booking.approvals import service
from booking.auth import login_required

bp = Blueprint("approvals_api", __name__, url_prefix="/api")


@bp.get("/approvals")
@login_required
def pending():
    """The requests waiting for a decision that the caller may decide, oldest first."""
    return jsonify(service.pending(current_user, request.args.get("limit"),
                                   request.args.get("cursor")))


@bp.post("/bookings/<id:booking_id>/approve")
@login_required
def approve(booking_id: int):
    """Approve a request (a series' occurrence approves the whole series)."""
    return jsonify(booking=service.decide(current_user.id, "approve", booking_id=booking_id,
                                          reason=service.reason_of(_body())))


@bp.post("/bookings/<id:booking_id>/reject")
@login_required
def reject(booking_id: int):
    """Reject a request: {"reason"} (optional) is mailed to the requester."""
    return jsonify(booking=service.decide(current_user.id, "reject", booking_id=booking_id,
                                          reason=service.reason_of(_body())))


def _body() -> dict:
    """The optional JSON body ({"reason"}); none at all is fine."""
    if not request.get_data():
        return {}
    return inputs.json_body()
