"""CSRF on every state-changing form and on cookie-authenticated JSON writes
(every such route of the app, found in its url_map); bearer tokens need none.
A new session on every sign-in; signing out ends it for good."""

from datetime import datetime

import pytest

from booking.auth import hash_token
from conftest import PASSWORD, UTC, Browser
from routemap import state, url_for_rule, writes

# A reminder's check-in link carries its own credential in the address (booking/bookings/
# links.py): no session, so no CSRF token; tests/test_reminders.py shows a forged or
# another booking's address is a 404 (the series' cancel offer: tests/test_release_streak.py).
CAPABILITY_ROUTES = {"/bookings/<id:booking_id>/checkin/<signed>",
                     "/series/<id:series_id>/cancel/<offer>"}
FORM_WRITES = [(m, r) for m, r in writes(pages=True) if r not in CAPABILITY_ROUTES]
JSON_WRITES = writes(pages=False)


@pytest.fixture
def world(app, make, alice, admin, berlin, conn, api_as):
    person = make.user("Person", email="person@example.com")
    series = api_as(admin).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Series", "recurrence": "FREQ=DAILY;COUNT=2",
        "start_time": "2027-03-02T16:00", "end_time": "2027-03-02T17:00"})
    assert series.status_code == 201, series.get_json()
    booking = make.booking(berlin, admin, datetime(2027, 3, 2, 9, tzinfo=UTC),
                           datetime(2027, 3, 2, 10, tzinfo=UTC))
    token = make.token(admin)
    token_id = conn.execute("SELECT id FROM api_tokens WHERE token_hash = %s",
                            (hash_token(token),)).fetchone()["id"]
    endpoint = conn.execute(
        "INSERT INTO webhook_endpoints (url, events, secret, created_by) "
        "VALUES ('https://93.184.215.14/hook', '{booking.created}', 'whsec_x', %s) "
        "RETURNING id", (admin["id"],)).fetchone()
    delivery = conn.execute(
        "INSERT INTO deliveries (event_id, channel, user_id, status) "
        "SELECT id, 'mail', %s, 'failed' FROM outbox ORDER BY id DESC LIMIT 1 RETURNING id",
        (admin["id"],)).fetchone()
    # A request waiting for approval (the admin may decide it, and cancel it), an
    # area, a group, and a one-tap link for the admin.
    conn.execute("UPDATE bookings SET status = 'pending' WHERE id = %s", (booking["id"],))
    area = conn.execute("INSERT INTO areas (name) VALUES ('Campus') RETURNING id").fetchone()
    group = conn.execute("INSERT INTO groups (name) VALUES ('Lab') RETURNING id").fetchone()
    from booking.approvals.service import tap_token
    return {"room_id": berlin["id"], "booking_id": booking["id"], "token_id": token_id,
            "series_id": series.get_json()["series"]["id"], "endpoint_id": endpoint["id"],
            "delivery_id": delivery["id"], "user_id": person["id"], "area_id": area["id"],
            "group_id": group["id"],
            "tapped": tap_token(app.config, admin["id"], "approve", booking_id=booking["id"]),
            "panel_id": conn.execute(
                "SELECT id FROM create_panel_token(%s, %s, '\\x01', 'bkp_x')",
                (berlin["id"], admin["id"])).fetchone()["id"]}


# Bodies that would succeed, so a refusal can only be the missing CSRF token.
FORM_BODIES = {
    "/login": {"email": "admin@example.com", "password": PASSWORD},
    "/bookings/new": {"room_id": "{room_id}", "title": "x", "date": "2027-03-02",
                      "start": "14:00", "end": "15:00"},
    "/account/tokens": {"name": "x"},
    "/admin/rooms": {"name": "New", "capacity": "3", "timezone": "UTC"},
    "/admin/rooms/<id:room_id>": {"name": "Renamed", "capacity": "3", "timezone": "UTC"},
    "/find": {"date": "2027-03-02", "start": "14:00", "end": "15:00",
              "timezone": "Europe/Berlin", "attendees": "2", "title": "x"},
    "/admin/webhooks": {"url": "https://93.184.215.14/csrf"},
    "/admin/webhooks/<id:endpoint_id>": {"active": "false"},
    "/admin/users/<id:user_id>": {"active": "false"},
    "/account/home": {"home_building": ""},
    "/rooms/<id:room_id>/panel": {"action": "book", "minutes": "30"},
    "/bookings/<id:booking_id>/edit": {"room_id": "{room_id}", "title": "Changed",
                                       "date": "2027-03-02", "start": "10:00", "end": "11:00"},
    "/admin/areas": {"name": "Annex"},
    "/admin/areas/<id:area_id>": {"name": "Campus West"},
    "/admin/groups": {"name": "Facilities", "members": "admin@example.com"},
    "/admin/groups/<id:group_id>": {"name": "Lab", "members": "admin@example.com"},
    "/admin/rooms/<id:room_id>/policy": {"set_buffer_minutes": "on", "buffer_minutes": "10"},
}
JSON_BODIES = {
    "/api/bookings": {"room_id": "{room_id}", "title": "x", "start_time": "2027-03-02T14:00",
                      "end_time": "2027-03-02T15:00"},
    "/api/rooms": {"name": "New", "capacity": 3, "timezone": "UTC"},
    "/api/rooms/<id:room_id>": {"capacity": 3},
    "/api/tokens": {"name": "x"},
    "/api/bookings/auto": {"title": "x", "start_time": "2027-03-02T14:00",
                           "end_time": "2027-03-02T15:00", "timezone": "Europe/Berlin",
                           "attendees": 2},
    "/api/webhooks": {"url": "https://93.184.215.14/csrf"},
    "/api/webhooks/<id:endpoint_id>": {"active": False},
    "/api/me": {"mail_enabled": False},
    "/api/users/<id:user_id>": {"active": False},
    "/api/availability": {"checks": [{"room_id": "{room_id}", "start_time": "2027-03-02T14:00",
                                      "end_time": "2027-03-02T15:00"}]},
    "/api/bookings/<id:booking_id>": {"title": "Changed"},
    "/api/series/<id:series_id>": {"title": "Changed"},
    "/api/areas": {"name": "Annex", "policy": {"buffer_minutes": 10}},
    "/api/areas/<id:area_id>": {"policy": {"max_minutes": 120}},
    "/api/groups": {"name": "Facilities", "members": "admin@example.com"},
    "/api/groups/<id:group_id>": {"members": "admin@example.com"},
    "/api/bookings/<id:booking_id>/reject": {"reason": "No"},
    "/api/bookings/<id:booking_id>/extend": {"end_time": "2027-03-02T11:30"},
}
# What a route needs in its query to succeed (the series' first occurrence: all of it).
QUERIES = {"/api/series/<id:series_id>": "?from=2027-03-02T16:00"}
# When a route can succeed: check-in and end early while the booking is under way.
CLOCKS = {"/api/bookings/<id:booking_id>/checkin": datetime(2027, 3, 2, 9, tzinfo=UTC),
          "/api/bookings/<id:booking_id>/end": datetime(2027, 3, 2, 9, 5, tzinfo=UTC)}


def confirmed_for_checkin(rule, world, conn):
    """A booking waiting for approval cannot be checked in (sql/070): the check-in
    route's case has the world's request approved first."""
    if rule.endswith("/checkin"):
        conn.execute("UPDATE bookings SET status = 'confirmed' WHERE id = %s",
                     (world["booking_id"],))


def fill(body, world):
    def value(k, v):
        if isinstance(v, list):
            return [fill(item, world) for item in v]
        return int(v.format(**world)) if k == "room_id" and isinstance(v, str) else v
    return {k: value(k, v) for k, v in (body or {}).items()}


@pytest.mark.parametrize("method, rule", FORM_WRITES, ids=[r for _, r in FORM_WRITES])
def test_every_form_needs_its_csrf_token(browser_as, admin, world, conn, method, rule):
    browser = browser_as(admin)
    url = url_for_rule(rule).format(**world)
    body = fill(FORM_BODIES.get(rule), world)
    before = state(conn)
    for token in (None, "forged-" + browser.csrf[7:]):
        data = body if token is None else {**body, "csrf_token": token}
        r = browser.client.open(url, method=method, data=data)
        assert r.status_code == 400, r.get_data(as_text=True)[:300]
        assert "CSRF" in r.get_data(as_text=True)
        assert state(conn) == before
    # ... and with it, the same form goes through.
    assert browser.post(url, data=body).status_code in (200, 201, 302)


@pytest.mark.parametrize("method, rule", JSON_WRITES, ids=[f"{m} {r}" for m, r in JSON_WRITES])
def test_cookie_authenticated_json_writes_need_the_csrf_header(app, browser_as, admin, world,
                                                               conn, method, rule):
    app.config["NOW"] = CLOCKS.get(rule, app.config["NOW"])
    confirmed_for_checkin(rule, world, conn)
    browser = browser_as(admin)
    url = url_for_rule(rule).format(**world) + QUERIES.get(rule, "")
    body = fill(JSON_BODIES.get(rule), world)
    before = state(conn)
    for header in ({}, {"X-CSRFToken": "forged"}):
        r = browser.client.open(url, method=method, json=body, headers=header)
        assert r.status_code == 400
        error = r.get_json()["error"]
        assert error["code"] == "invalid" and "CSRF" in error["message"]
        assert state(conn) == before
    assert browser.json(method, url, body).status_code in (200, 201)


@pytest.mark.parametrize("method, rule", JSON_WRITES, ids=[f"{m} {r}" for m, r in JSON_WRITES])
def test_bearer_token_writes_need_no_csrf(app, api_as, admin, world, conn, method, rule):
    app.config["NOW"] = CLOCKS.get(rule, app.config["NOW"])
    confirmed_for_checkin(rule, world, conn)
    api = api_as(admin)
    url = url_for_rule(rule).format(**world) + QUERIES.get(rule, "")
    r = api.client.open(url, method=method, json=fill(JSON_BODIES.get(rule), world),
                        headers=api.headers)
    assert r.status_code in (200, 201), r.get_json()


def test_a_session_cookie_does_not_count_next_to_an_authorization_header(browser_as, alice,
                                                                         world, conn):
    # The header alone decides; a bad one is not rescued by the cookie, and so a
    # cookie cannot slip past the CSRF check by adding any Authorization header.
    browser = browser_as(alice)
    before = state(conn)
    r = browser.client.post("/api/bookings", json=fill(JSON_BODIES["/api/bookings"], world),
                            headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401
    assert state(conn) == before


# -- sessions ------------------------------------------------------------------------------

def session_token(client) -> str | None:
    """flask-login's session token in the signed cookie (what the sessions table hashes)."""
    with client.session_transaction() as session:
        return session.get("_user_id")


def test_every_sign_in_starts_a_new_session(app, alice, conn):
    browser = Browser(app.test_client())
    browser.login(alice["email"])
    first = session_token(browser.client)
    browser.get("/")  # the signed-in session's CSRF token
    assert browser.post("/logout").status_code == 302
    browser.login(alice["email"])
    second = session_token(browser.client)
    assert first and second and first != second
    hashes = {bytes(r["token_hash"]) for r in conn.execute("SELECT token_hash FROM sessions")}
    assert hashes == {hash_token(second)}


def test_a_cookie_from_before_sign_in_stays_signed_out(app, alice):
    # Session fixation: someone plants a cookie, the victim signs in with it;
    # the planted copy must not become the victim's session.
    victim = app.test_client()
    victim.get("/login")
    planted = victim.get_cookie("booking_session").value
    browser = Browser(victim)
    assert browser.login(alice["email"]).status_code == 302
    assert victim.get_cookie("booking_session").value != planted
    attacker = app.test_client()
    attacker.set_cookie("booking_session", planted)
    assert attacker.get("/").status_code == 302


def test_signing_out_ends_the_session_everywhere_it_was_copied(app, alice, conn):
    browser = Browser(app.test_client())
    browser.login(alice["email"])
    browser.get("/")
    cookie = browser.client.get_cookie("booking_session").value
    other_device = Browser(app.test_client())
    other_device.login(alice["email"])
    assert browser.post("/logout").status_code == 302
    copy = app.test_client()
    copy.set_cookie("booking_session", cookie)
    assert copy.get("/").status_code == 302
    assert copy.get("/api/me").status_code == 401
    # Only that session ended: Alice's other device is still signed in.
    assert other_device.client.get("/api/me").status_code == 200
    assert conn.execute("SELECT count(*) AS n FROM sessions").fetchone()["n"] == 1


def test_an_expired_session_is_signed_out(app, alice, conn):
    browser = Browser(app.test_client())
    browser.login(alice["email"])
    conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert browser.client.get("/api/me").status_code == 401


def test_a_remembered_cookie_still_expires_and_a_forged_one_is_refused(app, alice):
    """The cookie's signature is checked once per process (booking/http.py), but a
    remembered cookie still expires, and one changed by a byte is checked anew.
    The cookie is dated and aged by the app's clock, which the test moves."""
    from datetime import timedelta

    app.permanent_session_lifetime = timedelta(hours=1)
    browser = Browser(app.test_client())
    browser.login(alice["email"])
    cookie = browser.client.get_cookie("booking_session").value
    for _ in range(2):
        assert browser.client.get("/api/me").status_code == 200

    forged = app.test_client()
    forged.set_cookie("booking_session", cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert forged.get("/api/me").status_code == 401

    signed_at = app.config["NOW"]
    app.config["NOW"] = signed_at + timedelta(minutes=59, seconds=59)
    assert browser.client.get("/api/me").status_code == 200    # remembered, not yet expired
    app.config["NOW"] = signed_at + timedelta(hours=1, seconds=1)
    assert browser.client.get("/api/me").status_code == 401    # itsdangerous: age > max_age


def test_a_page_signs_a_sessions_csrf_token_once_and_it_is_accepted(browser_as, alice,
                                                                   monkeypatch):
    from itsdangerous import TimestampSigner

    browser = browser_as(alice)
    first = browser.get("/account")
    token = browser.csrf
    # Signed anew, the token would carry a later second: make every new
    # signature a minute later than the first (flask-wtf signs with itsdangerous).
    later = TimestampSigner.get_timestamp(TimestampSigner("x")) + 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    browser.get("/account")
    assert browser.csrf == token and first.status_code == 200
    assert browser.post("/account/mail", data={"mail_enabled": "off"}).status_code in (302, 303)
