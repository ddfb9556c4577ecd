"""Budgets that do not depend on speed: SQL statements per request, connections
handed back after every request (failing ones too), index use in EXPLAIN."""

import re
from datetime import datetime, timedelta

import pytest

from booking import db
from conftest import NOW, UTC

DAY = "2027-03-02"
SLOT = {"start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}


def statements(response) -> int:
    match = re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"])
    return int(match.group(1))


@pytest.fixture
def world(make, alice, bob, admin, berlin, api_as, browser_as):
    """A room with one booking each by Alice and Bob, and clients for everyone."""
    mine = make.booking(berlin, alice, datetime(2027, 3, 2, 12, tzinfo=UTC),
                        datetime(2027, 3, 2, 13, tzinfo=UTC))
    theirs = make.booking(berlin, bob, datetime(2027, 3, 2, 14, tzinfo=UTC),
                          datetime(2027, 3, 2, 15, tzinfo=UTC))
    return {"room": berlin["id"], "mine": mine["id"], "theirs": theirs["id"],
            "alice": api_as(alice), "admin": api_as(admin), "page": browser_as(alice),
            "admin_page": browser_as(admin)}


# (who, method, url, body, expected status, most statements)
API_CASES = [
    ("alice", "GET", "/api/rooms", None, 200, 2),
    ("alice", "GET", "/api/rooms/{room}", None, 200, 2),
    ("alice", "GET", "/api/rooms/4242", None, 404, 2),
    ("alice", "GET", "/api/rooms/{room}/bookings?date=" + DAY, None, 200, 2),
    ("alice", "GET", "/api/rooms/{room}/bookings", None, 200, 2),
    ("alice", "GET", "/api/rooms/{room}/bookings?date=bad", None, 400, 1),
    ("alice", "GET", "/api/bookings/mine", None, 200, 2),
    ("alice", "GET", "/api/bookings/mine?when=past&limit=5", None, 200, 2),
    ("alice", "GET", "/api/bookings/{mine}", None, 200, 2),
    ("alice", "GET", "/api/bookings/4242", None, 404, 2),
    ("alice", "GET", "/api/bookings?ids={mine},{theirs}", None, 200, 2),
    ("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", **SLOT}, 201, 3),
    ("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x",
                                        "start_time": f"{DAY}T13:30", "end_time": f"{DAY}T14:30"}, 409, 3),
    ("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x",
                                        "start_time": f"{DAY}T07:00", "end_time": f"{DAY}T08:00"}, 422, 2),
    ("alice", "POST", "/api/bookings", {"room_id": 4242, "title": "x", **SLOT}, 404, 2),
    ("alice", "POST", "/api/bookings", {"title": "x"}, 400, 1),
    ("alice", "DELETE", "/api/bookings/{mine}", None, 200, 2),
    ("alice", "DELETE", "/api/bookings/{theirs}", None, 403, 2),
    ("alice", "DELETE", "/api/bookings/4242", None, 404, 2),
    ("alice", "GET", "/api/me", None, 200, 1),
    ("alice", "GET", "/api/tokens", None, 200, 2),
    ("alice", "POST", "/api/tokens", {"name": "x"}, 201, 2),
    ("alice", "POST", "/api/rooms", {"name": "X", "capacity": 3, "timezone": "UTC"}, 403, 1),
    ("admin", "POST", "/api/rooms", {"name": "X", "capacity": 3, "timezone": "UTC"}, 201, 2),
    ("admin", "PATCH", "/api/rooms/{room}", {"capacity": 3}, 200, 2),
    ("admin", "PATCH", "/api/rooms/{room}", {"capacity": -3}, 400, 1),
    ("anonymous", "GET", "/api/rooms", None, 401, 0),
    ("anonymous", "GET", "/healthz", None, 200, 0),
    ("anonymous", "GET", "/readyz", None, 200, 1),
]

PAGE_CASES = [
    ("page", "GET", "/", None, 200, 2),
    ("page", "GET", "/rooms/{room}?date=" + DAY, None, 200, 2),
    ("page", "GET", "/bookings/new", None, 200, 2),
    ("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY,
                                       "start": "10:00", "end": "11:00"}, 302, 3),
    ("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY,
                                       "start": "13:30", "end": "14:30"}, 409, 3),
    ("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY,
                                       "start": "07:00", "end": "08:00"}, 422, 3),
    ("page", "POST", "/bookings/new", {"room_id": "", "title": "x", "date": DAY,
                                       "start": "07:00", "end": "08:00"}, 400, 2),
    ("page", "GET", "/bookings/mine", None, 200, 2),
    ("page", "GET", "/bookings/{mine}", None, 200, 2),
    ("page", "POST", "/bookings/{mine}/cancel", {}, 302, 2),
    ("page", "POST", "/bookings/{theirs}/cancel", {}, 403, 2),
    ("page", "GET", "/account", None, 200, 2),
    ("page", "POST", "/account/tokens", {"name": "x"}, 201, 3),
    ("admin_page", "GET", "/admin/rooms", None, 200, 2),
    ("admin_page", "POST", "/admin/rooms", {"name": "Y", "capacity": "2", "timezone": "UTC",
                                            "opens": "09:00", "closes": "17:00"}, 302, 2),
    ("admin_page", "POST", "/admin/rooms", {"name": "", "capacity": "2", "timezone": "UTC"}, 400, 2),
    ("admin_page", "GET", "/admin/rooms/{room}", None, 200, 2),
]


def _fill(value, world):
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, dict):
        return {k: (int(_fill(v, world)) if v == "{room}" and k == "room_id" else _fill(v, world))
                for k, v in value.items()}
    return value


def _request(world, client_app, who, method, url, body):
    url, body = _fill(url, world), _fill(body, world)
    if who == "anonymous":
        return client_app.test_client().open(url, method=method, json=body)
    caller = world[who]
    if who.endswith("page"):
        return caller.post(url, data=body) if method == "POST" else caller.get(url)
    return caller.client.open(url, method=method, json=body, headers=caller.headers)


@pytest.mark.parametrize("who, method, url, body, status, most", API_CASES + PAGE_CASES)
def test_statements_per_request(world, app, who, method, url, body, status, most):
    response = _request(world, app, who, method, url, body)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert statements(response) <= most


@pytest.mark.parametrize("who, method, url, body, status, most", API_CASES + PAGE_CASES)
def test_connections_go_back_to_the_pool(world, app, who, method, url, body, status, most):
    _request(world, app, who, method, url, body)
    stats = app.extensions["booking.pool"].get_stats()
    assert stats["pool_available"] == stats["pool_size"]


def test_a_request_that_fails_inside_a_borrow_gives_the_connection_back(app, api_as, alice):
    @app.get("/api/test-explodes")
    def explodes():
        with db.connection() as conn:
            conn.execute("SELECT 1")
            raise RuntimeError("boom")

    api = api_as(alice)
    for _ in range(10):  # more than the pool holds: a leak would exhaust it
        r = api.get("/api/test-explodes")
        assert r.status_code == 500
        assert r.get_json()["error"]["code"] == "internal"
    stats = app.extensions["booking.pool"].get_stats()
    assert stats["pool_available"] == stats["pool_size"]
    assert api.get("/api/me").status_code == 200
