"""Who a session or token belongs to, remembered in each process until it changes.

Every request is authenticated, and looking its user up is a statement of its
own: on a room's day, half of the request's SQL. So each process keeps the
users it looked up, keyed by the token's hash, for up to AUTH_CACHE_SECONDS
(never past a session's expiry), and forgets one the moment the database says
it changed:

- triggers (sql/009_auth_notify.sql) NOTIFY booking_auth when a session ends,
  a token is revoked or a user changes;
- the process keeps one connection LISTENing on that channel and, before each
  lookup, reads what has arrived on it: a non-blocking read of its socket, no
  statement and no round trip;
- a change made by this process is forgotten here at once (`forget`), without
  waiting for its notification;
- while the listening connection is not up (the first request of a process, a
  restarting database) nothing is kept or served from here: every request
  asks the database, as with AUTH_CACHE_SECONDS=0.

So a session ended or a token revoked elsewhere stops working as soon as its
notification arrives: on one machine, well under a millisecond after the
commit. A lookup that raced with a change is not kept: `generation` counts
the changes seen, and an answer read before one is dropped.

The listening connection must reach PostgreSQL itself (LISTEN_DATABASE_URL):
a transaction-mode pooler such as PgBouncer does not keep a listening session.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import psycopg

log = logging.getLogger("booking.auth")

CHANNEL = "booking_auth"
MAX_ENTRIES = 10_000
RECONNECT_SECONDS = 5.0


class AuthCache:
    """One process's remembered users, and the connection that keeps them true."""

    def __init__(self, url: str | None, seconds: float):
        self.url = url
        self.seconds = seconds
        self._entries: dict[bytes, tuple[float, dict[str, Any]]] = {}
        self._generation = 0
        self._listener: psycopg.Connection | None = None
        self._pid = os.getpid()
        self._next_attempt = 0.0
        self._lock = threading.Lock()   # gthread workers share one cache

    # -- lookups -------------------------------------------------------------------

    def generation(self) -> int | None:
        """Read the notifications that arrived; the generation to pass to `keep`,
        or None when nothing may be kept or served (listener down, cache off)."""
        if self.seconds <= 0:
            return None
        with self._lock:
            if self._listener is None or self._pid != os.getpid():
                return None
            try:
                pgconn = self._listener.pgconn
                pgconn.consume_input()
                while (note := pgconn.notifies()) is not None:
                    self._apply(note.extra.decode())
            except psycopg.Error as error:
                log.warning("auth cache: listening connection lost (%s); asking the "
                            "database on every request until it is back", error)
                self._drop_listener()
                return None
            return self._generation

    def get(self, key: bytes) -> dict[str, Any] | None:
        """The row kept for `key`, if still fresh (call `generation` first)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def keep(self, key: bytes, row: dict[str, Any], generation: int | None,
             seconds_left: float | None = None) -> None:
        """Remember `row` for `key`, read from the database at `generation`.

        With generation None (nothing may be kept yet), the database has just
        answered, so this is when the listening connection is (re)opened.
        """
        if self.seconds <= 0:
            return
        if generation is None:
            self._listen()
            return
        seconds = self.seconds if seconds_left is None else min(self.seconds, seconds_left)
        with self._lock:
            if generation != self._generation or seconds <= 0:
                return   # something changed since the row was read
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + seconds, row)

    def forget(self, key: bytes | None = None, user_id: int | None = None) -> None:
        """Forget `key`, or every entry of `user_id`, or everything: a change this
        process made, forgotten before its notification comes back."""
        with self._lock:
            self._evict(key, user_id)

    def close(self) -> None:
        with self._lock:
            self._drop_listener()

    # -- the listening connection ----------------------------------------------------

    def _apply(self, payload: str) -> None:
        """A notification from sql/009_auth_notify.sql."""
        if payload.startswith("user:"):
            self._evict(user_id=int(payload[5:]))
        elif payload == "*":
            self._evict()
        else:
            self._evict(bytes.fromhex(payload))

    def _evict(self, key: bytes | None = None, user_id: int | None = None) -> None:
        self._generation += 1
        if key is not None:
            self._entries.pop(key, None)
        elif user_id is not None:
            for k in [k for k, (_, row) in self._entries.items() if row["id"] == user_id]:
                del self._entries[k]
        else:
            self._entries.clear()

    def _listen(self) -> None:
        """Open the listening connection, at most once per RECONNECT_SECONDS."""
        with self._lock:
            if self._pid != os.getpid():   # a forked child: nothing of the parent's is ours
                self._listener, self._pid = None, os.getpid()
                self._entries.clear()
            now = time.monotonic()
            if self._listener is not None or now < self._next_attempt:
                return
            self._next_attempt = now + RECONNECT_SECONDS
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2,
                                       keepalives=1, keepalives_idle=10,
                                       keepalives_interval=5, keepalives_count=3,
                                       application_name="booking auth cache")
                conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as error:
                log.warning("auth cache: cannot listen for changes (%s); asking the "
                            "database on every request", error)
                return
            self._evict()   # anything kept before it listened may be stale
            self._listener = conn

    def _drop_listener(self) -> None:
        self._evict()
        if self._listener is not None:
            try:
                self._listener.close()
            except psycopg.Error:
                pass
        self._listener = None
