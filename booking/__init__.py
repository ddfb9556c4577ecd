"""booking: meeting rooms for an organisation's staff, in the browser and over JSON.

`create_app()` builds the application; importing this package connects to
nothing. A request goes: blueprint view (pages: `*/views.py`, JSON twins:
`*/api.py`) -> `*/service.py` (rules, then one short statement) -> render.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from flask import Flask, current_app, g, request, session, templating
from flask_wtf.csrf import CSRFProtect, generate_csrf
from werkzeug.routing import IntegerConverter

from booking import auth, config, db, errors, http
from booking.config import PROJECT_ROOT
from booking.times import UTC

csrf = CSRFProtect()


class IdConverter(IntegerConverter):
    """`<id:x>`: a positive id of at most 18 digits (so it fits a bigint). Anything else
    is not found, whatever the method.

    The limit is in the pattern, not a min/max check: werkzeug checks the method
    before the converter's value, so a rejected value on a PATCH or DELETE rule
    would answer 405 ("use GET") where GET itself answers 404.
    """

    regex = r"[1-9][0-9]{0,17}"


class TemplateEnvironment(templating.Environment):
    """Flask's Jinja environment, quicker at `room.name` when `room` is a dict.

    Jinja reads `x.y` as getattr(x, "y") first and x["y"] only after that
    fails; a page's data is dicts (rows, JSON), so nearly every lookup raised
    and caught an AttributeError first: about a tenth of a room's day page.
    A key that is also a dict method (`items`, `get`, ...) is still read
    Jinja's way, so `d.items()` keeps meaning the method.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj and not hasattr(dict, attribute):
            return obj[attribute]
        return super().getattr(obj, attribute)


class App(Flask):
    jinja_environment = TemplateEnvironment
    json_provider_class = http.JSONProvider


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = App(__name__, template_folder=str(PROJECT_ROOT / "templates"),
              static_folder=str(PROJECT_ROOT / "static"))
    app.config.update(config.load(overrides=overrides))
    app.config.update(
        SESSION_COOKIE_NAME="booking_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        MAX_CONTENT_LENGTH=64 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session is
        WTF_CSRF_HEADERS=["X-CSRFToken", "X-CSRF-Token"],
    )
    app.json.sort_keys = False  # field order as the API documents it
    app.url_map.converters["id"] = IdConverter
    app.extensions["booking.pool"] = db.make_pool(app.config)
    app.extensions["booking.clock"] = lambda: datetime.now(UTC)
    app.extensions["booking.shared"] = {}  # booking/shared.py

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # No log format here shows a thread or a multiprocessing name: don't look them
    # up for every record (gunicorn's shows the process id, which stays).
    logging.logThreads = logging.logMultiprocessing = False
    errors.register(app)
    http.init_app(app)
    auth.init_app(app)
    csrf.init_app(app)
    _register_blueprints(app)

    from booking import cli
    cli.register(app)
    _register_template_helpers(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from booking import health
    from booking.account import api as account_api, views as account_views
    from booking.audit import api as audit_api, views as audit_views
    from booking.bookings import api as bookings_api, views as bookings_views
    from booking import metrics
    from booking.events import api as events_api, views as events_views
    from booking.feeds import views as feeds_views
    from booking.finder import api as finder_api, views as finder_views
    from booking.openapi import views as openapi_views
    from booking.reports import api as reports_api, views as reports_views
    from booking.rooms import api as rooms_api, views as rooms_views
    from booking.series import api as series_api, views as series_views

    for module in (health, rooms_views, bookings_views, series_views, finder_views,
                   account_views, feeds_views, audit_views, events_views, reports_views,
                   metrics):
        app.register_blueprint(module.bp)
    for module in (rooms_api, bookings_api, series_api, finder_api, account_api, audit_api,
                   events_api, reports_api, openapi_views):
        # The JSON API checks CSRF itself (below), and only for writes
        # authenticated by cookie: a bearer token cannot ride along with
        # another site's request.
        csrf.exempt(module.bp)
        app.register_blueprint(module.bp)
    app.before_request(_api_csrf)


def _api_csrf() -> None:
    from flask import request, session

    if (request.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS")
            and "Authorization" not in request.headers and session.get("_user_id")):
        csrf.protect()


# Pages ask for a date and two times of day where the API takes two date-times.
FORM_FIELD_FOR = {"start_time": "start", "end_time": "end"}


def _register_template_helpers(app: Flask) -> None:
    from booking.feeds.service import calendar_url
    from booking.idempotency import new_key
    app.add_template_global(calendar_url)
    app.add_template_global(new_key, "new_idempotency_key")

    @app.template_global()
    def error_field_of(error) -> str | None:
        """The form field an error belongs to, so the page shows it there."""
        field = error.details.get("field") if error else None
        return FORM_FIELD_FOR.get(field, field)

    signed_csrf: dict[str, str] = {}

    def csrf_token() -> str:
        """flask-wtf's CSRF token for this session, signed once per process.

        Its signature carries the time it was made, but tokens never expire
        (WTF_CSRF_TIME_LIMIT=None): one signed earlier for the same session is
        as good, and signing costs a page two HMACs.
        """
        raw = session.get("csrf_token")
        token = signed_csrf.get(raw) if isinstance(raw, str) else None
        if token is None:
            token = generate_csrf()
            if len(signed_csrf) >= 10_000:
                signed_csrf.clear()
            signed_csrf[session["csrf_token"]] = token
        g.csrf_token = token
        return token

    # After flask-wtf's own, so this one is what templates call.
    app.context_processor(lambda: {"csrf_token": csrf_token})

    links: dict[tuple[str, str, str | None], str] = {}

    @app.template_global("url_for")
    def url_for(endpoint: str, **values: Any) -> str:
        """Flask's url_for, remembering the links that are alike on every page (the
        menu's, the static files'): built once per process instead of once per link."""
        if endpoint.startswith(".") or not values.keys() <= {"filename"}:
            return app.url_for(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        link = links.get(key)
        if link is None:
            link = links[key] = app.url_for(endpoint, **values)
        return link

    @app.template_filter("hm")
    def hm(value: str | None) -> str:
        """"2026-05-04T14:00:00+02:00" -> "14:00": the room-local time the API rendered."""
        return value[11:16] if value else ""

    @app.template_filter("day")
    def day(value: str | None) -> str:
        """"2026-05-04T14:00:00+02:00" -> "Mon 4 May 2026"."""
        if not value:
            return ""
        moment = datetime.fromisoformat(value)
        return f"{moment:%a} {moment.day} {moment:%b %Y}"


def close(app: Flask) -> None:
    """Close what the app holds open: its pool, and the auth cache's listening connection."""
    app.extensions["booking.pool"].close()
    app.extensions["booking.auth_cache"].close()


def now() -> datetime:
    """The current instant; tests replace the clock to stand at an edge."""
    clock: Callable[[], datetime] = current_app.extensions["booking.clock"]
    return clock()
