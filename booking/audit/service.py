"""The audit log (sql/007_idempotency_audit.sql), read back: newest first,
keyset-paginated, filtered by user, room and a range of (UTC) days.

The log is written by triggers in the transaction of each change; nothing
here writes to it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from booking import db, inputs, pagination
from booking.errors import invalid
from booking.i18n import _
from booking.times import UTC, date_range, rfc3339

DEFAULT_PAGE = 50
MAX_PAGE = 100

# Filters are fixed fragments chosen in Python (never values in the SQL), so
# each query has a plain plan: audit_log_actor + audit_log_user (a BitmapOr)
# for a user, audit_log_room for a room, audit_log_at otherwise; read
# backward from the cursor.
FILTERS = {
    "user": "(a.actor_id = %(user)s OR a.user_id = %(user)s)",
    "room": "a.room_id = %(room)s",
    "since": "a.at >= %(since)s",
    "until": "a.at < %(until)s",
}

LIST_SQL = """
SELECT a.id, a.at, a.action, a.target, a.before, a.after,
       a.actor_id, actor.name AS actor_name, a.user_id, owner.name AS user_name,
       a.room_id, r.name AS room_name
  FROM audit_log a
  LEFT JOIN users actor ON actor.id = a.actor_id
  LEFT JOIN users owner ON owner.id = a.user_id
  LEFT JOIN rooms r ON r.id = a.room_id
 WHERE {filters} (a.at, a.id) < (%(after_at)s, %(after_id)s)
 ORDER BY a.at DESC, a.id DESC
 LIMIT %(limit)s"""

# For the page's filter form: everyone and every room, in one statement.
CHOICES_SQL = """
SELECT (SELECT coalesce(json_agg(json_build_object('id', u.id, 'name', u.name, 'email', u.email)
                                 ORDER BY u.name, u.id), '[]') FROM users u) AS users,
       (SELECT coalesce(json_agg(json_build_object('id', r.id, 'name', r.name,
                                                   'timezone', r.timezone)
                                 ORDER BY r.name, r.id), '[]') FROM rooms r) AS rooms"""


def entries(args: Any) -> dict[str, Any]:
    """{"entries": [...], "next_cursor"}; 400 for a malformed filter.

    args: user, room (ids), from, to (UTC days, to included, at most 31 days;
    from alone is one day), limit (1-100, default 50), cursor.
    """
    params: dict[str, Any] = {}
    used = []
    if args.get("user") not in (None, ""):
        params["user"] = inputs.integer(args.get("user"), "user")
        used.append("user")
    if args.get("room") not in (None, ""):
        params["room"] = inputs.integer(args.get("room"), "room")
        used.append("room")
    if args.get("from") not in (None, "") or args.get("to") not in (None, ""):
        if args.get("from") in (None, ""):
            # `to` is the last day of a range: alone it has no first (README).
            raise invalid("from", _("%(last)s needs %(first)s, the first day.", last="to",
                                    first="from"))
        first, last = date_range(args.get("from"), args.get("to"))
        params["since"] = datetime.combine(first, time(), UTC)
        params["until"] = datetime.combine(last + timedelta(days=1), time(), UTC)
        used += ["since", "until"]
    page = pagination.Keyset(args.get("limit"), args.get("cursor"), default=DEFAULT_PAGE,
                             most=MAX_PAGE, start=pagination.LAST)
    sql = LIST_SQL.format(filters="".join(FILTERS[f] + " AND " for f in used))
    with db.connection() as conn:
        rows = conn.execute(sql, {**params, **page.params()}).fetchall()
    rows, next_cursor = page.cut(rows, lambda r: (r["at"], r["id"]))
    return {"entries": [_entry(row) for row in rows], "next_cursor": next_cursor}


def choices() -> dict[str, list]:
    with db.connection() as conn:
        return conn.execute(CHOICES_SQL).fetchone()


def _named(id_: int | None, name: str | None) -> dict | None:
    return None if id_ is None else {"id": id_, "name": name}


def _entry(row: dict) -> dict[str, Any]:
    return {"id": row["id"], "at": rfc3339(row["at"], UTC), "action": row["action"],
            "actor": _named(row["actor_id"], row["actor_name"]),
            "user": _named(row["user_id"], row["user_name"]),
            "room": _named(row["room_id"], row["room_name"]),
            "target": row["target"], "before": row["before"], "after": row["after"]}


def changes(entry: dict) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each field an entry changed; every field of a creation."""
    before, after = entry["before"] or {}, entry["after"] or {}
    return [(k, before.get(k), after.get(k)) for k in after
            if not entry["before"] or before.get(k) != after.get(k)]
