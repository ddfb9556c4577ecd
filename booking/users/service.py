"""People, for admins: who has an account, deactivating and reactivating them.

Deactivating someone (sql/012_people.sql) ends their sessions and revokes
their tokens in the same transaction, and gives them a new personal feed URL
(sql/090), so reactivating them later brings back none of them; their series stop booking further occurrences (`series extend`
skips inactive owners). What they already booked stays booked unless the
admin asks to cancel it too: then every booking of theirs from now on is
cancelled and their series with it, in the same statement, recorded as
cancelled by that admin: also a booking being made for them at that moment
(the statement waits for it), and one asked for after it is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from booking import db, inputs, pagination
from booking.auth import User, forget
from booking.errors import BookingError, invalid, not_found
from booking.i18n import _

PAGE, MOST = 50, 200

# users_pkey, newest first from the cursor; per person one index-only range of
# bookings_user_start (their live bookings from now on) and one of series_user
# (their series, the live ones counted).
LIST_SQL = """
SELECT u.id, u.email, u.name, u.role, u.active, u.home_building,
       rfc3339(u.created_at, 'UTC') AS created_at, u.created_at AS made_at,
       (SELECT count(*) FROM bookings b
         WHERE b.user_id = u.id AND b.cancelled_at IS NULL AND b.start_at >= %(now)s)::int
           AS future_bookings,
       (SELECT count(*) FROM series s
         WHERE s.user_id = u.id AND s.cancelled_at IS NULL)::int AS live_series
  FROM users u
 WHERE u.id < %(after_id)s
 ORDER BY u.id DESC
 LIMIT %(limit)s"""

# One statement: the change, and (when asked) the cancellations, so they
# commit or fail together, after every booking being made for the person has
# committed (set_person_active() in sql/schema.sql); the admin is named for
# the audit log.
UPDATE_SQL = """
SELECT * FROM set_person_active(%(id)s, %(active)s, %(cancel)s, %(actor)s, %(now)s)"""

FIELDS = frozenset({"active", "cancel_future_bookings"})


def people(now: datetime, limit: Any = None, cursor: str | None = None) -> dict[str, Any]:
    """Everyone, newest first, with how many bookings and series each still has:
    {"users", "next_cursor"}."""
    page = pagination.Keyset(limit, cursor, default=PAGE, most=MOST, start=pagination.LAST)
    with db.connection() as conn:
        rows = conn.execute(LIST_SQL, {"now": now, **page.params()}).fetchall()
    rows, next_cursor = page.cut(rows, lambda r: (r["made_at"], r["id"]))
    for row in rows:
        del row["made_at"]
    return {"users": rows, "next_cursor": next_cursor}


def update(admin: User, user_id: int, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Deactivate or reactivate someone, and (cancel_future_bookings) cancel what they
    booked from now on: {"user", "cancelled", "series_cancelled"}."""
    inputs.only(data, FIELDS)
    if not data:
        raise invalid("body", _("Send active, cancel_future_bookings or both."))
    active = inputs.boolean(data["active"], "active") if "active" in data else None
    cancel = inputs.boolean(data.get("cancel_future_bookings", False), "cancel_future_bookings")
    if user_id == admin.id and active is False:
        raise BookingError("forbidden", _("You cannot deactivate your own account: another "
                                          "administrator can."), field="active")
    with db.connection() as conn:
        row = conn.execute(UPDATE_SQL, {"id": user_id, "active": active, "cancel": cancel,
                                        "actor": admin.id, "now": now}).fetchone()
    if row is None:
        raise not_found(_("That person does not exist."))
    forget(user_id=user_id)   # this process at once; the others through NOTIFY
    cancelled, series = row.pop("cancelled"), row.pop("series_cancelled")
    return {"user": row, "cancelled": cancelled, "series_cancelled": series}
