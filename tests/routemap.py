"""The app's routes, for tests that must cover every one of them (a new route
without an entry in their tables fails them)."""

from __future__ import annotations

import re

from booking import create_app

RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


def app_routes() -> list[tuple[str, str]]:
    """Every (method, rule) the app serves, HEAD and OPTIONS aside (Flask adds those)."""
    app = create_app({"DATABASE_URL": "postgresql:///unused", "SECRET_KEY": "x",
                      "VAR_DIR": "/nonexistent"})  # connects to nothing, writes nothing
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def url_for_rule(rule: str) -> str:
    """"/rooms/<id:room_id>" -> "/rooms/{room_id}", to be filled with str.format."""
    return RULE_VARIABLE.sub(r"{\1}", rule)


def writes(pages: bool) -> list[tuple[str, str]]:
    """The state-changing routes: page forms (pages=True) or the JSON API's."""
    return [(method, rule) for method, rule in app_routes()
            if method not in ("GET", "HEAD", "OPTIONS") and rule.startswith("/api/") != pages]


# A snapshot of everything a request could change, to show that it changed
# nothing: each table's rows (as text, hashed), in key order. api_tokens
# leaves out last_used_at, which a token's use touches once a minute whatever
# the answer; memo_versions (bumped by any change) and schema bookkeeping are
# not application state.
SNAPSHOT = {   # table: (what of a row, ordered by)
    "users": ("t", "t.id"),
    "rooms": ("t", "t.id"),
    "areas": ("t", "t.id"),
    "groups": ("t", "t.id"),
    "group_members": ("t", "t.group_id, t.user_id"),
    "bookings": ("t", "t.id"),
    "series": ("t", "t.id"),
    "series_skips": ("t", "t.series_id, t.start_at"),
    "api_tokens": ("(t.id, t.user_id, t.name, t.token_hash, t.revoked_at)", "t.id"),
    "sessions": ("t", "t.token_hash"),
    "sign_in_failures": ("t", "t.id"),
    "outbox": ("t", "t.id"),
    "audit_log": ("t", "t.id"),
    "idempotency_keys": ("t", "t.user_id, t.key"),
    "webhook_endpoints": ("t", "t.id"),
    "deliveries": ("t", "t.id"),
    "webhook_attempts": ("t", "t.id"),
    "delegates": ("t", "t.user_id, t.delegate_id"),
    "booking_invitations": ("t", "t.booking_id, t.user_id"),
    "release_sweeps": ("t", "t.id"),
    "booking_reminders": ("t", "t.booking_id"),
    "panel_tokens": ("t", "t.id"),
}
STATE_SQL = "SELECT " + ",\n       ".join(
    f"(SELECT coalesce(md5(string_agg({row}::text, ',' ORDER BY {order})), '') FROM {table} t)"
    f" AS {table}" for table, (row, order) in SNAPSHOT.items())


def state(conn) -> dict:
    return conn.execute(STATE_SQL).fetchone()


def routing_adapter():
    """The app's URL map, bound: `.match(path, method=..., return_rule=True)` names a URL's rule."""
    app = create_app({"DATABASE_URL": "postgresql:///unused", "SECRET_KEY": "x",
                      "VAR_DIR": "/nonexistent"})
    return app.url_map.bind("localhost")
