"""Never a double booking: 50 people ask for the same slot at the same moment,
through the real server, and exactly one gets it."""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from booking.times import zone


def post_json(url, token, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def tomorrow_at(tz_name, hour):
    tz = zone(tz_name)
    day = datetime.now(timezone.utc).astimezone(tz).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=tz)


def test_fifty_concurrent_requests_for_one_slot_book_it_once(live_server, make, conn):
    room = make.room("Contested", "Europe/Berlin")
    tokens = [make.token(make.user(f"User {i}")) for i in range(50)]
    start = tomorrow_at("Europe/Berlin", 10)
    body = {"room_id": room["id"], "title": "Mine!", "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=1)).isoformat()}
    barrier = threading.Barrier(50)

    def attempt(token):
        barrier.wait()
        return post_json(live_server.url + "/api/bookings", token, body)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, tokens))

    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    winner = next(body for status, body in results if status == 201)["booking"]
    for status, answer in results:
        if status == 409:
            assert answer["error"]["code"] == "conflict"
            assert [c["id"] for c in answer["error"]["details"]["conflicts"]] == [winner["id"]]
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1
