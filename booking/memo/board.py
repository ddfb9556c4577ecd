"""Planning boards, kept while no booking, room or user name has changed.

A board is every active room (of a building, a floor) with its bookings on
one day: 500 index probes and ~100 KB of JSON, the same for everyone who
asks. So a process keeps, per (day, building, floor), the board and the
version it was read at (`memo_version('board')`, sql/015_board_memo.sql,
bumped by every write that could change one). The board's one statement
carries the kept version and sends the board again only when it moved
(booking/board/service.py), so what is served is never stale.

Beside each board are what is made from it once rather than per request:
its twin's answer (encoded JSON, gzip, ETag: http.SharedAnswer) and the page's
drawn rows (HTML, one fragment per zone), which also depend on the clock where
the day is today (the stretches that are over; booking/board/views.py
clock_of) and the reader's language (its words, dates and times), and so are
kept per quarter hour for today's board, once for another day's, and per
language. The "now" line moves each minute outside them.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from booking.memo.kept import Bounded

# (day, building, floor) combinations kept; a board is ~100 KB.
MOST_BOARDS = 64
MOST_DRAWN = 64


class Board:
    def __init__(self) -> None:
        # (day or None, building, floor, area) -> (version, board)
        self._boards: Bounded[Hashable, tuple[int, Any]] = Bounded(MOST_BOARDS)
        # (board's identity, its clock (views.clock_of), language) -> drawn zones
        self._drawn: Bounded[Hashable, Any] = Bounded(MOST_DRAWN)

    def kept(self, key: Hashable) -> tuple[int, Any] | None:
        """(version, board) kept for `key`, or None."""
        return self._boards.get(key)

    def keep(self, key: Hashable, version: int, board: Any) -> Any:
        self._boards.put(key, (version, board))
        return board

    def drawn(self, key: Hashable, draw: Callable[[], Any]) -> Any:
        """The HTML `draw()` makes for `key`, made once."""
        found = self._drawn.get(key)
        return found if found is not None else self._drawn.put(key, draw())

    def forget(self, detail: str = "*") -> None:
        self._boards.clear()
        self._drawn.clear()
