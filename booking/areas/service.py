"""Areas: nested groupings of rooms (site -> building -> ...) that carry policies.

An area's `policy` holds the fields it sets (booking/policy.py); its rooms and
the rooms of the areas inside it inherit each field it sets unless a nearer
level sets it too (sql/040 room_policy()). Areas and their policies are
written by administrators, one statement per change, the admin named for the
audit log (area.create, area.update: the row before and after).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Mapping

import psycopg
from flask import current_app

from booking import db, inputs, policy, rules
from booking.errors import BookingError, from_database, invalid, not_found
from booking.rooms.service import ACTOR, ROOM_FIELDS
from booking.i18n import _

AREA_FIELDS = frozenset({"name", "parent_id", "policy"})

# Every area, parents before their children (the tree, depth-first by name),
# with its path of names and how many rooms it holds directly.
# areas_pkey, areas_parent; rooms_area for the counts.
TREE = """
WITH RECURSIVE tree AS (
    SELECT a.id, a.name, a.parent_id, a.policy, ARRAY[a.name] AS path,
           ARRAY[lower(a.name) || chr(1) || a.id] AS sort, 0 AS depth
      FROM areas a WHERE a.parent_id IS NULL
    UNION ALL
    SELECT a.id, a.name, a.parent_id, a.policy, t.path || a.name,
           t.sort || (lower(a.name) || chr(1) || a.id), t.depth + 1
      FROM areas a JOIN tree t ON a.parent_id = t.id
     WHERE t.depth < 32)
SELECT t.id, t.name, t.parent_id, t.policy, t.path, t.depth,
       (SELECT count(*) FROM rooms r WHERE r.area_id = t.id)::int AS rooms
  FROM tree t
 ORDER BY t.sort"""
LIST_SQL = TREE

# The tree as one JSON value, and every group, for a policy form's choices (the
# area and room pages read them in their one statement).
CHOICES = f"""(SELECT coalesce(json_agg(x), '[]') FROM ({TREE}) x) AS all_areas,
       (SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name)
                                 ORDER BY lower(g.name), g.id), '[]')
          FROM groups g) AS all_groups"""

# One area, its effective policy (area_policy(): its own fields and its
# ancestors'), its rooms (rooms_area), and every area and group (the page's
# choices), in one statement.
GET_SQL = f"""
SELECT a.id, a.name, a.parent_id, a.policy, area_policy(a.id) AS effective,
       coalesce((SELECT json_agg(x ORDER BY x.name)
                   FROM (SELECT {ROOM_FIELDS} FROM rooms r WHERE r.area_id = a.id) x), '[]')
           AS rooms,
       {CHOICES}
  FROM areas a WHERE a.id = %(id)s"""

# The groups a policy names that do not exist (a policy holds group ids).
MISSING_GROUPS = """missing AS (
    SELECT g FROM unnest(%(groups)s::bigint[]) g
     WHERE NOT EXISTS (SELECT 1 FROM groups x WHERE x.id = g))"""

CREATE_SQL = f"""
WITH {MISSING_GROUPS},
made AS (
    INSERT INTO areas (name, parent_id, policy)
    SELECT %(name)s::text, %(parent_id)s::integer, %(policy)s::jsonb
      FROM {ACTOR}
     WHERE NOT EXISTS (SELECT 1 FROM missing)
    RETURNING id, name, parent_id, policy)
SELECT (SELECT array_agg(g) FROM missing) AS missing_groups, made.*
  FROM (SELECT 1) one LEFT JOIN made ON true"""

# The fields sent change; a policy field sent as null is unset (inherited).
UPDATE_SQL = f"""
WITH {MISSING_GROUPS},
changed AS (
    UPDATE areas a
       SET name = coalesce(%(name)s::text, a.name),
           parent_id = CASE WHEN %(parent_given)s THEN %(parent_id)s::integer
                            ELSE a.parent_id END,
           policy = (a.policy || %(set)s::jsonb) - %(unset)s::text[],
           updated_at = now()
      FROM {ACTOR}
     WHERE a.id = %(id)s AND NOT EXISTS (SELECT 1 FROM missing)
    RETURNING a.id, a.name, a.parent_id, a.policy)
SELECT (SELECT array_agg(g) FROM missing) AS missing_groups,
       (SELECT count(*) FROM areas WHERE id = %(id)s) > 0 AS found, changed.*
  FROM (SELECT 1) one LEFT JOIN changed ON true"""


def area_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "parent_id": row["parent_id"],
            "policy": row["policy"]}


def all_areas() -> list[dict[str, Any]]:
    """Every area as a tree (parents first), each with `path` and `rooms` (how many
    rooms it holds directly)."""
    with db.connection() as conn:
        rows = conn.execute(LIST_SQL).fetchall()
    return [{**area_json(r), "path": r["path"], "depth": r["depth"], "rooms": r["rooms"]}
            for r in rows]


def get(area_id: int) -> dict[str, Any]:
    """{"area", "effective": every field's value and source, "rooms"}, and for the
    page (the twin leaves them out) `all_areas` and `all_groups`."""
    with db.connection() as conn:
        row = conn.execute(GET_SQL, {"id": area_id}).fetchone()
    if row is None:
        raise not_found(_("That area does not exist."))
    names = {g["id"]: g["name"] for g in row["all_groups"]}
    effective = policy.effective(row["effective"], current_app.config)
    return {"area": area_json(row), "effective": policy.as_json(effective, None, names),
            "rooms": row["rooms"], "all_areas": row["all_areas"],
            "all_groups": row["all_groups"]}


def _clean(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    inputs.only(data, AREA_FIELDS)
    values: dict[str, Any] = {}
    if "name" in data or not partial:
        values["name"] = inputs.text(data.get("name"), "name", high=100)
    if "parent_id" in data:
        parent = data["parent_id"]
        values["parent_id"] = None if parent in (None, "") else inputs.integer(parent,
                                                                               "parent_id")
    values["policy"] = policy.clean(data["policy"]) if data.get("policy") is not None else {}
    return values


def create(data: Mapping[str, Any], actor: int) -> dict[str, Any]:
    """A new area (name, parent_id, policy); 201's body."""
    values = _clean(data, partial=False)
    own = policy.merged({}, values["policy"])
    with _refusals(), db.connection() as conn:
        row = conn.execute(CREATE_SQL, {
            "name": values["name"], "parent_id": values.get("parent_id"),
            "policy": _json(own), "groups": policy.groups_named(own), "actor": actor,
        }).fetchone()
    _refuse_missing_groups(row)
    return area_json(row)


def update(area_id: int, data: Mapping[str, Any], actor: int) -> dict[str, Any]:
    """Change an area's name, parent or policy fields (a policy field sent as null
    is unset: inherited again)."""
    values = _clean(data, partial=True)
    if not data:
        raise invalid("body", _("Send at least one of name, parent_id, policy."))
    changes = values["policy"]
    set_fields = {k: v for k, v in changes.items() if v is not None}
    with _refusals(), db.connection() as conn:
        row = conn.execute(UPDATE_SQL, {
            "id": area_id, "name": values.get("name"), "parent_given": "parent_id" in values,
            "parent_id": values.get("parent_id"), "set": _json(set_fields),
            "unset": [k for k, v in changes.items() if v is None],
            "groups": policy.groups_named(set_fields), "actor": actor}).fetchone()
    if not row["found"]:
        raise not_found(_("That area does not exist."))
    _refuse_missing_groups(row)
    return area_json(row)


# An area's rooms (with the areas inside it) after a change, each with its effective
# policy now and its live bookings ahead (bookings_room_start): outside_hours().
REACHED_SQL = """
SELECT r.id, r.timezone, r.opens, r.closes, r.active, room_policy(r.id) AS policy,
       ARRAY(SELECT tstzrange(b.start_at, b.end_at) FROM bookings b
              WHERE b.room_id = r.id AND b.start_at >= %(now)s AND b.cancelled_at IS NULL
                AND b.status IN ('confirmed', 'pending')) AS future
  FROM rooms r
 WHERE r.id IN (SELECT area_rooms(%(area)s::int))"""


def outside_hours(area_id: int, now: datetime) -> int:
    """How many live bookings ahead in the area's rooms (and those of the areas in
    it) lie outside the hours their rooms' effective policies now give their day,
    or on a day they close. They stay booked (a policy applies to bookings made
    and changed after it), and the page that changed the area says how many, as
    a room's change does (rooms.service.outside_hours). One statement."""
    config = current_app.config
    with db.connection() as conn:
        rows = conn.execute(REACHED_SQL, {"area": area_id, "now": now}).fetchall()
    count = 0
    for room in rows:
        if room["future"]:
            effective = policy.effective(room["policy"], config)
            count += sum(rules.outside_hours(room, each.lower, each.upper, effective)
                         for each in room["future"])
    return count


def _json(value: Any) -> str:
    import json
    return json.dumps(value)


def _refuse_missing_groups(row: Mapping[str, Any]) -> None:
    if row["missing_groups"]:
        ids = ", ".join(map(str, row["missing_groups"]))
        raise BookingError("unknown_group", _("No such group: %(groups)s.", groups=ids), field="policy",
                           details={"groups": row["missing_groups"]})


@contextmanager
def _refusals() -> Iterator[None]:
    """A constraint the input broke (a taken name, a parent that is the area itself
    or inside it, a parent that does not exist) as the error naming its field."""
    try:
        yield
    except psycopg.IntegrityError as exc:
        err = from_database(exc)
        if err is None:
            raise
        raise err from exc
