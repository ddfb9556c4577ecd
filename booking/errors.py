"""The one error type, its codes, and how it is rendered.

Services raise `BookingError("too_short", "A booking lasts at least 15
minutes.", field="end_time")`. For `/api/...` (and any client that prefers
JSON) it becomes

    {"error": {"code": "too_short", "message": "...", "details": {"field": "end_time"}}}

with the status below; pages catch it in the view and show the message next
to the field, keeping what the user typed. Nothing that a client sends may
end in a 500: database errors caused by input are mapped here by constraint
name, and an unavailable database is a fast 503.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, render_template, request
from psycopg_pool import PoolTimeout, TooManyRequests
from werkzeug.exceptions import HTTPException

from booking import metrics

log = logging.getLogger("booking.errors")

STATUS = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "no_room": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    # booking rules (422)
    "too_short": 422,
    "too_long": 422,
    "outside_hours": 422,
    "crosses_midnight": 422,
    "in_past": 422,
    "beyond_window": 422,
    "room_inactive": 422,
    "not_whole_minutes": 422,
    "nonexistent_time": 422,
    "invalid_recurrence": 422,
    "invalid_url": 422,
    "unsafe_url": 422,
    "bad_range": 422,
    "range_too_long": 422,
    "unknown_building": 422,
    "too_many_requests": 429,
    "unavailable": 503,
    "internal": 500,
}


class BookingError(Exception):
    """Something the client asked for cannot be done; says what and why."""

    def __init__(self, code: str, message: str, *, field: str | None = None,
                 status: int | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS.get(code, 400)
        self.details = dict(details or {})
        if field is not None:
            self.details.setdefault("field", field)

    @property
    def field(self) -> str | None:
        return self.details.get("field")

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid(field: str, message: str) -> BookingError:
    return BookingError("invalid", message, field=field)


def not_found(what: str = "That") -> BookingError:
    return BookingError("not_found", f"{what} does not exist.")


# Constraint name -> (code, field, message): a database refusal caused by the
# input becomes a clear answer. Most input is validated before it gets here;
# this is the safety net, so a second constraint never gets the wrong message.
CONSTRAINTS = {
    "users_email_key": ("conflict", "email", "An account with this email already exists."),
    "rooms_name_key": ("conflict", "name", "A room with this name already exists."),
    "rooms_hours_check": ("invalid", "closes", "A room must close after it opens."),
    "rooms_capacity_check": ("invalid", "capacity", "Capacity must be between 1 and 10000."),
    "rooms_floor_check": ("invalid", "floor", "Floor must be between -50 and 500."),
    "rooms_name_check": ("invalid", "name", "A room name has 1 to 100 characters."),
    "rooms_building_check": ("invalid", "building", "A building name has at most 100 characters."),
    "bookings_title_check": ("invalid", "title", "A title has 1 to 200 characters."),
    "bookings_no_overlap": ("conflict", None, "The room is already booked at that time."),
}


def from_database(exc: psycopg.Error) -> BookingError | None:
    """The BookingError for a database error caused by input, or None."""
    name = getattr(exc.diag, "constraint_name", None)
    if name in CONSTRAINTS:
        code, field, message = CONSTRAINTS[name]
        return BookingError(code, message, field=field)
    if isinstance(exc, (psycopg.errors.NumericValueOutOfRange,
                        psycopg.errors.InvalidDatetimeFormat,
                        psycopg.errors.DatetimeFieldOverflow,
                        psycopg.errors.InvalidTextRepresentation,
                        psycopg.errors.StringDataRightTruncation,
                        psycopg.errors.CharacterNotInRepertoire,
                        psycopg.errors.UntranslatableCharacter)):
        return BookingError("invalid", "A value is out of range or malformed.")
    return None


def wants_json() -> bool:
    """API paths, and clients that prefer JSON to HTML, get JSON errors."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def render(err: BookingError) -> Response:
    if wants_json():
        response = jsonify(err.to_dict())
    else:
        response = Response(render_template("error.html", error=err), mimetype="text/html")
    response.status_code = err.status
    if err.status == 503:
        response.headers["Retry-After"] = "1"
    return response


HTTP_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 429: "too_many_requests"}


def register(app: Flask) -> None:
    @app.errorhandler(BookingError)
    def _booking_error(err: BookingError):
        return render(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = HTTP_CODES.get(exc.code or 500, "invalid" if (exc.code or 500) < 500 else "internal")
        message = exc.description or exc.name
        if exc.code == 404:
            message = "There is nothing at this address."
        err = BookingError(code, message, status=exc.code)
        response = render(err)
        if exc.code == 405 and exc.response is None:
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])  # type: ignore[attr-defined]
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(TooManyRequests)
    @app.errorhandler(psycopg.OperationalError)
    def _unavailable(exc: Exception):
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        if isinstance(exc, (PoolTimeout, TooManyRequests)):
            metrics.POOL_TIMEOUTS.inc()
        from booking import auth  # here: auth itself raises BookingError
        auth.give_up_on_user()
        return render(BookingError("unavailable",
                                   "The service is busy or the database is unreachable; "
                                   "please try again in a moment."))

    @app.errorhandler(psycopg.Error)
    def _database_error(exc: psycopg.Error):
        err = from_database(exc)
        return render(err) if err is not None else _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render(BookingError("internal", "Something went wrong on our side. "
                                   "It has been logged; please try again."))
