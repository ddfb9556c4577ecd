"""Who a session or API token belongs to, remembered until AUTH_CACHE_SECONDS or a change.

Every request is authenticated, and looking its user up is a statement of its
own: on a room's day, half of the request's SQL. So each process keeps the
users it looked up, keyed by the token's hash, for up to AUTH_CACHE_SECONDS
(never past a session's expiry, nor past a token's next once-a-minute use
record), and forgets one the moment the channel says it changed: a session
ended, a token revoked, a user deactivated, renamed or given another role
(sql/011_memo.sql sends `auth:<token hash>`, `auth:user:<id>` or `auth:*`).

A change this process makes itself is forgotten here at once (`forget`),
without waiting for its notification. A lookup that raced with a change is
not kept: `generation` counts the changes heard, and an answer read before
one is dropped. While the channel is not listening nothing is kept or served
from here, as with AUTH_CACHE_SECONDS=0.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from booking.memo.channel import Channel
from booking.memo.kept import Bounded

MOST = 10_000


class Users:
    def __init__(self, channel: Channel, seconds: float, size: int = MOST):
        self.seconds = seconds
        # What entries expire by (seconds, monotonic); tests stand it still or move it.
        self.clock: Callable[[], float] = time.monotonic
        self._channel = channel
        self._entries: Bounded[bytes, dict[str, Any]] = Bounded(size, clock=lambda: self.clock())
        self._generation = 0
        self._lock = threading.Lock()
        channel.on("auth", self._heard)

    def generation(self) -> int | None:
        """The generation to pass to `keep`, after reading what the channel brought;
        None when nothing may be kept or served (not listening, or switched off)."""
        if self.seconds <= 0 or not self._channel.poll():
            return None
        return self._generation

    def get(self, key: bytes) -> dict[str, Any] | None:
        """The row kept for `key`, if still fresh (call `generation` first)."""
        return self._entries.get(key)

    def keep(self, key: bytes, row: dict[str, Any], generation: int | None,
             seconds_left: float | None = None) -> None:
        """Remember `row` for `key`, read from the database at `generation`.

        With generation None (nothing may be kept yet) the database has just
        answered, so this is when the channel's connection is (re)opened.
        """
        if self.seconds <= 0:
            return
        if generation is None:
            self._channel.listen()
            return
        seconds = self.seconds if seconds_left is None else min(self.seconds, seconds_left)
        with self._lock:
            if generation == self._generation and seconds > 0:
                self._entries.put(key, row, seconds)

    def forget(self, key: bytes | None = None, user_id: int | None = None) -> None:
        """Forget `key`, or every entry of `user_id`, or everything."""
        with self._lock:
            self._generation += 1
            if key is not None:
                self._entries.pop(key)
            elif user_id is not None:
                self._entries.drop_where(lambda row: row["id"] == user_id)
            else:
                self._entries.clear()

    def _heard(self, detail: str) -> None:
        if detail == "*":
            self.forget()
        elif detail.startswith("user:"):
            self.forget(user_id=int(detail[5:]))
        else:
            self.forget(bytes.fromhex(detail))
