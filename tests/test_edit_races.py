"""Moves under concurrency, through the real server: what the exclusion constraint
and edit_booking()'s row lock guarantee when requests really race."""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone

from conftest import tomorrow_at


def send(url, token, method, body=None):
    request = urllib.request.Request(
        url, data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def at_once(calls):
    """Run every (url, token, method, body) at the same moment; their (status, json)."""
    barrier = threading.Barrier(len(calls))

    def one(call):
        barrier.wait()
        return send(*call)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def test_twenty_moves_into_one_free_slot_leave_one_there_and_nineteen_where_they_were(
        live_server, make, conn):
    room = make.room("Contested", "Europe/Berlin", opens="00:00", closes="23:59")
    people = [make.user(f"Mover {i}") for i in range(20)]
    tokens = [make.token(p) for p in people]
    # Counted in UTC: on the night the clocks go forward, 02:00-03:00 Berlin time
    # does not exist, and adding minutes to Berlin's wall clock would land there.
    base = tomorrow_at("Europe/Berlin", 0).astimezone(timezone.utc)
    # Twenty bookings of half an hour, 00:00 to 10:00 (11:00 when the clocks go
    # forward that night); 14:00-15:00 is free.
    bookings = [make.booking(room, p, base + timedelta(minutes=30 * i),
                             base + timedelta(minutes=30 * i + 30))
                for i, p in enumerate(people)]
    target = tomorrow_at("Europe/Berlin", 14)
    body = {"start_time": target.isoformat(),
            "end_time": (target + timedelta(minutes=30)).isoformat()}
    results = at_once([(f"{live_server.url}/api/bookings/{b['id']}", t, "PATCH", body)
                       for b, t in zip(bookings, tokens)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * 19, statuses
    winner = next(answer for status, answer in results if status == 200)["booking"]
    for status, answer in results:
        if status == 409:
            assert answer["error"]["code"] == "conflict"
            assert [c["id"] for c in answer["error"]["details"]["conflicts"]] == [winner["id"]]
    rows = conn.execute("SELECT id, start_at FROM bookings WHERE cancelled_at IS NULL "
                        "ORDER BY id").fetchall()
    there = [r["id"] for r in rows if r["start_at"] == target]
    assert there == [winner["id"]]
    for i, (b, r) in enumerate(zip(bookings, rows)):
        if r["id"] != winner["id"]:
            assert r["start_at"] == base + timedelta(minutes=30 * i), r   # where it was


def test_a_move_and_a_cancel_of_one_booking_racing_end_consistently(live_server, make, conn):
    """Ten bookings, each moved by its owner and cancelled by an admin at the same
    moment. Whichever lands first, the outcome is one of the two orders: the move
    answered 200 and the booking was cancelled where it moved to, or the move found
    it cancelled (409 not_editable) and it was cancelled where it was. Never a
    booking cancelled yet moved by a refused move, never a 500."""
    room = make.room("Raced", "Europe/Berlin", opens="00:00", closes="23:59")
    owner, admin = make.user("Owner"), make.user("Admin", role="admin", email="adm@example.com")
    owner_token, admin_token = make.token(owner), make.token(admin)
    base = tomorrow_at("Europe/Berlin", 8)
    bookings = [make.booking(room, owner, base + timedelta(hours=i),
                             base + timedelta(hours=i, minutes=30)) for i in range(10)]
    calls = []
    for i, b in enumerate(bookings):
        moved = base + timedelta(hours=i, minutes=30)
        calls.append((f"{live_server.url}/api/bookings/{b['id']}", owner_token, "PATCH",
                      {"start_time": moved.isoformat()}))
        calls.append((f"{live_server.url}/api/bookings/{b['id']}", admin_token, "DELETE", None))
    results = at_once(calls)

    for i, b in enumerate(bookings):
        (move_status, move), (cancel_status, cancel) = results[2 * i], results[2 * i + 1]
        assert cancel_status == 200
        row = conn.execute("SELECT start_at, cancelled_at FROM bookings WHERE id = %s",
                           (b["id"],)).fetchone()
        assert row["cancelled_at"] is not None
        # the cancel's answer shows the booking as it was cancelled: where it is now
        assert cancel["booking"]["start_time"] == row["start_at"].astimezone(base.tzinfo).isoformat()
        if move_status == 200:
            assert move["booking"]["cancelled_at"] is None       # it was live when it moved
            assert row["start_at"] == base + timedelta(hours=i, minutes=30)
        else:
            assert (move_status, move["error"]["code"]) == (409, "not_editable")
            assert row["start_at"] == base + timedelta(hours=i)


def test_twenty_identical_moves_at_once_change_the_booking_once(live_server, make, conn):
    """Found by testing from outside: twenty identical PATCHes racing each answered 200,
    and each bumped the sequence and sent a booking.updated event (twenty "Changed"
    mails for one move). The first moves it; the others find it there already and
    write nothing."""
    room = make.room("Once", "Europe/Berlin", opens="00:00", closes="23:59")
    owner = make.user("Mover")
    token = make.token(owner)
    start = tomorrow_at("Europe/Berlin", 9)
    booking = make.booking(room, owner, start, start + timedelta(minutes=30))
    target = tomorrow_at("Europe/Berlin", 14)
    body = {"start_time": target.isoformat(),
            "end_time": (target + timedelta(minutes=30)).isoformat(), "title": "Moved"}
    results = at_once([(f"{live_server.url}/api/bookings/{booking['id']}", token, "PATCH", body)
                       for _ in range(20)])
    assert sorted(status for status, _ in results) == [200] * 20
    assert {answer["booking"]["start_time"] for _, answer in results} == {
        target.isoformat(timespec="seconds")}
    row = conn.execute("SELECT sequence, title FROM bookings WHERE id = %s",
                       (booking["id"],)).fetchone()
    assert row == {"sequence": 1, "title": "Moved"}
    told = conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'booking.updated'"
                        ).fetchone()["n"]
    assert told == 1
