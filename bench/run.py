"""`make bench`: the benchmark suite, on a million bookings, with real servers.

1. A PostgreSQL cluster for benchmarks under var/bench-pg, with two
   databases: `bench_large` (`demo --scale large`: 500 rooms, 5,000 users,
   ~1,000,000 bookings, ~100,000 upcoming) and `bench_quiet` (the same rooms
   with ~1,000 upcoming bookings, for the rooms overview comparison). Built
   once, rebuilt when the migrations change.
2. gunicorn with the production gunicorn.conf.py serving the app, and the
   floor (bench/floor.py: the day view's SQL behind a bare endpoint) beside it.
3. wrk with the Lua scripts in bench/lua, after a warm-up, per scenario.
4. pytest-benchmark micro-benchmarks (bench/test_micro.py).
5. docs/performance.md with every figure, the targets checked, and a chart.

    python -m bench.run [--seconds 20] [--only day_json,floor] [--no-doc]

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from booking import db, demo  # noqa: E402
from booking.localpg import Cluster  # noqa: E402

OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "latency-vs-connections.png"
APP_PORT, FLOOR_PORT, BOUNCER_PORT, PLAIN_PORT = 28201, 28202, 28203, 28204
CONNECTIONS = 64
SPIKE = 800
THREADS = 2
# gunicorn.conf.py's sync workers: two per core.
WORKERS = 2 * (os.cpu_count() or 1)

# name, lua script, what it measures, server ("app" or "floor"), read scenario?
SCENARIOS = [
    ("floor_plain", "floor_plain", "the plainest floor: bare Flask endpoint, one plain day "
     "query, rows through jsonify (bench/floor_plain.py)", "plain", True),
    ("floor", "floor", "bare Flask endpoint running the day view's SQL", "floor", True),
    ("day_json", "day_json", "a room's day, JSON (`GET /api/rooms/<id>/bookings?date=`)", "app", True),
    ("day_html", "day_html", "a room's day, HTML page (`GET /rooms/<id>?date=`), as a "
     "signed-in browser asks (session cookie)", "app", True),
    ("overview", "overview", "rooms overview, 500 rooms (`GET /api/rooms`)", "app", True),
    ("mine_heavy", "mine_heavy", "my bookings, user with 1,000 upcoming", "app", True),
    ("mine_light", "mine_light", "my bookings, user with 10 upcoming", "app", True),
    ("board_html", "board_html", "the planning board, 500 rooms, HTML (`GET /board`, today "
     "or one of the next 6 days), as a signed-in browser asks", "app", True),
    ("board_json", "board_json", "the planning board, 500 rooms, JSON (`GET /api/board`, today "
     "or one of the next 6 days)", "app", True),
    ("availability", "availability", "a room's free time, one day", "app", True),
    ("free_rooms", "free_rooms", "free-room search, 500 rooms (`GET /api/rooms/free`), by "
     "readers whose home building is in Berlin: the Berlin site's rooms are searched", "app", True),
    ("free_rooms_policies", "free_rooms_policies", "free-room search across the three areas "
     "and their policies (buffer and quota, weekday hours and notice, holidays and approval; "
     "`any_timezone=true`: 500 rooms checked against their policies, the searcher's quota "
     "bookings read)", "app", True),
    ("booking", "booking", "one booking by id", "app", True),
    ("panel", "panel", "a room's door panel page (`GET /rooms/<id>/panel`), signed in with the "
     "room's panel token (issue 17: p99 under 100 ms)", "app", True),
    ("create", "create", "create a booking in a free slot (64 people writing at once)", "app",
     False),
    ("edit", "edit", "move a booking 20 minutes later (`PATCH /api/bookings/<id>`, issue 16; "
     "64 people moving their own)", "app", False),
    ("conflict", "conflict", "create into a taken slot: the 409 with the bookings in the way "
     "and suggestions, other rooms ranked by the finder (issue 16)", "app", False),
    ("auto", "auto", "automatic assignment (`POST /api/bookings/auto`, 4 people, an hour; a "
     "409 `no_room` counts as an answer)", "app", False),
    ("cancel", "cancel", "cancel a booking", "app", False),
    ("mixed", "mixed", "mixed: 75% reads, 25% writes", "app", False),
]


@dataclass
class Result:
    name: str
    connections: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    requests: int
    statements: int | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# -- set-up ------------------------------------------------------------------------------

def ensure_tool(name: str, package: str) -> None:
    if shutil.which(name):
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        log(f"installing Debian's {package} ...")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    else:
        sys.exit(f"{name} is needed: install the {package} package")


def bench_cluster() -> Cluster:
    cluster = Cluster(ROOT / "var" / "bench-pg")
    cluster.start("shared_buffers=1GB", "effective_cache_size=4GB", "work_mem=16MB",
                  "max_connections=400", "jit=off")
    cluster.wait_ready()
    return cluster


def ensure_database(cluster: Cluster, name: str, scale: demo.Scale) -> str:
    """A database loaded at `scale`, rebuilt when missing or when the schema changed."""
    import psycopg

    wanted = [p.stem for p in db.migration_files()]
    url = cluster.url(name)
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        try:
            with psycopg.connect(url) as conn:
                done = [r[0] for r in conn.execute("SELECT version FROM schema_migrations "
                                                   "ORDER BY version")]
                marker = conn.execute("SELECT count(*) FROM bookings").fetchone()[0]
            if done == wanted and marker > 0:
                return url
        except psycopg.Error:
            pass
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    log(f"building {name} (about a minute) ...")
    cluster.create_database(name)
    db.upgrade(url)
    subprocess.run([sys.executable, "-c",
                    "import sys; from booking import create_app, demo; "
                    "app = create_app(); ctx = app.app_context(); ctx.push(); "
                    f"print(demo.load_large(scale=demo.Scale(**{scale.__dict__!r})))"],
                   check=True, env={**os.environ, "DATABASE_URL": url}, cwd=ROOT)
    return url


FIXTURES_SQL = """
-- Undo what earlier runs wrote, then make what this one needs.
DELETE FROM bookings WHERE title IN ('bench create', 'bench cancel', 'bench edit',
                                     'bench taken', 'bench auto');
DELETE FROM api_tokens WHERE name = 'bench';
DELETE FROM sessions;
-- The readers work in Berlin (their home building, as chosen on /account): the
-- free-room search looks where they are, among the Berlin site's rooms, at the
-- Berlin times it asks for. Without one, the finder prefers the building of
-- their latest bookings, on the large data mostly in another zone, where those
-- times are night and every search ends in suggestions.
UPDATE users SET home_building = 'Berlin A'
 WHERE email LIKE 'user%%@example.com' AND home_building IS DISTINCT FROM 'Berlin A';
"""

WRITERS_SQL = """
-- The writers book thousands of slots a day: as administrators, past the
-- large data's per-person quota and weekday hours (issue 18), as admins may;
-- never past the constraint, so their slots leave the rooms' buffers free.
-- WRITERS people write at once, as in an office: one person's writes under a
-- quota are decided one at a time (their quota lock), and counted against all
-- of their bookings that day and week, so a single writer making every booking
-- measured one person's queue, not the system. writer@example.com owns the
-- bookings the cancel scenario cancels.
INSERT INTO users (email, name, role)
SELECT 'writer' || coalesce(n::text, '') || '@example.com', 'Bench Writer ' || coalesce(n::text, ''),
       'admin'
  FROM (SELECT NULL::int AS n UNION ALL SELECT generate_series(1, %(writers)s)) w
ON CONFLICT ((lower(email))) DO UPDATE SET role = 'admin'"""

WRITERS = 64               # people writing at once (WRITERS_SQL)
CANCELLABLE = 60_000
EDITABLE = 30_000          # bookings the edit scenario moves, one each per request
# Inside the 180-day window (a move or a create beyond it is a 422), after the
# days create and auto use (83-168): edit 170-175, the taken hour on the first
# of days 176-179 that no site's policy closes (taken_day()).
EDIT_DAY, EDIT_SLOTS = 170, 10     # 10 bookings a day per room, 08:00-17:00 on the hour
TAKEN_DAYS = range(176, 180)


def taken_day() -> int:
    """A day (from today) when every site of the large data is open to staff: a
    weekday (New York's hours) that is none of Tokyo's closed dates."""
    closed = {day for _, policy in demo.LARGE_AREAS.values()
              for day in policy.get("closed_dates", [])}
    today = datetime.now(timezone.utc).date()
    return next(d for d in TAKEN_DAYS
                if (today + timedelta(days=d)).weekday() < 5
                and f"{today + timedelta(days=d):%m-%d}" not in closed)

# The servers' SECRET_KEY, so prepare() can sign the readers' session cookies.
SECRET_KEY = "bench-secret-key-not-for-production"


def session_cookie(session_token: str) -> str:
    """The session cookie a browser holds after signing in and loading a page: the
    session (as booking.auth keeps it) and its CSRF token, signed as the app signs."""
    from flask import Flask

    from booking import clock, http
    from booking.memo.kept import Bounded

    app = Flask("bench")
    app.secret_key = SECRET_KEY
    clock.init_app(app)   # cookies are dated by the app's clock (booking/http.py)
    signer = http.SessionInterface(Bounded(1)).get_signing_serializer(app)
    with app.app_context():
        return signer.dumps({"_user_id": session_token, "_fresh": True,
                             "csrf_token": hashlib.sha1(session_token.encode()).hexdigest()})


def prepare(url: str, write_lua: bool = True) -> dict:
    """Tokens for readers and writers, a browser session for each reader (the HTML
    scenario signs in like a browser) and bookings to cancel; returns what the Lua
    scripts need.

    Tokens are derived from emails, so every bench database accepts the same ones."""
    from booking.auth import TOKEN_PREFIX, hash_token

    with db.connect(url) as conn:
        conn.execute(FIXTURES_SQL)
        conn.execute(WRITERS_SQL, {"writers": WRITERS})
        users = conn.execute("""
            (SELECT id, email FROM users
              WHERE email IN ('alice@example.com', 'bob@example.com', 'writer@example.com'))
            UNION ALL
            (SELECT id, email FROM users WHERE email ~ '^writer[0-9]+@example.com$')
            UNION ALL
            (SELECT id, email FROM users WHERE email LIKE 'user%%@example.com' ORDER BY id LIMIT 200)
            """).fetchall()
        tokens: dict[str, str] = {}
        cookies: list[str] = []
        for user in users:
            token = f"{TOKEN_PREFIX}bench-{user['email']}"
            conn.execute("INSERT INTO api_tokens (user_id, name, token_hash, prefix) "
                         "VALUES (%s, 'bench', %s, %s)", (user["id"], hash_token(token), token[:9]))
            tokens[user["email"]] = token
            if user["email"].startswith("user"):   # readers also have a browser session
                session_token = f"bench-session-{user['email']}"
                conn.execute("INSERT INTO sessions (token_hash, user_id, expires_at) "
                             "VALUES (%s, %s, now() + interval '2 days')",
                             (hash_token(session_token), user["id"]))
                cookies.append(session_cookie(session_token))
        writer = next(u["id"] for u in users if u["email"] == "writer@example.com")
        by_email = {u["email"]: u["id"] for u in users}
        writer_ids = [by_email[f"writer{n}@example.com"] for n in range(1, WRITERS + 1)]
        room_min, room_max = conn.execute(
            "SELECT min(id) AS lo, max(id) AS hi FROM rooms WHERE name LIKE 'Room %%'").fetchone().values()
        # Bookings to cancel: 15-minute slots from day 200 on, past what the create scenario uses.
        first = conn.execute("""
            WITH made AS (
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
                SELECT %(lo)s + (k %% (%(hi)s - %(lo)s + 1)), %(writer)s, 'bench cancel',
                       date_trunc('day', now()) + interval '200 days'
                         + (k / (%(hi)s - %(lo)s + 1)) * interval '15 minutes',
                       date_trunc('day', now()) + interval '200 days'
                         + (k / (%(hi)s - %(lo)s + 1) + 1) * interval '15 minutes'
                  FROM generate_series(0, %(n)s - 1) k
                RETURNING id)
            SELECT min(id) AS first, max(id) AS last FROM made""",
                             {"lo": room_min, "hi": room_max, "writer": writer, "n": CANCELLABLE}).fetchone()
        # Bookings to move (issue 16): 15 minutes on each hour of each room's local
        # 08:00-17:00, from day EDIT_DAY on; the edit scenario moves booking k 20
        # minutes later, which nobody holds and which keeps the rooms' buffers.
        # Booking k is writer (k mod WRITERS + 1)'s, who moves it.
        rooms = room_max - room_min + 1
        edit = conn.execute("""
            WITH made AS (
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
                SELECT r.id, (%(writers)s::bigint[])[1 + k %% cardinality(%(writers)s::bigint[])],
                       'bench edit', t, t + interval '15 minutes'
                  FROM generate_series(0, %(n)s - 1) k
                  JOIN rooms r ON r.id = %(lo)s + (k %% %(rooms)s)
                 CROSS JOIN LATERAL (
                       SELECT ((current_date + %(day)s + (k / %(rooms)s) / %(slots)s)
                               + make_time(8, 0, 0)
                               + ((k / %(rooms)s) %% %(slots)s) * interval '1 hour')
                              AT TIME ZONE r.timezone AS t) x
                 ORDER BY k
                RETURNING id)
            SELECT min(id) AS first, max(id) AS last FROM made""",
                            {"lo": room_min, "rooms": rooms, "writers": writer_ids, "n": EDITABLE,
                             "day": EDIT_DAY, "slots": EDIT_SLOTS}).fetchone()
        taken = taken_day()
        # One taken hour per room (10:00-11:00 local on day TAKEN_DAY): the conflict
        # scenario books into it.
        conn.execute("""
            INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
            SELECT r.id, %(writer)s, 'bench taken', t, t + interval '1 hour'
              FROM rooms r
             CROSS JOIN LATERAL (SELECT ((current_date + %(day)s) + make_time(10, 0, 0))
                                        AT TIME ZONE r.timezone AS t) x
             WHERE r.id BETWEEN %(lo)s AND %(hi)s""",
                     {"lo": room_min, "hi": room_max, "writer": writer, "day": taken})
        # A door panel token for every room (issue 17), derived from the room's id like
        # the tokens above: the panel scenario signs in as the room's panel.
        conn.execute("""
            SELECT create_panel_token(r.id, NULL,
                                      sha256(convert_to('bkp_bench-room-' || r.id, 'UTF8')),
                                      'bkp_bench')
              FROM rooms r
             WHERE r.id BETWEEN %(lo)s AND %(hi)s
               AND NOT EXISTS (SELECT 1 FROM panel_tokens p WHERE p.room_id = r.id)""",
                     {"lo": room_min, "hi": room_max})
        # The booking scenario reads ids 1..max_booking_id: the demo's bookings, made
        # once with the database. What the bench makes is deleted and made again by
        # every run with new ids, so ids above the demo's have gaps (a 404 each).
        max_id = conn.execute("SELECT max(id) AS m FROM bookings "
                              "WHERE title NOT LIKE 'bench %%'").fetchone()["m"]
        conn.execute("VACUUM (ANALYZE) bookings")  # index-only scans need a fresh visibility map
    readers = [t for e, t in tokens.items() if e.startswith("user")]
    data = {
        "room_min": room_min, "room_max": room_max,
        "today_epoch": int(datetime.now(timezone.utc).replace(hour=12, minute=0, second=0,
                                                              microsecond=0).timestamp()),
        "tokens": readers, "cookies": cookies, "heavy_token": tokens["alice@example.com"],
        "light_token": tokens["bob@example.com"], "writer_token": tokens["writer@example.com"],
        "writer_tokens": [tokens[f"writer{n}@example.com"] for n in range(1, WRITERS + 1)],
        "cancel_first": first["first"], "cancel_count": first["last"] - first["first"] + 1,
        "edit_first": edit["first"], "edit_count": edit["last"] - edit["first"] + 1,
        "edit_day": EDIT_DAY, "edit_slots": EDIT_SLOTS, "taken_day": taken,
        "max_booking_id": max_id,
    }
    if write_lua:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "data.lua").write_text("bench = " + _lua(data) + "\n")
    return data


def _lua(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


# -- servers -------------------------------------------------------------------------------

class Server:
    """gunicorn with the production config, on a port of our own."""

    def __init__(self, name: str, url: str, port: int, app: str = "wsgi:app",
                 direct_url: str | None = None, **env: str):
        self.name, self.port, self.direct_url = name, port, direct_url or url
        self.base = f"http://127.0.0.1:{port}"
        # LISTEN (the auth cache) goes to PostgreSQL itself, as docs/scaling.md says.
        environment = {**os.environ, "DATABASE_URL": url, "LISTEN_DATABASE_URL": self.direct_url,
                       "SECRET_KEY": SECRET_KEY, "BIND": f"127.0.0.1:{port}",
                       "SLOW_REQUEST_MS": "1000000",
                       # statement counts are read from it (statements_per_get)
                       "SERVER_TIMING": "true", **env}
        self.log = open(OUT / f"{name}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app],
            cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/", timeout=1)
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
                continue
            return
        raise RuntimeError(f"{name} did not start; see {self.log.name}")

    def worker_rss_kb(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        sizes = []
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)))
        return sizes

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


WRITE_SCRIPTS = {"create", "cancel", "mixed", "edit", "auto"}

REARM_SQL = """
DELETE FROM bookings WHERE title IN ('bench create', 'bench auto');
UPDATE bookings SET cancelled_at = NULL WHERE title = 'bench cancel' AND cancelled_at IS NOT NULL;
UPDATE bookings SET start_at = start_at - interval '20 minutes',
                    end_at = end_at - interval '20 minutes'
 WHERE title = 'bench edit' AND extract(minute FROM start_at)::int = 20;
"""


_runs = 0


def rearm(server: Server, script: str) -> None:
    """Before a run that writes: free the slots earlier runs booked and make the
    bookings they cancelled live again."""
    if script in WRITE_SCRIPTS:
        with db.connect(server.direct_url) as conn:
            conn.execute(REARM_SQL)


def wrk(server: Server, script: str, connections: int, seconds: int,
        rearmed: bool = False) -> dict:
    """Run wrk; figures from the script's done() JSON line.

    Before a run that writes, the slots earlier runs booked are freed and the
    bookings they cancelled made live again, so every run finds the same
    free slots and cancellable bookings (a repeat would be a 409, an error).
    Requests still queued in gunicorn when wrk stops are answered after the
    next run's clean-up: consecutive runs take alternate halves of the slots
    and cancellable bookings (WRK_OFFSET), so those stragglers never collide.
    `rearmed`: the caller just did the clean-up (rearm())."""
    global _runs
    _runs += 1
    if not rearmed:
        rearm(server, script)
    threads = THREADS if connections >= THREADS else 1
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", f"bench/lua/{script}.lua", server.base]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "WRK_THREADS": str(threads),
                              "WRK_OFFSET": str((_runs % 2) * CANCELLABLE // 4)})
    line = next((l for l in out.stdout.splitlines() if l.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    figures = json.loads(line[5:])
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    figures["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    if figures.get("unexpected", -1) >= 0:
        # The script expects some non-2xx answers (a 409 on purpose): only the others count.
        figures["non_2xx"] = figures["unexpected"]
    return figures


def statements_of(server: Server, path: str, token: str | None = None,
                  cookie: str | None = None) -> int | None:
    """SQL statements a GET runs once the server's processes remember the user (the
    auth cache): the fewest of 8 tries, since the first in each process adds one."""
    headers = {"Authorization": f"Bearer {token}"} if token else {
        "Cookie": f"booking_session={cookie}"}
    counts = []
    for _ in range(8):
        request = urllib.request.Request(server.base + path, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as err:
            response = err
        match = re.search(r'db;desc="(\d+) statements"', response.headers.get("Server-Timing", ""))
        if match:
            counts.append(int(match.group(1)))
    return min(counts) if counts else None


# -- the run -------------------------------------------------------------------------------

def run(args) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    ensure_tool("wrk", "wrk")
    cluster = bench_cluster()
    large = ensure_database(cluster, "bench_large", demo.LARGE)
    quiet = ensure_database(cluster, "bench_quiet", demo.Scale(future_days=0, heavy_user_bookings=100,
                                                               light_user_bookings=10))
    prepare(quiet, write_lua=False)
    data = prepare(large)
    only = set(args.only.split(",")) if args.only else None
    results: list[Result] = []
    extra: dict = {}

    app = Server("app", large, APP_PORT)
    floor = Server("floor", large, FLOOR_PORT, app="bench.floor:app")
    plain = Server("floor_plain", large, PLAIN_PORT, app="bench.floor_plain:app")
    try:
        for name, script, _, where, _ in SCENARIOS:
            if only and name not in only:
                continue
            server = {"floor": floor, "plain": plain}.get(where, app)
            wrk(server, script, CONNECTIONS, args.warmup)
            figures = wrk(server, script, CONNECTIONS, args.seconds)
            results.append(_result(name, CONNECTIONS, figures))
            log(f"{name:13} {figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
                f"p99 {figures['p99_ms']:6.1f} ms  errors {_errors(figures)}")
        if not only or "spike" in only:
            figures = wrk(app, "mixed", SPIKE, args.seconds)
            results.append(_result("spike", SPIKE, figures))
            log(f"{'spike':13} {figures['rps']:8.0f} req/s  p99 {figures['p99_ms']:6.1f} ms  "
                f"errors {_errors(figures)}")
        if not only or "curve" in only:
            extra["curve"] = []
            for connections in (8, 32, 64, 128, 256, 512, 800):
                figures = wrk(app, "day_json", connections, max(5, args.seconds // 2))
                extra["curve"].append((connections, figures["p50_ms"], figures["p99_ms"], figures["rps"]))
        if not only or "unqueued" in only:
            # The write paths' latency targets, where nothing queues: one connection
            # per worker. At 64 connections their p95 and p99 are mostly the queue.
            extra["unqueued"] = []
            for name in ("edit", "conflict", "auto"):
                wrk(app, name, WORKERS, args.warmup)
                figures = wrk(app, name, WORKERS, max(5, args.seconds // 2))
                extra["unqueued"].append((name, figures["rps"], figures["p50_ms"],
                                          figures["p95_ms"], figures["p99_ms"], _errors(figures)))
                log(f"{name:13} at {WORKERS} connections {figures['rps']:6.0f} req/s  "
                    f"p95 {figures['p95_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms")
        if not only or "memory" in only:
            extra["memory"] = _memory(app)
        extra["statements"] = _statements(app, data)
    finally:
        app.stop()
        floor.stop()
        plain.stop()

    if not only or "variants" in only:
        extra["variants"] = _variants(cluster, large, args)
    if not only or "explain" in only:
        from bench import explain
        extra["explain"] = explain.report(large, data)

    if not only or "overview_quiet" in only:
        quiet_app = Server("app-quiet", quiet, APP_PORT)
        try:
            wrk(quiet_app, "overview", CONNECTIONS, args.warmup)
            figures = wrk(quiet_app, "overview", CONNECTIONS, args.seconds)
            results.append(_result("overview_quiet", CONNECTIONS, figures))
        finally:
            quiet_app.stop()

    micro = _micro() if not only or "micro" in only else []
    checks = check_targets(results, extra)
    for target, value, ok in checks:
        log(f"{'PASS' if ok else 'MISS'}  {target}: {value}")
    if not args.no_doc:
        write_doc(results, extra, checks, micro, args)
    return 0 if all(ok for _, _, ok in checks) else 1


def _result(name: str, connections: int, figures: dict) -> Result:
    return Result(name, connections, figures["rps"], figures["p50_ms"], figures["p95_ms"],
                  figures["p99_ms"], _errors(figures), figures["requests"])


def _errors(figures: dict) -> int:
    return (figures["connect_errors"] + figures["read_errors"] + figures["write_errors"]
            + figures["timeouts"] + figures["non_2xx"])


def _memory(app: Server) -> dict:
    """Worker RSS after 2,000 and after 20,000 mixed requests."""
    def drive(total: int) -> None:
        # wrk runs for a time, not a count: run it until the total is reached.
        done = 0
        while done < total:
            done += wrk(app, "mixed", 16, 2)["requests"]

    drive(2000)
    after_2k = app.worker_rss_kb()
    drive(18000)
    after_20k = app.worker_rss_kb()
    return {"after_2k_kb": after_2k, "after_20k_kb": after_20k}


# label, environment of the app server (gunicorn.conf.py reads WORKER_CLASS,
# WEB_CONCURRENCY and THREADS).
VARIANTS = [
    ("sync, 4 workers (the default on 2 cores: 2 per core)", {}),
    ("sync, 2 workers", {"WEB_CONCURRENCY": "2"}),
    ("sync, 8 workers", {"WEB_CONCURRENCY": "8"}),
    ("gthread, 2 workers × 8 threads, pool 8",
     {"WORKER_CLASS": "gthread", "WEB_CONCURRENCY": "2", "THREADS": "8"}),
    ("gthread, 2 workers × 16 threads, pool 16",
     {"WORKER_CLASS": "gthread", "WEB_CONCURRENCY": "2", "THREADS": "16",
      "POOL_MAX_SIZE": "16"}),
    ("gthread, 4 workers × 4 threads, pool 4",
     {"WORKER_CLASS": "gthread", "WEB_CONCURRENCY": "4", "THREADS": "4", "POOL_MAX_SIZE": "4"}),
    ("the default, statements never prepared (DB_PREPARE_THRESHOLD=none)",
     {"DB_PREPARE_THRESHOLD": "none"}),
    ("the default, through PgBouncer (transaction mode, DB_PREPARE_THRESHOLD=none)",
     {"DB_PREPARE_THRESHOLD": "none", "_bouncer": "1"}),
]


def _variants(cluster: Cluster, url: str, args) -> list[dict]:
    """Server settings side by side: day view JSON and the mixed scenario on each."""
    seconds = max(5, args.seconds // 2)
    found = []
    for label, env in VARIANTS:
        env = dict(env)
        bouncer = None
        if env.pop("_bouncer", None):
            bouncer = PgBouncer(cluster, url)
            server = Server("variant", bouncer.url, APP_PORT, direct_url=url, **env)
        else:
            server = Server("variant", url, APP_PORT, **env)
        try:
            row = {"label": label}
            for script in ("day_json", "mixed"):
                wrk(server, script, CONNECTIONS, args.warmup)
                figures = wrk(server, script, CONNECTIONS, seconds)
                row[script] = {"rps": figures["rps"], "p99_ms": figures["p99_ms"],
                               "errors": _errors(figures)}
            log(f"{label}: day_json {row['day_json']['rps']:.0f} req/s, "
                f"mixed {row['mixed']['rps']:.0f} req/s p99 {row['mixed']['p99_ms']:.1f} ms")
            found.append(row)
        finally:
            server.stop()
            if bouncer:
                bouncer.stop()
    return found


class PgBouncer:
    """Debian's pgbouncer in transaction mode in front of the bench cluster."""

    def __init__(self, cluster: Cluster, url: str):
        ensure_tool("pgbouncer", "pgbouncer")
        from psycopg.conninfo import conninfo_to_dict
        dbname = conninfo_to_dict(url)["dbname"]
        self.dir = cluster.root / "pgbouncer"
        self.dir.mkdir(exist_ok=True)
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(f"""[databases]
{dbname} = host={cluster.sockdir} dbname={dbname} user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {BOUNCER_PORT}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir / 'users.txt'}
pool_mode = transaction
default_pool_size = 32
max_client_conn = 1000
ignore_startup_parameters = options,application_name
logfile = {self.dir / 'pgbouncer.log'}
pidfile = {self.dir / 'pgbouncer.pid'}
""")
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        command = ["pgbouncer", str(ini)]
        if os.geteuid() == 0:  # pgbouncer will not run as root
            shutil.chown(self.dir, "postgres")
            for f in self.dir.iterdir():
                shutil.chown(f, "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.url = f"postgresql://postgres@127.0.0.1:{BOUNCER_PORT}/{dbname}"
        deadline = time.monotonic() + 10
        while True:
            try:
                with db.connect(self.url) as conn:
                    conn.execute("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start; see {self.dir / 'pgbouncer.log'}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _statements(app: Server, data: dict) -> dict:
    room, reader = data["room_min"] + 5, data["tokens"][0]
    day = datetime.now(timezone.utc).date().isoformat()
    tomorrow = (datetime.now(timezone.utc).date() + timedelta(days=1)).isoformat()
    return {
        "day_json": statements_of(app, f"/api/rooms/{room}/bookings?date={day}", reader),
        "day_html": statements_of(app, f"/rooms/{room}?date={day}", cookie=data["cookies"][0]),
        "overview": statements_of(app, "/api/rooms", reader),
        "overview_quiet": statements_of(app, "/api/rooms", reader),
        "mine_heavy": statements_of(app, "/api/bookings/mine", data["heavy_token"]),
        "mine_light": statements_of(app, "/api/bookings/mine", data["light_token"]),
        "availability": statements_of(app, f"/api/rooms/{room}/availability?start={day}", reader),
        "board_html": statements_of(app, "/board", cookie=data["cookies"][0]),
        "board_json": statements_of(app, "/api/board", reader),
        "free_rooms": statements_of(app, f"/api/rooms/free?start_time={tomorrow}T14:00&"
                                    f"end_time={tomorrow}T15:00&timezone=Europe/Berlin", reader),
        "free_rooms_policies": statements_of(
            app, f"/api/rooms/free?start_time={tomorrow}T10:00&end_time={tomorrow}T11:00&"
            "timezone=Europe/Berlin&any_timezone=true&capacity=4", reader),
        "booking": statements_of(app, "/api/bookings/1", reader),
        # Writes, once the user is remembered as above (the first request of a
        # user in a process adds the lookup: 3 and 2, tests/test_budgets.py).
        "create": 2, "cancel": 1, "mixed": None, "spike": None, "floor": 1, "floor_plain": 1,
    }


def _micro() -> list[dict]:
    target = OUT / "micro.json"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "bench/test_micro.py", "--benchmark-only", f"--benchmark-json={target}",
                    "-o", "testpaths=bench"], cwd=ROOT, check=True)
    found = json.loads(target.read_text())["benchmarks"]
    return [{"name": b["name"], "median_us": b["stats"]["median"] * 1e6,
             "ops": b["stats"]["ops"]} for b in found]


# -- targets -------------------------------------------------------------------------------

# Reads whose p99 target is not the usual 100 ms (issue 19: the board's HTML of
# 500 rooms under 150 ms; its twin keeps 100).
P99_LIMIT_MS = {"board_html": 150}


def check_targets(results: list[Result], extra: dict) -> list[tuple[str, str, bool]]:
    by = {r.name: r for r in results}
    checks = []

    def ratio(a: str, b: str, field: str = "rps") -> float | None:
        if a in by and b in by and getattr(by[b], field):
            return getattr(by[a], field) / getattr(by[b], field)
        return None

    if (x := ratio("day_json", "floor")) is not None:
        checks.append(("day view JSON ≥ 70% of the floor's req/s", f"{x:.0%}", x >= 0.70))
    if (x := ratio("day_json", "floor_plain")) is not None:
        checks.append(("day view JSON ≥ 70% of the plainest floor's req/s", f"{x:.0%}",
                       x >= 0.70))
    if (x := ratio("day_html", "floor")) is not None:
        checks.append(("day view HTML ≥ 50% of the floor's req/s", f"{x:.0%}", x >= 0.50))
    if (x := ratio("mine_heavy", "mine_light", "p50_ms")) is not None:
        checks.append(("my bookings p50, 1,000 vs 10 upcoming, within 1.2×", f"{x:.2f}×", x <= 1.2))
    if (x := ratio("overview", "overview_quiet", "p50_ms")) is not None:
        checks.append(("rooms overview p50, 100,000 vs 1,000 upcoming, within 1.2×", f"{x:.2f}×",
                       x <= 1.2))
    for name, _, _, where, read in SCENARIOS:
        if read and where == "app" and name in by:
            r = by[name]
            limit = P99_LIMIT_MS.get(name, 100)
            checks.append((f"{name}: p99 under {limit} ms, no errors",
                           f"p99 {r.p99_ms:.1f} ms, {r.errors} errors",
                           r.p99_ms < limit and r.errors == 0))
    if "create" in by:
        r = by["create"]
        checks.append(("create: ≥ 300 bookings/s, p99 under 150 ms",
                       f"{r.rps:.0f}/s, p99 {r.p99_ms:.1f} ms, {r.errors} errors",
                       r.rps >= 300 and r.p99_ms < 150 and r.errors == 0))
    # Issue 16's budgets: edit p99 < 100 ms; the 409 path p95 < 50 ms; auto-assign p95 < 100 ms.
    for name, field, limit in (("edit", "p99_ms", 100), ("conflict", "p95_ms", 50),
                               ("auto", "p95_ms", 100)):
        if name in by:
            r = by[name]
            value = getattr(r, field)
            checks.append((f"{name}: {field[:3]} under {limit} ms, no unexpected answers",
                           f"{field[:3]} {value:.1f} ms, {r.errors} errors",
                           value < limit and r.errors == 0))
    if "spike" in by and "mixed" in by:
        s, m = by["spike"], by["mixed"]
        checks.append(("spike (800 connections, mixed): no errors, ≥ 85% of the 64-connection req/s",
                       f"{s.errors} errors, {s.rps / m.rps:.0%}", s.errors == 0 and s.rps >= 0.85 * m.rps))
    if "memory" in extra:
        before, after = extra["memory"]["after_2k_kb"], extra["memory"]["after_20k_kb"]
        growth = max(a - b for a, b in zip(after, before)) / 1024 if before and after else 0
        checks.append(("worker RSS after 20,000 mixed requests within 10 MB of after 2,000",
                       f"+{growth:.1f} MB", growth <= 10))
    return checks


# -- the report ------------------------------------------------------------------------------

def write_doc(results, extra, checks, micro, args) -> None:
    machine = _machine()
    rows = "\n".join(
        f"| {r.name} | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
        f"{r.p99_ms:.1f} | {r.errors} | {extra.get('statements', {}).get(r.name, '') or '—'} |"
        for r in results)
    descriptions = {name: text for name, _, text, _, _ in SCENARIOS}
    descriptions.update(spike="mixed at 800 connections", overview_quiet="rooms overview, 500 rooms, "
                        "only ~1,000 upcoming bookings in the database")
    scenario_list = "\n".join(f"- **{r.name}**: {descriptions.get(r.name, '')}" for r in results)
    target_rows = "\n".join(f"| {t} | {v} | {'yes' if ok else '**no**'} |" for t, v, ok in checks)
    micro_rows = "\n".join(f"| {m['name']} | {m['median_us']:.1f} | {m['ops']:,.0f} |" for m in micro)
    curve = extra.get("curve", [])
    if curve:
        _chart(curve)
    curve_rows = "\n".join(f"| {c} | {p50:.1f} | {p99:.1f} | {rps:,.0f} |" for c, p50, p99, rps in curve)
    unqueued_rows = "\n".join(f"| {n} | {rps:,.0f} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {e} |"
                               for n, rps, p50, p95, p99, e in extra.get("unqueued", []))
    memory = extra.get("memory", {})
    variant_rows = "\n".join(
        f"| {v['label']} | {v['day_json']['rps']:,.0f} | {v['day_json']['p99_ms']:.1f} | "
        f"{v['mixed']['rps']:,.0f} | {v['mixed']['p99_ms']:.1f} | "
        f"{v['day_json']['errors'] + v['mixed']['errors']} |" for v in extra.get("variants", []))
    generated = f"""<!-- generated by `make bench` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC); edit bench/run.py, not this block -->
## Latest run

Machine: {machine}. Command: `make bench` (`python -m bench.run --seconds {args.seconds}`),
wrk with {THREADS} threads, {args.warmup} s warm-up then {args.seconds} s per scenario, on the same
machine as the servers. gunicorn with `gunicorn.conf.py` (sync workers, 2 per core: 4 here),
the floor with the same; PostgreSQL {_pg_version()} with shared_buffers 1 GB. Data: `demo --scale
large` (500 rooms in 3 zones, 5,000 users, ~1,000,000 bookings, ~100,000 upcoming).

{scenario_list}

| scenario | connections | req/s | p50 ms | p95 ms | p99 ms | errors | SQL statements |
|---|---|---|---|---|---|---|---|
{rows}

### Targets

| target | measured | met |
|---|---|---|
{target_rows}

### Latency against connections (day view JSON)

![latency against connections](latency-vs-connections.png)

| connections | p50 ms | p99 ms | req/s |
|---|---|---|---|
{curve_rows}

### The write paths without a queue

The edit, conflict and auto scenarios at {WORKERS} connections, one per worker,
{max(5, args.seconds // 2)} s each after a warm-up: the time a request takes when it does not wait
behind others. Their targets are judged at 64 connections, above.

| scenario | req/s | p50 ms | p95 ms | p99 ms | errors |
|---|---|---|---|---|---|
{unqueued_rows}

### Server settings compared

Each row is its own gunicorn, {CONNECTIONS} connections, {max(5, args.seconds // 2)} s per scenario
after a warm-up. The defaults in `gunicorn.conf.py` and `booking/config.py` are chosen from this table.

| settings | day JSON req/s | day JSON p99 ms | mixed req/s | mixed p99 ms | errors |
|---|---|---|---|---|---|
{variant_rows}

### Worker memory

RSS per worker after 2,000 mixed requests: {memory.get('after_2k_kb')} kB; after 20,000:
{memory.get('after_20k_kb')} kB.

### Micro-benchmarks (pytest-benchmark, `bench/test_micro.py`)

| benchmark | median µs | ops/s |
|---|---|---|
{micro_rows}

### Plans of the hot requests

Every statement each request sends, with `EXPLAIN (ANALYZE, BUFFERS)` as
auto_explain reports it (so statements inside `book()` and triggers show too),
on the same data; writes rolled back (`bench/explain.py`).

{extra.get("explain", "(not run)")}
<!-- end of generated block -->"""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else "# Performance\n\n"
    start, end = "<!-- generated by `make bench`", "<!-- end of generated block -->"
    if start in text:
        text = text[:text.index(start)] + generated + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + generated + "\n"
    DOC.write_text(text)
    log(f"wrote {DOC.relative_to(ROOT)}")


def _chart(curve) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    connections = [c[0] for c in curve]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(connections, [c[1] for c in curve], marker="o", label="p50")
    ax.plot(connections, [c[2] for c in curve], marker="o", label="p99")
    ax.set_xscale("log", base=2)
    ax.set_xticks(connections, [str(c) for c in connections])
    ax.set_xlabel("concurrent connections (wrk)")
    ax.set_ylabel("latency, ms")
    ax.set_title("Day view JSON: latency against connections")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(CHART)
    plt.close(fig)


def _machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // 1024 // 1024
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _pg_version() -> str:
    out = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout
    found = re.search(r"\d+\.\d+", out)
    return found.group(0) if found else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 20)))
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--only", help="comma-separated scenario names (also: spike, curve, unqueued, memory, micro, overview_quiet)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
