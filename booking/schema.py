"""sql/schema.sql: the schema as the migrations leave it, to read in one place.

The numbered migrations in sql/ are history: `book()` is written in 001 and
replaced whole in 002, a trigger in 006 and again in 011. What a newcomer
wants is what a database looks like after `db upgrade`, and that is
sql/schema.sql: `pg_dump --schema-only` of a freshly migrated database, with
what changes from run to run taken out. tests/test_schema.py fails when the
migrations and the file disagree; rewrite the file with

    .venv/bin/python -m booking.schema
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from booking import db
from booking.config import PROJECT_ROOT
from booking.localpg import Cluster

SCHEMA_FILE = PROJECT_ROOT / "sql" / "schema.sql"

HEADER = """\
-- The schema as `flask --app booking db upgrade` leaves it (pg_dump --schema-only,
-- normalised by booking/schema.py). Generated: do not edit; change a migration in
-- sql/NNN_*.sql and run `.venv/bin/python -m booking.schema`.
-- tests/test_schema.py fails when this file and the migrations disagree.
"""

# Lines pg_dump writes that say nothing about the schema, or differ per run
# (\\restrict carries a random key).
_NOISE = re.compile(r"^(--.*|SET .*|SELECT pg_catalog\.set_config.*|\\(un)?restrict .*)$")


def dump(cluster: Cluster, url: str) -> str:
    """The normalised schema of the database at `url` (a database of `cluster`)."""
    out = subprocess.run([str(cluster.bindir / "pg_dump"), "--schema-only", "--no-owner",
                          "--no-privileges", url], check=True, capture_output=True, text=True)
    return normalise(out.stdout)


def normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines() if not _NOISE.match(line)]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return HEADER + "\n" + body + "\n"


def fresh(cluster: Cluster) -> str:
    """The schema of a new database of `cluster` after every migration."""
    url = cluster.create_database("booking_schema")
    db.upgrade(url)
    return dump(cluster, url)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="booking-schema-", dir="/tmp"))
    cluster = Cluster(root)
    cluster.start()
    try:
        SCHEMA_FILE.write_text(fresh(cluster))
    finally:
        cluster.destroy()
    print(f"wrote {SCHEMA_FILE.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
