"""EXPLAIN (ANALYZE, BUFFERS) of every statement the hot requests send, on the large dataset.

Each request goes through the real application (test client, real pool,
real database); the statements it sends are recorded with their parameters
and explained afterwards, exactly as sent. Writes are explained inside a
transaction that is rolled back, so the data is left as it was.

    python -m bench.explain DATABASE_URL     # prints Markdown (a bench database)
    (bench/run.py puts the same text into docs/performance.md)
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from booking import create_app, db, memo  # noqa: E402


def hot_requests(conn: psycopg.Connection, data: dict) -> list[tuple]:
    """(title, token, method, path, body, undo) for each hot request, on real rows of the data.

    `undo` is SQL that takes a write back before its statements are explained,
    so the plan shown is the one of the write that happened, not of a conflict."""
    room = conn.execute("SELECT min(id) + 5 AS id FROM rooms WHERE name LIKE 'Room %%'").fetchone()["id"]
    tz = conn.execute("SELECT timezone FROM rooms WHERE id = %s", (room,)).fetchone()["timezone"]
    today = datetime.now(timezone.utc).date()
    # A slot past the generated data, and past what bench/lua/common.lua books (days 83-178).
    day = today + timedelta(days=179)
    cancellable = conn.execute(
        "SELECT id FROM bookings WHERE title = 'bench cancel' AND cancelled_at IS NULL LIMIT 1"
    ).fetchone()
    reader, heavy, writer = data["tokens"][0], data["heavy_token"], data["writer_token"]
    requests = [
        ("Rooms overview (`GET /api/rooms`)", reader, "GET", "/api/rooms", None, None),
        ("A room's day (`GET /api/rooms/<id>/bookings?date=`)", reader, "GET",
         f"/api/rooms/{room}/bookings?date={today}", None, None),
        ("My bookings, the user with 1,000 upcoming (`GET /api/bookings/mine`)", heavy, "GET",
         "/api/bookings/mine", None, None),
        ("A room's free time (`GET /api/rooms/<id>/availability`)", reader, "GET",
         f"/api/rooms/{room}/availability?start={today + timedelta(days=3)}", None, None),
        ("Free rooms (`GET /api/rooms/free`)", reader, "GET",
         f"/api/rooms/free?start_time={today + timedelta(days=2)}T14:00&end_time="
         f"{today + timedelta(days=2)}T15:00&capacity=6&timezone={tz}", None, None),
        ("Create a booking (`POST /api/bookings`)", writer, "POST", "/api/bookings",
         {"room_id": room, "title": "explain", "start_time": f"{day}T10:00",
          "end_time": f"{day}T10:30"}, "DELETE FROM bookings WHERE title = 'explain'"),
    ]
    if cancellable:
        requests.append(("Cancel a booking (`DELETE /api/bookings/<id>`)", writer, "DELETE",
                         f"/api/bookings/{cancellable['id']}", None,
                         f"UPDATE bookings SET cancelled_at = NULL WHERE id = {cancellable['id']}"))
    return requests


def capture(app, token: str, method: str, path: str, body: dict | None) -> tuple[int, list]:
    """Send one request through the app; the statements it sent, with parameters."""
    sent: list[tuple[str, object]] = []
    original = db.CountingCursor.execute

    def recording(self, query, params=None, **kwargs):
        if query != "":
            sent.append((query, params))
        return original(self, query, params, **kwargs)

    db.CountingCursor.execute = recording
    try:
        response = app.test_client().open(path, method=method, json=body,
                                          headers={"Authorization": f"Bearer {token}"})
    finally:
        db.CountingCursor.execute = original
    return response.status_code, sent


AUTO_EXPLAIN = """
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
"""


def explain(url: str, query: str, params) -> str:
    """The plans with actual times and buffers, run in a transaction rolled back.

    auto_explain shows the plans of the statements inside functions too (book()
    is one line in a plain EXPLAIN); without it, plain EXPLAIN (ANALYZE, BUFFERS)."""
    plans: dict[str, list] = {}  # a nested statement run per row is shown once, with a count

    def note(diagnostic) -> None:
        text = diagnostic.message_primary or ""
        if "Query Text" in text:
            text = text.split("\n", 1)[-1]      # drop "duration: ... plan:"
        shape = re.sub(r"[0-9.]+", "", text)
        plans.setdefault(shape, [text, 0])[1] += 1

    with psycopg.connect(url, cursor_factory=psycopg.ClientCursor) as conn:  # a transaction
        try:
            conn.execute(AUTO_EXPLAIN)
            conn.add_notice_handler(note)
            conn.execute(query, params)
        except psycopg.errors.UndefinedFile:  # no auto_explain on this server
            conn.rollback()
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
            return "\n".join(r[0] for r in rows)
        conn.rollback()
    # auto_explain reports inner statements first; the statement sent comes last.
    return "\n\n".join(text if n == 1 else f"{text}\n(run {n} times; the first shown)"
                       for text, n in plans.values())


def report(url: str, data: dict) -> str:
    """Markdown: per hot request, its statements' plans. `data`: bench/run.py's prepare()."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "explain", "SLOW_REQUEST_MS": 10**6})
    with db.connect(url) as conn:
        requests = hot_requests(conn, data)
    sections = []
    seen: set[str] = set()
    try:
        for title, token, method, path, body, undo in requests:
            if method == "GET":  # once to warm the caches; then afresh, with no kept answer
                capture(app, token, method, path, body)
                memo.of(app).overview.forget()
            status, sent = capture(app, token, method, path, body)
            if undo:
                with db.connect(url) as conn:
                    conn.execute(undo)
            parts = [f"#### {title}\n\nAnswered {status} with {len(sent)} statement(s)."]
            for query, params in sent:
                first_line = " ".join(query.split())[:90]
                if query in seen:
                    parts.append(f"- `{first_line}…`: explained above.")
                    continue
                seen.add(query)
                parts.append(f"```\n{explain(url, query, params).strip()}\n```")
            sections.append("\n\n".join(parts))
    finally:
        app.extensions["booking.pool"].close()
        with db.connect(url) as conn:
            conn.execute("DELETE FROM bookings WHERE title = 'explain'")
    return "\n\n".join(sections)


if __name__ == "__main__":
    from bench.run import prepare
    print(report(sys.argv[1], prepare(sys.argv[1], write_lua=False)))
