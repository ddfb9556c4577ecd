"""booking: meeting rooms for an organisation's staff, in the browser and over JSON.

`create_app()` builds the application; importing this package connects to
nothing. A request goes: blueprint view (pages: `*/views.py`, JSON twins:
`*/api.py`) -> `*/service.py` (rules, then one short statement) -> render.
What a process remembers between requests is all in `booking/memo/`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask_login import current_user
from flask import Flask, flash, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.routing import IntegerConverter

from booking import auth, clock, config, db, errors, http, i18n, memo, metrics, templating
from booking.config import PROJECT_ROOT
from booking.i18n import _

csrf = CSRFProtect()
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})   # the methods CSRF is checked on


class IdConverter(IntegerConverter):
    """`<id:x>`: a positive id of at most 18 digits (so it fits a bigint). Anything else
    is not found, whatever the method.

    The limit is in the pattern, not a min/max check: werkzeug checks the method
    before the converter's value, so a rejected value on a PATCH or DELETE rule
    would answer 405 ("use GET") where GET itself answers 404.
    """

    regex = r"[1-9][0-9]{0,17}"


class App(Flask):
    jinja_environment = templating.TemplateEnvironment
    json_provider_class = http.JSONProvider

    def ensure_sync(self, func):
        """Every view and hook here is synchronous (tests/test_http.py checks), so
        none needs wrapping. Flask's own ensure_sync inspects each one afresh on
        every request: seven times per API call, 2.5% of the day view's work."""
        return func


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
        WTF_CSRF_CHECK_DEFAULT=False,  # _csrf() below checks, and only writes
        WTF_CSRF_METHODS=WRITES,
    )
    app.json.sort_keys = False  # field order as the API documents it
    app.url_map.converters["id"] = IdConverter
    http.init_logging()
    db.init_app(app)
    clock.init_app(app)
    memo.init_app(app)
    errors.init_app(app)
    http.init_app(app, memo.of(app).pages.cookies)
    metrics.init_app(memo.of(app).metric_series)
    auth.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    templating.init_app(app)
    _register_blueprints(app)

    from booking import cli
    cli.init_app(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from booking import health
    from booking.account import api as account_api, views as account_views
    from booking.approvals import api as approvals_api, views as approvals_views
    from booking.areas import api as areas_api, views as areas_views
    from booking.audit import api as audit_api, views as audit_views
    from booking.board import api as board_api, views as board_views
    from booking.bookings import api as bookings_api, views as bookings_views
    from booking.events import api as events_api, views as events_views
    from booking.feeds import views as feeds_views
    from booking.finder import api as finder_api, views as finder_views
    from booking.openapi import views as openapi_views
    from booking.reports import api as reports_api, views as reports_views
    from booking.rooms import api as rooms_api, views as rooms_views
    from booking.series import api as series_api, views as series_views
    from booking.users import api as users_api, views as users_views

    for module in (health, rooms_views, board_views, bookings_views, series_views, finder_views,
                   account_views, feeds_views, audit_views, events_views, reports_views,
                   users_views, areas_views, approvals_views, metrics):
        app.register_blueprint(module.bp)
    for module in (rooms_api, board_api, bookings_api, series_api, finder_api, account_api,
                   audit_api, events_api, reports_api, users_api, areas_api, approvals_api,
                   openapi_views):
        # The JSON API checks CSRF itself (below), and only for writes
        # authenticated by cookie: a bearer token cannot ride along with
        # another site's request.
        csrf.exempt(module.bp)
        app.register_blueprint(module.bp)
    # The reminder's check-in link: its signed address is the credential (no session,
    # so no CSRF token to check; booking/bookings/links.py).
    from booking.panels import api as panels_api, views as panels_views
    app.register_blueprint(panels_views.bp)
    csrf.exempt(panels_api.bp)
    app.register_blueprint(panels_api.bp)
    from booking.bookings import links as checkin_links
    csrf.exempt(checkin_links.bp)
    app.register_blueprint(checkin_links.bp)
    app.before_request(_csrf)
    app.before_request(_panel_fence)


def _panel_fence() -> None:
    """A door panel's token reaches only the panel's routes, for its own room (403
    elsewhere), and the routes that need no sign-in, which answer it as they answer
    anyone (the API's document, the probes). Looked at only when the request
    carries a panel's credential, so no other request loads its caller for it."""
    from booking.auth import needs_sign_in, panel_credential
    from booking.panels import service as panels

    if panel_credential(request) is not None:
        panels.fence(current_user, request.endpoint, request.view_args,
                     public=not needs_sign_in(request.endpoint))


def _csrf() -> Any:
    """The CSRF token of a write: a page's form (flask-wtf's check, which skips the
    exempt blueprints), and a JSON write authenticated by cookie. Reads are
    let through before anything is looked up (most requests are reads), and so
    is a write that carries Authorization (a token, a door panel's on its form).

    A form sent after its session ended (signed out in another tab, or timed
    out) fails the check: that person is sent to sign in, and back to the page
    the form was on, told that nothing was saved."""
    if request.method not in WRITES:
        return None
    if "Authorization" in request.headers:
        # Judged by its header alone (a session cookie sent with it is not read:
        # booking/auth.py), which no other site can make a browser send.
        return None
    try:
        csrf.protect(apply_exemptions=True)
    except CSRFError:
        if request.path.startswith("/api/") or session.get("_user_id"):
            raise
        flash(_("Your session had ended, so nothing was saved: sign in and send it "
                "again."), "error")
        referrer = urlsplit(request.referrer or "")
        back = (http.local_path(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
                if referrer.netloc == request.host else None)
        return redirect(url_for("account.login", next=back or "/"))
    if request.path.startswith("/api/") and _signed_in_by_cookie():
        csrf.protect()
    return None


def _signed_in_by_cookie() -> bool:
    """Whether a cookie signs this request in (no Authorization header here): a
    person's session, or a door panel's cookie. Either rides along with another
    site's form, so a JSON write with one needs the CSRF token (the tablet's page
    carries one in its session like anyone's)."""
    from booking.auth import panel_credential

    return bool(session.get("_user_id")) or panel_credential(request) is not None


def close(app: Flask) -> None:
    """Close what the app holds open: its pool, and the memo's listening connection."""
    db.close(app)
    memo.of(app).close()
