"""Answers everyone shares, kept while their data is unchanged: the rooms overview.

The rooms overview is the same for everyone and costs three index probes per
room; with 500 rooms it is the heaviest read there is. So a process builds it
once per overview version and minute and hands the same answer to everyone
until either moves on:

- the version is `memo_version('overview')` (sql/011_memo.sql), which every
  write to rooms, to a user's name, or to a booking near today bumps in its
  own transaction: one cheap statement tells a reader whether anything it
  shows may have changed, exactly, whichever process wrote;
- the minute: what is "on now" and "next" changes only on whole minutes,
  because bookings start and end on them.

An answer is an http.SharedAnswer: it keeps its encoded JSON, its gzip and
its ETag, so serving it again costs neither encoding nor hashing.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from booking.http import SharedAnswer
from booking.memo.kept import Kept

# One statement, answered from memo_versions' primary key.
VERSION_SQL = "SELECT memo_version('overview') AS version"


class Overview:
    """The latest overview answer per variant (active rooms, or every room)."""

    def __init__(self) -> None:
        self._kept: dict[bool, Kept[SharedAnswer]] = {False: Kept(), True: Kept()}

    def get(self, include_inactive: bool, key: Hashable,
            build: Callable[[], Any]) -> SharedAnswer:
        """The answer for `key` (version, minute), built if this process has another."""
        return self._kept[include_inactive].get_or_build(key, lambda: SharedAnswer(build()))

    def forget(self, detail: str = "*") -> None:
        for kept in self._kept.values():
            kept.forget()
