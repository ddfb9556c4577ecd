"""Every room, kept while no room changes: what the finder chooses candidates from,
and the room and policy a booking is checked against.

Each room comes with its effective policy (room_policy(), sql/040) and the
areas it is in, kept beside it (`RoomsById.policies`, `.areas`): areas,
policies and groups change as rarely as rooms, and every write to them bumps
the same version, so the finder checks 500 rooms against their policies
without reading one of them per search (the policies of 500 rooms took
~30 ms to resolve in SQL: docs/performance.md).

Rooms change rarely (an administrator's edit), bookings all the time, so a
process keeps a copy of every room in its JSON shape with the version it was
read at (`memo_version('rooms')`, sql/011_memo.sql, bumped by every write to
rooms and never by bookings). The free-room search's statement carries that
version; when it is no longer the database's, the statement sends the rooms
again and the copy is replaced (booking/finder/service.py). The version is
read in the same snapshot as the bookings, so an answer never mixes an old
room with new bookings.

The pages draw from it too: each room's hours on a day under its policy (the
day, week and board pages, the overview's "closed now", the booking form's
time fields), so what a page offers is what the rules allow.

A booking is checked against its room and policy in the copy too
(rooms.service.kept_room): a create's statement books only while the copy's
version is the database's, and sends the rooms otherwise (the gate in
bookings.service.BOOK_SQL); an edit's first statement reads the version and
sends the rooms when the copy is behind (EDIT_READ_SQL). A create made from
a current copy is one statement.

With the copy go what the finder derived from it (`derived`): the distinct
room shapes the rules look at, and the candidates chosen per (shapes the rules
allow, party, equipment). A few dozen keys cover most searches, and choosing
from 500 rooms every time cost the free-room search 8% of its throughput
(docs/performance.md).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from booking.memo.kept import Bounded, Kept

# No copy yet: a version no database has, so the first search sends the rooms.
NONE = -1
DERIVED = 256

class RoomsById(dict):
    """Rooms by id in their JSON shape, and beside them each room's effective
    policy (`policies`: id -> booking.rules.Policy) and areas (`areas`: id ->
    area ids, nearest first), read at the same version."""

    def __init__(self, rooms: Any = (), policies: dict[int, Any] | None = None,
                 areas: dict[int, tuple[int, ...]] | None = None):
        super().__init__(rooms)
        self.policies: dict[int, Any] = policies or {}
        self.areas: dict[int, tuple[int, ...]] = areas or {}


class Rooms:
    def __init__(self) -> None:
        self._kept: Kept[RoomsById] = Kept()
        self._derived: Bounded[Hashable, Any] = Bounded(DERIVED)

    def current(self) -> tuple[int, RoomsById]:
        """(version, rooms by id) of the copy; (NONE, {}) before the first search."""
        entry = self._kept.entry()
        return (NONE, RoomsById()) if entry is None else entry  # type: ignore[return-value]

    def replace(self, version: int, rooms: list[dict[str, Any]],
                policies: dict[int, Any] | None = None,
                areas: dict[int, tuple[int, ...]] | None = None) -> RoomsById:
        """Keep `rooms` (and their policies and areas), as of `version`, as this
        process's copy."""
        self._derived.clear()
        return self._kept.keep(version, RoomsById({room["id"]: room for room in rooms},
                                                  policies, areas))

    def derived(self, version: int, key: Hashable, make: Callable[[], Any]) -> Any:
        """What `make()` derives from the copy at `version` for `key`, made once."""
        found = self._derived.get((version, key))
        if found is None:
            found = self._derived.put((version, key), make())
        return found

    def derived_of(self, rooms: Any, key: Hashable, make: Callable[[], Any]) -> Any:
        """What `make()` derives from `rooms`: kept with the copy when `rooms` is
        this process's current copy, made afresh for any other set of rooms."""
        entry = self._kept.entry()
        if entry is not None and entry[1] is rooms:
            return self.derived(entry[0], key, make)
        return make()

    def forget(self, detail: str = "*") -> None:
        self._kept.forget()
        self._derived.clear()
