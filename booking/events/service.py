"""Activity (what happened, from the outbox) and the deliveries admins look after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from booking import db, pagination
from booking.auth import User
from booking.errors import BookingError, invalid, not_found
from booking.events import render
from booking.events.webhooks import ENDPOINT_FIELDS, LAST_ATTEMPT
from booking.times import UTC
from booking.i18n import _

EVENT_COLUMNS = """o.id AS event_id, o.kind, o.payload, o.created_at, o.user_id, o.actor_id,
       o.room_id, o.booking_id, o.series_id, r.name AS room_name, r.timezone, r.building,
       owner.name AS owner_name, actor.name AS actor_name"""

EVENT_JOINS = """LEFT JOIN rooms r ON r.id = o.room_id
  LEFT JOIN users owner ON owner.id = o.user_id
  LEFT JOIN users actor ON actor.id = o.actor_id"""

# outbox_pkey, read backward from the cursor.
ACTIVITY_ALL_SQL = f"""
SELECT {EVENT_COLUMNS}
  FROM outbox o {EVENT_JOINS}
 WHERE o.id < %(after_id)s
 ORDER BY o.id DESC
 LIMIT %(limit)s"""

# outbox_user, read backward from the cursor.
ACTIVITY_MINE_SQL = f"""
SELECT {EVENT_COLUMNS}
  FROM outbox o {EVENT_JOINS}
 WHERE o.user_id = %(user)s AND o.id < %(after_id)s
 ORDER BY o.id DESC
 LIMIT %(limit)s"""

DEFAULT_PAGE, MAX_PAGE = 50, 200


def item(row: dict[str, Any]) -> dict[str, Any]:
    """One event as the activity page and its twin show it."""
    return {"id": row["event_id"], "type": row["kind"],
            "at": _utc(row["created_at"]),
            "summary": render.summary(row),
            "user": {"id": row["user_id"], "name": row["owner_name"]} if row["user_id"] else None,
            "actor": ({"id": row["actor_id"], "name": row["actor_name"]}
                      if row["actor_id"] else None),
            "room_id": row["room_id"], "timezone": row["timezone"],
            "booking_id": row["booking_id"],
            "series_id": row["series_id"], "data": render.data(row)}


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def activity(user: User, limit: Any = None, cursor: str | None = None) -> dict[str, Any]:
    """Admins: every event; staff: those about their own bookings. Newest first."""
    page = pagination.Keyset(limit, cursor, default=DEFAULT_PAGE, most=MAX_PAGE,
                             start=pagination.LAST)
    sql = ACTIVITY_ALL_SQL if user.is_admin else ACTIVITY_MINE_SQL
    with db.connection() as conn:
        rows = conn.execute(sql, {"user": user.id, **page.params()}).fetchall()
    rows, next_cursor = page.cut(rows, lambda r: (r["created_at"], r["event_id"]))
    return {"events": [item(r) for r in rows], "next_cursor": next_cursor}


# -- deliveries ----------------------------------------------------------------------

DELIVERY_COLUMNS = f"""d.id, d.channel, d.status, d.attempts, d.last_error,
       rfc3339(d.next_attempt_at, 'UTC') AS next_attempt_at,
       rfc3339(d.finished_at, 'UTC') AS finished_at,
       d.user_id AS recipient_id, coalesce(rcpt.email, d.email) AS recipient_email,
       d.endpoint_id, w.url AS endpoint_url, {EVENT_COLUMNS}"""

DELIVERY_JOINS = f"""JOIN outbox o ON o.id = d.event_id
  LEFT JOIN users rcpt ON rcpt.id = d.user_id
  LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id
  {EVENT_JOINS}"""

STATUSES = ("failed", "pending", "sent")

# The endpoints that are failing (retrying since failing_since) or disabled,
# with each one's latest attempt, first on the page: their deliveries wait as
# `pending`, so the failed list alone said "no failed deliveries" while they
# failed. webhook_endpoints is small (admins register a handful); the latest
# attempt comes from webhook_attempts_endpoint. Then the deliveries, newest
# first: one statement per status, by deliveries_failed, deliveries_pending
# (partial indexes on id) or, for the many sent ones, deliveries_pkey. The
# status is written into each statement, not passed as a parameter: in the
# generic plan a prepared statement settles on, `status = $1` matches no
# partial index, and the failed ones were found by reading deliveries_pkey
# backward through every sent delivery (tests/test_explain.py).
DELIVERIES_SQL = {status: f"""
WITH failing AS (
    SELECT coalesce(json_agg(f ORDER BY f.active, f.failing_since, f.id), '[]') AS endpoints
      FROM (SELECT {ENDPOINT_FIELDS}, {LAST_ATTEMPT} AS last_attempt
              FROM webhook_endpoints w
             WHERE w.failing_since IS NOT NULL OR NOT w.active) f)
SELECT f.endpoints AS failing_endpoints, x.*
  FROM failing f
  LEFT JOIN LATERAL (
       SELECT {DELIVERY_COLUMNS}
         FROM deliveries d {DELIVERY_JOINS}
        WHERE d.status = '{status}' AND d.id < %(after_id)s
        ORDER BY d.id DESC
        LIMIT %(limit)s) x ON true
 ORDER BY x.id DESC""" for status in STATUSES}

# Back in the queue at once, attempts counted afresh; NOTIFY wakes a worker.
RESEND_SQL = """
WITH target AS (
    SELECT d.id, d.status FROM deliveries d WHERE d.id = %(id)s),
again AS (
    UPDATE deliveries d
       SET status = 'pending', attempts = 0, next_attempt_at = %(now)s, finished_at = NULL
      FROM target t WHERE d.id = t.id AND t.status = 'failed'
    RETURNING d.id),
woken AS (
    SELECT pg_notify('booking_outbox', '') FROM again)
SELECT t.status AS was, (SELECT count(*) FROM again) > 0 AS resent,
       (SELECT count(*) FROM woken) AS woken
  FROM target t"""



def delivery(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "channel": row["channel"], "status": row["status"],
            "attempts": row["attempts"], "last_error": row["last_error"],
            "next_attempt_at": row["next_attempt_at"], "finished_at": row["finished_at"],
            "recipient": row["recipient_email"],
            "endpoint": ({"id": row["endpoint_id"], "url": row["endpoint_url"]}
                         if row["endpoint_id"] else None),
            "event": item(row)}


def deliveries(status: str | None, limit: Any = None, cursor: str | None = None
               ) -> dict[str, Any]:
    """Deliveries in one state (failed by default), newest first; and, whatever the
    state, the failing and disabled webhook endpoints (`failing_endpoints`)."""
    status = status or "failed"
    if status not in STATUSES:
        raise invalid("status", _("status is failed, pending or sent."))
    page = pagination.Keyset(limit, cursor, default=DEFAULT_PAGE, most=MAX_PAGE,
                             start=pagination.LAST)
    with db.connection() as conn:
        rows = conn.execute(DELIVERIES_SQL[status], page.params()).fetchall()
    failing = rows[0]["failing_endpoints"]
    rows, next_cursor = page.cut([r for r in rows if r["id"] is not None],
                                 lambda r: (r["created_at"], r["id"]))
    return {"status": status, "failing_endpoints": failing,
            "deliveries": [delivery(r) for r in rows], "next_cursor": next_cursor}


def resend(delivery_id: int, now: datetime) -> dict[str, Any]:
    """Put a failed delivery back in the queue."""
    with db.connection() as conn:
        row = conn.execute(RESEND_SQL, {"id": delivery_id, "now": now}).fetchone()
    if row is None:
        raise not_found(_("That delivery does not exist."))
    if not row["resent"]:
        raise BookingError("conflict", _("Only failed deliveries can be re-sent; this one is "
                                         "%(status)s.", status=row["was"]))
    return {"id": delivery_id, "status": "pending"}
