"""The plans PostgreSQL runs for the app's statements, as JSON, read node by node.

psycopg prepares a statement the sixth time a connection runs it
(DB_PREPARE_THRESHOLD), and from then on PostgreSQL may run one generic plan,
made without the parameters' values. `plans()` prepares the statement exactly
as psycopg does (same text, same parameter types), then explains EXECUTE of it
twice: with plan_cache_mode = force_generic_plan (the plan production settles
on) and force_custom_plan (the first five runs). A write is rolled back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

import psycopg

from booking import db

# A psycopg placeholder: %s, %b, %t or %(name)s and friends; %% is a literal percent.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?([sbt%])")


def _ordered(sql: str, params: dict | tuple | list) -> list[Any]:
    """The values in $1, $2 ... order, as psycopg numbers them (each name once, in
    order of first appearance)."""
    if not isinstance(params, dict):
        return list(params)
    names: list[str] = []
    for name, kind in PLACEHOLDER.findall(sql):
        if kind != "%" and name not in names:
            names.append(name)
    return [params[name] for name in names]


@dataclass
class Node:
    type: str
    relation: str | None
    index: str | None
    cond: str
    filter: str
    raw: dict


def nodes(plan: dict) -> Iterator[Node]:
    """Every node of a JSON plan, subplans and init plans included."""
    yield Node(plan["Node Type"], plan.get("Relation Name"), plan.get("Index Name"),
               plan.get("Index Cond", "") or plan.get("Recheck Cond", ""),
               plan.get("Filter", ""), plan)
    for child in plan.get("Plans", []):
        yield from nodes(child)


@dataclass
class Plans:
    generic: dict
    custom: dict

    def both(self) -> list[tuple[str, list[Node]]]:
        return [("generic", list(nodes(self.generic))), ("custom", list(nodes(self.custom)))]


def plans(url: str, sql: str, params: dict | tuple) -> Plans:
    """The generic and the custom plan of `sql` prepared with `params`' types."""
    # As the app's pool connects (booking/db.py): UTC, no JIT.
    with db.connect(url, options="-c TimeZone=UTC -c jit=off") as conn:
        with conn.transaction(force_rollback=True):      # what a write writes goes
            conn.execute(sql, params, prepare=True)
            name = conn.execute("SELECT name FROM pg_prepared_statements "
                                "WHERE NOT from_sql").fetchone()["name"]
            values = _ordered(sql, params)
            types = conn.execute("SELECT cardinality(parameter_types) AS n FROM "
                                 "pg_prepared_statements WHERE name = %s", (name,)).fetchone()
            assert types["n"] == len(values), (types, len(values))
            literal = psycopg.ClientCursor(conn).mogrify(", ".join(["%s"] * len(values)), values)
            found = {}
            for mode in ("generic", "custom"):
                conn.execute(f"SET LOCAL plan_cache_mode = force_{mode}_plan")
                row = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE {name}"
                                   + (f"({literal})" if values else "")).fetchone()
                found[mode] = row["QUERY PLAN"][0]["Plan"]
    return Plans(**found)
