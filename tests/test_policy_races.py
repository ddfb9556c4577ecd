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
