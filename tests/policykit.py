"""Helpers for the policy tests: areas, groups and policies straight in the database."""

from __future__ import annotations

import json


def area(conn, name, parent=None, **policy) -> dict:
    """An area (inside `parent`) whose policy sets `policy`."""
    return conn.execute(
        "INSERT INTO areas (name, parent_id, policy) VALUES (%s, %s, %s) RETURNING id, name",
        (name, parent["id"] if parent else None, json.dumps(policy))).fetchone()


def set_policy(conn, level, **policy) -> None:
    """Set (merge) policy fields on a room or an area ({"id", ...} from the factory);
    a value None unsets the field."""
    table = "areas" if "parent_id" in level or level.get("kind") == "area" else "rooms"
    _merge(conn, table, level["id"], policy)


def room_policy(conn, room, **policy) -> None:
    _merge(conn, "rooms", room["id"], policy)


def area_policy(conn, area_row, **policy) -> None:
    _merge(conn, "areas", area_row["id"], policy)


def _merge(conn, table, row_id, policy) -> None:
    set_ = {k: v for k, v in policy.items() if v is not None}
    unset = [k for k, v in policy.items() if v is None]
    conn.execute(f"UPDATE {table} SET policy = (policy || %s::jsonb) - %s::text[] "
                 "WHERE id = %s", (json.dumps(set_), unset, row_id))


def put_in(conn, room, area_row) -> None:
    conn.execute("UPDATE rooms SET area_id = %s WHERE id = %s",
                 (area_row["id"] if area_row else None, room["id"]))


def group(conn, name, *members) -> dict:
    found = conn.execute("INSERT INTO groups (name) VALUES (%s) RETURNING id, name",
                         (name,)).fetchone()
    for user in members:
        conn.execute("INSERT INTO group_members (group_id, user_id) VALUES (%s, %s)",
                     (found["id"], user["id"]))
    return found
