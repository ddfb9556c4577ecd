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


def test_twenty_concurrent_series_over_the_same_slots_have_one_exact_outcome(live_server, make,
                                                                            conn):
    """Twenty series race for the same five mornings and five afternoons of a room.

    The ten morning series refuse conflicts: exactly one gets all five mornings
    (201) and each of the other nine is a 409 naming, occurrence by occurrence,
    the winner's booking in its way; nothing of theirs is left in the tables.
    The ten afternoon series skip conflicts: every afternoon is booked exactly
    once, each 201's bookings and skips are the five afternoons between them, and
    a series that finds all five taken is a 409 like the mornings' (a series of
    no occurrence is never made). Which request wins is up to the race; the
    outcome is not.
    """
    room = make.room("Busy", "Europe/Berlin")
    tokens = [make.token(make.user(f"Series {i}")) for i in range(20)]
    morning, afternoon = tomorrow_at("Europe/Berlin", 10), tomorrow_at("Europe/Berlin", 14)
    mornings = [(morning + timedelta(days=d)).isoformat() for d in range(5)]
    afternoons = [(afternoon + timedelta(days=d)).isoformat() for d in range(5)]

    def body(i):
        begin = morning if i < 10 else afternoon
        return {"room_id": room["id"], "title": f"Series {i}", "start_time": begin.isoformat(),
                "end_time": (begin + timedelta(hours=1)).isoformat(),
                "recurrence": "FREQ=DAILY;COUNT=5", "skip_conflicts": i >= 10}

    results = race(live_server.url + "/api/bookings", tokens, [body(i) for i in range(20)])
    whole, skipping = results[:10], results[10:]

    # -- all or nothing: one winner, nine refusals naming the winner's bookings ---------
    assert sorted(status for status, _ in whole) == [201] + [409] * 9, whole
    winner = next(answer for status, answer in whole if status == 201)
    assert [b["start_time"] for b in winner["bookings"]] == mornings
    assert winner["skipped"] == []
    won = {b["start_time"]: b["id"] for b in winner["bookings"]}
    for status, answer in whole:
        if status == 409:
            assert answer["error"]["code"] == "conflict"
            conflicts = answer["error"]["details"]["conflicts"]
            assert [(c["start_time"], [b["id"] for b in c["bookings"]]) for c in conflicts] \
                == [(start, [won[start]]) for start in mornings]

    # -- skipping conflicts: every afternoon once, each answer accounting for all five ---
    assert {status for status, _ in skipping} <= {201, 409}, skipping
    booked = []
    for status, answer in skipping:
        if status == 409:     # all five taken by then: nothing to book
            conflicts = answer["error"]["details"]["conflicts"]
            assert [c["start_time"] for c in conflicts] == afternoons, answer
            continue
        assert answer["bookings"], answer
        mine = [b["start_time"] for b in answer["bookings"]]
        skipped = [k["start_time"] for k in answer["skipped"]]
        assert sorted(mine + skipped) == afternoons, answer
        booked += mine
    assert sorted(booked) == afternoons

    # -- and the tables say exactly that ------------------------------------------------
    rows = conn.execute("""
        SELECT b.id, b.series_id, b.start_at FROM bookings b
         WHERE b.cancelled_at IS NULL ORDER BY b.start_at""").fetchall()
    answered = {b["id"]: answer["series"]["id"] for status, answer in results if status == 201
                for b in answer["bookings"]}
    assert {r["id"]: r["series_id"] for r in rows} == answered
    assert len(rows) == 10
    series = conn.execute("SELECT id FROM series ORDER BY id").fetchall()
    assert sorted(r["id"] for r in series) == sorted(
        answer["series"]["id"] for status, answer in results if status == 201)
    skips = conn.execute("SELECT count(*) AS n FROM series_skips").fetchone()["n"]
    made = sum(status == 201 for status, _ in skipping)
    assert skips == sum(len(answer["skipped"]) for status, answer in skipping
                        if status == 201) == 5 * made - 5


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
