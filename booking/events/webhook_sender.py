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
unless WEBHOOKS_ALLOW_PRIVATE is set (server-side request forgery). Redirects
are not followed. A receiver gets WEBHOOK_TIMEOUT_SECONDS to answer.
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
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from booking import inputs
from booking.errors import BookingError
from booking.events import render

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
        check_url(request.url, bool(config["WEBHOOKS_ALLOW_PRIVATE"]))
    except BookingError as err:
        return Result(None, took(), "", f"refused: {err.message}")
    parts = urlsplit(request.url)
    # The signature's timestamp is real time whatever the app clock says:
    # receivers refuse timestamps far from their own clock.
    stamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "booking-webhooks/1",
               "webhook-id": request.msg_id, "webhook-timestamp": str(stamp),
               "webhook-signature": sign(request.secret, request.msg_id, stamp, request.body)}
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=request.body, headers=headers)
        answer = connection.getresponse()
        text = answer.read(RESPONSE_EXCERPT * 4).decode("utf-8", "replace")[:RESPONSE_EXCERPT]
        error = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
        return Result(answer.status, took(), text, error)
    except socket.timeout:
        return Result(None, took(), "", f"timed out after {timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return Result(None, took(), "", f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


# -- checking targets ----------------------------------------------------------------

def check_url(url: Any, allow_private: bool) -> str:
    """The URL if it is a safe delivery target; 422 saying why not otherwise."""
    url = inputs.text(url, "url", low=8, high=2000)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BookingError("invalid_url", "A webhook URL starts with http:// or https:// and "
                           "names a host.", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise BookingError("invalid_url", f"{parts.hostname} cannot be resolved.",
                           field="url") from None
    if not allow_private:
        for *_, address in found:
            ip = ipaddress.ip_address(address[0].split("%")[0])
            mapped = getattr(ip, "ipv4_mapped", None)
            if mapped is not None:
                ip = mapped
            if not ip.is_global or ip.is_multicast:
                raise BookingError(
                    "unsafe_url", f"{parts.hostname} is a loopback, link-local, private or "
                    f"reserved address ({ip}); webhooks go to public addresses only.",
                    field="url")
    return url
