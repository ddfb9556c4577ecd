"""The one error type, its codes, and how it is rendered.

Services raise `BookingError("too_short", _("A booking lasts at least 15
minutes."), field="end_time")`. For `/api/...` (and any client that prefers
JSON) it becomes

    {"error": {"code": "too_short", "message": "...", "details": {"field": "end_time"}}}

with the status below; pages catch it in the view and show the message next
to the field, keeping what the user typed. The message is in the caller's
language (booking/i18n.py): made with `_()` where the error is raised, or
given lazily (`i18n.lazy`) and turned into text here; the code stays English. Nothing that a client sends may
end in a 500: database errors caused by input are mapped here by constraint
name, and an unavailable database is a fast 503.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, g, jsonify, render_template, request
from psycopg_pool import PoolTimeout, TooManyRequests
from werkzeug.exceptions import HTTPException

from booking import metrics
from booking.i18n import FIELD_NAMES, _, lazy

log = logging.getLogger("booking.errors")

STATUS = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "no_room": 409,
    "not_editable": 409,
    "checkin_not_open": 409,
    "released": 409,
    "not_started": 409,
    "precondition_failed": 412,
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
    "idempotency_mismatch": 422,
    "invalid_url": 422,
    "unsafe_url": 422,
    "bad_range": 422,
    "range_too_long": 422,
    "unknown_building": 422,
    "too_many_tokens": 422,
    "over_capacity": 422,
    "unknown_user": 422,
    # policies (issue 18)
    "closed": 422,
    "too_soon": 422,
    "quota_exceeded": 422,
    "not_permitted": 403,
    "not_pending": 409,
    "unknown_area": 422,
    "unknown_group": 422,
    "area_cycle": 422,
    "too_many_requests": 429,
    "unavailable": 503,
    "internal": 500,
}


class BookingError(Exception):
    """Something the client asked for cannot be done; says what and why."""

    def __init__(self, code: str, message: Any, *, field: str | None = None,
                 status: int | None = None, details: dict[str, Any] | None = None,
                 retry_after: int | None = None):
        # A lazy message (i18n.lazy) is translated now: an error is made to be shown.
        # As plain text it is escaped in pages like any other (a lazy string would
        # pass for markup).
        message = str(message)
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS.get(code, 400)
        self.details = dict(details or {})
        if field is not None:
            self.details.setdefault("field", field)
        # Seconds until asking again may succeed (429, 503): the Retry-After header.
        self.retry_after = retry_after if retry_after is not None else (
            1 if self.status == 503 else None)

    @property
    def headers(self) -> dict[str, str]:
        """Headers that belong with this error (pages add them to their own response)."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    @property
    def field(self) -> str | None:
        return self.details.get("field")

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid(field: str, message: str) -> BookingError:
    return BookingError("invalid", message, field=field)


def not_found(message: Any = None) -> BookingError:
    return BookingError("not_found", message or _("That does not exist."))


def unavailable() -> BookingError:
    return BookingError("unavailable", _("The service is busy or the database is unreachable; "
                                         "please try again in a moment."))


# Constraint name -> (code, field, message): a database refusal caused by the
# input becomes a clear answer. Most input is validated before it gets here;
# this is the safety net, so a second constraint never gets the wrong message.
CONSTRAINTS = {
    "users_email_key": ("conflict", "email", lazy("An account with this email already exists.")),
    "rooms_name_key": ("conflict", "name", lazy("A room with this name already exists.")),
    "rooms_hours_check": ("invalid", "closes", lazy("A room must close after it opens.")),
    "rooms_capacity_check": ("invalid", "capacity",
                             lazy("Capacity must be between 1 and 10000.")),
    "rooms_floor_check": ("invalid", "floor", lazy("Floor must be between -50 and 500.")),
    "rooms_name_check": ("invalid", "name", lazy("A room name has 1 to 100 characters.")),
    "rooms_building_check": ("invalid", "building",
                             lazy("A building name has at most 100 characters.")),
    "rooms_release_after_check": ("invalid", "release_after_minutes",
                                  lazy("release_after_minutes must be between 1 and 60.")),
    "bookings_title_check": ("invalid", "title", lazy("A title has 1 to 200 characters.")),
    "bookings_notes_check": ("invalid", "notes", lazy("Notes have at most 2000 characters.")),
    "bookings_invitees_check": ("invalid", "invitees", lazy("At most 50 invitees.")),
    "bookings_attendees_check": ("invalid", "attendees",
                                 lazy("attendees must be between 1 and 10000.")),
    "delegates_not_self": ("invalid", "delegates", lazy("You cannot be your own delegate.")),
    "bookings_no_overlap": ("conflict", None, lazy("The room is already booked at that time.")),
    "bookings_owner_active": ("forbidden", None,
                              lazy("That account has been deactivated: nothing was booked.")),
    "users_theme_check": ("invalid", "theme", lazy("theme is auto, light or dark.")),
    "users_timezone_check": ("invalid", "timezone", lazy("%(field)s must be an IANA zone.",
                                                         field=FIELD_NAMES["timezone"])),
    "users_language_check": ("invalid", "language",
                             lazy("language is en, de or fr, or empty for the browser's.")),
    "areas_name_key": ("conflict", "name", lazy("An area with this name already exists.")),
    "areas_name_check": ("invalid", "name", lazy("An area name has 1 to 100 characters.")),
    "areas_no_cycle": ("area_cycle", "parent_id", lazy("An area cannot be inside itself or "
                                                       "inside an area within it.")),
    "areas_parent_id_fkey": ("unknown_area", "parent_id", lazy("That area does not exist.")),
    "rooms_area_id_fkey": ("unknown_area", "area_id", lazy("That area does not exist.")),
    "groups_name_key": ("conflict", "name", lazy("A group with this name already exists.")),
    "groups_name_check": ("invalid", "name", lazy("A group name has 1 to 100 characters.")),
    "bookings_decision_reason_check": ("invalid", "reason",
                                       lazy("A reason has at most 500 characters.")),
    "api_tokens_most_live": ("too_many_tokens", "name",
                             lazy("You have 50 live API tokens, the most one person may "
                                  "have: revoke one you no longer use first.")),
}


# SQLSTATEs that say "the database cannot serve right now", not "the input is
# wrong": they become a 503 with Retry-After. Classes 08 (connection lost or
# refused), 53 (out of connections, memory, disk), 57 (shut down, restarting,
# cancelled by statement_timeout), 58 (system error); 25006 (read-only: a
# standby, e.g. during a fail-over); 40001/40P01 (serialization failure,
# deadlock: worth retrying). psycopg files most of these under
# OperationalError, but not all (25006 is an InternalError), and an error
# raised by the client itself (connection lost mid-query) has no SQLSTATE.
UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
UNAVAILABLE_STATES = frozenset({"25006", "40001", "40P01"})


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database is away or overloaded (answer 503, never 500)."""
    if isinstance(exc, (PoolTimeout, TooManyRequests, psycopg.OperationalError)):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state[:2] in UNAVAILABLE_CLASSES or state in UNAVAILABLE_STATES


def from_database(exc: psycopg.Error) -> BookingError | None:
    """The BookingError for a database error caused by input, or None."""
    name = getattr(exc.diag, "constraint_name", None)
    if name in CONSTRAINTS:
        code, field, message = CONSTRAINTS[name]
        return BookingError(code, message, field=field)
    # Class 22, data exception: a value out of range or malformed. psycopg
    # raises a DataError of its own, without SQLSTATE, for text holding NUL.
    if isinstance(exc, psycopg.DataError):
        return BookingError("invalid", _("A value is out of range or malformed."))
    return None


def wants_json() -> bool:
    """API paths, and clients that prefer JSON to HTML, get JSON errors."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def render(err: BookingError, as_json: bool | None = None) -> Response:
    """The error as JSON or as a page (`as_json` None: as the client prefers)."""
    if as_json is None:
        as_json = wants_json()
    if as_json:
        response = jsonify(err.to_dict())
    else:
        response = Response(render_template("error.html", error=err), mimetype="text/html")
    response.status_code = err.status
    response.headers.update(err.headers)
    return response


# werkzeug's HTTP errors in our words, translated (its own descriptions are English only).
HTTP_MESSAGES = {
    400: lazy("The request could not be understood."),
    401: lazy("Sign in, or send an API token (Authorization: Bearer ...)."),
    403: lazy("You may not do this."),
    404: lazy("There is nothing at this address."),
    405: lazy("This address does not take that method."),
    409: lazy("That conflicts with what is there now."),
    415: lazy("Send the body as JSON (Content-Type: application/json)."),
    429: lazy("Too many requests; please wait a moment."),
}

# flask-wtf's reasons for refusing a form or a cookie-authenticated write, translated.
CSRF_MESSAGES = {
    "The CSRF token is missing.": lazy("The CSRF token is missing."),
    "The CSRF session token is missing.": lazy("The CSRF session token is missing."),
    "The CSRF token has expired.": lazy("The CSRF token has expired."),
    "The CSRF token is invalid.": lazy("The CSRF token is invalid."),
    "The CSRF tokens do not match.": lazy("The CSRF tokens do not match."),
    "The referrer header is missing.": lazy("The referrer header is missing."),
    "The referrer does not match the host.": lazy("The referrer does not match the host."),
}

HTTP_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
              413: "payload_too_large",
              415: "unsupported_media_type", 429: "too_many_requests"}


def init_app(app: Flask) -> None:
    @app.errorhandler(BookingError)
    def _booking_error(err: BookingError):
        return render(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = HTTP_CODES.get(exc.code or 500, "invalid" if (exc.code or 500) < 500 else "internal")
        message = CSRF_MESSAGES.get(exc.description) or HTTP_MESSAGES.get(exc.code or 500)
        if exc.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"] // 1024
            message = _("The request is too large: at most %(limit)s KB.", limit=limit)
        elif message is None:
            message = exc.description or exc.name   # werkzeug's wording, English only
        err = BookingError(code, message, status=exc.code)
        response = render(err)
        if exc.code == 405 and exc.response is None:
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])  # type: ignore[attr-defined]
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(TooManyRequests)
    @app.errorhandler(psycopg.OperationalError)
    def _unavailable(exc: Exception):
        log.warning("database unavailable: %s: %s", type(exc).__name__,
                    str(exc).strip().replace("\n", " "))
        if isinstance(exc, (PoolTimeout, TooManyRequests)):
            metrics.POOL_TIMEOUTS.inc()
        # Whoever is signed in stays unknown: the error page must not ask the
        # unreachable database again (booking.auth reads this flag).
        g.database_unavailable = True
        return render(unavailable())

    @app.errorhandler(psycopg.Error)
    def _database_error(exc: psycopg.Error):
        if is_unavailable(exc):
            return _unavailable(exc)
        err = from_database(exc)
        return render(err) if err is not None else _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render(BookingError("internal", _("Something went wrong on our side. "
                                                 "It has been logged; please try again.")))
