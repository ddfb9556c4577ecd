"""The hot reads run by index on a table of ~150,000 bookings, in the plans
production runs.

The app's connections prepare a statement after a few runs, and PostgreSQL
then settles on a generic plan, made without the parameters' values. So each
statement is prepared as psycopg prepares it and its generic and custom plans
are read as JSON (tests/explain_plans.py): the scan of the big table must be
the named index, bounded by `start_at` (or the key the statement pages by) in
its Index Cond, not merely "an index somewhere" that then filters thousands
of rows.

The data is skewed as real data is: one busy room (booked round the clock,
with thousands of cancelled bookings besides) owned by one heavy user, and
deliveries that are nearly all sent, with few failed and few due.
"""

import re
from datetime import date, datetime, timedelta

import psycopg
import pytest

from booking import db
from booking.board import service as board
from booking.bookings import service as bookings
from booking.rooms import service as rooms
from conftest import NOW, UTC
from explain_plans import Node, plans

ROOMS, USERS, DAYS, SLOTS = 50, 200, 700, 3   # 50 * 700 * 3 = 105,000 bookings
BUSY_ROOM, HEAVY_USER = 1, 1                  # + ~26,600 live and 10,000 cancelled of theirs
SENT, FAILED, DUE = 60_000, 100, 300           # deliveries


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
        # The busy room, the heavy user's: every free half hour of every day, and
        # ten thousand cancelled bookings over the same days.
        conn.execute("""
            INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
            SELECT %(room)s, %(user)s, 'Busy', t, t + interval '30 minutes'
              FROM generate_series(0, %(days)s - 1) d,
                   generate_series(0, 47) h,
                   LATERAL (SELECT %(start)s::timestamptz + d * interval '1 day'
                                   + h * interval '30 minutes' AS t) x
             WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.room_id = %(room)s
                                  AND b.cancelled_at IS NULL
                                  AND b.start_at < t + interval '30 minutes'
                                  AND b.end_at > t)""",
                     {"room": BUSY_ROOM, "user": HEAVY_USER, "days": DAYS,
                      "start": NOW - timedelta(days=DAYS // 2)})
        conn.execute("""
            INSERT INTO bookings (room_id, user_id, title, start_at, end_at, cancelled_at)
            SELECT %(room)s, %(user)s, 'Called off', t, t + interval '1 hour', now()
              FROM generate_series(0, 9999) i,
                   LATERAL (SELECT %(start)s::timestamptz + (i %% %(days)s) * interval '1 day'
                                   + interval '11 hours' AS t) x""",
                     {"room": BUSY_ROOM, "user": HEAVY_USER, "days": DAYS,
                      "start": NOW - timedelta(days=DAYS // 2)})
        # One booking in five invites someone with an account (booking_invitations).
        conn.execute("UPDATE bookings SET invitees = ARRAY['u' || (1 + (id * 7) %% %s) || "
                     "'@example.com'] WHERE id %% 5 = 0", (USERS,))
        # Deliveries: nearly all sent long ago, a few failed, a few due.
        hook = conn.execute("INSERT INTO webhook_endpoints (url, events, secret, created_by) "
                            "VALUES ('https://93.184.215.14/h', '{booking.created}', 's', 1) "
                            "RETURNING id").fetchone()["id"]
        conn.execute("""
            INSERT INTO deliveries (event_id, channel, endpoint_id, status, next_attempt_at)
            SELECT id, 'webhook', %(hook)s,
                   CASE WHEN n <= %(failed)s THEN 'failed'
                        WHEN n <= %(failed)s + %(due)s THEN 'pending' ELSE 'sent' END,
                   CASE WHEN n <= %(failed)s + %(due)s THEN %(now)s + (n %% 7 - 3) * interval '1 hour'
                        ELSE %(now)s - interval '30 days' END
              FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM outbox
                     ORDER BY id LIMIT %(total)s) o""",
                     {"hook": hook, "failed": FAILED, "due": DUE, "now": NOW,
                      "total": SENT + FAILED + DUE})
        # The worker has fanned out everything but the newest events.
        conn.execute("UPDATE outbox SET dispatched_at = now() "
                     "WHERE id < (SELECT max(id) - 500 FROM outbox)")
        conn.execute("VACUUM ANALYZE")
        counted = conn.execute("SELECT count(*) FILTER (WHERE room_id = %s) AS busy, "
                               "count(*) AS n FROM bookings", (BUSY_ROOM,)).fetchone()
        assert counted["n"] > 140_000 and counted["busy"] > counted["n"] // 5
    yield url
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scans(found: list[Node], table: str) -> list[Node]:
    """The nodes that read `table`: a scan of it, or an index scan feeding a bitmap
    on it, which stands for the bitmap heap scan above it (not the INSERT, UPDATE
    or DELETE that writes it)."""
    return [n for n in found
            if (n.relation == table and n.type not in ("ModifyTable", "Bitmap Heap Scan"))
            or (n.type == "Bitmap Index Scan" and n.index and n.index.startswith(table))]


def assert_by_index(url, sql, params, table, index, bound, times=1):
    """In both plans, every read of `table` is an index scan of `index` (a name, or
    a set of acceptable names) whose Index Cond bounds the column `bound`, and
    `table` is read `times` times."""
    names = {index} if isinstance(index, str) else set(index)
    for mode, found in plans(url, sql, params).both():
        read = scans(found, table)
        described = [(n.type, n.index, n.cond, n.filter) for n in read]
        assert len(read) == times, (mode, described)
        for n in read:
            assert n.type in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"), \
                (mode, described)
            assert n.index in names, (mode, described)
            assert re.search(rf"\b{bound}\b", n.cond), (mode, described)


# -- bookings, by room and by user ----------------------------------------------------

def test_day_view_reads_the_rooms_day_by_index(big_db):
    for room in (BUSY_ROOM, 7):
        # The twin's bookings, and for the page each one's own buffer: a second
        # short range (in the generic plan whether asked or not; run only if asked).
        assert_by_index(big_db, rooms.DAY_SQL, {"room": room, "day": date(2027, 3, 2), "now": NOW,
                                                "buffers": True},
                        "bookings", "bookings_room_start", "start_at", times=2)


def test_overview_reads_each_rooms_now_and_today_by_index(big_db):
    # current booking, next booking, today's count: three bounded reads per room
    assert_by_index(big_db, rooms.OVERVIEW_SQL, {"now": NOW, "everything": False},
                    "bookings", "bookings_room_start", "start_at", times=3)


def test_the_board_reads_each_rooms_day_by_index(big_db):
    """Issue 19: the board's bookings come from bookings_room_start, one short range
    per room, whatever the size of the table; with or without filters."""
    for building, floor, area in ((None, None, None), ("", 0, None), (None, None, 1)):
        assert_by_index(big_db, board.BOARD_SQL, {"day": date(2027, 3, 2), "now": NOW,
                                                 "building": building, "floor": floor,
                                                 "area": area, "kept": -1},
                        "bookings", "bookings_room_start", "start_at")


def test_a_rooms_week_reads_by_index(big_db):
    for room in (BUSY_ROOM, 7):
        assert_by_index(big_db, rooms.WEEK_SQL, {"room": room, "day": date(2027, 3, 2),
                                                 "now": NOW, "buffers": True},
                        "bookings", "bookings_room_start", "start_at", times=2)


def test_my_bookings_read_by_index_both_ways(big_db):
    """Their own bookings: an index-only range of bookings_user_start from the
    cursor; those they are invited to: a range of booking_invitations_user, and
    bookings_pkey for each of that page (issue 16)."""
    for user in (HEAVY_USER, 5):
        params = {"user": user, "now": NOW, "after_at": datetime(1, 1, 1, tzinfo=UTC),
                  "after_id": 0, "limit": 21}
        for sql in (bookings.MINE_UPCOMING_SQL, bookings.MINE_PAST_SQL):
            for mode, found in plans(big_db, sql, params).both():
                read = scans(found, "bookings")
                described = [(n.type, n.index, n.cond) for n in read]
                own = [n for n in read if n.index == "bookings_user_start"]
                assert len(own) == 1 and own[0].type == "Index Only Scan", (mode, described)
                assert re.search(r"\bstart_at\b", own[0].cond), (mode, described)
                by_id = [n for n in read if n.index == "bookings_pkey"]
                assert len(by_id) == 1 and "booking_id" in by_id[0].cond, (mode, described)
                assert len(read) == 2, (mode, described)
                invited = scans(found, "booking_invitations")
                assert [n.index for n in invited] == ["booking_invitations_user"], (mode, invited)
                assert re.search(r"\bstart_at\b", invited[0].cond), (mode, invited)
            params.update(after_at=datetime(9999, 12, 31, tzinfo=UTC), after_id=2**63 - 1)


def test_the_day_view_and_the_overview_stay_index_only(big_db):
    """The booking JSON grew (issue 16): its list shape's new fields are in the
    covering index, so the day view and the overview never visit the table."""
    for sql, params in ((rooms.DAY_SQL, {"room": 7, "day": date(2027, 3, 2), "now": NOW,
                                         "buffers": False}),
                        (rooms.DAY_SQL, {"room": 7, "day": date(2027, 3, 2), "now": NOW,
                                         "buffers": True}),
                        (rooms.OVERVIEW_SQL, {"now": NOW, "everything": False})):
        for mode, found in plans(big_db, sql, params).both():
            read = scans(found, "bookings")
            assert read and all(n.type == "Index Only Scan" for n in read), \
                (mode, [(n.type, n.index) for n in read])


def test_get_and_get_many_use_the_primary_key(big_db):
    assert_by_index(big_db, bookings.GET_SQL, (1234,), "bookings", "bookings_pkey", "id")
    assert_by_index(big_db, bookings.GET_MANY_SQL, {"ids": [1, 2, 3]},
                    "bookings", "bookings_pkey", "id")


def test_availability_reads_the_rooms_range_by_index(big_db):
    for room in (BUSY_ROOM, 7):
        assert_by_index(big_db, rooms.AVAILABILITY_SQL, {
            "room": room, "now": NOW, "start_at": None, "start_local": datetime(2027, 3, 1),
            "end_at": None, "end_local": datetime(2027, 4, 1)},
            "bookings", "bookings_room_start", "start_at")


def test_feeds_read_live_and_cancelled_bookings_each_by_its_index(big_db):
    from booking.feeds import service as feeds

    window = {"since": NOW - timedelta(days=30), "until": NOW + timedelta(days=181)}
    for sql, params, live, cancelled in (
            (feeds.ROOM_FEED_SQL, {"room": BUSY_ROOM, **window},
             "bookings_room_start", "bookings_room_cancelled"),
            (feeds.PERSONAL_FEED_SQL, {"user": HEAVY_USER, **window},
             "bookings_user_start", "bookings_user_cancelled")):
        for mode, found in plans(big_db, sql, params).both():
            read = scans(found, "bookings")
            assert sorted(n.index for n in read) == sorted([live, cancelled]), (mode, read)
            assert all("start_at" in n.cond for n in read), (mode, read)


# -- the finder -----------------------------------------------------------------------

def test_the_free_room_query_reads_each_candidate_by_index(big_db):
    """Both ways the search's statement runs: with the process's copy of the rooms
    out of date (it sends them again), and, as nearly always, current."""
    from booking import rules
    from booking.finder import service as finder

    start = datetime(2027, 3, 2, 10, tzinfo=UTC)
    need = finder.Need(start=start, end=start + timedelta(hours=1), people=4)
    stale = finder.free_params(need, finder.Search(need, NOW, {}))
    with db.connect(big_db) as conn:
        row = conn.execute(finder.FREE_SQL, stale).fetchone()
    by_id = {r["room"]["id"]: r["room"] for r in row["rooms"]}
    current = finder.free_params(need, finder.Search(need, NOW, by_id), row["rooms_version"],
                                 by_id)
    assert current["rooms"].count(",") + 1 == ROOMS // 2   # open at 11:00 in Berlin only
    for params in (stale, current):
        params = {**params, "mine_user": HEAVY_USER, "want_mine": True}
        # per candidate: the overlap probe, the day's count, the week's minutes; and
        # the person's own bookings (for quotas) once
        assert_by_index(big_db, finder.FREE_SQL, params, "bookings",
                        {"bookings_room_start", "bookings_user_start"}, "start_at", times=4)
        for mode, found in plans(big_db, finder.FREE_SQL, params).both():
            assert [n.index for n in scans(found, "bookings")].count("bookings_user_start") \
                == 1, mode


def test_batch_availability_reads_each_check_by_index(big_db):
    from booking.finder import service as finder

    start = datetime(2027, 3, 2, 9, tzinfo=UTC)
    params = {"rooms": [1 + i % ROOMS for i in range(500)],
              "starts": [start + timedelta(minutes=30 * (i % 16)) for i in range(500)],
              "ends": [start + timedelta(minutes=30 * (i % 16) + 30) for i in range(500)],
              "local_starts": [None] * 500, "local_ends": [None] * 500}
    assert_by_index(big_db, finder.AVAILABILITY_SQL, params, "bookings", "bookings_room_start",
                    "start_at")


# -- activity, the worker, deliveries ------------------------------------------------------

def test_activity_reads_newest_first_by_index(big_db):
    from booking.events import service as events

    page = {"after_id": 2**63 - 1, "limit": 51}
    assert_by_index(big_db, events.ACTIVITY_ALL_SQL, page, "outbox", "outbox_pkey", "id")
    # A user's events: outbox_user from the cursor on; for the heavy user, whose
    # events fill a page within a few hundred rows, the planner may read the
    # newest events (outbox_pkey) from the cursor on instead. Either way the
    # scan starts at the cursor, in page order, and stops when the page is full.
    for user in (HEAVY_USER, 5):
        assert_by_index(big_db, events.ACTIVITY_MINE_SQL, {"user": user, **page},
                        "outbox", {"outbox_user", "outbox_pkey"}, "id")


def test_the_workers_fan_out_and_claim_read_by_index(big_db):
    from booking.events import worker

    fan_out = {"batch": 80, "now": NOW, "mail_kinds": worker.MAIL_KINDS,
               "invitee_kinds": worker.INVITEE_KINDS}
    for mode, found in plans(big_db, worker.FANOUT_SQL, fan_out).both():
        read = scans(found, "outbox")
        # The undispatched events: the partial index is the bound (it holds only
        # them), read in id order up to the batch; then each is marked by its key.
        assert [n.index for n in read] == ["outbox_undispatched", "outbox_pkey"], (mode, read)
        assert read[1].cond.startswith("(id = "), (mode, read[1])
    claim = {"now": NOW, "batch": 20, "lease_until": NOW + timedelta(minutes=5)}
    for mode, found in plans(big_db, worker.CLAIM_SQL, claim).both():
        read = scans(found, "deliveries")
        assert [n.index for n in read] == ["deliveries_due", "deliveries_pkey"], (mode, read)
        assert re.search(r"\bnext_attempt_at <=", read[0].cond), (mode, read[0])
        assert read[1].cond.startswith("(id = "), (mode, read[1])


def test_the_deliveries_list_reads_by_index(big_db):
    """Failed and pending: a few among tens of thousands sent. Each list reads its
    own partial index from the cursor on, never the sent ones in between."""
    from booking.events import service as events

    page = {"after_id": 2**63 - 1, "limit": 51}
    for status, index in (("failed", "deliveries_failed"), ("pending", "deliveries_pending"),
                          ("sent", "deliveries_pkey")):
        assert_by_index(big_db, events.DELIVERIES_SQL[status], page, "deliveries", index, "id")


def test_the_audit_log_reads_use_the_indexes(big_db):
    """The bulk load above wrote an audit entry per booking (sql/007). Each filter
    reads its index from the cursor on; for the busy room and the heavy user,
    whose entries fill a page quickly, the planner may instead read audit_log_at
    backward from the cursor (page order), which stops as soon as the page is full."""
    from booking.audit import service as audit

    newest = {"after_at": datetime(9999, 12, 31, tzinfo=UTC), "after_id": 2**63 - 1,
              "limit": 51}
    for used, params, index, times in (
            ([], {}, "audit_log_at", 1),
            (["room"], {"room": 7}, "audit_log_room", 1),
            (["room"], {"room": BUSY_ROOM}, {"audit_log_room", "audit_log_at"}, 1),
            (["since", "until"], {"since": NOW, "until": NOW + timedelta(days=31)},
             "audit_log_at", 1)):
        sql = audit.LIST_SQL.format(filters="".join(audit.FILTERS[f] + " AND " for f in used))
        assert_by_index(big_db, sql, {**newest, **params}, "audit_log", index, "at", times)
    # actor OR owner: a BitmapOr of audit_log_actor and audit_log_user, or
    # audit_log_at read backward from the cursor.
    sql = audit.LIST_SQL.format(filters=audit.FILTERS["user"] + " AND ")
    for user in (HEAVY_USER, 5):
        for mode, found in plans(big_db, sql, {**newest, "user": user}).both():
            read = scans(found, "audit_log")
            described = [(n.type, n.index, n.cond) for n in read]
            indexes = sorted(n.index for n in read if n.index)
            assert indexes in (["audit_log_actor", "audit_log_user"], ["audit_log_at"]), \
                (user, mode, described)
            assert all(n.type != "Seq Scan" for n in read), (user, mode, described)
            assert all(re.search(r"\b(actor_id|user_id|at)\b", n.cond) for n in read
                       if n.index), (user, mode, described)


# -- statements run inside functions (auto_explain) -------------------------------------------

def finder_params(**changes):
    start = datetime(2027, 3, 2, 10, tzinfo=UTC)
    return {"start": start, "end": start + timedelta(hours=1), "people": 4, "equipment": [],
            "building": None, "floor": None, "not_before": NOW,
            "until": NOW + timedelta(days=180), "admin": False,
            # a buffer and weekly hours for some rooms, as their policies set them
            "rules": '{"1": {"buffer": 15}, "2": {"hours": [["08:00", "20:00"], null, null, '
                     'null, null, null, null]}}', **changes}


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
