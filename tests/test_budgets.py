"""Budgets that do not depend on speed: SQL statements per request, connections
handed back after every request (failing ones too), index use in EXPLAIN."""

import re
from datetime import datetime

import pytest

from booking import db
from conftest import UTC

DAY = "2027-03-02"
SLOT = {"start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}
FREE = f"/api/rooms/free?start_time={DAY}T10:00&end_time={DAY}T11:00&timezone=Europe/Berlin"
AUTO = {"title": "x", **SLOT, "attendees": 2, "timezone": "Europe/Berlin"}
FIND = f"date={DAY}&start=10:00&end=11:00&timezone=Europe/Berlin&attendees=2"
FIND_FORM = {"date": DAY, "start": "10:00", "end": "11:00", "timezone": "Europe/Berlin",
             "attendees": "2", "title": "x"}


def statements(response) -> int:
    match = re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"])
    return int(match.group(1))


@pytest.fixture
def world(make, alice, bob, admin, berlin, api_as, browser_as, conn):
    """A room with one booking each by Alice and Bob, and clients for everyone."""
    mine = make.booking(berlin, alice, datetime(2027, 3, 2, 12, tzinfo=UTC),
                        datetime(2027, 3, 2, 13, tzinfo=UTC))
    theirs = make.booking(berlin, bob, datetime(2027, 3, 2, 14, tzinfo=UTC),
                          datetime(2027, 3, 2, 15, tzinfo=UTC))
    alice_api = api_as(alice)
    made = alice_api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "recurrence": "FREQ=WEEKLY;COUNT=5",
        "start_time": "2027-03-03T10:00", "end_time": "2027-03-03T11:00"}).get_json()
    feed = alice_api.get("/api/me").get_json()["calendar_url"].replace("http://localhost", "")
    hook = conn.execute("INSERT INTO webhook_endpoints (url, events, secret, created_by) "
                        "VALUES ('https://93.184.215.14/hook', '{booking.created}', 'whsec_x', %s) "
                        "RETURNING id", (admin["id"],)).fetchone()
    return {"room": berlin["id"], "mine": mine["id"], "theirs": theirs["id"], "bob_id": bob["id"],
            "series": made["series"]["id"], "feed": feed, "hook": hook["id"],
            "alice": alice_api, "admin": api_as(admin), "page": browser_as(alice),
            "admin_page": browser_as(admin), "bob": api_as(bob)}


# (who, method, url, body, expected status, most statements)
API_CASES = [
    ("alice", "GET", "/api/rooms", None, 200, 3),     # 2 when this process has it already
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
    # recurrence, availability, feeds
    ("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY",
                                        "start_time": f"{DAY}T16:00", "end_time": f"{DAY}T17:00"}, 201, 3),
    ("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY",
                                        "start_time": f"{DAY}T12:30", "end_time": f"{DAY}T13:30"}, 409, 3),
    ("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY",
                                        "start_time": f"{DAY}T08:00", "end_time": f"{DAY}T09:00"}, 422, 2),
    ("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=HOURLY",
                                        "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}, 422, 2),
    ("alice", "GET", "/api/series/{series}", None, 200, 2),
    ("alice", "GET", "/api/series/4242", None, 404, 2),
    ("alice", "DELETE", "/api/series/{series}", None, 200, 2),
    ("alice", "DELETE", "/api/series/{series}?from=2027-03-10T10:00", None, 200, 3),
    ("bob", "DELETE", "/api/series/{series}", None, 403, 2),
    ("alice", "GET", "/api/rooms/{room}/availability?start=2027-03-01&end=2027-03-31", None, 200, 2),
    ("alice", "GET", "/api/rooms/{room}/availability?start=2027-03-01&end=2027-05-31", None, 400, 1),
    ("alice", "GET", "/rooms/{room}/calendar.ics", None, 200, 2),
    ("anonymous", "GET", "{feed}", None, 200, 1),
    ("alice", "POST", "/api/me/calendar", {}, 200, 2),
    # events: activity, deliveries, webhooks, mail preference
    ("alice", "GET", "/api/activity", None, 200, 2),
    ("admin", "GET", "/api/activity?limit=5", None, 200, 2),
    ("alice", "PATCH", "/api/me", {"mail_enabled": False}, 200, 2),
    ("alice", "PATCH", "/api/me", {"home_building": "hq"}, 200, 2),
    ("alice", "PATCH", "/api/me", {"home_building": "Nowhere"}, 422, 2),
    ("admin", "GET", "/api/deliveries", None, 200, 2),
    ("admin", "GET", "/api/deliveries?status=sent", None, 200, 2),
    ("alice", "GET", "/api/deliveries", None, 403, 1),
    ("admin", "POST", "/api/deliveries/4242/resend", None, 404, 2),
    ("admin", "GET", "/api/webhooks", None, 200, 2),
    ("admin", "POST", "/api/webhooks", {"url": "https://93.184.215.14/x"}, 201, 2),
    ("admin", "POST", "/api/webhooks", {"url": "http://127.0.0.1/x"}, 422, 1),
    ("admin", "GET", "/api/webhooks/{hook}", None, 200, 2),
    ("admin", "PATCH", "/api/webhooks/{hook}", {"active": False}, 200, 2),
    # people (issue 15 #9)
    ("admin", "GET", "/api/users", None, 200, 2),
    ("admin", "PATCH", "/api/users/{bob_id}", {"active": False, "cancel_future_bookings": True},
     200, 2),
    ("admin", "PATCH", "/api/users/4242", {"active": False}, 404, 2),
    ("alice", "GET", "/api/users", None, 403, 1),
    # reports
    ("admin", "GET", "/api/reports/utilisation?from=2027-01-01&to=2027-03-31", None, 200, 2),
    ("admin", "GET", "/api/reports/utilisation?group=weekday_hour", None, 200, 2),
    ("admin", "GET", "/api/reports/utilisation?group=building&building=HQ", None, 200, 2),
    ("admin", "GET", "/api/reports/utilisation?from=2027-03-02&to=2027-03-01", None, 422, 1),
    ("alice", "GET", "/api/reports/utilisation", None, 403, 1),
    # the finder, automatic assignment, batch availability
    ("alice", "GET", FREE + "&capacity=2&equipment=&building=HQ&floor=1", None, 200, 2),
    ("alice", "GET", FREE + "&capacity=50", None, 200, 3),          # nothing fits: suggestions
    ("alice", "GET", FREE + "&capacity=0", None, 400, 1),
    ("alice", "GET", FREE.replace("T11:00", "T10:05"), None, 422, 1),
    ("alice", "GET", "/api/rooms/free?start_time=2027-03-02T10:00", None, 400, 1),
    ("alice", "POST", "/api/bookings/auto", {**AUTO, "attendees": 2}, 201, 3),
    ("alice", "POST", "/api/bookings/auto", {**AUTO, "attendees": 50}, 409, 3),
    ("alice", "POST", "/api/bookings/auto", {**AUTO, "start_time": f"{DAY}T13:30",
                                             "end_time": f"{DAY}T14:30"}, 409, 3),
    ("alice", "POST", "/api/bookings/auto", {**AUTO, "end_time": f"{DAY}T10:05"}, 422, 1),
    ("alice", "POST", "/api/bookings/auto", {**AUTO, "title": ""}, 400, 1),
    ("alice", "POST", "/api/availability", {"checks": [
        {"room_id": "{room}", **SLOT}, {"room_id": 4242, **SLOT},
        {"room_id": "{room}", "start_time": f"{DAY}T13:00", "end_time": f"{DAY}T14:00"}]}, 200, 2),
    ("alice", "POST", "/api/availability", {"checks": [{"room_id": "{room}", "start_time": "x",
                                                        "end_time": "y"}]}, 400, 1),
    ("alice", "POST", "/api/availability", {"checks": [
        {"room_id": "{room}", "start_time": "2027-03-28T02:30", "end_time": "2027-03-28T03:30"}]},
     400, 2),
    ("anonymous", "GET", FREE, None, 401, 0),
    ("anonymous", "GET", "/api/openapi.json", None, 200, 0),
    ("alice", "GET", "/api/openapi.json", None, 200, 0),
    ("anonymous", "POST", "/api/bookings/auto", AUTO, 401, 0),
    ("anonymous", "POST", "/api/availability", {"checks": []}, 401, 0),
    # the audit log
    ("admin", "GET", "/api/audit", None, 200, 2),
    ("admin", "GET", "/api/audit?user={mine}&room={room}&from=2026-01-01&to=2026-01-31&limit=5",
     None, 200, 2),
    ("admin", "GET", "/api/audit?from=2027-03-01&to=2027-05-01", None, 400, 1),
    ("alice", "GET", "/api/audit", None, 403, 1),
]

PAGE_CASES = [
    ("page", "GET", "/", None, 200, 3),
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
    ("page", "GET", "/account", None, 200, 3),      # tokens, and the buildings to choose from
    ("page", "POST", "/account/home", {"home_building": "HQ"}, 302, 2),
    ("page", "POST", "/account/home", {"home_building": "Nowhere"}, 422, 3),
    ("page", "POST", "/account/tokens", {"name": "x"}, 201, 3),
    ("admin_page", "GET", "/admin/rooms", None, 200, 2),
    ("admin_page", "POST", "/admin/rooms", {"name": "Y", "capacity": "2", "timezone": "UTC",
                                            "opens": "09:00", "closes": "17:00"}, 302, 2),
    ("admin_page", "POST", "/admin/rooms", {"name": "", "capacity": "2", "timezone": "UTC"}, 400, 2),
    ("admin_page", "GET", "/admin/rooms/{room}", None, 200, 2),
    ("admin_page", "GET", "/admin/users", None, 200, 2),
    ("admin_page", "POST", "/admin/users/{bob_id}", {"active": "false"}, 302, 2),
    ("admin_page", "GET", "/admin/audit", None, 200, 3),
    ("admin_page", "GET", "/admin/audit?room={room}&from=2026-01-01", None, 200, 3),
    ("page", "GET", "/series/{series}", None, 200, 2),
    ("page", "POST", "/series/{series}/cancel", {}, 302, 2),
    ("page", "GET", "/rooms/{room}/availability", None, 200, 2),
    ("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY, "start": "16:00",
                                       "end": "17:00", "repeat": "weekly", "ends": "after",
                                       "count": "3"}, 302, 3),
    ("page", "POST", "/account/calendar", {}, 302, 2),
    ("page", "GET", "/activity", None, 200, 2),
    ("page", "POST", "/account/mail", {}, 302, 2),
    ("admin_page", "GET", "/activity", None, 200, 2),
    ("admin_page", "GET", "/admin/deliveries", None, 200, 2),
    ("admin_page", "POST", "/admin/deliveries/4242/resend", {}, 404, 2),
    ("admin_page", "GET", "/admin/webhooks", None, 200, 2),
    ("admin_page", "POST", "/admin/webhooks", {"url": "https://93.184.215.14/y"}, 201, 3),
    ("admin_page", "POST", "/admin/webhooks", {"url": "ftp://example.com/x"}, 422, 2),
    ("admin_page", "GET", "/admin/webhooks/{hook}", None, 200, 2),
    ("admin_page", "POST", "/admin/webhooks/{hook}", {"active": "false"}, 302, 2),
    ("admin_page", "GET", "/reports", None, 200, 3),
    ("admin_page", "GET", "/reports?group=building&from=2027-01-01&to=2027-12-31", None, 200, 3),
    ("admin_page", "GET", "/reports/utilisation.csv?group=weekday_hour", None, 200, 2),
    ("admin_page", "POST", "/admin/rooms", {"name": "spree", "capacity": "2", "timezone": "UTC",
                                            "opens": "09:00", "closes": "17:00"}, 409, 3),
    ("page", "GET", "/find", None, 200, 2),
    ("page", "GET", "/find?" + FIND, None, 200, 2),
    ("page", "GET", "/find?" + FIND.replace("attendees=2", "attendees=50"), None, 200, 3),
    ("page", "GET", "/find?" + FIND.replace("end=11:00", "end=10:05"), None, 422, 1),
    ("page", "GET", f"/find?date={DAY}&start=10:00&end=11:00", None, 400, 2),
    ("page", "POST", "/find", {**FIND_FORM, "room": "best"}, 302, 3),
    ("page", "POST", "/find", {**FIND_FORM, "room": "{room}"}, 302, 3),
    ("page", "POST", "/find", {**FIND_FORM, "attendees": "50", "room": "best"}, 409, 3),
    ("page", "POST", "/find", {**FIND_FORM, "start": "13:30", "end": "14:30",
                               "room": "{room}"}, 409, 2),
    ("page", "POST", "/find", {**FIND_FORM, "title": "", "room": "best"}, 400, 2),
    ("page", "POST", "/find", {**FIND_FORM, "end": "10:05", "room": "best"}, 422, 1),
]


def _fill(value, world):
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, dict):
        return {k: (int(_fill(v, world)) if v == "{room}" and k == "room_id" else _fill(v, world))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


def _request(world, client_app, who, method, url, body):
    url, body = _fill(url, world), _fill(body, world)
    if who == "anonymous":
        return client_app.test_client().open(url, method=method, json=body)
    if method == "POST" and who.endswith("page") and isinstance(body, dict):
        body = {k: v for k, v in body.items()}
    caller = world[who]
    if who.endswith("page"):
        return caller.post(url, data=body) if method == "POST" else caller.get(url)
    return caller.client.open(url, method=method, json=body, headers=caller.headers)


@pytest.mark.parametrize("who, method, url, body, status, most", API_CASES + PAGE_CASES)
def test_statements_per_request(world, app, who, method, url, body, status, most):
    response = _request(world, app, who, method, url, body)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert statements(response) <= most


def all_connections_idle(pool, within: float = 2.0) -> bool:
    """Every connection of the pool is idle again (allowing a moment for one the
    pool is still opening in the background, which counts in pool_size first)."""
    import time
    deadline = time.monotonic() + within
    while True:
        stats = pool.get_stats()
        if stats["pool_available"] == stats["pool_size"]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@pytest.mark.parametrize("who, method, url, body, status, most", API_CASES + PAGE_CASES)
def test_connections_go_back_to_the_pool(world, app, who, method, url, body, status, most):
    _request(world, app, who, method, url, body)
    assert all_connections_idle(app.extensions["booking.pool"])


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
    assert all_connections_idle(app.extensions["booking.pool"])
    assert api.get("/api/me").status_code == 200


# A booking with an Idempotency-Key: the key is claimed, kept or replayed
# inside the statement that books, so it costs nothing extra.
KEYED_CASES = [
    ("/api/bookings", {"room_id": "{room}", "title": "x", **SLOT}),
    ("/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY;COUNT=2",
                       "start_time": f"{DAY}T16:00", "end_time": f"{DAY}T17:00"}),
    ("/api/bookings/auto", AUTO),
]


@pytest.mark.parametrize("url, body", KEYED_CASES)
def test_statements_per_request_with_an_idempotency_key(world, app, url, body):
    body = _fill(body, world)
    api = world["alice"]
    headers = {**api.headers, "Idempotency-Key": "budget"}
    first = api.client.post(url, json=body, headers=headers)
    replay = api.client.post(url, json=body, headers=headers)
    mismatch = api.client.post(url, json={**body, "title": "y"}, headers=headers)
    assert (first.status_code, replay.status_code, mismatch.status_code) == (201, 201, 422)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert max(statements(r) for r in (first, replay, mismatch)) <= 3


def test_statements_per_request_for_a_keyed_booking_form(world, app):
    page = world["page"]
    form = {"room_id": world["room"], "title": "x", "date": DAY, "start": "10:00",
            "end": "11:00", "idempotency_key": "form-budget"}
    for _ in range(2):
        r = page.post("/bookings/new", data=form)
        assert r.status_code == 302 and statements(r) <= 3
