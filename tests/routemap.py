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


# A snapshot of everything a request could change, to show that it changed nothing.
STATE_SQL = """
SELECT (SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t.id)), '') FROM users t) AS users,
       (SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t.id)), '') FROM rooms t) AS rooms,
       (SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t.id)), '') FROM bookings t) AS bookings,
       (SELECT coalesce(md5(string_agg((t.id, t.revoked_at)::text, ',' ORDER BY t.id)), '')
          FROM api_tokens t) AS tokens,
       (SELECT count(*) FROM sessions) AS sessions,
       (SELECT count(*) FROM sign_in_failures) AS sign_in_failures"""


def state(conn) -> dict:
    return conn.execute(STATE_SQL).fetchone()


def routing_adapter():
    """The app's URL map, bound: `.match(path, method=..., return_rule=True)` names a URL's rule."""
    app = create_app({"DATABASE_URL": "postgresql:///unused", "SECRET_KEY": "x",
                      "VAR_DIR": "/nonexistent"})
    return app.url_map.bind("localhost")
