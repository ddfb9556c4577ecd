"""Calendar feeds: /rooms/<id>/calendar.ics (signed in or token) and /calendar/<token>.ics."""

from flask import Blueprint, Response

from booking.clock import now
from booking.auth import for_clients, login_required
from booking.feeds import service

bp = Blueprint("feeds", __name__)

# content_type, not mimetype: werkzeug adds "; charset=utf-8" to a text/ mimetype
# again, which made it "text/calendar; charset=utf-8; charset=utf-8".
ICS = "text/calendar; charset=utf-8"


@bp.get("/rooms/<id:room_id>/calendar.ics")
@for_clients       # a calendar client's bad token: 401, not the sign-in page
@login_required
def room(room_id: int):
    return Response(service.room_feed(room_id, now()), content_type=ICS)


@bp.get("/calendar/<token>.ics")
def personal(token: str):
    """No session needed: the URL is the credential (revocable from the account page)."""
    return Response(service.personal_feed(token, now()), content_type=ICS)
