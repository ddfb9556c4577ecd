"""What every response gets: timing, SQL figures, a log line, ETags, safe headers.

- Each request is logged with method, path, status, duration, SQL statement
  count and SQL time; requests slower than SLOW_REQUEST_MS are flagged SLOW.
  The same figures go out in a `Server-Timing` header.
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
import struct
import time
import zlib
from typing import Any, Callable

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
    if request.path.startswith("/api/") or "text/html" in response.content_type:
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


class Fragment:
    """A large piece of HTML many pages share (the planning board), encoded, hashed and
    compressed once, then set into each person's page without doing any of that
    again (`spliced`).

    Compressed as raw deflate from a fresh state and ended with a full flush, it
    refers to nothing before it and leaves the next block byte-aligned: the
    deflate of the page's own start, this, and the deflate of the page's end,
    each made by a fresh compressor, are one valid deflate stream, and with a
    gzip header and the CRC-32 of the whole, one ordinary gzip member (RFC 1952).
    A board of 500 rooms is ~0.5 MB of HTML: compressing it per request cost
    more than everything else the request did.
    """

    def __init__(self, html: str):
        self.raw = html.encode()
        packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.deflated = packer.compress(self.raw) + packer.flush(zlib.Z_FULL_FLUSH)
        self.digest = hashlib.sha1(self.raw).digest()


# A gzip member's header: deflate, no flags, no time, unknown OS (RFC 1952).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def spliced(page: str, marker: str, fragment: Fragment) -> Response:
    """The HTML `page` with `fragment` where `marker` stands, gzipped when the client
    takes gzip, with only the page's own start and end compressed now."""
    head, _, tail = page.partition(marker)
    head_raw, tail_raw = head.encode(), tail.encode()
    etag = hashlib.sha1(head_raw + fragment.digest + tail_raw).hexdigest()
    response = Response(mimetype="text/html")
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        start = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        end = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        crc = zlib.crc32(tail_raw, zlib.crc32(fragment.raw, zlib.crc32(head_raw)))
        size = len(head_raw) + len(fragment.raw) + len(tail_raw)
        response.set_data(b"".join((
            GZIP_HEADER, start.compress(head_raw), start.flush(zlib.Z_SYNC_FLUSH),
            fragment.deflated, end.compress(tail_raw), end.flush(zlib.Z_FINISH),
            struct.pack("<II", crc, size & 0xFFFFFFFF))))
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(etag, weak=True)   # as _gzip() marks a gzipped body's
    else:
        response.set_data(b"".join((head_raw, fragment.raw, tail_raw)))
        response.set_etag(etag)
    response.headers["Vary"] = "Accept-Encoding"
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
