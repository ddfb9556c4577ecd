"""The planning board's JSON twin: /api/board."""

from flask import Blueprint, request

from booking.auth import login_required
from booking.board import service
from booking.clock import now

bp = Blueprint("board_api", __name__, url_prefix="/api")


@bp.get("/board")
@login_required
def board():
    """Every active room with its bookings on one day: ?date=&building=&floor=&area=."""
    args = request.args
    found = service.board(args.get("date"), args.get("building"), args.get("floor"), now(),
                          args.get("area"))
    return found.answer.response(lambda data: data)
