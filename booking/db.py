"""The connection pool, the per-request SQL statement counter, migrations.

One `psycopg_pool.ConnectionPool` per process, opened on first use (so a
gunicorn worker forked from a master that imported the app opens its own).
Connections are in autocommit: a single statement is its own transaction, and
a read costs one round trip instead of three (BEGIN, SELECT, COMMIT). Writes
that need several steps are single statements too (data-modifying CTEs, or a
function in `sql/`), so they stay atomic without an explicit transaction.

Borrow a connection for one short piece of work and give it back at once:

    with db.connection() as conn:
        row = conn.execute(SQL, params).fetchone()
    return render(row)          # after the connection is back in the pool
"""

from __future__ import annotations

import atexit
import contextvars
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import orjson
import psycopg
import psycopg.types.json
from flask import current_app
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from booking.config import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"

# json and jsonb columns (a day's bookings, built by json_agg) are read by
# orjson: several times quicker than the json module, and the same values.
psycopg.types.json.set_json_loads(orjson.loads)


# -- counting statements -------------------------------------------------------

@dataclass
class Stats:
    """SQL work done on behalf of one request."""
    statements: int = 0
    seconds: float = 0.0


_stats: contextvars.ContextVar[Stats | None] = contextvars.ContextVar("sql_stats", default=None)


def start_counting() -> Stats:
    stats = Stats()
    _stats.set(stats)
    return stats


def current_stats() -> Stats | None:
    return _stats.get()


class CountingCursor(psycopg.Cursor):
    """A cursor that adds each statement it sends to the current request's Stats.

    Empty queries (the pool's liveness check) are not statements and are not
    counted.
    """

    def execute(self, query, params=None, **kwargs):
        stats = _stats.get()
        if stats is None or query == "":
            return super().execute(query, params, **kwargs)
        started = time.perf_counter()
        try:
            return super().execute(query, params, **kwargs)
        finally:
            stats.statements += 1
            stats.seconds += time.perf_counter() - started

    def executemany(self, query, params_seq, **kwargs):
        stats = _stats.get()
        started = time.perf_counter()
        try:
            return super().executemany(query, params_seq, **kwargs)
        finally:
            if stats is not None:
                stats.statements += 1
                stats.seconds += time.perf_counter() - started


class CountingConnection(psycopg.Connection):
    """Counts an explicit transaction as two statements (BEGIN and COMMIT)."""

    @contextmanager
    def transaction(self, *args, **kwargs):
        stats = _stats.get()
        if stats is not None:
            stats.statements += 2
        with super().transaction(*args, **kwargs) as tx:
            yield tx


# -- the pool --------------------------------------------------------------------

_open_lock = threading.Lock()


# While the database is away, the pool retries each lost connection with a
# doubling delay (1, 2, 4, 8 s ...) until it gives up after this many seconds;
# the next request that finds no connection starts a new attempt at once.
# Short, so the delay never grows long: after an outage of any length the
# next attempt is at most a second or two away, and the workers serve again
# within seconds of the database coming back (tests/faults). With psycopg's
# usual 5 minutes, a 15-second outage left workers answering 503 for another
# 10 seconds.
RECONNECT_TIMEOUT = 2.0

# Seconds to establish a connection: a server that does not answer at all
# (a host gone from the network) must not tie up the pool's workers for
# libpq's default of minutes. A connect_timeout in DATABASE_URL wins.
CONNECT_TIMEOUT = 3


class Pool(ConnectionPool):
    """psycopg's pool, noting when each connection comes back (see _check_if_idle).

    Noted here, in the returning thread, and not with the pool's `reset`
    callback: with one, every return goes through the pool's worker thread, a
    thread switch per request, and the connection reaches the pool only when
    that thread has run (it cost the day view about 10% of its throughput).
    """

    def putconn(self, conn: psycopg.Connection) -> None:
        conn._booking_returned = time.monotonic()  # type: ignore[attr-defined]
        super().putconn(conn)


def make_pool(config: dict) -> ConnectionPool:
    """Build (not open) the pool for this process."""
    # jit=off: short OLTP statements never win back JIT's compile time, and a
    # report whose generate_series the planner over-estimates lost ~0.5 s to it.
    options = (f"-c statement_timeout={int(config['STATEMENT_TIMEOUT_MS'])} -c TimeZone=UTC "
               "-c jit=off")
    kwargs = {
        "autocommit": True,
        "row_factory": dict_row,
        "cursor_factory": CountingCursor,
        "options": options,
        "application_name": "booking",
    }
    if "connect_timeout" not in conninfo_to_dict(config["DATABASE_URL"]):
        kwargs["connect_timeout"] = CONNECT_TIMEOUT
    return Pool(
        config["DATABASE_URL"],
        open=False,
        connection_class=CountingConnection,
        min_size=config["POOL_MIN_SIZE"],
        max_size=config["POOL_MAX_SIZE"],
        timeout=config["POOL_TIMEOUT"],
        max_waiting=config["POOL_MAX_WAITING"],
        # An empty query on borrow for a connection that sat idle (see
        # _check_if_idle): one broken by a database restart is replaced here
        # instead of failing the request.
        check=_check_if_idle(config["POOL_CHECK_IDLE_SECONDS"]),
        configure=_prepare_after(config["DB_PREPARE_THRESHOLD"]),
        reconnect_timeout=RECONNECT_TIMEOUT,
        kwargs=kwargs,
        name="booking",
    )


def _prepare_after(threshold: int | None):
    """Set how soon psycopg prepares a repeated statement on a new connection.

    Prepared, a hot read skips parsing and planning: never preparing cost the
    day view a third of its throughput (1,029 against 683 req/s, make bench;
    docs/performance.md). PgBouncer before 1.21 in transaction mode hands
    each transaction a different server connection, where the prepared
    statement does not exist: set DB_PREPARE_THRESHOLD=none there.
    """
    def configure(conn: psycopg.Connection) -> None:
        conn.prepare_threshold = threshold
    return configure


def _check_if_idle(idle_seconds: float):
    """A borrow-time check that pings only connections idle for `idle_seconds`.

    A ping (an empty query) on every borrow costs a round trip per borrow,
    two per request. A connection in steady use has just proved itself; one
    that sat idle may have been cut by a database restart or a firewall, and
    is replaced here instead of failing a request. 0 pings on every borrow.
    """
    def check(conn: psycopg.Connection) -> None:
        returned = getattr(conn, "_booking_returned", 0.0)
        if time.monotonic() - returned >= idle_seconds:
            ConnectionPool.check_connection(conn)
    return check


def init_app(app) -> None:
    """Give the app its pool (built here, opened on first use)."""
    app.extensions["booking.pool"] = make_pool(app.config)


def close(app) -> None:
    app.extensions["booking.pool"].close()


def pool() -> ConnectionPool:
    """This process's pool, opened on first use."""
    the_pool: ConnectionPool = current_app.extensions["booking.pool"]
    if the_pool.closed:
        with _open_lock:
            if the_pool.closed:
                the_pool.open(wait=False)
                atexit.register(the_pool.close)
    return the_pool


@contextmanager
def connection(timeout: float | None = None) -> Iterator[CountingConnection]:
    """Borrow a connection; it goes back to the pool when the block ends.

    Waits at most `timeout` seconds (POOL_TIMEOUT when None) for one, then
    raises PoolTimeout, which the app answers with a 503.
    """
    with pool().connection(timeout=timeout) as conn:
        yield conn


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A connection outside the pool, for command-line work."""
    return psycopg.connect(url, autocommit=True, row_factory=dict_row, **kwargs)


# -- migrations --------------------------------------------------------------------

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""

# Any constant will do; it keeps two `db upgrade` runs from interleaving.
MIGRATION_LOCK = 7_123_001


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """`sql/NNN_name.sql`, in order of NNN."""
    return sorted(p for p in sql_dir.glob("[0-9][0-9][0-9]_*.sql"))


def upgrade(url: str, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply the migrations not applied yet, each in its own transaction.

    Returns the names of those applied. Running it again applies nothing.
    """
    applied_now = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(MIGRATIONS_TABLE)
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for path in migration_files(sql_dir):
                if path.stem in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)",
                                 (path.stem,))
                applied_now.append(path.stem)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now
