"""Never a double booking: 50 people ask for the same slot at the same moment,
through the real server, and exactly one gets it."""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from conftest import tomorrow_at


def post_json(url, token, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def race(url, tokens, bodies):
    """POST bodies[i] with tokens[i], all let go at once; the (status, json) of each."""
    barrier = threading.Barrier(len(tokens))

    def attempt(token_and_body):
        barrier.wait()
        return post_json(url, *token_and_body)

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(attempt, zip(tokens, bodies)))


def test_fifty_concurrent_requests_for_one_slot_book_it_once(live_server, make, conn):
    room = make.room("Contested", "Europe/Berlin")
    tokens = [make.token(make.user(f"User {i}")) for i in range(50)]
    start = tomorrow_at("Europe/Berlin", 10)
    body = {"room_id": room["id"], "title": "Mine!", "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=1)).isoformat()}
    results = race(live_server.url + "/api/bookings", tokens, [body] * len(tokens))

    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    winner = next(body for status, body in results if status == 201)["booking"]
    for status, answer in results:
        if status == 409:
            assert answer["error"]["code"] == "conflict"
            assert [c["id"] for c in answer["error"]["details"]["conflicts"]] == [winner["id"]]
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_twenty_concurrent_series_over_the_same_slots_never_overlap(live_server, make, conn):
    room = make.room("Busy", "Europe/Berlin")
    tokens = [make.token(make.user(f"Series {i}")) for i in range(20)]
    start = tomorrow_at("Europe/Berlin", 10)

    def body(i):
        # Overlapping patterns: daily or weekly, on the hour or half past, some skipping conflicts.
        begin = start + timedelta(minutes=30 * (i % 3))
        return {"room_id": room["id"], "title": f"Series {i}",
                "start_time": begin.isoformat(), "end_time": (begin + timedelta(hours=1)).isoformat(),
                "recurrence": "FREQ=DAILY;COUNT=20" if i % 2 else "FREQ=WEEKLY;COUNT=5",
                "skip_conflicts": i % 4 == 0}

    results = race(live_server.url + "/api/bookings", tokens, [body(i) for i in range(20)])

    assert {status for status, _ in results} <= {201, 409}, results
    assert any(status == 201 for status, _ in results)
    overlaps = conn.execute("""
        SELECT count(*) AS n FROM bookings a JOIN bookings b
          ON a.room_id = b.room_id AND a.id < b.id
         AND a.cancelled_at IS NULL AND b.cancelled_at IS NULL
         AND tstzrange(a.start_at, a.end_at) && tstzrange(b.start_at, b.end_at)""").fetchone()
    assert overlaps["n"] == 0
    # Every answer matches the table: a 201 lists exactly its series' rows, a 409 left none.
    for status, body in results:
        if status == 201:
            rows = conn.execute("SELECT count(*) AS n FROM bookings WHERE series_id = %s",
                                (body["series"]["id"],)).fetchone()
            assert rows["n"] == len(body["bookings"])
    series_rows = conn.execute("SELECT count(*) AS n FROM series").fetchone()["n"]
    assert series_rows == sum(1 for status, _ in results if status == 201)


def test_fifty_concurrent_auto_assignments_fill_ten_rooms_once_each(live_server, make, conn):
    """50 people ask for a room for the same hour at the same moment; 10 rooms fit.
    Each room is booked once, by 10 of them, and the other 40 hear 409 no_room."""
    fitting = [make.room(f"Fits {i}", "Europe/Berlin", capacity=6 + i % 3,
                         equipment=["screen", "video"]) for i in range(10)]
    make.room("Too small", "Europe/Berlin", capacity=3, equipment=["screen", "video"])
    make.room("No video", "Europe/Berlin", capacity=8, equipment=["screen"])
    make.room("Closed", "Europe/Berlin", capacity=8, equipment=["screen", "video"], active=False)
    tokens = [make.token(make.user(f"User {i}")) for i in range(50)]
    start = tomorrow_at("Europe/Berlin", 10)
    body = {"title": "Ours!", "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=1)).isoformat(), "attendees": 5,
            "equipment": ["screen", "video"]}
    results = race(live_server.url + "/api/bookings/auto", tokens, [body] * len(tokens))

    statuses = [status for status, _ in results]
    assert statuses.count(201) == 10, sorted(statuses)
    assert statuses.count(409) == 40, sorted(statuses)
    assert {answer["error"]["code"] for status, answer in results if status == 409} == {"no_room"}
    won = [answer["room"]["id"] for status, answer in results if status == 201]
    assert sorted(won) == sorted(room["id"] for room in fitting)
    rows = conn.execute("SELECT room_id FROM bookings WHERE cancelled_at IS NULL").fetchall()
    assert sorted(r["room_id"] for r in rows) == sorted(won)
