"""Every room, kept in each process while no room changes: what the finder ranks from.

The free-room search used to read every room that fits from the database,
500 rows of ten columns each time. Rooms change rarely (an administrator's
edit), bookings all the time, so a process keeps a copy of all rooms with the
version it was read at (`rooms_version`, sql/010, bumped by every write to
rooms). The search's one statement carries that version: when it still
matches, the statement only probes the bookings of the rooms the copy says
may fit; when it does not, the same statement sends the rooms again and the
copy is replaced. The version is read in the same snapshot as the bookings,
so an answer never mixes an old room with new bookings.

Nothing is shared between processes or outlives one (no external cache).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

# A room's opening rules read these four and nothing else of the room (see
# rules.check): rooms that share them are checked once.
SHAPE_FIELDS = ("active", "timezone", "opens", "closes")
Shape = tuple[bool, str, str, str]


def shape(room: dict[str, Any]) -> Shape:
    return tuple(room[name] for name in SHAPE_FIELDS)  # type: ignore[return-value]


@dataclass(frozen=True)
class Catalogue:
    """The rooms as of `version`, in their JSON shape, grouped for the finder."""
    version: int
    by_id: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Shape -> the capacities (for bisect) and ids of its rooms, smallest first.
    shapes: dict[Shape, tuple[list[int], list[int]]] = field(default_factory=dict)
    # (shapes, people, equipment) -> candidates(): a few dozen keys cover most searches.
    _candidates: dict[tuple, Candidates] = field(default_factory=dict)

    @classmethod
    def build(cls, version: int, rooms: list[dict[str, Any]]) -> Catalogue:
        grouped: dict[Shape, list[dict[str, Any]]] = {}
        for room in rooms:
            grouped.setdefault(shape(room), []).append(room)
        shapes = {}
        for each, members in grouped.items():
            members.sort(key=lambda r: r["capacity"])
            shapes[each] = ([r["capacity"] for r in members], [r["id"] for r in members])
        return cls(version, {r["id"]: r for r in rooms}, shapes)

    def candidates(self, shapes: tuple[Shape, ...], people: int,
                   equipment: tuple[str, ...]) -> Candidates:
        """The rooms of `shapes` that seat `people` and have all of `equipment`."""
        key = (shapes, people, equipment)
        found = self._candidates.get(key)
        if found is None:
            wanted = frozenset(equipment)
            ids: list[int] = []
            zone_of: list[int] = []
            zones: dict[str, int] = {}
            for each in shapes:
                capacities, members = self.shapes[each]
                fitting = members[bisect_left(capacities, people):]
                if wanted:
                    fitting = [room_id for room_id in fitting
                               if wanted <= set(self.by_id[room_id]["equipment"])]
                ids += fitting
                zone_of += [zones.setdefault(each[1], len(zones) + 1)] * len(fitting)
            found = Candidates(_int_array(ids), _int_array(zone_of), list(zones))
            if len(self._candidates) >= 256:
                self._candidates.clear()
            self._candidates[key] = found
        return found


@dataclass(frozen=True)
class Candidates:
    """Rooms to probe, as FREE_SQL (booking/finder/service.py) takes them: their
    ids, and for each the position of its zone in `zones` (counted from 1)."""
    ids: str
    zone_of: str
    zones: list[str]


def _int_array(values: list[int]) -> str:
    """Ints as an array literal: psycopg writes 128 of them in a fifth of the time
    a list takes (the statement casts it to int[])."""
    return "{" + ",".join(map(str, values)) + "}"


# No copy yet: a version no database has, so the first statement sends the rooms.
EMPTY = Catalogue(version=-1)


def current() -> Catalogue:
    return current_app.extensions.get("booking.catalogue", EMPTY)


def replace(version: int, rooms: list[dict[str, Any]]) -> Catalogue:
    """Keep `rooms`, as of `version`, as this process's copy."""
    catalogue = Catalogue.build(version, rooms)
    current_app.extensions["booking.catalogue"] = catalogue   # one reference: thread-safe
    return catalogue
