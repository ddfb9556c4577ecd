"""/healthz (the process answers) and /readyz (the database answers): no
sign-in, never cached, cheap, and a 503 in the usual error shape when the
database cannot be reached."""

import logging
import re

import pytest

from booking import close, create_app
from conftest import NOW


def statements(response) -> int:
    return int(re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"])[1])


@pytest.fixture
def unreachable_app(tmp_path):
    """The app with a database that is not there (no server behind the socket path)."""
    app = create_app({"DATABASE_URL": f"postgresql://postgres@/booking?host={tmp_path}/nowhere",
                      "SECRET_KEY": "test-secret", "VAR_DIR": str(tmp_path),
                      "POOL_MIN_SIZE": 1, "POOL_TIMEOUT": 2.0})
    app.config["TESTING"] = True
    app.extensions["booking.clock"] = lambda: NOW
    yield app
    close(app)


def test_healthz_answers_without_sign_in_or_database(client):
    r = client.get("/healthz")
    assert (r.status_code, r.get_json()) == (200, {"status": "ok"})
    assert r.headers["Cache-Control"] == "no-store"
    assert statements(r) == 0


def test_readyz_asks_the_database_once(client):
    r = client.get("/readyz")
    assert (r.status_code, r.get_json()) == (200, {"status": "ready"})
    assert r.headers["Cache-Control"] == "no-store"
    assert statements(r) == 1


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer bk_revoked-or-made-up"},
                                     {"Authorization": "nonsense"},
                                     {"Accept": "text/html"}])
def test_probes_ignore_credentials_and_always_answer_json(client, headers):
    for url in ("/healthz", "/readyz"):
        r = client.get(url, headers=headers)
        assert r.status_code == 200 and r.is_json


def test_without_a_database_healthz_is_200_and_readyz_503(unreachable_app):
    client = unreachable_app.test_client()
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz", headers={"Accept": "text/html"})   # a probe's Accept: */*
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1"
    assert r.headers["Cache-Control"] == "no-store"
    error = r.get_json()["error"]
    assert error["code"] == "unavailable" and error["message"]


def test_without_a_database_other_requests_are_503_too(unreachable_app):
    client = unreachable_app.test_client()
    r = client.get("/api/rooms", headers={"Authorization": "Bearer bk_x"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.get_json()["error"]["code"] == "unavailable"
    page = client.get("/login")
    assert page.status_code == 200   # signing in needs the database only on submit


def test_successful_probes_stay_out_of_the_request_log_but_failures_do_not(
        app, client, unreachable_app, caplog):
    # A slow probe is logged, as every slow request is: on a busy machine the
    # first /readyz (the pool's first connection) can pass SLOW_REQUEST_MS.
    app.config["SLOW_REQUEST_MS"] = 60_000
    with caplog.at_level(logging.DEBUG, logger="booking.request"):
        client.get("/healthz")
        client.get("/readyz")
        unreachable_app.test_client().get("/readyz")
        client.get("/login")
    logged = [(r.getMessage().split()[1], r.levelno) for r in caplog.records
              if r.name == "booking.request"]
    assert [path for path, _ in logged] == ["/healthz", "/readyz", "/readyz", "/login"]
    assert logged[0][1] == logged[1][1] == logging.DEBUG
    assert logged[2][1] >= logging.INFO   # the failing probe (WARNING if flagged SLOW)
    assert logged[3][1] >= logging.INFO
