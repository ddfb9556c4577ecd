"""What the database guarantees about policies under concurrency, through the real
server (gunicorn, several workers and threads): a quota and a buffer hold however
many requests race (issue 18)."""

from __future__ import annotations

from datetime import timedelta

from conftest import tomorrow_at
from policykit import area, put_in
from test_concurrency import race


def test_thirty_simultaneous_bookings_against_three_a_day_leave_exactly_three(
        live_server, make, conn):
    room = make.room("Quota room", "Europe/Berlin")
    building = area(conn, "Building B", quota={"bookings_per_day": 3})
    put_in(conn, room, building)
    token = make.token(make.user("Quentin"))
    start = tomorrow_at("Europe/Berlin", 9)
    bodies = [{"room_id": room["id"], "title": f"Slot {n}",
               "start_time": (start + timedelta(minutes=15 * n)).isoformat(),
               "end_time": (start + timedelta(minutes=15 * n + 15)).isoformat()}
              for n in range(30)]
    results = race(live_server.url + "/api/bookings", [token] * 30, bodies)

    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 3, statuses
    assert statuses.count(422) == 27, statuses
    for status, answer in results:
        if status == 422:
            details = answer["error"]["details"]
            assert answer["error"]["code"] == "quota_exceeded"
            assert (details["quota"], details["used"], details["limit"]) == (
                "bookings_per_day", 3, 3)
    assert conn.execute("SELECT count(*) AS n FROM bookings WHERE cancelled_at IS NULL"
                        ).fetchone()["n"] == 3


def test_requests_less_than_the_buffer_apart_cannot_both_succeed(live_server, make, conn):
    """Ten people ask for 10:00-10:30, ten for 10:40-11:10: with a 15-minute buffer
    any two of them are too close, so exactly one request wins (without the
    buffer, one of each would)."""
    room = make.room("Buffered", "Europe/Berlin")
    building = area(conn, "Building B", buffer_minutes=15)
    put_in(conn, room, building)
    tokens = [make.token(make.user(f"User {i}")) for i in range(20)]
    ten = tomorrow_at("Europe/Berlin", 10)
    slots = [(ten, ten + timedelta(minutes=30)),
             (ten + timedelta(minutes=40), ten + timedelta(minutes=70))]
    bodies = [{"room_id": room["id"], "title": "Close", "start_time": slots[i % 2][0].isoformat(),
               "end_time": slots[i % 2][1].isoformat()} for i in range(20)]
    results = race(live_server.url + "/api/bookings", tokens, bodies)

    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 19, statuses
    rows = conn.execute("SELECT start_at, end_at, buffer_minutes FROM bookings "
                        "WHERE cancelled_at IS NULL").fetchall()
    assert len(rows) == 1 and rows[0]["buffer_minutes"] == 15


def _send(url, token, method, body):
    """One JSON request with a bearer token: (status, json)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_moves_and_creates_by_one_person_against_a_quota_leave_exactly_the_quota(
        live_server, make, conn):
    """bookings_per_day 3: Quentin's six bookings on the day after tomorrow are moved
    to tomorrow while six new ones for tomorrow are made, all twelve let go at
    once. A move counts like a new booking on its new day (without itself), under
    the same per-person lock: exactly three of the twelve land on tomorrow, the
    other nine are 422 quota_exceeded and the refused moves stay where they were."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    rooms = [make.room(f"Quota room {n}", "Europe/Berlin") for n in range(2)]
    building = area(conn, "Building B", quota={"bookings_per_day": 3})
    for room in rooms:
        put_in(conn, room, building)
    quentin = make.user("Quentin")
    token = make.token(quentin)
    tomorrow = tomorrow_at("Europe/Berlin", 9)
    later = tomorrow + timedelta(days=1)
    # made before the quota applied to them (straight in the table): six on one day
    existing = [make.booking(rooms[0], quentin, later + timedelta(minutes=30 * n),
                             later + timedelta(minutes=30 * n + 30)) for n in range(6)]
    requests = []
    for n, booking in enumerate(existing):
        start = tomorrow + timedelta(minutes=30 * n)
        requests.append(("PATCH", f"/api/bookings/{booking['id']}",
                         {"start_time": start.isoformat()}))
    for n in range(6):
        start = tomorrow + timedelta(minutes=30 * n)
        requests.append(("POST", "/api/bookings",
                         {"room_id": rooms[1]["id"], "title": f"New {n}",
                          "start_time": start.isoformat(),
                          "end_time": (start + timedelta(minutes=30)).isoformat()}))
    barrier = threading.Barrier(len(requests))

    def attempt(request):
        method, path, body = request
        barrier.wait()
        return method, _send(live_server.url + path, token, method, body)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        results = list(pool.map(attempt, requests))

    won = [(method, status) for method, (status, _) in results if status in (200, 201)]
    refused = [answer for _, (status, answer) in results if status == 422]
    assert len(won) == 3, results
    assert len(refused) == 9, results
    for answer in refused:
        details = answer["error"]["details"]
        assert answer["error"]["code"] == "quota_exceeded"
        assert (details["quota"], details["used"], details["limit"]) == ("bookings_per_day", 3, 3)
    day_of = "(start_at AT TIME ZONE 'Europe/Berlin')::date"
    counts = {r["day"]: r["n"] for r in conn.execute(
        f"SELECT {day_of} AS day, count(*) AS n FROM bookings WHERE cancelled_at IS NULL "
        f"GROUP BY 1").fetchall()}
    moved = sum(1 for method, _ in won if method == "PATCH")
    assert counts[tomorrow.date()] == 3
    assert counts.get(later.date(), 0) == 6 - moved
