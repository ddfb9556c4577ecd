"""Webhooks: endpoints admins register, and signed deliveries to them.

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
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from flask import current_app

from booking import db, inputs, pagination
from booking.auth import User
from booking.errors import BookingError, invalid, not_found
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

def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


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


# -- endpoints: the admin pages and their twin -----------------------------------------

ENDPOINT_FIELDS = """w.id, w.url, w.description, w.events, w.active,
       left(w.secret, 10) || '…' AS secret_hint,
       rfc3339(w.created_at, 'UTC') AS created_at, w.created_by,
       rfc3339(w.failing_since, 'UTC') AS failing_since,
       rfc3339(w.disabled_at, 'UTC') AS disabled_at, w.disabled_reason"""

CREATE_SQL = f"""
INSERT INTO webhook_endpoints AS w (url, description, events, secret, created_by)
VALUES (%(url)s, %(description)s, %(events)s, %(secret)s, %(user)s)
RETURNING {ENDPOINT_FIELDS}"""

LIST_SQL = f"""
SELECT {ENDPOINT_FIELDS},
       (SELECT json_build_object('at', rfc3339(a.at, 'UTC'), 'ok', a.ok,
                                 'status_code', a.status_code, 'error', a.error)
          FROM webhook_attempts a WHERE a.endpoint_id = w.id
         ORDER BY a.id DESC LIMIT 1) AS last_attempt
  FROM webhook_endpoints w
 ORDER BY w.active DESC, w.id DESC
 LIMIT 500"""

# webhook_endpoints_pkey; webhook_attempts_endpoint, newest first, keyset on id.
GET_SQL = f"""
SELECT {ENDPOINT_FIELDS},
       coalesce((SELECT json_agg(x ORDER BY x.id DESC) FROM (
           SELECT a.id, a.delivery_id, d.event_id, o.kind, a.attempt,
                  rfc3339(a.at, 'UTC') AS at, a.status_code, a.latency_ms, a.ok,
                  a.response, a.error, d.status AS delivery_status
             FROM webhook_attempts a
             JOIN deliveries d ON d.id = a.delivery_id
             JOIN outbox o ON o.id = d.event_id
            WHERE a.endpoint_id = w.id AND a.id < %(before)s
            ORDER BY a.id DESC
            LIMIT %(limit)s) x), '[]') AS attempts
  FROM webhook_endpoints w
 WHERE w.id = %(id)s"""

UPDATE_SQL = f"""
UPDATE webhook_endpoints w
   SET url = coalesce(%(url)s, w.url),
       description = coalesce(%(description)s, w.description),
       events = coalesce(%(events)s, w.events),
       active = coalesce(%(active)s, w.active),
       -- enabled again: a fresh start
       failing_since = CASE WHEN %(active)s THEN NULL ELSE w.failing_since END,
       disabled_at = CASE WHEN %(active)s IS NULL THEN w.disabled_at
                          WHEN %(active)s THEN NULL ELSE coalesce(w.disabled_at, now()) END,
       disabled_reason = CASE WHEN %(active)s IS NULL THEN w.disabled_reason
                              WHEN %(active)s THEN NULL
                              ELSE coalesce(w.disabled_reason, 'disabled by an administrator') END
 WHERE w.id = %(id)s
RETURNING {ENDPOINT_FIELDS}"""

FIELDS = frozenset({"url", "events", "description", "active"})
LOG_PAGE = 50


def _events(value: Any) -> list[str]:
    if value is None:
        return list(render.KINDS)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise invalid("events", "events is a non-empty list of event types.")
    unknown = [v for v in value if v not in render.KINDS]
    if unknown:
        raise invalid("events", f"Unknown event type {unknown[0]}; choose from "
                                f"{', '.join(render.KINDS)}.")
    return [k for k in render.KINDS if k in value]


def _description(value: Any) -> str:
    """Text for people, empty when left out or null; anything but text is a 400."""
    return "" if value is None else inputs.text(value, "description", low=0)


def create(user: User, data: Mapping[str, Any]) -> dict[str, Any]:
    """Register an endpoint: {"endpoint", "secret"}; the secret is never shown again."""
    inputs.only(data, FIELDS - {"active"})
    url = check_url(data.get("url"), current_app.config["WEBHOOKS_ALLOW_PRIVATE"])
    values = {"url": url, "events": _events(data.get("events")), "secret": new_secret(),
              "description": _description(data.get("description")),
              "user": user.id}
    with db.connection() as conn:
        row = conn.execute(CREATE_SQL, values).fetchone()
    return {"endpoint": row, "secret": values["secret"]}


def list_endpoints() -> list[dict[str, Any]]:
    with db.connection() as conn:
        return conn.execute(LIST_SQL).fetchall()


def get(endpoint_id: int, cursor: str | None = None, limit: Any = None) -> dict[str, Any]:
    """An endpoint with its delivery log, newest first (keyset: next_cursor)."""
    size = LOG_PAGE if limit in (None, "") else inputs.integer(limit, "limit", high=200)
    before = pagination.decode(cursor)[1] if cursor else pagination.LAST[1]
    with db.connection() as conn:
        row = conn.execute(GET_SQL, {"id": endpoint_id, "before": before,
                                     "limit": size + 1}).fetchone()
    if row is None:
        raise not_found("That webhook endpoint")
    attempts = row.pop("attempts")
    next_cursor = None
    if len(attempts) > size:
        attempts = attempts[:size]
        last = attempts[-1]
        from datetime import datetime
        next_cursor = pagination.encode(datetime.fromisoformat(last["at"]), last["id"])
    return {"endpoint": row, "attempts": attempts, "next_cursor": next_cursor}


def update(endpoint_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    inputs.only(data, FIELDS)
    if not data:
        raise invalid("body", "Send at least one of url, events, description, active.")
    values = {"id": endpoint_id, "url": None, "events": None, "description": None,
              "active": None}
    if "url" in data:
        values["url"] = check_url(data["url"], current_app.config["WEBHOOKS_ALLOW_PRIVATE"])
    if "events" in data:
        values["events"] = _events(data["events"])
    if "description" in data:
        values["description"] = _description(data["description"])
    if "active" in data:
        values["active"] = inputs.boolean(data["active"], "active")
    with db.connection() as conn:
        row = conn.execute(UPDATE_SQL, values).fetchone()
    if row is None:
        raise not_found("That webhook endpoint")
    return row
