"""What the booking path runs is planned once per session, not once per call
(sql/059_planned_once.sql).

PostgreSQL 15 plans a LANGUAGE sql function it cannot inline each time a
statement calls it; a PL/pgSQL function keeps its plans. track_functions counts
only the functions that were really called, so an inlined SQL function never
shows up in pg_stat_xact_user_functions: after a booking, a refusal and the
version reads, the only SQL function there may be plus_minutes(), which the
constraint's index computes for each booking it holds."""

from datetime import datetime, timedelta, timezone

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


def test_writes_and_their_refusals_keep_generic_plans(conn):
    """book() and edit_booking() planned each statement afresh on every call, and the
    list of the bookings in the way cost 1 ms of planning for each 409 (sql/061).
    Their generic plans are the same index probes."""
    settings = {r["proname"]: r["proconfig"] or [] for r in conn.execute(
        "SELECT proname, proconfig FROM pg_proc WHERE proname IN"
        " ('book', 'edit_booking', 'book_refusal', 'edit_refusal')")}
    assert set(settings) == {"book", "edit_booking", "book_refusal", "edit_refusal"}
    for name, config in settings.items():
        assert "plan_cache_mode=force_generic_plan" in config, name


def test_a_written_booking_is_shown_as_the_view_shows_it(conn, make, alice, bob, admin):
    """booking_detail_of() builds the JSON of a booking just written from its row;
    GET reads it through booking_api. For every kind of booking they are the
    same text: made for someone else, with people and notes, moved, cancelled,
    in a series, in a room far from UTC."""
    room = make.room("Hudson", "America/New_York")
    series = conn.execute(
        "INSERT INTO series (room_id, user_id, title, rrule, timezone, first_start,"
        " duration_minutes, materialized_until)"
        " VALUES (%s, %s, 'Weekly', 'FREQ=WEEKLY', 'America/New_York', %s, 60, %s)"
        " RETURNING id", (room["id"], alice["id"], START, END)).fetchone()["id"]
    ids = [r["id"] for r in conn.execute(
        "INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_by,"
        " attendees, invitees, notes, series_id)"
        " VALUES (%(room)s, %(alice)s, 'For Alice', %(s)s, %(e)s, %(admin)s, 4,"
        "         '{bob@example.com,guest@partner.example}', 'Bring the plans', NULL),"
        "        (%(room)s, %(bob)s, 'Plain', %(s)s + interval '2 hours',"
        "         %(e)s + interval '2 hours', NULL, NULL, '{}', NULL, NULL),"
        "        (%(room)s, %(alice)s, 'Weekly', %(s)s + interval '7 days',"
        "         %(e)s + interval '7 days', %(alice)s, NULL, '{}', NULL, %(series)s)"
        " RETURNING id", {"room": room["id"], "alice": alice["id"], "bob": bob["id"],
                          "admin": admin["id"], "s": START, "e": END, "series": series})]
    conn.execute("UPDATE bookings SET start_at = start_at + interval '30 minutes',"
                 " end_at = end_at + interval '30 minutes', sequence = sequence + 1,"
                 " updated_at = now(), original_start = start_at WHERE id = %s", (ids[2],))
    conn.execute("UPDATE bookings SET cancelled_at = now(), cancelled_by = %s WHERE id = %s",
                 (bob["id"], ids[1]))
    rows = conn.execute(
        "SELECT booking_detail_of(b)::text AS built,"
        "       (SELECT booking_detail_json(v)::text FROM booking_api v WHERE v.id = b.id)"
        "         AS viewed"
        "  FROM bookings b WHERE b.id = ANY (%s) ORDER BY b.id", (ids,)).fetchall()
    assert len(rows) == 3
    for row in rows:
        assert row["built"] == row["viewed"]


def test_what_a_write_answers_is_what_get_shows(api_as, alice, bob, admin, berlin):
    """Made for someone else with people and notes, moved, assigned automatically:
    each answer's booking is GET /api/bookings/<id>'s, field for field."""
    api = api_as(admin)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Planning", "start_time": "2027-03-02T10:00",
        "end_time": "2027-03-02T11:00", "booked_for": "alice@example.com", "attendees": 3,
        "invitees": ["bob@example.com", "guest@partner.example"], "notes": "Bring the plans"})
    assert made.status_code == 201, made.get_json()
    booking = made.get_json()["booking"]
    assert (booking["user_name"], booking["created_by_name"]) == ("Alice", admin["name"])
    assert booking == api.get(f"/api/bookings/{booking['id']}").get_json()["booking"]

    moved = api_as(alice).patch(f"/api/bookings/{booking['id']}",
                                json={"start_time": "2027-03-02T12:00",
                                      "end_time": "2027-03-02T13:00"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["booking"]["start_time"] == "2027-03-02T12:00:00+01:00"
    assert moved.get_json()["booking"] == api.get(
        f"/api/bookings/{booking['id']}").get_json()["booking"]

    auto = api_as(bob).post("/api/bookings/auto", json={
        "title": "Standup", "attendees": 2, "start_time": "2027-03-02T14:00",
        "end_time": "2027-03-02T14:30", "timezone": "Europe/Berlin"})
    assert auto.status_code == 201, auto.get_json()
    assigned = auto.get_json()["booking"]
    assert assigned == api.get(f"/api/bookings/{assigned['id']}").get_json()["booking"]


def test_a_refusal_shows_the_bookings_in_the_way_as_the_view_shows_them(conn, make, alice,
                                                                         bob, admin):
    """book_refusal() and edit_refusal() write booking_json() out over the bookings
    table (so that their generic plans are index probes): the same JSON as
    booking_json() of booking_api's row, for a booking made by someone else for
    its owner, in a room far from UTC."""
    room = make.room("Hudson", "America/New_York", opens="00:00", closes="23:59")
    taken = conn.execute(
        "INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_by, attendees)"
        " VALUES (%s, %s, 'In the way', %s, %s, %s, 3) RETURNING id",
        (room["id"], bob["id"], START, END, admin["id"])).fetchone()["id"]
    mine = make.booking(room, alice, START + timedelta(days=1), END + timedelta(days=1))
    viewed = conn.execute("SELECT booking_json(v) AS j, booking_json(v)::text AS text"
                          "  FROM booking_api v WHERE v.id = %s", (taken,)).fetchone()

    refused = conn.execute(
        "SELECT data::text AS text FROM book(%s, %s, 'Clash', %s, %s) WHERE kind = 'conflict'",
        (room["id"], alice["id"], [START], [END])).fetchall()
    assert [r["text"] for r in refused] == [viewed["text"]]

    moved = conn.execute(
        "SELECT edit_booking(%s, %s, false, %s, NULL, NULL, %s, %s, NULL, false, NULL, NULL,"
        "                    false, NULL) AS result",
        (mine["id"], alice["id"], START - timedelta(days=1), START, END)).fetchone()["result"]
    assert moved["kind"] == "conflict"
    assert moved["conflicts"] == [viewed["j"]]
