"""A booking checked against this process's copy of the rooms (booking/memo/rooms.py):
one statement when the copy is current, and never a booking under a policy the
database no longer has (BOOK_SQL's gate), however late the notification."""

from __future__ import annotations

import re
import time

import pytest

from booking import memo
from booking.bookings import service
from booking.memo.rooms import NONE
from conftest import heard_so_far
from policykit import room_policy

DAY = "2027-03-02"      # Tuesday; NOW is Monday 1 March 2027, 09:00 in Berlin


def book(api, room, start, end):
    return api.post("/api/bookings", json={"room_id": room["id"], "title": "Planning",
                                           "start_time": f"{DAY}T{start}",
                                           "end_time": f"{DAY}T{end}"})


def statements(response) -> int:
    return int(re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"])[1])


def live(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM bookings WHERE cancelled_at IS NULL"
                        ).fetchone()["n"]


@pytest.fixture
def api(api_as, alice, berlin, app, conn):
    """Alice's API client, already known to the process (asked twice: listening, then
    kept), once the process has heard every notification sent so far (the
    room's, from its fixture): a late one would make it forget its copy mid-test."""
    found = api_as(alice)
    for _ in range(2):
        assert found.get("/api/me").status_code == 200
    heard_so_far(app, conn)
    return found


def stale(app, change) -> None:
    """Run `change` elsewhere while this process keeps its copy of the rooms as it
    was, as if the notification had not arrived yet: it is heard (and the copy
    forgotten) here, and the old copy put back."""
    kept = memo.of(app)
    with app.app_context():
        version, by_id = kept.rooms.current()
        assert version != NONE
        change()
        deadline = time.monotonic() + 30          # for a failure only; it takes milliseconds
        while kept.channel.poll() and kept.rooms.current()[0] != NONE:
            assert time.monotonic() < deadline, "the change was never heard"
            time.sleep(0.002)
        kept.rooms.replace(version, list(by_id.values()), by_id.policies, by_id.areas)


def test_the_first_booking_keeps_the_rooms_and_the_next_costs_one_statement(
        api, alice, berlin, app, conn):
    first = book(api, berlin, "10:00", "10:30")
    assert first.status_code == 201, first.get_json()
    assert statements(first) == 2                        # the room, then book() with the rooms
    with app.app_context():
        assert berlin["id"] in memo.of(app).rooms.current()[1]
    second = book(api, berlin, "11:00", "11:30")
    assert second.status_code == 201, second.get_json()
    assert statements(second) == 1
    refused = book(api, berlin, "07:00", "07:30")        # the rules, from the copy
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "outside_hours"
    assert statements(refused) == 0
    taken = book(api, berlin, "10:00", "10:30")
    assert taken.status_code == 409
    assert statements(taken) == 1
    assert live(conn) == 2


def test_a_policy_tightened_elsewhere_refuses_even_before_the_process_hears_of_it(
        api, alice, berlin, app, conn):
    assert book(api, berlin, "10:00", "10:30").status_code == 201
    stale(app, lambda: room_policy(conn, berlin, max_minutes=30))
    r = book(api, berlin, "11:00", "12:00")
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["code"] == "too_long"
    assert statements(r) == 1          # the gate refused, the rooms came back; no book()
    assert live(conn) == 1
    with app.app_context():            # the copy is the database's again
        assert memo.of(app).rooms.current()[1].policies[berlin["id"]].max_minutes == 30


def test_a_policy_loosened_elsewhere_books_in_a_second_statement(api, berlin, app, conn):
    room_policy(conn, berlin, max_minutes=30)
    assert book(api, berlin, "10:00", "10:30").status_code == 201
    stale(app, lambda: room_policy(conn, berlin, max_minutes=120))
    r = book(api, berlin, "11:00", "11:30")
    assert r.status_code == 201, r.get_json()
    assert statements(r) == 2          # the gate refused (nothing booked), then booked
    assert live(conn) == 2
    longer = book(api, berlin, "13:00", "15:00")
    assert longer.status_code == 201, longer.get_json()
    assert statements(longer) == 1


def test_a_room_closed_elsewhere_is_not_booked_from_the_copy(api, alice, berlin, app, conn):
    assert book(api, berlin, "10:00", "10:30").status_code == 201
    stale(app, lambda: conn.execute("UPDATE rooms SET opens = '12:00' WHERE id = %s",
                                    (berlin["id"],)))
    r = book(api, berlin, "11:00", "11:30")
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["code"] == "outside_hours"
    assert live(conn) == 1


def test_the_gate_runs_no_book_when_the_version_differs(api, alice, berlin, app, conn):
    """The gate itself: BOOK_SQL with a version the database does not have books
    nothing and sends the rooms."""
    assert book(api, berlin, "10:00", "10:30").status_code == 201
    version = conn.execute("SELECT memo_version('rooms') AS v").fetchone()["v"]
    args = {"room": berlin["id"], "owner": alice["id"], "title": "x",
            "starts": [f"{DAY}T14:00+01:00"], "ends": [f"{DAY}T14:30+01:00"],
            "creator": alice["id"], "attendees": None, "invitees": [], "notes": None,
            "admin": False, "overrides": None, "checked_in": None}
    no_alternatives = {name: None for name in re.findall(r"%\((alt_\w+)\)s", service.BOOK_SQL)}
    for asked, booked in ((version + 1, 0), (version, 1)):
        rows = conn.execute(service.BOOK_SQL, {**args, **no_alternatives, "rooms_version": asked,
                                               "kept": asked}).fetchall()
        assert [r["kind"] for r in rows] == (["created"] if booked else ["rooms"])
        assert live(conn) == 1 + booked


def test_an_edit_reads_the_policy_as_the_database_has_it_whatever_the_copy_says(
        api, berlin, app, conn):
    """An edit's first statement says whether the copy is current (and sends the rooms
    when it is not): a move is judged by the policy of that moment."""
    made = book(api, berlin, "10:00", "10:30")
    assert made.status_code == 201
    booking = made.get_json()["booking"]
    moved = api.patch(f"/api/bookings/{booking['id']}", json={"end_time": f"{DAY}T11:00"})
    assert moved.status_code == 200, moved.get_json()
    assert statements(moved) == 2                        # the booking, then the change
    stale(app, lambda: room_policy(conn, berlin, max_minutes=45))
    r = api.patch(f"/api/bookings/{booking['id']}", json={"end_time": f"{DAY}T11:30"})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["code"] == "too_long"
    assert statements(r) == 1
    kept = conn.execute("SELECT end_at FROM bookings WHERE id = %s", (booking["id"],)).fetchone()
    assert kept["end_at"].isoformat() == "2027-03-02T10:00:00+00:00"      # 11:00 in Berlin
    shorter = api.patch(f"/api/bookings/{booking['id']}", json={"end_time": f"{DAY}T10:45"})
    assert shorter.status_code == 200, shorter.get_json()
    assert statements(shorter) == 2


def test_bookings_racing_a_policy_change_are_judged_by_the_policy_their_statement_saw(
        api, api_as, alice, berlin, app, conn, database_url):
    """Four people book hour-long meetings from the copy while an administrator
    limits the room to 30 minutes: a booking whose statement began after the
    change committed was judged by the new limit (refused); those before may stand."""
    import threading
    from datetime import date, timedelta

    import psycopg

    made = threading.Event()
    done: list[int] = []
    committed: list = []

    def people(n: int) -> None:
        client = api_as(alice)
        for k in range(40):
            day = date(2027, 3, 2) + timedelta(days=k)
            r = client.post("/api/bookings", json={
                "room_id": berlin["id"], "title": "Race",
                "start_time": f"{day}T{9 + 2 * n:02d}:00", "end_time": f"{day}T{10 + 2 * n:02d}:00"})
            assert r.status_code in (201, 422), r.get_json()
            if r.status_code == 422:
                assert r.get_json()["error"]["code"] == "too_long"
            done.append(r.status_code)
            if done.count(201) >= 8:
                made.set()

    def administrator() -> None:
        made.wait(30)
        with psycopg.connect(database_url, autocommit=True) as other:
            room_policy(other, berlin, max_minutes=30)
            committed.append(other.execute("SELECT clock_timestamp()").fetchone()[0])

    threads = [threading.Thread(target=people, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=administrator))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 160 and committed
    assert 201 in done and 422 in done                     # both sides of the change happened
    late = conn.execute("SELECT count(*) AS n FROM bookings WHERE title = 'Race' "
                        "AND created_at > %s", (committed[0],)).fetchone()["n"]
    assert late == 0
