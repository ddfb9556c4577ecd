"""The hot reads are answered by index scans on a table of 100,000 bookings.

No Seq Scan on bookings in EXPLAIN for the day view, "my bookings" (both
directions) and the rooms overview: their cost must not grow with the table.
"""

from datetime import date, datetime, timedelta

import psycopg
import pytest

from booking import db
from booking.board import service as board
from booking.bookings import service as bookings
from booking.rooms import service as rooms
from conftest import NOW, UTC

ROOMS, USERS, DAYS, SLOTS = 50, 200, 700, 3   # 50 * 700 * 3 = 105,000 bookings


@pytest.fixture(scope="module")
def big_db(pg_cluster, template_url):
    name = "explain_100k"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE booking_template')
    url = pg_cluster.url(name)
    with db.connect(url) as conn:
        conn.execute("INSERT INTO users (email, name) SELECT 'u' || i || '@example.com', 'User ' || i "
                     "FROM generate_series(1, %s) i", (USERS,))
        conn.execute("INSERT INTO rooms (name, capacity, timezone) SELECT 'Room ' || i, 4 + i %% 20, "
                     "(ARRAY['Europe/Berlin', 'America/New_York'])[1 + i %% 2] "
                     "FROM generate_series(1, %s) i", (ROOMS,))
        # Three one-hour meetings a day per room, a year either side of NOW.
        conn.execute("""
            INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
            SELECT r, 1 + (r * 7 + d * 13 + s) %% %(users)s, 'Meeting',
                   t, t + interval '1 hour'
              FROM generate_series(1, %(rooms)s) r,
                   generate_series(0, %(days)s - 1) d,
                   generate_series(0, %(slots)s - 1) s,
                   LATERAL (SELECT %(start)s::timestamptz + d * interval '1 day'
                                   + interval '10 hours' + s * interval '2 hours' AS t) x""",
                     {"users": USERS, "rooms": ROOMS, "days": DAYS, "slots": SLOTS,
                      "start": NOW - timedelta(days=DAYS // 2)})
        # One in fifty cancelled, as in real life: the cancelled-rows indexes get used.
        conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id % 50 = 0")
        conn.execute("VACUUM ANALYZE")
        assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == ROOMS * DAYS * SLOTS
    yield url
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plan(url, sql, params):
    with db.connect(url) as conn:
        # Plan as the server does after a few runs (a generic, prepared plan),
        # and as a one-off: both must use the indexes.
        rows = conn.execute("EXPLAIN " + sql, params).fetchall()
    return "\n".join(row["QUERY PLAN"] for row in rows)


def assert_indexed(text):
    assert "Seq Scan on bookings" not in text, text
    assert "Index" in text, text


def test_day_view_uses_the_index(big_db):
    assert_indexed(plan(big_db, rooms.DAY_SQL, {"room": 7, "day": date(2027, 3, 2), "now": NOW}))


def test_the_board_reads_bookings_by_index_only(big_db):
    """Issue 19: the board's bookings come from bookings_room_start alone, one short
    range per room, whatever the size of the table; with or without filters."""
    for building, floor in ((None, None), ("", 0)):
        text = plan(big_db, board.BOARD_SQL, {"day": date(2027, 3, 2), "now": NOW,
                                             "building": building, "floor": floor, "kept": -1})
        assert_indexed(text)
        assert "Index Only Scan using bookings_room_start on bookings" in text, text


def test_a_room_s_week_uses_the_index(big_db):
    assert_indexed(plan(big_db, rooms.WEEK_SQL, {"room": 7, "day": date(2027, 3, 2), "now": NOW}))


def test_overview_uses_the_index(big_db):
    assert_indexed(plan(big_db, rooms.OVERVIEW_SQL, {"now": NOW, "everything": False}))


def test_my_bookings_uses_the_index_both_ways(big_db):
    params = {"user": 5, "now": NOW, "after_at": datetime(1, 1, 1, tzinfo=UTC), "after_id": 0,
              "limit": 21}
    text = plan(big_db, bookings.MINE_UPCOMING_SQL, params)
    assert_indexed(text)
    assert "bookings_user_start" in text
    params.update(after_at=datetime(9999, 12, 31, tzinfo=UTC), after_id=2**63 - 1)
    text = plan(big_db, bookings.MINE_PAST_SQL, params)
    assert_indexed(text)
    assert "bookings_user_start" in text


def test_cancel_and_get_use_the_primary_key(big_db):
    assert_indexed(plan(big_db, bookings.GET_SQL, (1234,)))
    assert_indexed(plan(big_db, bookings.GET_MANY_SQL, {"ids": [1, 2, 3]}))


def test_availability_and_feeds_use_the_indexes(big_db):
    from booking.feeds import service as feeds
    assert_indexed(plan(big_db, rooms.AVAILABILITY_SQL, {
        "room": 7, "now": NOW, "start_at": None, "start_local": datetime(2027, 3, 1),
        "end_at": None, "end_local": datetime(2027, 4, 1)}))
    window = {"since": NOW - timedelta(days=30), "until": NOW + timedelta(days=181)}
    text = plan(big_db, feeds.ROOM_FEED_SQL, {"room": 7, **window})
    assert_indexed(text)
    assert "bookings_room_cancelled" in text
    text = plan(big_db, feeds.PERSONAL_FEED_SQL, {"user": 5, **window})
    assert_indexed(text)
    assert "bookings_user_cancelled" in text


# -- the finder ---------------------------------------------------------------------------

def finder_params(**changes):
    start = datetime(2027, 3, 2, 10, tzinfo=UTC)
    return {"start": start, "end": start + timedelta(hours=1), "people": 4, "equipment": [],
            "building": None, "floor": None, "not_before": NOW,
            "until": NOW + timedelta(days=180), **changes}


def test_the_free_room_query_uses_the_index(big_db):
    """Both ways the search's statement runs: with the process's copy of the rooms
    out of date (it sends them again), and, as nearly always, current."""
    from booking import rules
    from booking.finder import service as finder

    start = datetime(2027, 3, 2, 10, tzinfo=UTC)
    need = finder.Need(start=start, end=start + timedelta(hours=1), people=4)
    allowed = finder.Allowed(need, NOW, rules.Limits())
    stale = finder.free_params(need, allowed)
    with db.connect(big_db) as conn:
        row = conn.execute(finder.FREE_SQL, stale).fetchone()
    by_id = {room["id"]: room for room in row["rooms"]}
    current = finder.free_params(need, allowed, row["rooms_version"], by_id)
    assert current["rooms"].count(",") + 1 == ROOMS // 2   # open at 11:00 in Berlin only
    for params in (stale, current):
        text = plan(big_db, finder.FREE_SQL, params)
        assert_indexed(text)
        assert "bookings_room_start" in text


def test_batch_availability_uses_the_index(big_db):
    from booking.finder import service as finder

    start = datetime(2027, 3, 2, 9, tzinfo=UTC)
    params = {"rooms": [1 + i % ROOMS for i in range(500)],
              "starts": [start + timedelta(minutes=30 * (i % 16)) for i in range(500)],
              "ends": [start + timedelta(minutes=30 * (i % 16) + 30) for i in range(500)],
              "local_starts": [None] * 500, "local_ends": [None] * 500}
    text = plan(big_db, finder.AVAILABILITY_SQL, params)
    assert_indexed(text)
    assert "bookings_room_start" in text


def nested_plans(url, sql, params):
    """The plans of every statement run inside `sql`'s functions, via auto_explain;
    what `sql` writes is rolled back."""
    notices = []
    with db.connect(url) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        try:
            conn.execute("LOAD 'auto_explain'")
        except psycopg.Error:
            pytest.skip("auto_explain is not installed with this PostgreSQL")
        for setting in ("auto_explain.log_min_duration = 0",
                        "auto_explain.log_nested_statements = on",
                        "auto_explain.log_level = notice"):
            conn.execute("SET " + setting)
        with conn.transaction(force_rollback=True):
            conn.execute(sql, params)
    return "\n".join(notices)


def test_suggestions_and_auto_book_use_the_index(big_db):
    from booking.finder import service as finder

    text = nested_plans(big_db, finder.SUGGEST_SQL, finder_params())
    assert "WITH fit AS" in text and "Seq Scan on bookings" not in text, text
    assert "bookings_room_start" in text
    # The rooms busy at 18:00-19:00 UTC (all but the odd cancelled one): auto_book
    # tries them all, then suggests.
    busy = finder_params(start=datetime(2027, 3, 2, 18, tzinfo=UTC),
                         end=datetime(2027, 3, 2, 19, tzinfo=UTC))
    with db.connect(big_db) as conn:
        taken = [r["room_id"] for r in conn.execute(
            "SELECT room_id FROM bookings WHERE cancelled_at IS NULL AND start_at = %s ORDER BY 1",
            (busy["start"],))]
    assert len(taken) > ROOMS * 0.9
    text = nested_plans(big_db, finder.AUTO_BOOK_SQL,
                        {**busy, "rooms": taken, "user": 1, "title": "x"})
    assert text.count("Insert on bookings") == len(taken) and "WITH fit AS" in text
    assert "Seq Scan on bookings" not in text, text


def test_the_audit_log_reads_use_the_indexes(big_db):
    """The bulk load above wrote an audit entry per booking (sql/007)."""
    from booking.audit import service as audit

    newest = {"after_at": datetime(9999, 12, 31, tzinfo=UTC), "after_id": 2**63 - 1,
              "limit": 51}
    for used, params, index in (
            ([], {}, "audit_log_at"),
            (["room"], {"room": 7}, "audit_log_room"),
            # actor OR owner: a BitmapOr of audit_log_actor and audit_log_user,
            # or (a busy user) audit_log_at read backward until the page is full
            (["user"], {"user": 5}, "Index"),
            (["since", "until"], {"since": NOW, "until": NOW + timedelta(days=31)},
             "audit_log_at")):
        sql = audit.LIST_SQL.format(filters="".join(audit.FILTERS[f] + " AND " for f in used))
        text = plan(big_db, sql, {**newest, **params})
        assert "Seq Scan on audit_log" not in text, text
        assert index in text, text
