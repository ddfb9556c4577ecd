"""The two primitives everything in booking.memo is built on.

- `Kept`: one value, valid at one version. Asked for at another version, it
  has nothing; given a value at a version, it holds that one instead.
- `Bounded`: a map of at most `size` entries, each kept until its own expiry
  if it has one; when full, the entry used least recently goes.

Both are safe to share between the threads of one process (gthread workers)
and are never shared between processes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, Iterator, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


class Kept(Generic[V]):
    """One value and the version it is valid at."""

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[Hashable, V] | None = None

    def get(self, version: Hashable) -> V | None:
        """The value if it was kept at `version`, else None."""
        entry = self._entry       # one read: another thread may replace it meanwhile
        if entry is not None and entry[0] == version:
            return entry[1]
        return None

    def keep(self, version: Hashable, value: V) -> V:
        self._entry = (version, value)   # one reference: atomic for readers
        return value

    def get_or_build(self, version: Hashable, build: Callable[[], V]) -> V:
        """The value at `version`, built (and kept) if this holds another one."""
        value = self.get(version)
        return value if value is not None else self.keep(version, build())

    def entry(self) -> tuple[Hashable, V] | None:
        """(version, value) as kept, or None."""
        return self._entry

    def forget(self) -> None:
        self._entry = None


class Bounded(Generic[K, V]):
    """At most `size` entries, least recently used first out; each may expire."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic):
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float | None, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key, _MISSING)
            if entry is _MISSING:
                return None
            expires, value = entry  # type: ignore[misc]
            if expires is not None and expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V, seconds: float | None = None) -> V:
        """Keep `value` for `key`, for `seconds` if given (until pushed out otherwise)."""
        expires = None if seconds is None else self._clock() + seconds
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def drop_where(self, doomed: Callable[[V], bool]) -> None:
        """Forget every entry whose value `doomed` picks."""
        with self._lock:
            for key in [k for k, (_, v) in self._entries.items() if doomed(v)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._entries))
