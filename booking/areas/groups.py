"""Groups of people: who may book a room (a policy's `bookers`) and who approves
its requests (`approvers`). Administrators make them; members are named by
email. A membership change is forgotten at once by every process that
remembers the member (sql/040), so the next request sees it, and is audited
(group.create and group.update carry the members, before and after: sql/092).
"""

from __future__ import annotations

from typing import Any, Mapping

import psycopg

from booking import db, inputs
from booking.areas.service import _refusals
from booking.errors import BookingError, invalid, not_found
from booking.rooms.service import ACTOR
from booking.i18n import _

GROUP_FIELDS = frozenset({"name", "members"})
MOST_MEMBERS = 1000

MEMBERS = """coalesce((SELECT json_agg(json_build_object('id', u.id, 'email', u.email,
                                                      'name', u.name) ORDER BY u.name, u.id)
                 FROM group_members m JOIN users u ON u.id = m.user_id
                WHERE m.group_id = g.id), '[]')"""

# Every group with its members (groups_name_key order; group_members' key per group).
LIST_SQL = f"""
SELECT g.id, g.name, {MEMBERS} AS members FROM groups g ORDER BY lower(g.name), g.id"""

GET_SQL = f"SELECT g.id, g.name, {MEMBERS} AS members FROM groups g WHERE g.id = %(id)s"

# The members named by email (users_email_key), and those no account has.
NAMED = """named AS (
    SELECT e.email, u.id, u.name, u.email AS address
      FROM unnest(%(members)s::text[]) WITH ORDINALITY AS e(email, n)
      LEFT JOIN users u ON lower(u.email) = lower(e.email)),
missing AS (SELECT n.email FROM named n WHERE n.id IS NULL)"""

NAMED_JSON = """coalesce((SELECT json_agg(json_build_object('id', n.id, 'email', n.address,
                                                         'name', n.name) ORDER BY n.name, n.id)
                 FROM (SELECT DISTINCT id, address, name FROM named) n), '[]')"""

# Whether another group has the name (groups_name_key): said beside unknown members,
# which keep the statement from writing (and so from meeting the key itself).
NAME_TAKEN = """EXISTS (SELECT 1 FROM groups x WHERE lower(x.name) = lower(%(name)s::text)
                                            AND x.id IS DISTINCT FROM %(id)s::bigint)"""

CREATE_SQL = f"""
WITH {NAMED},
made AS (
    INSERT INTO groups (name)
    SELECT %(name)s::text FROM {ACTOR}
     WHERE NOT EXISTS (SELECT 1 FROM missing)
    RETURNING id, name),
joined AS (
    INSERT INTO group_members (group_id, user_id)
    SELECT DISTINCT made.id, n.id FROM made, named n
    ON CONFLICT DO NOTHING RETURNING 1)
SELECT (SELECT array_agg(email) FROM missing) AS missing, {NAME_TAKEN} AS name_taken,
       made.id, made.name, {NAMED_JSON} AS members
  FROM (SELECT 1) one LEFT JOIN made ON true"""

# The name, and the members when sent (the list replaces the old one), in one statement.
UPDATE_SQL = f"""
WITH {NAMED},
-- The members as they were, for the audit log's group.update (sql/092): the
-- group's row is updated whatever changed, and its trigger writes the entry.
target AS (
    SELECT g.id, set_config('booking.group_members_before',
                            jsonb_build_object(g.id::text, group_members_json(g.id))::text,
                            true) AS members_before
      FROM groups g, {ACTOR}
     WHERE g.id = %(id)s AND NOT EXISTS (SELECT 1 FROM missing)),
renamed AS (
    UPDATE groups g SET name = coalesce(%(name)s::text, g.name)
      FROM target t WHERE g.id = t.id
    RETURNING g.id, g.name),
left_ AS (
    DELETE FROM group_members m USING target t
     WHERE %(replace)s AND m.group_id = t.id
       AND m.user_id NOT IN (SELECT n.id FROM named n)
    RETURNING 1),
joined AS (
    INSERT INTO group_members (group_id, user_id)
    SELECT DISTINCT t.id, n.id FROM target t, named n WHERE %(replace)s
    ON CONFLICT DO NOTHING RETURNING 1)
SELECT (SELECT array_agg(email) FROM missing) AS missing, {NAME_TAKEN} AS name_taken,
       (SELECT count(*) FROM groups WHERE id = %(id)s) > 0 AS found, r.id, r.name,
       CASE WHEN %(replace)s THEN {NAMED_JSON}
            ELSE (SELECT {MEMBERS} FROM groups g WHERE g.id = r.id) END AS members
  FROM (SELECT 1) one LEFT JOIN renamed r ON true"""


def all_groups() -> list[dict[str, Any]]:
    with db.connection() as conn:
        return conn.execute(LIST_SQL).fetchall()


def get(group_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(GET_SQL, {"id": group_id}).fetchone()
    if row is None:
        raise not_found(_("That group does not exist."))
    return row


def _members(value: Any) -> list[str]:
    """Emails: a list, or text with one per line or comma-separated (a form)."""
    if isinstance(value, str):
        value = [v for v in value.replace(",", "\n").split("\n")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("members", _("members is a list of email addresses."))
    emails = []
    for item in value:
        email = inputs.text(item, "members", low=0, high=254)
        if email and email.lower() not in (e.lower() for e in emails):
            emails.append(email)
    if len(emails) > MOST_MEMBERS:
        raise invalid("members", _("A group has at most %(num)d members.", num=MOST_MEMBERS))
    return emails


def _refuse_missing(row: Mapping[str, Any]) -> None:
    """Members no account has (and, beside them, a name another group has: the
    form shows both at once)."""
    if row["missing"]:
        message = _("No account has this email: %(emails)s.", emails=", ".join(row["missing"]))
        details: dict[str, Any] = {"emails": row["missing"]}
        if row["name_taken"]:
            details["errors"] = [{"field": "members", "message": message},
                                 {"field": "name",
                                  "message": _("A group with this name already exists.")}]
        raise BookingError("unknown_user", message, field="members", details=details)


def _fields(data: Mapping[str, Any], creating: bool) -> tuple[str | None, list[str]]:
    """The name and the members, every field's error at once. A change checks only
    what it sends (name None, members [] when not sent)."""
    check = inputs.Collect()
    name = (check(inputs.text, data.get("name"), "name", high=100)
            if creating or "name" in data else None)
    members = (check(_members, data.get("members") or [])
               if creating or "members" in data else [])
    check.done()
    return name, members


def create(data: Mapping[str, Any], actor: int) -> dict[str, Any]:
    """A new group {name, members: [emails]}."""
    inputs.only(data, GROUP_FIELDS)
    name, members = _fields(data, creating=True)
    with _refusals(), db.connection() as conn:
        row = conn.execute(CREATE_SQL, {"name": name, "members": members, "id": None,
                                        "actor": actor}).fetchone()
    _refuse_missing(row)
    return {"id": row["id"], "name": row["name"], "members": row["members"]}


def update(group_id: int, data: Mapping[str, Any], actor: int) -> dict[str, Any]:
    """Rename a group and/or replace its members."""
    inputs.only(data, GROUP_FIELDS)
    if not data:
        raise invalid("body", _("Send name or members."))
    replace = "members" in data
    name, members = _fields(data, creating=False)
    with _refusals(), db.connection() as conn:
        row = conn.execute(UPDATE_SQL, {"id": group_id, "name": name, "members": members,
                                        "replace": replace, "actor": actor}).fetchone()
    if not row["found"]:
        raise not_found(_("That group does not exist."))
    _refuse_missing(row)
    return {"id": row["id"], "name": row["name"], "members": row["members"]}


__all__ = ["all_groups", "get", "create", "update", "psycopg"]
