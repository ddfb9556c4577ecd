"""What the booking path runs is planned once per session, not once per call
(sql/059_planned_once.sql).

PostgreSQL 15 plans a LANGUAGE sql function it cannot inline each time a
statement calls it; a PL/pgSQL function keeps its plans. track_functions counts
only the functions that were really called, so an inlined SQL function never
shows up in pg_stat_xact_user_functions: after a booking, a refusal and the
version reads, the only SQL function there may be plus_minutes(), which the
constraint's index computes for each booking it holds."""

from datetime import datetime, timezone

import pytest

from booking import db
from policykit import area, put_in

PER_ROW = {"plus_minutes"}   # IMMUTABLE for the index, so never inlined; one call per row

START = datetime(2027, 3, 2, 9, tzinfo=timezone.utc)
END = datetime(2027, 3, 2, 10, tzinfo=timezone.utc)

CALLED_SQL_FUNCTIONS = """
SELECT p.proname FROM pg_stat_xact_user_functions f JOIN pg_proc p ON p.oid = f.funcid
 WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql')
 ORDER BY 1"""


@pytest.fixture
def quota_room(conn, make):
    """A room in a building inside a site that sets a quota (so the count reads the
    site's rooms) and buffers."""
    site = area(conn, "Site", quota={"bookings_per_day": 3}, buffer_minutes=10)
    building = area(conn, "Building", parent=site, approval_required=False)
    room = make.room("Spree", "UTC", opens="00:00", closes="23:59")
    put_in(conn, room, building)
    return room


@pytest.mark.parametrize("taken", [False, True], ids=["booked", "refused"])
def test_the_booking_path_calls_no_sql_function_planned_per_call(
        database_url, quota_room, make, alice, bob, taken):
    if taken:
        make.booking(quota_room, bob, START, END)
    with db.connect(database_url) as conn, conn.transaction():
        conn.execute("SET LOCAL track_functions = 'all'")
        kinds = [r["kind"] for r in conn.execute(
            "SELECT kind FROM book(%s, %s, 'Planning', %s, %s)",
            (quota_room["id"], alice["id"], [START], [END]))]
        conn.execute("SELECT room_policy(%s), memo_version('rooms'), memo_version('board')",
                     (quota_room["id"],))
        called = {r["proname"] for r in conn.execute(CALLED_SQL_FUNCTIONS)}
        everything = conn.execute("SELECT count(*) AS n FROM pg_stat_xact_user_functions"
                                  ).fetchone()["n"]
    assert ("conflict" in kinds and "busy" in kinds) if taken else kinds == ["created"]
    assert everything > 0, "track_functions counted nothing: the test would see nothing"
    assert called <= PER_ROW, f"planned on each call: {sorted(called - PER_ROW)}"


def test_the_quota_count_and_the_policy_levels_keep_a_generic_plan(conn):
    """Planned afresh for each booking, the quota count (quota_refusals() inlined)
    cost more than the rest of book(); its generic plan is the same index ranges."""
    settings = {r["proname"]: r["proconfig"] for r in conn.execute(
        "SELECT proname, proconfig FROM pg_proc"
        " WHERE proname IN ('quota_locked_refusals', 'resolve_policy')")}
    assert set(settings) == {"quota_locked_refusals", "resolve_policy"}
    for name, config in settings.items():
        assert "plan_cache_mode=force_generic_plan" in (config or []), name
