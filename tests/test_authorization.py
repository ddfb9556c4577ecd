"""Who may do what: every route of the app (pages and API) for everyone who
might ask: a stranger, the owner of the thing, another staff member, an
administrator, and someone holding a revoked token.

MATRIX below is the contract, one row per route. The test enumerates the
app's url_map, so a route without a row fails with the row to add. Staff see
every room's schedule and who booked; only the owner or an admin cancels;
only an admin manages rooms.

Pages are asked by a browser (session cookie, CSRF token in forms), the API
by bearer token. The stranger and the revoked token ask pages with a valid
CSRF token too, so it is the sign-in check that turns them away.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import psycopg
import pytest

from booking import close, create_app, db
from booking.approvals.service import tap_token
from booking.auth import hash_token
from conftest import NOW, PASSWORD, UTC, Browser, Factory
from routemap import RULE_VARIABLE, SNAPSHOT, app_routes, state, url_for_rule

ROLES = ("anonymous", "owner", "other", "admin", "revoked")

# Not a status: a redirect to the sign-in page (302 with Location /login?next=...).
LOGIN = "login"


@dataclass(frozen=True)
class Row:
    """What each role gets, in ROLES order, and what to send.

    The URL is the route's rule with its variables taken from the world
    fixture (`<id:room_id>` -> world["room_id"]); `query` is appended;
    `body(world)` is the form (pages) or JSON (API) of a write.
    """
    anonymous: int | str
    owner: int | str
    other: int | str
    admin: int | str
    revoked: int | str
    query: str = ""
    body: Callable[[dict], dict] | None = None

    def expected(self, role: str) -> int | str:
        return getattr(self, role)


DAY = "2027-03-02"
FIND = f"date={DAY}&start=14:00&end=15:00&timezone=Europe/Berlin&attendees=2"
FIND_FORM = {"date": DAY, "start": "14:00", "end": "15:00", "timezone": "Europe/Berlin",
             "attendees": "2", "title": "Matrix"}


def room_form(world):
    return {"name": f"Matrix room {world['n']}", "building": "B", "floor": "1", "capacity": "4",
            "equipment": "", "timezone": "UTC", "opens": "09:00", "closes": "17:00",
            "active": "on"}


MATRIX: dict[tuple[str, str], Row] = {
    # -- probes and assets: open to all ---------------------------------------------------
    ("GET", "/healthz"): Row(200, 200, 200, 200, 200),
    ("GET", "/readyz"): Row(200, 200, 200, 200, 200),
    # By address, not by account: METRICS_ALLOWED (loopback here); tests/test_metrics.py
    # shows a 404 for anyone else.
    ("GET", "/metrics"): Row(200, 200, 200, 200, 200),
    ("GET", "/static/<path:filename>"): Row(200, 200, 200, 200, 200),
    # -- signing in and out ---------------------------------------------------------------
    ("GET", "/login"): Row(200, 302, 302, 302, 200),
    ("POST", "/login"): Row(302, 302, 302, 302, 302,
                            body=lambda w: {"email": "alice@example.com", "password": PASSWORD}),
    ("POST", "/logout"): Row(302, 302, 302, 302, 302),
    # -- pages: staff see every room and every booking, and who booked ----------------------
    ("GET", "/"): Row(LOGIN, 200, 200, 200, LOGIN),
    ("GET", "/rooms/<id:room_id>"): Row(LOGIN, 200, 200, 200, LOGIN, query=f"?date={DAY}"),
    ("GET", "/board"): Row(LOGIN, 200, 200, 200, LOGIN, query=f"?date={DAY}"),
    ("GET", "/rooms/<id:room_id>/week"): Row(LOGIN, 200, 200, 200, LOGIN, query=f"?start={DAY}"),
    ("GET", "/bookings/new"): Row(LOGIN, 200, 200, 200, LOGIN),
    ("POST", "/bookings/new"): Row(LOGIN, 302, 302, 302, LOGIN, body=lambda w: {
        "room_id": w["room_id"], "title": "Matrix", "date": DAY, "start": "15:00",
        "end": "16:00"}),
    ("GET", "/bookings/mine"): Row(LOGIN, 200, 200, 200, LOGIN),
    ("GET", "/bookings/<id:booking_id>"): Row(LOGIN, 200, 200, 200, LOGIN),
    # only the owner or an admin cancels
    ("POST", "/bookings/<id:booking_id>/cancel"): Row(LOGIN, 302, 403, 302, LOGIN),
    # check in, end early, extend from the booking's page: the owner's (or an admin's);
    # a refusal of the owner's (not open yet, not started) is said on the page (302)
    ("POST", "/bookings/<id:booking_id>/checkin"): Row(LOGIN, 302, 403, 302, LOGIN),
    ("POST", "/bookings/<id:booking_id>/end"): Row(LOGIN, 302, 403, 302, LOGIN),
    ("POST", "/bookings/<id:booking_id>/extend"): Row(LOGIN, 302, 403, 302, LOGIN,
                                                      body=lambda w: {"date": DAY,
                                                                      "end": "17:00"}),
    ("GET", "/account"): Row(LOGIN, 200, 200, 200, LOGIN),
    # everyone their own theme and time zone
    ("POST", "/account/preferences"): Row(LOGIN, 302, 302, 302, LOGIN, body=lambda w: {
        "theme": "dark", "timezone": "Europe/Berlin"}),
    ("POST", "/account/tokens"): Row(LOGIN, 302, 302, 302, LOGIN,
                                     body=lambda w: {"name": "matrix"}),
    # a token is its owner's alone: to anyone else it does not exist
    ("POST", "/account/tokens/<id:token_id>/revoke"): Row(LOGIN, 302, 404, 404, LOGIN),
    # only an admin manages rooms
    ("GET", "/admin/rooms"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/rooms"): Row(LOGIN, 403, 403, 302, LOGIN, body=room_form),
    ("GET", "/admin/rooms/<id:room_id>"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/rooms/<id:room_id>"): Row(LOGIN, 403, 403, 302, LOGIN, body=room_form),
    # only an admin deactivates people (each case its own person to deactivate)
    ("GET", "/admin/users"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/users/<id:user_id>"): Row(LOGIN, 403, 403, 302, LOGIN,
                                               body=lambda w: {"active": "false"}),
    ("GET", "/api/users"): Row(401, 403, 403, 200, 401, query="?limit=5"),
    ("PATCH", "/api/users/<id:user_id>"): Row(401, 403, 403, 200, 401,
                                              body=lambda w: {"active": False,
                                                              "cancel_future_bookings": True}),
    # only an admin reads the audit log
    ("GET", "/admin/audit"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("GET", "/api/audit"): Row(401, 403, 403, 200, 401, query="?user={room_id}&limit=5"),
    # -- the JSON API -------------------------------------------------------------------------
    ("GET", "/api/rooms"): Row(401, 200, 200, 200, 401),
    ("POST", "/api/rooms"): Row(401, 403, 403, 201, 401, body=lambda w: {
        "name": f"Matrix room {w['n']}", "capacity": 4, "timezone": "UTC"}),
    ("GET", "/api/rooms/<id:room_id>"): Row(401, 200, 200, 200, 401),
    ("PATCH", "/api/rooms/<id:room_id>"): Row(401, 403, 403, 200, 401,
                                              body=lambda w: {"capacity": 8}),
    ("GET", "/api/rooms/<id:room_id>/bookings"): Row(401, 200, 200, 200, 401,
                                                     query=f"?date={DAY}"),
    ("GET", "/api/board"): Row(401, 200, 200, 200, 401, query=f"?date={DAY}&building=HQ"),
    ("GET", "/api/rooms/<id:room_id>/week"): Row(401, 200, 200, 200, 401,
                                                 query=f"?start={DAY}"),
    ("POST", "/api/bookings"): Row(401, 201, 201, 201, 401, body=lambda w: {
        "room_id": w["room_id"], "title": "Matrix", "start_time": f"{DAY}T15:00",
        "end_time": f"{DAY}T16:00"}),
    ("GET", "/api/bookings"): Row(401, 200, 200, 200, 401, query="?ids={booking_id}"),
    ("GET", "/api/bookings/mine"): Row(401, 200, 200, 200, 401),
    ("GET", "/api/bookings/<id:booking_id>"): Row(401, 200, 200, 200, 401),
    ("DELETE", "/api/bookings/<id:booking_id>"): Row(401, 200, 403, 200, 401),
    # issue 16: only the owner (or a delegate they named) or an admin changes a booking
    ("PATCH", "/api/bookings/<id:booking_id>"): Row(401, 200, 403, 200, 401, body=lambda w: {
        "title": "Matrix changed", "start_time": f"{DAY}T10:00"}),
    # Door panels: anyone signed in may look at a room's panel page and use its buttons
    # (Book now here: 09:01-09:31 is free); admins make and revoke panel tokens.
    ("GET", "/rooms/<id:room_id>/panel"): Row(LOGIN, 200, 200, 200, LOGIN),
    ("GET", "/rooms/<id:room_id>/panel/qr.svg"): Row(LOGIN, 200, 200, 200, LOGIN,
                                                    query=f"?date={DAY}"),
    ("POST", "/rooms/<id:room_id>/panel"): Row(LOGIN, 302, 302, 302, LOGIN,
                                               body=lambda w: {"action": "book", "minutes": "30"}),
    ("GET", "/api/rooms/<id:room_id>/panel"): Row(401, 200, 200, 200, 401),
    ("GET", "/api/rooms/<id:room_id>/panels"): Row(401, 403, 403, 200, 401),
    ("POST", "/api/rooms/<id:room_id>/panels"): Row(401, 403, 403, 201, 401),
    ("DELETE", "/api/rooms/<id:room_id>/panels/<id:panel_id>"): Row(401, 403, 403, 200, 401),
    ("POST", "/admin/rooms/<id:room_id>/panels"): Row(LOGIN, 403, 403, 302, LOGIN),
    ("POST", "/admin/rooms/<id:room_id>/panels/<id:panel_id>/revoke"): Row(LOGIN, 403, 403, 302,
                                                                           LOGIN),
    # A reminder's check-in link: the signed address is the credential, whoever holds it;
    # the booking is tomorrow, so check-in is not open yet (409).
    ("GET", "/bookings/<id:booking_id>/checkin/<signed>"): Row(200, 200, 200, 200, 200),
    ("POST", "/bookings/<id:booking_id>/checkin/<signed>"): Row(409, 409, 409, 409, 409),
    # A release-streak mail's offer to cancel the rest of a series: likewise a capability.
    ("GET", "/series/<id:series_id>/cancel/<offer>"): Row(200, 200, 200, 200, 200),
    ("POST", "/series/<id:series_id>/cancel/<offer>"): Row(200, 200, 200, 200, 200),
    # Check-in opens 10 minutes before the start (the booking is tomorrow: 409 for those
    # who may), end early only once it has begun (409 not_started), extend now.
    ("POST", "/api/bookings/<id:booking_id>/checkin"): Row(401, 409, 403, 409, 401),
    ("POST", "/api/bookings/<id:booking_id>/end"): Row(401, 409, 403, 409, 401),
    ("POST", "/api/bookings/<id:booking_id>/extend"): Row(401, 200, 403, 200, 401,
                                                         body=lambda w: {"end_time": f"{DAY}T11:30"}),
    ("GET", "/bookings/<id:booking_id>/edit"): Row(LOGIN, 200, 403, 200, LOGIN),
    ("POST", "/bookings/<id:booking_id>/edit"): Row(LOGIN, 302, 403, 302, LOGIN, body=lambda w: {
        "room_id": w["room_id"], "title": "Matrix changed", "date": DAY, "start": "11:00",
        "end": "12:00"}),
    ("PATCH", "/api/series/<id:series_id>"): Row(401, 200, 403, 200, 401,
                                                 query=f"?from={DAY}T12:00",
                                                 body=lambda w: {"title": "Matrix series"}),
    # everyone names their own delegates
    ("POST", "/account/delegates"): Row(LOGIN, 302, 302, 302, LOGIN,
                                        body=lambda w: {"delegates": ""}),
    ("GET", "/api/me"): Row(401, 200, 200, 200, 401),
    ("GET", "/api/tokens"): Row(401, 200, 200, 200, 401),
    # -- repeating bookings: staff see a series, only its owner or an admin cancels -----------
    ("GET", "/series/<id:series_id>"): Row(LOGIN, 200, 200, 200, LOGIN),
    ("POST", "/series/<id:series_id>/cancel"): Row(LOGIN, 302, 403, 302, LOGIN),
    ("GET", "/api/series/<id:series_id>"): Row(401, 200, 200, 200, 401),
    ("DELETE", "/api/series/<id:series_id>"): Row(401, 200, 403, 200, 401),
    # -- free time, the finder, automatic assignment ---------------------------------------------
    ("GET", "/rooms/<id:room_id>/availability"): Row(LOGIN, 200, 200, 200, LOGIN,
                                                     query=f"?start={DAY}"),
    ("GET", "/api/rooms/<id:room_id>/availability"): Row(401, 200, 200, 200, 401,
                                                         query=f"?start={DAY}"),
    ("GET", "/find"): Row(LOGIN, 200, 200, 200, LOGIN, query=f"?{FIND}"),
    ("POST", "/find"): Row(LOGIN, 302, 302, 302, LOGIN, body=lambda w: {
        **FIND_FORM, "room": w["room_id"]}),
    ("GET", "/api/rooms/free"): Row(401, 200, 200, 200, 401, query=(
        f"?start_time={DAY}T14:00&end_time={DAY}T15:00&timezone=Europe/Berlin")),
    ("POST", "/api/bookings/auto"): Row(401, 201, 201, 201, 401, body=lambda w: {
        "title": "Matrix", "start_time": f"{DAY}T14:00", "end_time": f"{DAY}T15:00",
        "timezone": "Europe/Berlin", "attendees": 2}),
    ("POST", "/api/availability"): Row(401, 200, 200, 200, 401, body=lambda w: {"checks": [
        {"room_id": w["room_id"], "start_time": f"{DAY}T14:00", "end_time": f"{DAY}T15:00"}]}),
    # -- calendar feeds: a room's for staff; the personal one's URL is its own key -----------
    # (a calendar client's revoked token: 401, which it reports; not the sign-in page)
    ("GET", "/rooms/<id:room_id>/calendar.ics"): Row(LOGIN, 200, 200, 200, 401),
    ("GET", "/calendar/<token>.ics"): Row(200, 200, 200, 200, 200),
    ("POST", "/account/calendar"): Row(LOGIN, 302, 302, 302, LOGIN),
    ("POST", "/api/me/calendar"): Row(401, 200, 200, 200, 401),
    ("POST", "/api/tokens"): Row(401, 201, 201, 201, 401, body=lambda w: {"name": "matrix"}),
    ("DELETE", "/api/tokens/<id:token_id>"): Row(401, 200, 404, 404, 401),
    # -- events: everyone their own activity (admins all); webhooks and deliveries admin only ---
    ("GET", "/activity"): Row(LOGIN, 200, 200, 200, LOGIN),
    ("GET", "/api/activity"): Row(401, 200, 200, 200, 401),
    ("POST", "/account/mail"): Row(LOGIN, 302, 302, 302, LOGIN, body=lambda w: {"mail_enabled": "on"}),
    ("POST", "/account/home"): Row(LOGIN, 302, 302, 302, LOGIN, body=lambda w: {"home_building": ""}),
    ("PATCH", "/api/me"): Row(401, 200, 200, 200, 401, body=lambda w: {"mail_enabled": True}),
    ("GET", "/admin/deliveries"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/deliveries/<id:delivery_id>/resend"): Row(LOGIN, 403, 403, 302, LOGIN),
    ("GET", "/api/deliveries"): Row(401, 403, 403, 200, 401),
    ("POST", "/api/deliveries/<id:delivery_id>/resend"): Row(401, 403, 403, 200, 401),
    ("GET", "/admin/webhooks"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/webhooks"): Row(LOGIN, 403, 403, 201, LOGIN,
                                     body=lambda w: {"url": "https://93.184.215.14/matrix"}),
    ("GET", "/admin/webhooks/<id:endpoint_id>"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/webhooks/<id:endpoint_id>"): Row(LOGIN, 403, 403, 302, LOGIN,
                                                      body=lambda w: {"active": "false"}),
    ("GET", "/api/webhooks"): Row(401, 403, 403, 200, 401),
    ("POST", "/api/webhooks"): Row(401, 403, 403, 201, 401,
                                   body=lambda w: {"url": "https://93.184.215.14/matrix"}),
    ("GET", "/api/webhooks/<id:endpoint_id>"): Row(401, 403, 403, 200, 401),
    ("PATCH", "/api/webhooks/<id:endpoint_id>"): Row(401, 403, 403, 200, 401,
                                                     body=lambda w: {"active": False}),
    # -- reports: admins only ----------------------------------------------------------------
    ("GET", "/reports"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("GET", "/reports/utilisation.csv"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("GET", "/api/reports/utilisation"): Row(401, 403, 403, 200, 401),
    # -- areas, groups and policies: admins set them; anyone signed in reads a room's -------
    ("GET", "/admin/areas"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/areas"): Row(LOGIN, 403, 403, 302, LOGIN,
                                  body=lambda w: {"name": f"Matrix area {w['n']} new"}),
    ("GET", "/admin/areas/<id:area_id>"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/areas/<id:area_id>"): Row(LOGIN, 403, 403, 302, LOGIN, body=lambda w: {
        "name": f"Matrix area {w['n']} renamed", "set_buffer_minutes": "on",
        "buffer_minutes": "10"}),
    ("GET", "/admin/groups"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/groups"): Row(LOGIN, 403, 403, 302, LOGIN, body=lambda w: {
        "name": f"Matrix group {w['n']}b", "members": "alice@example.com"}),
    ("GET", "/admin/groups/<id:group_id>"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/groups/<id:group_id>"): Row(LOGIN, 403, 403, 302, LOGIN, body=lambda w: {
        "name": f"Matrix group {w['n']}", "members": "bob@example.com"}),
    ("GET", "/admin/rooms/<id:room_id>/policy"): Row(LOGIN, 403, 403, 200, LOGIN),
    ("POST", "/admin/rooms/<id:room_id>/policy"): Row(LOGIN, 403, 403, 302, LOGIN,
                                                      body=lambda w: {"area_id": w["area_id"]}),
    ("GET", "/api/areas"): Row(401, 403, 403, 200, 401),
    ("POST", "/api/areas"): Row(401, 403, 403, 201, 401, body=lambda w: {
        "name": f"Matrix area {w['n']}b", "parent_id": w["area_id"],
        "policy": {"max_minutes": 60}}),
    ("GET", "/api/areas/<id:area_id>"): Row(401, 403, 403, 200, 401),
    ("PATCH", "/api/areas/<id:area_id>"): Row(401, 403, 403, 200, 401,
                                              body=lambda w: {"policy": {"buffer_minutes": 5}}),
    ("GET", "/api/groups"): Row(401, 403, 403, 200, 401),
    ("POST", "/api/groups"): Row(401, 403, 403, 201, 401, body=lambda w: {
        "name": f"Matrix group {w['n']}b", "members": "alice@example.com"}),
    ("GET", "/api/groups/<id:group_id>"): Row(401, 403, 403, 200, 401),
    ("PATCH", "/api/groups/<id:group_id>"): Row(401, 403, 403, 200, 401,
                                                body=lambda w: {"members": "bob@example.com"}),
    # staff read a room's rules (to see why they were refused)
    ("GET", "/api/rooms/<id:room_id>/policy"): Row(401, 200, 200, 200, 401),
    # -- approvals: the room's approvers (here only the admin) decide; a one-tap link is
    #    its own credential, for the approver it was mailed to --------------------------------
    ("GET", "/approvals"): Row(LOGIN, 200, 200, 200, LOGIN),
    ("GET", "/api/approvals"): Row(401, 200, 200, 200, 401),
    ("POST", "/approvals/<id:booking_id>/approve"): Row(LOGIN, 403, 403, 302, LOGIN),
    ("POST", "/approvals/<id:booking_id>/reject"): Row(LOGIN, 403, 403, 302, LOGIN,
                                                       body=lambda w: {"reason": "No"}),
    ("POST", "/api/bookings/<id:booking_id>/approve"): Row(401, 403, 403, 200, 401),
    ("POST", "/api/bookings/<id:booking_id>/reject"): Row(401, 403, 403, 200, 401,
                                                          body=lambda w: {"reason": "No"}),
    ("GET", "/approvals/tap/<tapped>"): Row(200, 200, 200, 200, 200),
    ("POST", "/approvals/tap/<tapped>"): Row(200, 200, 200, 200, 200),
    # -- the API's own description: public ------------------------------------------------------
    ("GET", "/api/openapi.json"): Row(200, 200, 200, 200, 200),
    ("GET", "/api/docs"): Row(200, 200, 200, 200, 200),
}


ROUTES = app_routes()


# One database and app for the whole matrix (a fresh database per case would
# triple its run time); each case gets a room, booking and token of its own.

@pytest.fixture(scope="module")
def matrix_url(pg_cluster, template_url):
    name = f"matrix_{os.getpid()}"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE booking_template')
    yield pg_cluster.url(name)
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def matrix_app(matrix_url, tmp_path_factory):
    app = create_app({"DATABASE_URL": matrix_url, "SECRET_KEY": "test-secret",
                      "VAR_DIR": str(tmp_path_factory.mktemp("matrix")),
                      "POOL_MIN_SIZE": 1, "POOL_MAX_SIZE": 4})
    app.config["TESTING"] = True
    app.extensions["booking.clock"] = lambda: NOW
    yield app
    close(app)


@pytest.fixture(scope="module")
def people(matrix_url):
    """Alice (the owner), Bob (other staff), Ada (admin), their tokens, and a
    token of Alice's that she revoked."""
    with db.connect(matrix_url) as conn:
        make = Factory(conn)
        users = {"owner": make.user("Alice"), "other": make.user("Bob"),
                 "admin": make.user("Ada", role="admin", email="admin@example.com")}
        tokens = {role: make.token(user) for role, user in users.items()}
        tokens["revoked"] = make.token(users["owner"])
        conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s",
                     (hash_token(tokens["revoked"]),))
    return {"users": users, "tokens": tokens}


_case = itertools.count()


@pytest.fixture
def world(matrix_app, matrix_url, people):
    """This case's own room, Alice's booking and series in it, a spare token of
    hers, and her personal calendar feed's key."""
    n = next(_case)
    with db.connect(matrix_url) as conn:
        make = Factory(conn)
        room = make.room(f"Room {n}", "Europe/Berlin")
        booking = make.booking(room, people["users"]["owner"],
                               datetime(2027, 3, 2, 9, tzinfo=UTC),
                               datetime(2027, 3, 2, 10, tzinfo=UTC))
        person = make.user(f"Person {n}", email=f"person{n}@example.com")
        # Earlier cases' spare tokens go: nobody has more than 50 live (sql/012).
        conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL "
                     "AND NOT token_hash = ANY (%s)",
                     ([hash_token(t) for t in people["tokens"].values()],))
        spare = make.token(people["users"]["owner"])
        spare_id = conn.execute("SELECT id FROM api_tokens WHERE token_hash = %s",
                                (hash_token(spare),)).fetchone()["id"]
        endpoint = conn.execute(
            "INSERT INTO webhook_endpoints (url, events, secret, created_by) "
            "VALUES ('https://93.184.215.14/hook', '{booking.created}', 'whsec_x', %s) "
            "RETURNING id", (people["users"]["admin"]["id"],)).fetchone()
        # A failed delivery (of the booking's event), for the re-send routes.
        delivery = conn.execute(
            "INSERT INTO deliveries (event_id, channel, user_id, status) "
            "SELECT id, 'mail', %s, 'failed' FROM outbox ORDER BY id DESC LIMIT 1 RETURNING id",
            (people["users"]["owner"]["id"],)).fetchone()
        # Alice's booking waits for approval (the admin approves; others may not), in a
        # room of this case's area; a group; the admin's one-tap link.
        conn.execute("UPDATE bookings SET status = 'pending' WHERE id = %s", (booking["id"],))
        area = conn.execute("INSERT INTO areas (name) VALUES (%s) RETURNING id",
                            (f"Matrix area {n}",)).fetchone()
        group = conn.execute("INSERT INTO groups (name) VALUES (%s) RETURNING id",
                             (f"Matrix group {n}",)).fetchone()
    alice = {"Authorization": f"Bearer {people['tokens']['owner']}"}
    client = matrix_app.test_client()
    series = client.post("/api/bookings", headers=alice, json={
        "room_id": room["id"], "title": "Matrix series", "recurrence": "FREQ=DAILY;COUNT=2",
        "start_time": f"{DAY}T12:00", "end_time": f"{DAY}T13:00"})
    assert series.status_code == 201, series.get_json()
    feed = client.get("/api/me", headers=alice).get_json()["calendar_url"]
    with matrix_app.app_context():
        from booking.bookings import reminders
        from booking.panels import service as panels
        signed = reminders.checkin_token(booking["id"], people["users"]["owner"]["id"])
        panel, panel_token = panels.create_token(room["id"], people["users"]["admin"]["id"])
    with matrix_app.app_context():
        offer = reminders.cancel_series_token(series.get_json()["series"]["id"],
                                              people["users"]["owner"]["id"])
    return {"room_id": room["id"], "booking_id": booking["id"], "token_id": spare_id,
            "signed": signed, "panel_id": panel["id"], "panel_token": panel_token,
            "offer": offer,
            "series_id": series.get_json()["series"]["id"],
            "endpoint_id": endpoint["id"], "delivery_id": delivery["id"],
            "token": feed.rsplit("/", 1)[1].removesuffix(".ics"), "user_id": person["id"],
            "filename": "style.css", "n": n, "area_id": area["id"], "group_id": group["id"],
            "tapped": tap_token(matrix_app.config, people["users"]["admin"]["id"], "approve",
                                booking_id=booking["id"]),
            **people}


def _caller(app, world, role, url):
    """A client for `role`, signed in already (so that signing in is not part of
    what the snapshot compares), and how it sends: (send(method, url, body))."""
    if url.startswith("/api/"):
        headers = {} if role == "anonymous" else \
            {"Authorization": f"Bearer {world['tokens'][role]}"}
        client = app.test_client()
        return lambda method, url, body: client.open(url, method=method, json=body,
                                                     headers=headers)
    browser = Browser(app.test_client())
    headers = {}
    if role in ("anonymous", "revoked"):
        browser.get("/login")  # a stranger can get a CSRF token too
        if role == "revoked":
            headers = {"Authorization": f"Bearer {world['tokens']['revoked']}"}
    else:
        signed_in = browser.login(world["users"][role]["email"])
        assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
        browser.get("/account")  # the CSRF token of the signed-in session

    def send(method, url, body):
        if method == "GET":
            return browser.client.get(url, headers=headers)
        return browser.post(url, data=body or {}, headers=headers)
    return send


def refused(expected: int | str) -> bool:
    """Sent to sign in, or answered with an error: nothing may have changed."""
    return expected == LOGIN or expected >= 400


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, rule", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_authorization_matrix(matrix_app, matrix_url, world, method, rule, role):
    row = MATRIX.get((method, rule))
    if row is None:
        variables = re.findall(RULE_VARIABLE, rule)
        stranger = 401 if rule.startswith("/api/") else "LOGIN"
        pytest.fail(
            f"{method} {rule} has no row in MATRIX (tests/test_authorization.py). Add one, "
            f"with the status each of {', '.join(ROLES)} gets (LOGIN: sent to sign in):\n"
            f'    ("{method}", "{rule}"): Row({stranger}, 200, 200, 200, {stranger}),\n'
            f"with query=... and body=lambda world: {{...}} if it needs them"
            + (f"; the world fixture must provide {variables}" if variables else "") + ".")
    try:
        url = (url_for_rule(rule) + row.query).format(**world)
    except KeyError as missing:
        pytest.fail(f"{rule}: the world fixture in tests/test_authorization.py has no {missing}")
    body = row.body(world) if row.body else None
    expected = row.expected(role)
    send = _caller(matrix_app, world, role, url)
    with db.connect(matrix_url) as conn:
        before = state(conn)
        response = send(method, url, body)
        after = state(conn)
    if expected == LOGIN:
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if url.startswith("/api/") and response.status_code >= 400:
        assert response.get_json()["error"]["code"]
    if refused(expected):
        changed = {table: (before[table], after[table]) for table in before
                   if before[table] != after[table]}
        assert not changed, f"refused, yet these tables changed: {sorted(changed)}"


def test_the_snapshot_covers_every_table(matrix_url):
    """A table added later is either in routemap.SNAPSHOT or named here as not
    application state."""
    not_state = {"memo_versions", "schema_migrations", "data_versions", "rooms_version"}
    assert "booking_reminders" in SNAPSHOT
    with db.connect(matrix_url) as conn:
        tables = {r["table_name"] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")}
    assert tables - not_state == set(SNAPSHOT)


def test_every_row_of_the_matrix_is_a_route():
    stale = sorted(set(MATRIX) - set(ROUTES))
    assert not stale, f"MATRIX rows for routes that no longer exist: {stale}"


# What a door panel's token gets on every route: the panel's own actions on its own
# room, what routes that need no sign-in give anyone (QA: the API's document and
# the probes were 403), and 403 for everything else (its room's page and twin, Book
# now, and the booking of its room: check-in not open yet and not started, 409;
# extended, 200). Signing in is not for a panel (a tablet on a wall).
PUBLIC = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
          ("GET", "/api/openapi.json"), ("GET", "/api/docs"), ("GET", "/calendar/<token>.ics"),
          ("GET", "/bookings/<id:booking_id>/checkin/<signed>"),
          ("POST", "/bookings/<id:booking_id>/checkin/<signed>"),
          ("GET", "/series/<id:series_id>/cancel/<offer>"),
          ("POST", "/series/<id:series_id>/cancel/<offer>"),
          ("GET", "/approvals/tap/<tapped>"), ("POST", "/approvals/tap/<tapped>")]
PANEL_ALLOWED = {
    **{route: MATRIX[route].anonymous for route in PUBLIC},
    ("GET", "/rooms/<id:room_id>/panel"): 200,
    ("GET", "/rooms/<id:room_id>/panel/qr.svg"): 200,
    ("POST", "/rooms/<id:room_id>/panel"): 302,
    ("GET", "/api/rooms/<id:room_id>/panel"): 200,
    ("POST", "/api/bookings/<id:booking_id>/checkin"): 409,
    ("POST", "/api/bookings/<id:booking_id>/end"): 409,
    ("POST", "/api/bookings/<id:booking_id>/extend"): 200,
    ("GET", "/static/<path:filename>"): 200,
}


@pytest.mark.parametrize("method, rule", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_a_panel_token_does_only_the_panels_actions(matrix_app, matrix_url, world, method,
                                                    rule):
    row = MATRIX[(method, rule)]
    url = (url_for_rule(rule) + row.query).format(**world)
    body = row.body(world) if row.body else None
    expected = PANEL_ALLOWED.get((method, rule), 403)
    client = matrix_app.test_client()
    if url.startswith("/api/"):
        send = lambda: client.open(url, method=method, json=body,   # noqa: E731
                                   headers={"Authorization": f"Bearer {world['panel_token']}"})
    else:
        client.get(f"/rooms/{world['room_id']}/panel?key={world['panel_token']}")
        page = client.get(f"/rooms/{world['room_id']}/panel").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        send = lambda: (client.get(url) if method == "GET" else   # noqa: E731
                        client.open(url, method=method, data={**(body or {}),
                                                              "csrf_token": csrf}))
    with db.connect(matrix_url) as conn:
        before = state(conn)
        response = send()
        after = state(conn)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected >= 400:
        changed = [t for t in before if before[t] != after[t]]
        assert not changed, f"refused, yet these tables changed: {changed}"
