"""The statement triggers on bookings stay linear in the rows a statement changes,
whatever the first call on the connection was (sql/058_trigger_plans.sql).

A PL/pgSQL function keeps each statement's plan for the session. Planned for
one changed booking, the pairing of old_rows and new_rows was a nested loop,
and kept, it compared every old row with every new one when the same
connection later changed many: the release sweep of 10,000 bookings took 88 s.
auto_explain shows each trigger statement's plan as it ran; no join in them
may throw away more pairs than there are rows, and none is compiled (JIT)."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from booking import db

MANY = 300


@pytest.mark.parametrize("change", [
    "title = title || ' (changed)'",                                  # audit, outbox
    "released_at = now(), status = 'released', end_at = end_at - interval '5 minutes'",
    "cancelled_at = now(), cancelled_by = user_id",                   # cancellations
    "invitees = ARRAY['bob@example.com']",                            # invitations
])
def test_a_large_update_after_a_small_one_on_one_connection_stays_linear(
        database_url, make, alice, bob, change):
    room = make.room("Spree", "UTC", opens="00:00", closes="23:59")
    start = datetime(2027, 3, 1, tzinfo=timezone.utc)
    for k in range(MANY + 1):
        at = start + timedelta(minutes=30 * k)
        make.booking(room, alice, at, at + timedelta(minutes=15), title=f"B{k}")
    with db.connect(database_url) as conn:
        plans = []
        conn.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
        first = conn.execute("SELECT min(id) AS id FROM bookings").fetchone()["id"]
        # The first call on this connection changes one booking: its plans are kept.
        conn.execute(f"UPDATE bookings SET {change} WHERE id = %s", (first,))
        conn.execute("LOAD 'auto_explain'")
        conn.execute("SET auto_explain.log_min_duration = 0")
        conn.execute("SET auto_explain.log_analyze = on")
        conn.execute("SET auto_explain.log_timing = off")
        conn.execute("SET auto_explain.log_nested_statements = on")
        conn.execute("SET client_min_messages = log")
        changed = conn.execute(f"UPDATE bookings SET {change} WHERE id > %s",
                               (first,)).rowcount
    assert changed == MANY
    triggered = [p for p in plans if "old_rows" in p or "new_rows" in p]
    assert triggered, "auto_explain showed no trigger statement"
    assert not [p for p in triggered if "JIT:" in p], "a trigger statement was compiled"
    removed = [int(n) for p in triggered
               for n in re.findall(r"Rows Removed by Join Filter: (\d+)", p)]
    assert max(removed, default=0) <= MANY, (
        "a trigger paired old and new rows by comparing each with each: "
        + next(p for p in triggered if any(int(n) > MANY for n in
                                           re.findall(r"Removed by Join Filter: (\d+)", p))))
