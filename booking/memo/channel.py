"""The one invalidation channel: NOTIFY booking_memo, heard by one connection per process.

Every change to something a process may remember goes through the SQL
function memo_changed(name, detail) (sql/011_memo.sql): it bumps that name's
version in `memo_versions` and sends `NOTIFY booking_memo, '<name>:<detail>'`,
both in the changing transaction, so the notification arrives only if the
change commits.

A process keeps one connection LISTENing and reads what has arrived on its
socket, without blocking and without a statement, whenever a remembered
thing is about to be trusted (`poll`). Each remembered thing subscribes to
its name (`on`). While the connection is down (the first request of a
process, a restarting database) `poll` says so, and nothing that relies on
notifications alone may be trusted: every request asks the database.

The connection must reach PostgreSQL itself (LISTEN_DATABASE_URL): a
transaction-mode pooler such as PgBouncer does not keep a listening session.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

import psycopg

log = logging.getLogger("booking.memo")

CHANNEL = "booking_memo"
RECONNECT_SECONDS = 5.0


class Channel:
    """This process's listening connection and who subscribed to which name."""

    def __init__(self, url: str | None):
        self.url = url
        self._handlers: dict[str, list[Callable[[str], None]]] = {}
        self._conn: psycopg.Connection | None = None
        self._pid = os.getpid()
        self._next_attempt = 0.0
        self._lock = threading.Lock()   # gthread workers share one channel

    def on(self, name: str, handler: Callable[[str], None]) -> None:
        """Call `handler(detail)` for each `name:detail` heard, and with "*" when
        notifications may have been missed (the connection was down)."""
        self._handlers.setdefault(name, []).append(handler)

    @property
    def listening(self) -> bool:
        return self._conn is not None and self._pid == os.getpid()

    def poll(self) -> bool:
        """Hand what has arrived to the subscribers; False when not listening."""
        with self._lock:
            if not self.listening:
                return False
            try:
                pgconn = self._conn.pgconn   # type: ignore[union-attr]
                pgconn.consume_input()
                while (note := pgconn.notifies()) is not None:
                    name, _, detail = note.extra.decode().partition(":")
                    self._tell(name, detail)
            except psycopg.Error as error:
                log.warning("memo: listening connection lost (%s); asking the database "
                            "on every request until it is back", error)
                self._drop()
                return False
            return True

    def listen(self) -> None:
        """Open the listening connection if it is down, at most once per RECONNECT_SECONDS."""
        with self._lock:
            if self._pid != os.getpid():   # a forked child: nothing of the parent's is ours
                self._conn, self._pid = None, os.getpid()
            now = time.monotonic()
            if self._conn is not None or now < self._next_attempt or not self.url:
                return
            self._next_attempt = now + RECONNECT_SECONDS
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2,
                                       keepalives=1, keepalives_idle=10,
                                       keepalives_interval=5, keepalives_count=3,
                                       application_name="booking memo")
                conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as error:
                log.warning("memo: cannot listen for changes (%s); asking the database "
                            "on every request", error)
                return
            self._tell_everyone("*")   # anything kept before it listened may be stale
            self._conn = conn

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _tell(self, name: str, detail: str) -> None:
        for handler in self._handlers.get(name, ()):
            handler(detail)

    def _tell_everyone(self, detail: str) -> None:
        for name in self._handlers:
            self._tell(name, detail)

    def _drop(self) -> None:
        self._tell_everyone("*")
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None
