"""JSON twins of the account pages: /api/me and /api/tokens."""

from flask import Blueprint, jsonify, request
from flask_login import current_user

from booking import inputs
from booking.account import service
from booking.auth import login_required
from booking.feeds import service as feeds

bp = Blueprint("account_api", __name__, url_prefix="/api")


@bp.get("/me")
@login_required
def me():
    return jsonify(user=current_user.to_dict(), calendar_url=feeds.calendar_url(current_user))


@bp.patch("/me")
@login_required
def update_me():
    """{"mail_enabled": false} turns notification mail off; {"theme": "dark"} picks the
    dark theme; {"timezone": "Europe/Berlin"} the zone one's lists group days in;
    {"home_building": "HQ"} where the finder looks first (null: where they booked
    most); {"delegates": ["assistant@example.com"]} who may book for them. Everything
    is checked before anything is written, and written in one statement."""
    service.update_account(current_user, inputs.json_body())
    return jsonify(user=current_user.to_dict(), calendar_url=feeds.calendar_url(current_user))


@bp.post("/me/calendar")
@login_required
def reset_calendar():
    """A new personal calendar URL; the old one stops working."""
    return jsonify(calendar_url=feeds.reset_calendar_url(current_user))


@bp.get("/tokens")
@login_required
def tokens():
    """Newest first, ?limit= (50) and ?cursor= for the next page."""
    return jsonify(service.list_tokens(current_user, request.args.get("limit"),
                                       request.args.get("cursor")))


@bp.post("/tokens")
@login_required
def create_token():
    data = inputs.json_body()
    inputs.only(data, {"name"})
    row, plain = service.create_token(current_user.id, data.get("name"),
                                      actor=current_user.id)
    return jsonify(token=row, secret=plain), 201


@bp.delete("/tokens/<id:token_id>")
@login_required
def revoke_token(token_id: int):
    return jsonify(token=service.revoke_token(current_user, token_id))
