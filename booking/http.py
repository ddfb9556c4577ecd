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

import hashlib
import logging
import struct
import time
import unicodedata
import zlib
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import orjson
from flask import Flask, Request, Response, current_app, g, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from werkzeug.http import generate_etag, quote_etag
from werkzeug.middleware.proxy_fix import ProxyFix

from booking import clock, db, errors, metrics
from booking.health import PROBE_PATHS
from booking.i18n import _
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


# Requests whose address holds a credential (a feed's secret, a signed link, a door
# panel's token in ?key=): the log line has the route's pattern instead.
SECRET_URL_ENDPOINTS = {"feeds.personal", "approvals.tap", "approvals.tap_decide",
                        "checkin_links.checkin_link", "checkin_links.checkin_by_link",
                        "checkin_links.cancel_series_link",
                        "checkin_links.cancel_series_by_link", "panels.panel"}

# Bodies with someone's data, wherever they are served: pages, calendar feeds,
# report downloads (the /api/ paths besides).
PERSONAL_TYPES = frozenset({"text/html", "text/calendar", "text/csv"})

GZIP_MIN_BYTES = 1024
# Level 5, but level 1 for a body that leaves in TCP's first flight (ten segments)
# either way: a day's answer comes out 5% bigger (505 against 483 bytes from
# 1.6 KB on average) for a quarter less of zlib's time (7.5 against 10 µs for
# 2 KB), and no round trip more.
GZIP_LEVEL = 5
GZIP_FAST_BELOW = 14_000


def gzipped(body: bytes) -> bytes:
    """`body` as gzip, with a window and hash table no bigger than it needs.

    zlib's defaults (a 32 KB window, memLevel 8) allocate and clear ~300 KB for
    every call: for a 2 KB day of bookings that took 50-80 µs of the 60-90 µs
    gzip.compress spent. A window larger than the body cannot find longer
    matches, so one sized to the body compresses exactly as well.
    """
    bits = max(9, min(15, (len(body) - 1).bit_length()))
    level = 1 if len(body) < GZIP_FAST_BELOW else GZIP_LEVEL
    packer = zlib.compressobj(level, zlib.DEFLATED, 16 + bits, max(1, min(8, bits - 7)))
    return packer.compress(body) + packer.flush()


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
    try:
        parts = urlsplit(target)
    except ValueError:   # "//[": an unclosed IPv6 address
        return None
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


def etag_listed(header: str, etag: str) -> bool:
    """Whether an If-Match header names `etag`: * (any answer there is), or the tag
    weak or strong (a gzipped answer's ETag is the same tag made weak)."""
    wanted = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == wanted
               for tag in (part.strip() for part in header.split(",")))


def _precondition_failed() -> Response:
    return errors.render(errors.BookingError(
        "precondition_failed", _("This changed since you read it: If-Match no longer names "
                                 "its ETag."), field="If-Match"))


def _finish(response: Response) -> Response:
    """ETag and 304, gzip, the headers every answer carries, metrics and the log line.

    Run for every response, so written to touch each thing once: the request
    and `g` are read through their proxies once, the response's headers (a
    list in werkzeug) are read in one pass, and the headers added here leave
    through LastHeaders, not werkzeug's Headers.
    """
    req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
    headers = response.headers
    present = {name.lower(): value for name, value in headers}
    status = response.status_code
    whole = not response.direct_passthrough and not response.is_streamed
    if whole and status == 200 and req.method in ("GET", "HEAD"):
        if "etag" not in present:
            # werkzeug's generate_etag: twin_etag and SharedAnswer make the same.
            present["etag"] = quote_etag(hashlib.sha1(response.get_data()).hexdigest())
            headers.add("ETag", present["etag"])
        if any(name in req.environ for name in CONDITIONAL):
            environ = req.environ
            if "HTTP_IF_MATCH" in environ:
                # Judged here as a PATCH judges it: werkzeug's make_conditional
                # refuses * and every weak tag, and answers its 412 with the body.
                if not etag_listed(environ["HTTP_IF_MATCH"], present["etag"]):
                    return _finish(_precondition_failed())
                environ = {k: v for k, v in environ.items() if k != "HTTP_IF_MATCH"}
            response.make_conditional(environ)
            status = response.status_code
    add: list[tuple[str, str]] = []
    vary: list[str] = []
    content_type = present.get("content-type", "")
    if whole and "content-encoding" not in present \
            and content_type.partition(";")[0].startswith(COMPRESSIBLE):
        vary.append("Accept-Encoding")
        if status not in (204, 304) and req.method != "HEAD" \
                and "gzip" in req.environ.get("HTTP_ACCEPT_ENCODING", ""):
            _gzip(response, present.get("etag"), add)
    for name, value in SECURITY_HEADERS.items():
        if name.lower() not in present:
            add.append((name, value))
    if req.path.startswith("/api/") or content_type.partition(";")[0] in PERSONAL_TYPES:
        # Personal data: caches may keep it only for this browser, and must ask again.
        if "cache-control" not in present:
            add.append(("Cache-Control", "private, no-cache"))
        vary += ["Cookie", "Authorization"]
    if vary:
        # On the response itself: saving the session, after this hook, adds Cookie to it.
        if "vary" in present:
            response.vary.update(vary)
        else:
            headers.add("Vary", ", ".join(vary))

    elapsed_ms = (time.perf_counter() - ctx.get("started", time.perf_counter())) * 1000
    sql = ctx.get("sql") or db.Stats()
    sql_ms = sql.seconds * 1000
    if current_app.config["SERVER_TIMING"] or _admin_asked(ctx):
        add.append(("Server-Timing", f'db;desc="{sql.statements} statements";dur={sql_ms:.2f}, '
                                     f'app;dur={elapsed_ms:.2f}'))
    req.environ[LAST_HEADERS] = add

    rule = req.url_rule
    metrics.observe(req.method, rule.rule if rule else "unmatched", status, elapsed_ms / 1000,
                    sql.statements)
    slow = elapsed_ms > current_app.config["SLOW_REQUEST_MS"]
    level = logging.WARNING if slow else logging.INFO
    if status == 200 and not slow and req.path in PROBE_PATHS:
        level = logging.DEBUG  # probes every few seconds would drown the log
    if log.isEnabledFor(level):
        # A URL that is itself a credential is logged by its pattern only.
        path = (rule.rule if rule is not None and req.endpoint in SECRET_URL_ENDPOINTS
                else req.full_path.rstrip("?"))
        log.log(level, "%s %s %s %.1fms sql=%d sql_ms=%.1f%s", req.method, path, status,
                elapsed_ms, sql.statements, sql_ms, " SLOW" if slow else "")
    return response


LAST_HEADERS = "booking.last_headers"


class LastHeaders:
    """WSGI middleware: sends the headers `_finish` chose (in the environ) with the
    response, as they are.

    They are our own constant or formatted strings, so they skip werkzeug's
    Headers, which checks every value on the way in and again when it copies the
    list for sending: seven headers cost the day view more than its ETag.
    """

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            headers.extend(environ.get(LAST_HEADERS, ()))
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start)


def _admin_asked(ctx) -> bool:
    """Whether this request was an admin's. Only a user the request already
    loaded is looked at: asking flask-login here would sign in (run SQL) on
    requests that never needed to, /healthz among them."""
    return bool(getattr(ctx.get("_login_user"), "is_admin", False))


def _gzip(response: Response, etag: str | None, add: list[tuple[str, str]]) -> None:
    """Compress a body of GZIP_MIN_BYTES or more. Its ETag, the identity body's,
    turns weak (as nginx does), so a 304 is decided before anything is compressed."""
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return
    response.set_data(gzipped(body))
    add.append(("Content-Encoding", "gzip"))
    if etag and not etag.startswith("W/"):
        response.headers["ETag"] = "W/" + etag


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
        compressed = "gzip" in request.headers.get("Accept-Encoding", "") \
            and len(body) >= GZIP_MIN_BYTES
        if compressed:
            if self._gzip is None:
                self._gzip = gzipped(body)
            response.set_data(self._gzip)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response.set_data(body)
        response.vary.add("Accept-Encoding")
        response.set_etag(self.etag, weak=compressed)   # weak when gzipped, as _gzip() does
        return response


class _AppClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer on the app's clock (booking.clock), so a
    session cookie is dated and aged by the same clock as everything else."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


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
        # The gzip trailer's CRC-32 runs over the whole page, so each request went
        # over the fragment's raw bytes again (~0.3 ms for a board). zlib.crc32(raw,
        # c) is zlib.crc32(raw, 0) XOR a linear function of c: kept here as the
        # images of c's 32 bits, so crc_after() needs 32 XORs at most.
        self.crc = zlib.crc32(self.raw)
        self._images = [zlib.crc32(self.raw, 1 << bit) ^ self.crc for bit in range(32)]

    def crc_after(self, crc: int) -> int:
        """zlib.crc32(self.raw, crc): the CRC-32 of what came before and this."""
        found = self.crc
        for image in self._images:
            if not crc:
                break
            if crc & 1:
                found ^= image
            crc >>= 1
        return found


# A gzip member's header: deflate, no flags, no time, unknown OS (RFC 1952).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def spliced(page: str, fragments: Mapping[str, Fragment]) -> Response:
    """The HTML `page` with each fragment where its marker stands (in the page's
    order), gzipped when the client takes gzip, with only the page's own parts
    compressed now."""
    own: list[bytes] = []   # the page's parts, before each fragment and after the last
    rest = page
    for marker in fragments:
        head, found, rest = rest.partition(marker)
        if not found:
            raise ValueError(f"the page has no {marker!r}")
        own.append(head.encode())
    own.append(rest.encode())
    parts: list[bytes | Fragment] = [own[0]]
    for fragment, after in zip(fragments.values(), own[1:]):
        parts += [fragment, after]
    etag = hashlib.sha1(b"".join(
        part.digest if isinstance(part, Fragment) else part for part in parts)).hexdigest()
    response = Response(mimetype="text/html")
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        packed, crc, size = [GZIP_HEADER], 0, 0
        for n, part in enumerate(parts, 1):
            if isinstance(part, Fragment):
                crc, size = part.crc_after(crc), size + len(part.raw)
                packed.append(part.deflated)
            else:
                crc, size = zlib.crc32(part, crc), size + len(part)
                packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
                packed += [packer.compress(part), packer.flush(
                    zlib.Z_FINISH if n == len(parts) else zlib.Z_SYNC_FLUSH)]
        packed.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
        response.set_data(b"".join(packed))
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(etag, weak=True)   # as _gzip() marks a gzipped body's
    else:
        response.set_data(b"".join(part.raw if isinstance(part, Fragment) else part
                                   for part in parts))
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

    def __init__(self, checked: Bounded[str, tuple[dict, float]]) -> None:
        # Cookie -> (its session, when it expires), until then (booking.memo.pages):
        # only flat sessions, whose copy shares nothing mutable (flashed
        # messages are lists).
        self._checked = checked

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._serializer[0] != keys:
            serializer = super().get_signing_serializer(app)
            if serializer is not None:
                serializer.signer = _AppClockSigner   # a cookie's age by the app's clock
            self._serializer = (keys, serializer)
        return self._serializer[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie and "Authorization" in request.headers and request.path.startswith("/api/"):
            # An API call judged by its token alone (booking/auth.py) has no session
            # to read or keep: Flask gives it a null session, which costs neither
            # opening nor saving, and refuses to be written to.
            return None
        if not app.secret_key or not cookie:
            return super().open_session(app, request)
        # A browser sends the same cookie until its session changes: its
        # signature was checked when it was first seen here.
        now = clock.now().timestamp()
        known = self._checked.get(cookie)
        if known is not None and known[1] > now:
            return self.session_class(known[0])
        signer = self.get_signing_serializer(app)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = signer.loads(cookie, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if all(isinstance(v, (str, int, float, bool, type(None))) for v in data.values()):
            expires = signed_at.timestamp() + max_age
            self._checked.put(cookie, (data, expires), expires - now)
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


class LogFormatter(logging.Formatter):
    """"%(asctime)s %(levelname)s %(name)s %(message)s", with the time of day made once
    per second rather than once per line (strftime was a fifth of the log line's cost)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second)))
        return f"{self._second[1]},{int(record.msecs):03d}"


def init_logging() -> None:
    """One line per record on stderr; nothing looked up per record that no line shows."""
    handler = logging.StreamHandler()
    handler.setFormatter(LogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # Not in the format: the thread, the process name, the caller's file and line
    # (finding the caller walks the stack for every record). The process id stays:
    # gunicorn's own lines show it.
    logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None  # type: ignore[attr-defined]


def init_app(app: Flask, checked_cookies: Bounded[str, tuple[dict, float]]) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.session_interface = SessionInterface(checked_cookies)
    app.wsgi_app = LastHeaders(app.wsgi_app)  # type: ignore[method-assign]
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies > 0:
        # Believe the last `proxies` entries of X-Forwarded-For and -Proto:
        # those our own proxies added. Earlier ones could come from anyone.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
