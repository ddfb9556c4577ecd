"""schemathesis against the app: for every operation of /api/openapi.json, generated
requests (valid and invalid) never get a 5xx, and every answer matches the document
(status code, content type, headers, body schema). Invalid input must be refused.

It runs through the WSGI app of the test fixture (the same code gunicorn serves,
with the clock frozen), as an admin with a bearer token, in a database with rooms,
bookings and a series: each operation gets a fresh database and 25 examples. Then
once more over HTTP against gunicorn (`live_server`), 10 examples per operation.
"""

import ipaddress
import os
import socket
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               negative_data_rejection,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from booking.openapi.spec import document
from conftest import UTC
from routemap import state

schema = schemathesis.openapi.from_dict(document())

# Fixed examples by default, so the suite is repeatable; to go hunting, run
# SCHEMATHESIS_EXAMPLES=200 SCHEMATHESIS_RANDOM=1 pytest tests/test_schemathesis.py
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
RANDOM = bool(os.environ.get("SCHEMATHESIS_RANDOM"))

pytestmark = pytest.mark.filterwarnings(
    "ignore::hypothesis.errors.HypothesisDeprecationWarning")

# Everything a request could change: routemap.state (the same snapshot the
# authorization matrix and the property tests compare).

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


PUBLIC_ADDRESS = "93.184.215.14"


def resolve_without_dns(host, port, *args, **kwargs):
    """socket.getaddrinfo without the network: an address stands for itself, localhost is
    loopback, a name under .invalid does not resolve, and any other name is public."""
    if not isinstance(host, str):
        raise socket.gaierror(socket.EAI_NONAME, "not a name")
    host.encode("idna")   # UnicodeError for what IDNA refuses, as the real resolver
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() == "localhost":
            address = ipaddress.ip_address("127.0.0.1")
        elif host.lower().rstrip(".").endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        else:
            address = ipaddress.ip_address(PUBLIC_ADDRESS)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(address), port))]


@pytest.fixture
def no_dns(monkeypatch):
    """Registering a webhook resolves its host: here without asking any name server."""
    monkeypatch.setattr(socket, "getaddrinfo", resolve_without_dns)


def seed_events(conn, admin, alice) -> None:
    """A webhook endpoint (id 1) with a failed delivery (id 1) and its attempt, and a
    pending mail, so the webhook, delivery and activity operations find rows."""
    endpoint = conn.execute(
        "INSERT INTO webhook_endpoints (url, description, events, secret, created_by) "
        "VALUES ('https://hooks.example.com/booking', 'Chat', "
        "ARRAY['booking.created', 'booking.cancelled'], %s, %s) RETURNING id",
        ("whsec_" + "A" * 32, admin["id"])).fetchone()
    assert endpoint["id"] == 1
    events = [r["id"] for r in conn.execute("SELECT id FROM outbox ORDER BY id").fetchall()]
    assert events, "the bookings above write events"
    failed = conn.execute(
        "INSERT INTO deliveries (event_id, channel, endpoint_id, status, attempts, last_error, "
        "finished_at) VALUES (%s, 'webhook', 1, 'failed', 10, 'HTTP 500', now()) RETURNING id",
        (events[0],)).fetchone()
    assert failed["id"] == 1
    conn.execute("INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, status_code, "
                 "latency_ms, ok, response, error) "
                 "VALUES (1, 1, 10, 500, 42, false, 'oops', 'HTTP 500')")
    conn.execute("INSERT INTO deliveries (event_id, channel, user_id) VALUES (%s, 'mail', %s)",
                 (events[-1], alice["id"]))


@pytest.fixture
def token(make, conn, admin, alice, berlin, new_york, api_as, no_dns):
    """An admin's bearer token, in a world with two rooms (ids 1 and 2), bookings, a series
    (and so events and audit entries), a webhook endpoint (id 1) with a failed delivery
    (id 1), and a pending mail."""
    assert berlin["id"] == 1
    make.booking(berlin, alice, datetime(2027, 3, 2, 12, tzinfo=UTC),
                 datetime(2027, 3, 2, 13, tzinfo=UTC))
    make.booking(new_york, admin, datetime(2027, 3, 2, 15, tzinfo=UTC),
                 datetime(2027, 3, 2, 16, tzinfo=UTC))
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "recurrence": "FREQ=WEEKLY;COUNT=3",
        "start_time": "2027-03-03T10:00", "end_time": "2027-03-03T11:00"})
    assert made.status_code == 201
    seed_events(conn, admin, alice)
    return make.token(admin)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_answers_as_documented(case, app, token, conn):
    before = state(conn)
    # identity: the WSGI transport does not undo gzip the way an HTTP client does
    response = case.call_and_validate(
        app=app, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"},
        checks=CHECKS)
    if 400 <= response.status_code < 500:
        # A refused request changes nothing.
        assert state(conn) == before, case.as_curl_command()


# -- the same against gunicorn, fewer examples: what a client over HTTP sees -----------------

# Registering or changing a webhook resolves the URL's host; gunicorn would ask the
# name server, so those two run through the WSGI app only (with no_dns).
RESOLVES_NAMES = {("POST", "/api/webhooks"), ("PATCH", "/api/webhooks/{endpoint_id}")}


def test_live_server_answers_as_documented(live_server, token):
    """Every operation over HTTP to gunicorn (gzip on, the live clock), a few examples each,
    all against one server."""
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in RESOLVES_NAMES:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, derandomize=not RANDOM, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_as_documented(case):
            case.call_and_validate(base_url=live_server.url,
                                   headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        answers_as_documented()


# -- what schemathesis does not send: bodies that are not JSON at all ------------------------

BODY_OPERATIONS = [(method.upper(), path) for path, operations in document()["paths"].items()
                   for method, operation in operations.items() if "requestBody" in operation]
NOT_JSON = [
    ("application/json", b'{"room_id": 1, "title": '),              # cut off
    ("application/json", b"[1, 2, 3]"),                             # not an object
    ("application/json", b'"just text"'),
    ("application/json", b"\xff\xfe{\x00}"),                       # not UTF-8
    ("application/json", b'{"title": "\\ud800", "name": "\\ud800"}'),  # lone surrogate
    ("application/json", b'{"room_id": 1e400, "capacity": 1e400, "attendees": 1e400}'),
    ("application/json", b'{"room_id": 123456789012345678901234567890, "capacity": -1e308}'),
    ("application/json", b'{"checks": {"a": 1}, "name": {"b": 2}, "title": [], "capacity": {}}'),
    ("text/plain", b'{"name": "Spree"}'),
    ("application/x-www-form-urlencoded", b"name=Spree&capacity=4"),
]


@pytest.mark.parametrize("method, path", BODY_OPERATIONS)
def test_bodies_that_are_not_usable_json_are_400_and_change_nothing(app, token, conn, method,
                                                                     path):
    client = app.test_client()
    url = path.replace("{room_id}", "1").replace("{endpoint_id}", "1").replace("{user_id}", "1")
    url = url.replace("{booking_id}", "1").replace("{series_id}", "1")
    url = url.replace("{area_id}", "1").replace("{group_id}", "1")
    before = state(conn)
    for content_type, body in NOT_JSON:
        r = client.open(url, method=method, data=body, content_type=content_type,
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 400, (content_type, body, r.get_data(as_text=True))
        assert r.get_json()["error"]["code"] == "invalid"
    big = b'{"title": "' + b"x" * (65 * 1024) + b'"}'
    r = client.open(url, method=method, data=big, content_type="application/json",
                    headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (413, "payload_too_large")
    assert state(conn) == before


# -- what schemathesis does not send: the same Idempotency-Key twice -------------------------

@pytest.mark.parametrize("path, body", [
    ("/api/bookings", {"room_id": 1, "title": "Planning", "start_time": "2027-03-04T10:00",
                       "end_time": "2027-03-04T11:00"}),
    ("/api/bookings/auto", {"title": "Planning", "attendees": 2, "timezone": "Europe/Berlin",
                            "start_time": "2027-03-04T14:00", "end_time": "2027-03-04T15:00"}),
])
def test_a_replayed_booking_answers_as_documented(app, token, path, body):
    """The first answer, the replay (Idempotent-Replayed: true) and the mismatch (422) all
    match the document."""
    operation = schema[path]["POST"]
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    key = {"Idempotency-Key": "retry-me-1"}
    first = operation.Case(body=body, headers=key).call_and_validate(
        app=app, headers=headers, checks=CHECKS)
    # schemathesis gives headers lower-cased, as lists
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = operation.Case(body=body, headers=key).call_and_validate(
        app=app, headers=headers, checks=CHECKS)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == ["true"]
    assert again.json() == first.json()
    other = operation.Case(body={**body, "title": "Other"}, headers=key).call_and_validate(
        app=app, headers=headers, checks=CHECKS)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_mismatch"
