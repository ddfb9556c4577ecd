"""Fixtures: a real PostgreSQL the test run starts itself, a fresh database per
test, the app, clients signed in as someone, and a clock that stands still.

The cluster is private to the run (a temporary directory, Unix socket only,
fsync off: a crash loses nothing we care about). Each test gets its own
database, copied from a migrated template in a few milliseconds.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from werkzeug.security import generate_password_hash

from booking import close, create_app, db
from booking.localpg import Cluster

UTC = timezone.utc
PASSWORD = "correct horse battery"
# A cheap hash for test accounts: the real default (scrypt) costs ~50 ms a user.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")

# Monday 1 March 2027, 08:00 UTC = 09:00 in Berlin, 03:00 in New York.
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster():
    root = Path(tempfile.mkdtemp(prefix="booking-test-pg-", dir="/tmp"))
    cluster = Cluster(root)
    # booking.bump_everything: see sql/011_memo.sql (the app's clock is frozen, the database's is not).
    cluster.start("fsync=off", "synchronous_commit=off", "full_page_writes=off",
                  "max_connections=400", "booking.bump_everything=on")
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def template_url(pg_cluster):
    url = pg_cluster.create_database("booking_template")
    db.upgrade(url)
    return url


def _admin(pg_cluster):
    return psycopg.connect(pg_cluster.url("postgres"), autocommit=True)


@pytest.fixture
def database_url(pg_cluster, template_url):
    name = f"test_{os.getpid()}_{next(_counter)}"
    with _admin(pg_cluster) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE booking_template')
    yield pg_cluster.url(name)
    with _admin(pg_cluster) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "VAR_DIR": str(tmp_path),
        "POOL_MIN_SIZE": 1,
        "POOL_MAX_SIZE": 4,
        "POOL_TIMEOUT": 2.0,
        # Tests read SQL statement counts from Server-Timing, whoever asks.
        "SERVER_TIMING": True,
    })
    app.config["TESTING"] = True
    app.extensions["booking.clock"] = lambda: app.config["NOW"]
    app.config["NOW"] = NOW
    yield app
    close(app)


@pytest.fixture
def conn(database_url):
    """A direct connection to the test database, for arranging and checking data."""
    with db.connect(database_url) as connection:
        yield connection


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# -- people and rooms --------------------------------------------------------------

class Factory:
    """Makes users, rooms and bookings straight in the database."""

    def __init__(self, conn):
        self.conn = conn

    def user(self, name="Alice", role="staff", email=None, active=True) -> dict:
        email = email or f"{name.lower().replace(' ', '.')}@example.com"
        return self.conn.execute(
            "INSERT INTO users (email, name, role, password_hash, active) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id, email, name, role",
            (email, name, role, PASSWORD_HASH, active)).fetchone()

    def room(self, name="Spree", timezone="Europe/Berlin", capacity=6, opens="09:00",
             closes="18:00", building="HQ", floor=1, equipment=(), active=True) -> dict:
        return self.conn.execute(
            "INSERT INTO rooms (name, timezone, capacity, opens, closes, building, floor, "
            "equipment, active) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id, name, timezone",
            (name, timezone, capacity, opens, closes, building, floor, list(equipment),
             active)).fetchone()

    def booking(self, room, user, start: datetime, end: datetime, title="Meeting",
                cancelled=False) -> dict:
        return self.conn.execute(
            "INSERT INTO bookings (room_id, user_id, title, start_at, end_at, cancelled_at) "
            "VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id",
            (room["id"], user["id"], title, start, end, cancelled)).fetchone()

    def token(self, user) -> str:
        from booking.auth import TOKEN_PREFIX, hash_token
        plain = f"{TOKEN_PREFIX}test-{user['id']}-{next(_counter)}"
        self.conn.execute("INSERT INTO api_tokens (user_id, name, token_hash, prefix) "
                          "VALUES (%s, 'test', %s, %s)", (user["id"], hash_token(plain), plain[:9]))
        return plain


@pytest.fixture
def make(conn):
    return Factory(conn)


@pytest.fixture
def alice(make):
    return make.user("Alice")


@pytest.fixture
def bob(make):
    return make.user("Bob")


@pytest.fixture
def admin(make):
    return make.user("Ada", role="admin", email="admin@example.com")


@pytest.fixture
def berlin(make):
    """A room in Berlin, open 09:00-18:00."""
    return make.room("Spree", "Europe/Berlin")


@pytest.fixture
def new_york(make):
    return make.room("Hudson", "America/New_York", capacity=10)


class Api:
    """A JSON client that authenticates with a bearer token."""

    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def open(self, url, method="GET", json=None, headers=None, **kw):
        return self.client.open(url, method=method, json=json,
                                headers={**self.headers, **(headers or {})}, **kw)

    def get(self, url, **kw):
        return self.open(url, "GET", **kw)

    def post(self, url, json=None, **kw):
        return self.open(url, "POST", json=json, **kw)

    def patch(self, url, json=None, **kw):
        return self.open(url, "PATCH", json=json, **kw)

    def delete(self, url, **kw):
        return self.open(url, "DELETE", **kw)


@pytest.fixture
def api_as(app, make):
    """api_as(user) -> a JSON client for that user (its own test client)."""
    def for_user(user):
        return Api(app.test_client(), make.token(user))
    return for_user


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """A session-cookie client that fills in CSRF tokens like a browser would."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def login(self, email, password=PASSWORD):
        page = self.client.get("/login")
        self.csrf = CSRF_INPUT.search(page.get_data(as_text=True)).group(1)
        return self.client.post("/login", data={"email": email, "password": password,
                                                "csrf_token": self.csrf})

    def get(self, url, **kw):
        response = self.client.get(url, **kw)
        found = CSRF_META.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, url, data=None, **kw):
        if self.csrf is None:
            self.get("/login")
        return self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kw)

    def json(self, method, url, json=None):
        """A cookie-authenticated JSON call, CSRF header included."""
        return self.client.open(url, method=method, json=json,
                                headers={"X-CSRFToken": self.csrf or ""})


@pytest.fixture
def browser_as(app):
    """browser_as(user) -> a signed-in page client."""
    def for_user(user):
        b = Browser(app.test_client())
        response = b.login(user["email"])
        assert response.status_code == 302, response.get_data(as_text=True)
        b.get("/")
        return b
    return for_user


# -- a real server -----------------------------------------------------------------

def tomorrow_at(tz_name: str, hour: int, minute: int = 0) -> datetime:
    """Tomorrow (in `tz_name`) at hour:minute there, by the real clock: the dates a
    live server, which runs on the real clock, is asked for (tests/test_live_dates.py)."""
    from datetime import timedelta

    from booking.times import zone

    tz = zone(tz_name)
    day = datetime.now(timezone.utc).astimezone(tz).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def free_port() -> int:
    """A free TCP port below the range the kernel hands out for outgoing connections,
    from this xdist worker's own share of 20000-32000: a port is only checked free
    here, and bound by a server a moment later, so two workers must never pick
    the same one (nor one another worker counts on nobody listening at)."""
    import random
    import socket

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    share = 12000 // max(workers, 1)
    low = 20000 + (worker % max(workers, 1)) * share
    for _ in range(100):
        port = random.randint(low, low + share - 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class LiveServer:
    """gunicorn with the production config, serving the test database."""

    def __init__(self, database_url: str, tmp_path: Path, workers: int = 2, threads: int = 8,
                 extra_env: dict | None = None):
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "live-test-secret",
               "VAR_DIR": str(tmp_path), "PORT": str(self.port),
               # gthread here, not production's sync workers: many requests in
               # flight at once make the race tests real races.
               "WORKER_CLASS": "gthread",
               "WEB_CONCURRENCY": str(workers), "THREADS": str(threads),
               "POOL_MAX_SIZE": str(threads),
               # Patient, unlike production's 2 s and 5 s: the race tests queue
               # requests behind row locks (and the fault tests behind a table
               # lock) on a machine that may be busy with other tests, and their
               # answers must be the races' outcomes, not a 503 for waiting.
               "POOL_TIMEOUT": "30", "STATEMENT_TIMEOUT_MS": "60000",
               **(extra_env or {})}
        root = Path(__file__).resolve().parent.parent
        self.log = open(tmp_path / "gunicorn.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py")],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 20.0) -> None:
        import time
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.process.returncode}")
            try:
                urllib.request.urlopen(self.url + "/login", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not come up")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:
            self.process.kill()
        self.log.close()


@pytest.fixture
def live_server(database_url, tmp_path):
    server = LiveServer(database_url, tmp_path)
    yield server
    server.stop()


_MARKERS = itertools.count()


def heard_so_far(app, conn) -> None:
    """Until this process has heard every notification sent so far (a change made
    here through `conn` reaches the app's listening connection a moment later):
    a marker sent after them is heard after them (each call its own marker)."""
    from booking import memo
    heard: set[str] = set()
    marker = f"marker-{next(_MARKERS)}"
    channel = memo.of(app).channel
    channel.on("test", heard.add)
    conn.execute("SELECT pg_notify('booking_memo', %s)", (f"test:{marker}",))
    deadline = time.monotonic() + 30          # for a failure only; it takes milliseconds
    while marker not in heard:
        assert channel.poll(), "the process is not listening"
        assert time.monotonic() < deadline, "the marker was never heard"
        time.sleep(0.002)
