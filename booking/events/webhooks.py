"""Webhook endpoints: what admins register, list, change, and read the log of.

Sending is booking/events/webhook_sender.py (the delivery worker's side);
this module is the admin pages' and their JSON twin's. A target is checked
when it is registered or changed (webhook_sender.check_url) and again before
every delivery.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any, Mapping

from flask import current_app

from booking import db, inputs, pagination
from booking.auth import User
from booking.errors import invalid, not_found
from booking.events import render
from booking.events.webhook_sender import check_url
from booking.i18n import _


def new_secret() -> str:
    """An endpoint's signing secret (Standard Webhooks' `whsec_` form)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


ENDPOINT_FIELDS = """w.id, w.url, w.description, w.events, w.active,
       left(w.secret, 10) || '…' AS secret_hint,
       rfc3339(w.created_at, 'UTC') AS created_at, w.created_by,
       rfc3339(w.failing_since, 'UTC') AS failing_since,
       rfc3339(w.disabled_at, 'UTC') AS disabled_at, w.disabled_reason"""

CREATE_SQL = f"""
INSERT INTO webhook_endpoints AS w (url, description, events, secret, created_by)
VALUES (%(url)s, %(description)s, %(events)s, %(secret)s, %(user)s)
RETURNING {ENDPOINT_FIELDS}"""

# An endpoint's latest attempt (webhook_attempts_endpoint, read backward).
LAST_ATTEMPT = """(SELECT json_build_object('at', rfc3339(a.at, 'UTC'), 'ok', a.ok,
                                 'status_code', a.status_code, 'error', a.error)
          FROM webhook_attempts a WHERE a.endpoint_id = w.id
         ORDER BY a.id DESC LIMIT 1)"""

LIST_SQL = f"""
SELECT {ENDPOINT_FIELDS}, {LAST_ATTEMPT} AS last_attempt
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
            WHERE a.endpoint_id = w.id AND a.id < %(after_id)s
            ORDER BY a.id DESC
            LIMIT %(limit)s) x), '[]') AS attempts
  FROM webhook_endpoints w
 WHERE w.id = %(id)s"""

# Enabling an endpoint wakes sleeping workers (NOTIFY at commit), so the
# deliveries that waited for it go out at once rather than at the next poll.
UPDATE_SQL = f"""
WITH w AS (
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
    RETURNING w.*),
woken AS (
    SELECT pg_notify('booking_outbox', '') FROM w WHERE %(active)s IS TRUE)
SELECT {ENDPOINT_FIELDS}
  FROM w CROSS JOIN (SELECT count(*) FROM woken) n"""

FIELDS = frozenset({"url", "events", "description", "active"})
LOG_PAGE = 50


def _events(value: Any) -> list[str]:
    if value is None:
        return list(render.KINDS)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise invalid("events", _("events is a non-empty list of event types."))
    unknown = [v for v in value if v not in render.KINDS]
    if unknown:
        raise invalid("events", _("Unknown event type %(kind)s; choose from %(kinds)s.",
                                  kind=unknown[0], kinds=", ".join(render.KINDS)))
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
    page = pagination.Keyset(limit, cursor, default=LOG_PAGE, most=200, start=pagination.LAST)
    with db.connection() as conn:
        row = conn.execute(GET_SQL, {"id": endpoint_id, **page.params()}).fetchone()
    if row is None:
        raise not_found(_("That webhook endpoint does not exist."))
    attempts, next_cursor = page.cut(
        row.pop("attempts"), lambda a: (datetime.fromisoformat(a["at"]), a["id"]))
    return {"endpoint": row, "attempts": attempts, "next_cursor": next_cursor}


def update(endpoint_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    inputs.only(data, FIELDS)
    if not data:
        raise invalid("body", _("Send at least one of url, events, description, active."))
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
        raise not_found(_("That webhook endpoint does not exist."))
    return row
