"""Sending webhooks: signing a delivery, checking its target, POSTing it.

The delivery worker's side (booking/events/worker.py); registering and
managing endpoints is booking/events/webhooks.py.

Deliveries follow the Standard Webhooks spec (standardwebhooks.com): a POST
of a JSON envelope `{"type", "id", "timestamp", "data"}` with headers
`webhook-id` (`evt_<event id>`, the same on every retry, so receivers
de-duplicate by it), `webhook-timestamp` (Unix seconds) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
with the base64 part of the endpoint's `whsec_...` secret).

Targets are checked at registration and again before every delivery: http or
https only, and no loopback, link-local, private or otherwise special address
unless WEBHOOKS_ALLOW_PRIVATE is set (server-side request forgery), nor an
IPv6 address that carries such an IPv4 address inside it (::ffff:a.b.c.d,
::a.b.c.d, ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4
2002::/16, Teredo). A delivery connects to the very address it checked,
sending the URL's host name in Host (and for https in SNI, where the
certificate is checked against the name): a name that answers a public
address to the check and 127.0.0.1 to the connection (DNS rebinding) reaches
nothing it should not. Redirects are not followed. A receiver gets
WEBHOOK_TIMEOUT_SECONDS for the whole delivery, not per read: one trickling a
header line every half second is cut off at the deadline, so it cannot hold a
worker thread past its lease.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from booking import inputs
from booking.errors import BookingError
from booking.events import render
from booking.i18n import _

RESPONSE_EXCERPT = 500


@dataclass
class Request:
    url: str
    body: bytes
    msg_id: str
    secret: str


@dataclass
class Result:
    status: int | None       # HTTP status, None when there was no answer
    latency_ms: int
    response: str            # the first characters of the answer
    error: str | None        # None: delivered


# -- signing and sending -------------------------------------------------------------

def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def request_for(row: Mapping[str, Any]) -> Request:
    """The POST for a claimed webhook delivery."""
    body = json.dumps(render.envelope(row), separators=(",", ":")).encode()
    return Request(row["url"], body, f"evt_{row['event_id']}", row["secret"])


def post(request: Request, config: Mapping[str, Any]) -> Result:
    """Deliver one request; never raises. 2xx is success, anything else an error."""
    timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        parts, addresses = resolve(request.url, bool(config["WEBHOOKS_ALLOW_PRIVATE"]))
    except BookingError as err:
        return Result(None, took(), "", f"refused: {err.message}")
    # The signature's timestamp is real time whatever the app clock says:
    # receivers refuse timestamps far from their own clock.
    stamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "booking-webhooks/1",
               "webhook-id": request.msg_id, "webhook-timestamp": str(stamp),
               "webhook-signature": sign(request.secret, request.msg_id, stamp, request.body)}
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _pinned(parts, addresses, timeout)
    # The whole delivery has `timeout`: at the deadline the socket is shut, which
    # ends a read that is still waiting (the socket's own timeout is per read).
    deadline = threading.Timer(timeout, connection.cut)
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", path, body=request.body, headers=headers)
        answer = connection.getresponse()
        text = answer.read(RESPONSE_EXCERPT * 4).decode("utf-8", "replace")[:RESPONSE_EXCERPT]
        if connection.was_cut:
            raise socket.timeout
        error = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
        return Result(answer.status, took(), text, error)
    except (socket.timeout, OSError, http.client.HTTPException) as exc:
        if connection.was_cut or isinstance(exc, socket.timeout):
            return Result(None, took(), "", f"timed out after {timeout:g} s")
        return Result(None, took(), "", f"{type(exc).__name__}: {exc}")
    finally:
        deadline.cancel()
        connection.close()


def _pinned(parts, addresses: list[str], timeout: float) -> "_Pinned":
    """The connection for a checked URL: to `addresses`, in `timeout` per step."""
    if parts.scheme == "https":
        connection: _Pinned = _PinnedHTTPS(parts.hostname, parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        connection = _PinnedHTTP(parts.hostname, parts.port, timeout=timeout)
    connection.addresses, connection.was_cut = addresses, False
    connection._lock = threading.Lock()
    return connection


class _Pinned:
    """An HTTP(S) connection to addresses already checked, never to what the name
    resolves to now; the name goes in Host, and for https in SNI and the
    certificate check. `cut()` ends it from another thread (the deadline)."""

    addresses: list[str]
    was_cut: bool
    _lock: threading.Lock

    def connect(self) -> None:
        error: OSError | None = None
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as exc:
                error = exc
        else:
            raise error or OSError("no address to connect to")
        if isinstance(self, http.client.HTTPSConnection):
            sock = self._context.wrap_socket(sock, server_hostname=self.host)
        with self._lock:
            self.sock = sock
            if self.was_cut:
                self._shut()

    def cut(self) -> None:
        with self._lock:
            self.was_cut = True
            self._shut()

    def _shut(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _PinnedHTTP(_Pinned, http.client.HTTPConnection):
    pass


class _PinnedHTTPS(_Pinned, http.client.HTTPSConnection):
    pass


# -- checking targets ----------------------------------------------------------------

def check_url(url: Any, allow_private: bool) -> str:
    """The URL if it is a safe delivery target; 422 saying why not otherwise."""
    url = inputs.text(url, "url", low=8, high=2000)
    resolve(url, allow_private)
    return url


def resolve(url: Any, allow_private: bool) -> tuple[Any, list[str]]:
    """The URL's parts and the addresses its host resolves to, every one of them
    safe (or allow_private); 422 invalid_url or unsafe_url otherwise. Deliveries
    connect to these addresses, not to what the name resolves to later."""
    url = inputs.text(url, "url", low=8, high=2000)
    try:
        parts = urlsplit(url)
    except ValueError:   # "http://[::1": an unclosed IPv6 address
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BookingError("invalid_url", _("A webhook URL starts with http:// or https:// "
                                            "and names a host."), field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise BookingError("invalid_url", _("%(host)s cannot be resolved.",
                                            host=parts.hostname), field="url") from None
    addresses = []
    for *_rest, address in found:
        ip = ipaddress.ip_address(address[0].split("%")[0])
        if not allow_private and unsafe(ip):
            raise BookingError(
                "unsafe_url", _("%(host)s is a loopback, link-local, private or reserved "
                                "address (%(address)s); webhooks go to public addresses only.",
                                host=parts.hostname, address=str(ip)),
                field="url")
        if str(ip) not in addresses:
            addresses.append(str(ip))
    return parts, addresses


# IPv6 prefixes whose addresses carry an IPv4 address in their last 32 bits.
_EMBEDDING = [ipaddress.ip_network(n) for n in (
    "::ffff:0:0/96",        # IPv4-mapped (ipv4_mapped)
    "::/96",                # IPv4-compatible (deprecated): ::a.b.c.d
    "::ffff:0:0:0/96",      # IPv4-translated (SIIT): ::ffff:0:a.b.c.d
    "64:ff9b::/96",         # NAT64, well-known prefix
    "64:ff9b:1::/48")]      # NAT64, local use

# Special-purpose ranges that are not globally reachable (the IANA registries)
# but that Python 3.11's ip.is_global calls global.
_NOT_GLOBAL = [ipaddress.ip_network(n) for n in (
    "192.0.0.0/24",         # IETF protocol assignments
    "192.88.99.0/24",       # 6to4 relay anycast (deprecated)
    "3fff::/20",            # documentation (RFC 9637)
    "5f00::/16")]           # SRv6 SIDs (RFC 9602)


def unsafe(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook must not go to `ip`: not a global address, multicast, or an
    IPv6 address carrying an IPv4 address that is either (NAT64, 6to4, Teredo and
    the IPv4-mapped, -compatible and -translated forms lead to it)."""
    if ip.version == 6:
        inside = [ip.sixtofour] if ip.sixtofour is not None else []
        if ip.teredo is not None:
            inside.append(ip.teredo[1])
        if any(ip in net for net in _EMBEDDING):
            inside.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(unsafe(v4) for v4 in inside):
            return True
    return (not ip.is_global or ip.is_multicast
            or any(ip.version == net.version and ip in net for net in _NOT_GLOBAL))
