"""What every response gets: timing, SQL figures, a log line, ETags, safe headers.

- Each request is logged with method, path, status, duration, SQL statement
  count and SQL time; requests slower than SLOW_REQUEST_MS are flagged SLOW.
  The same figures go out in a `Server-Timing` header to admins, or to
  everyone with SERVER_TIMING (they tell an outsider how much work a request
  caused, which helps timing attacks).
- GET answers carry an ETag; a matching `If-None-Match` gets 304 and no body.
- Bodies over GZIP_MIN_BYTES go out gzipped to clients that accept it. The
  ETag is the identity body's, made weak for the gzipped one (as nginx does),
  so a 304 is decided before anything is compressed.
- Every response, errors and 304s included, carries the security headers below.
- Behind TRUSTED_PROXIES reverse proxies, the client's address and scheme come
  from their X-Forwarded-For and X-Forwarded-Proto (and only then: anyone can
  send those headers). Session cookies are Secure whenever the request came
  over HTTPS, and always with SECURE_COOKIES.
- JSON is written by orjson (JSONProvider): a tenth of the time the standard
  library takes, and the same JSON.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import time
import unicodedata
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import orjson
from flask import Flask, Request, Response, current_app, g, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.http import generate_etag, quote_etag
from werkzeug.middleware.proxy_fix import ProxyFix

from booking import db, metrics
from booking.health import PROBE_PATHS
from booking.memo.kept import Bounded

log = logging.getLogger("booking.request")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # No inline script anywhere: scripts come from static/ only.
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; "
                                "style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; frame-ancestors 'none'; "
                                "form-action 'self'; base-uri 'none'"),
}


SECRET_URL_ENDPOINTS = {"feeds.personal"}

# Bodies with someone's data, wherever they are served: pages, calendar feeds,
# report downloads (the /api/ paths besides).
PERSONAL_TYPES = frozenset({"text/html", "text/calendar", "text/csv"})

GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 5          # level 1 made the day view no faster in make bench (1,092 vs 1,142 req/s)
COMPRESSIBLE = ("text/", "application/json", "application/javascript",
                "image/svg+xml", "application/xml")


def twin_etag(*args, **kwargs) -> str:
    """The ETag the JSON twin answers for this data (jsonify(*args, **kwargs)).

    A page puts it in `data-etag`, so static/app.js's first refresh asks the
    twin with If-None-Match and gets a 304 if nothing changed since the page
    was drawn.
    """
    return quote_etag(generate_etag(current_app.json.response(*args, **kwargs).get_data()))


def local_path(target: object) -> str | None:
    """`target` as a path on this site ("/bookings/mine?when=past"), or None.

    For "next" after sign-in and "back" after a cancel: a link must not send
    people elsewhere. The string is parsed and normalised before it is judged,
    since what is judged must be what the browser follows: werkzeug drops a tab
    or newline when it writes the Location header, so "/\t/evil.com" would
    leave as "//evil.com" (another host) had only the raw string been checked,
    and a newline in a header is an error. So: no control, format or
    separator characters at all, no backslash (browsers read it as "/"), no
    scheme or host, and a path that starts with one "/".
    """
    if not isinstance(target, str) or not target or len(target) > 2000 or "\\" in target:
        return None
    if any(unicodedata.category(ch)[0] in "CZ" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") \
            or parts.path.startswith("//"):
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def _start() -> None:
    g.started = time.perf_counter()
    g.sql = db.start_counting()


# The request headers that can turn a 200 into a 304 or 412 (make_conditional).
CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE",
               "HTTP_IF_UNMODIFIED_SINCE")


def _finish(response: Response) -> Response:
    if request.method in ("GET", "HEAD") and response.status_code == 200 \
            and not response.direct_passthrough and not response.is_streamed:
        if response.get_etag() == (None, None):
            response.add_etag()
        if any(name in request.environ for name in CONDITIONAL):
            response.make_conditional(request)
    vary = ["Accept-Encoding"] if _gzip(response) else []
    if request.path.startswith("/api/") or response.mimetype in PERSONAL_TYPES:
        # Personal data: caches may keep it only for this browser, and must ask again.
        response.headers.setdefault("Cache-Control", "private, no-cache")
        vary += ["Cookie", "Authorization"]
    if vary:
        # One header write (response.vary.add rewrites the header on every call).
        if "Vary" in response.headers:
            response.vary.update(vary)
        else:
            response.headers["Vary"] = ", ".join(vary)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)

    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    sql = g.get("sql") or db.Stats()
    sql_ms = sql.seconds * 1000
    if current_app.config["SERVER_TIMING"] or _admin_asked():
        response.headers["Server-Timing"] = (
            f'db;desc="{sql.statements} statements";dur={sql_ms:.2f}, app;dur={elapsed_ms:.2f}')
    metrics.observe(request.url_rule.rule if request.url_rule else "unmatched",
                    response.status_code, elapsed_ms / 1000, sql.statements)
    slow = elapsed_ms > current_app.config["SLOW_REQUEST_MS"]
    level = logging.WARNING if slow else logging.INFO
    if request.path in PROBE_PATHS and response.status_code == 200 and not slow:
        level = logging.DEBUG  # probes every few seconds would drown the log
    # A URL that is itself a credential is logged by its pattern only.
    path = (request.url_rule.rule if request.endpoint in SECRET_URL_ENDPOINTS
            else request.full_path.rstrip("?"))
    log.log(level,
            "%s %s %s %.1fms sql=%d sql_ms=%.1f%s", request.method, path,
            response.status_code, elapsed_ms, sql.statements, sql_ms, " SLOW" if slow else "")
    return response


def _admin_asked() -> bool:
    """Whether this request was an admin's. Only a user the request already
    loaded is looked at: asking flask-login here would sign in (run SQL) on
    requests that never needed to, /healthz among them."""
    return bool(getattr(g.get("_login_user"), "is_admin", False))


def _gzip(response: Response) -> bool:
    """Compress the body when the client takes gzip and it is worth it. True when
    the answer depends on Accept-Encoding (the caller adds it to Vary)."""
    if response.direct_passthrough or response.is_streamed \
            or "Content-Encoding" in response.headers \
            or not response.mimetype.startswith(COMPRESSIBLE):
        return False
    if "gzip" not in request.headers.get("Accept-Encoding", "") \
            or response.status_code in (204, 304) or request.method == "HEAD":
        return True
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return True
    response.set_data(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)
    return True


class SharedAnswer:
    """One JSON answer many requests share (the rooms overview, the OpenAPI document):
    its body, gzip and ETag made at most once."""

    def __init__(self, data: Any):
        self.data = data
        self._body: bytes | None = None
        self._gzip: bytes | None = None
        self._etag: str | None = None

    def body(self, wrap: Callable[[Any], Any] = lambda data: data) -> bytes:
        if self._body is None:
            self._body = orjson.dumps(wrap(self.data))
            self._etag = hashlib.sha1(self._body).hexdigest()
        return self._body

    @property
    def etag(self) -> str:
        """The identity body's hash, made with the body (call body() first)."""
        assert self._etag is not None, "body() makes the ETag"
        return self._etag

    def response(self, wrap: Callable[[Any], Any]) -> Response:
        """A 200 with this answer as JSON (gzip when the client takes it), ETag set."""
        body = self.body(wrap)
        response = Response(mimetype="application/json")
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "") \
            and len(body) >= GZIP_MIN_BYTES
        if gzipped:
            if self._gzip is None:
                self._gzip = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            response.set_data(self._gzip)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response.set_data(body)
        response.vary.add("Accept-Encoding")
        response.set_etag(self.etag, weak=gzipped)   # weak when gzipped, as _gzip() does
        return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked Secure on every HTTPS request.

    Flask builds a new signing serializer for every request, cookie or not,
    and checks the cookie's signature every time. Here the serializer is built
    once per key, and a cookie whose signature was checked is remembered
    until it expires (PERMANENT_SESSION_LIFETIME), as the session it holds.
    """

    _serializer: tuple[tuple, URLSafeTimedSerializer | None] = ((), None)

    def __init__(self, checked: Bounded[str, dict]) -> None:
        # Cookie -> its session, until the cookie expires (booking.memo.pages):
        # only flat sessions, whose copy shares nothing mutable (flashed
        # messages are lists).
        self._checked = checked

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._serializer[0] != keys:
            self._serializer = (keys, super().get_signing_serializer(app))
        return self._serializer[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not app.secret_key or not cookie:
            return super().open_session(app, request)
        # A browser sends the same cookie until its session changes: its
        # signature was checked when it was first seen here.
        known = self._checked.get(cookie)
        if known is not None:
            return self.session_class(known)
        signer = self.get_signing_serializer(app)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = signer.loads(cookie, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if all(isinstance(v, (str, int, float, bool, type(None))) for v in data.values()):
            self._checked.put(cookie, data, signed_at.timestamp() + max_age - time.time())
        return self.session_class(data)

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON (jsonify, `|tojson`), written by orjson.

    The 28 KB of a free-room search took 0.20 ms with the json module and take
    0.02 ms here. The output is the same JSON, with two differences that are
    still valid JSON: characters beyond ASCII are written as UTF-8 rather than
    \\u escapes, and a NaN is written as null. Dates still go through Flask's
    `default`, and what orjson cannot write (keys that are not strings, very
    big integers) or was asked for with json.dumps options goes to the json
    module as before.
    """

    def _options(self) -> int:
        return orjson.OPT_PASSTHROUGH_DATETIME | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)

    def dumps(self, obj, **kwargs) -> str:
        if not kwargs:
            try:
                return orjson.dumps(obj, default=self.default, option=self._options()).decode()
            except TypeError:
                pass
        return super().dumps(obj, **kwargs)

    def response(self, *args, **kwargs) -> Response:
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)   # indented, for people
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default,
                                option=self._options() | orjson.OPT_APPEND_NEWLINE)
        except TypeError:
            return super().response(*args, **kwargs)
        return self._app.response_class(body, mimetype=self.mimetype)


def init_app(app: Flask, checked_cookies: Bounded[str, dict]) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.session_interface = SessionInterface(checked_cookies)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies > 0:
        # Believe the last `proxies` entries of X-Forwarded-For and -Proto:
        # those our own proxies added. Earlier ones could come from anyone.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
