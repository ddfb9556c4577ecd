"""booking/memo/users.py: a process remembers who a session or
token belongs to, and forgets it as soon as the database says it changed.

"Elsewhere" below is a change made over another connection, as another app
process or an admin's psql would: only its NOTIFY (sql/011_memo.sql)
can tell this process about it.
"""

import re
import time

import pytest

from booking import memo
from booking.memo import channel
from booking.memo.users import Users
from booking.auth import hash_token

from conftest import Browser

DAY = "/api/rooms/{}/bookings?date=2027-03-02"


def statements(response) -> int:
    return int(re.search(r'db;desc="(\d+) statements"',
                         response.headers["Server-Timing"]).group(1))


def until(check, seconds=30.0):
    """Wait for `check()` to hold: a notification arrives within moments, not at once.
    `seconds` is a deadline for a failure, generous for a busy machine, not a speed."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within %s s" % seconds
        time.sleep(0.01)


@pytest.fixture
def warm(api_as, alice, berlin):
    """Alice's API client, after the requests that open the listening connection
    and then remember her token."""
    api = api_as(alice)
    for _ in range(2):
        assert api.get(DAY.format(berlin["id"])).status_code == 200
    return api


def test_a_remembered_token_costs_no_statement(warm, berlin):
    first = warm.get(DAY.format(berlin["id"]))
    second = warm.get(DAY.format(berlin["id"]))
    assert first.status_code == second.status_code == 200
    assert statements(first) == statements(second) == 1   # the day's statement only


def test_without_the_cache_every_request_looks_the_user_up(app, warm, berlin):
    memo.of(app).users.seconds = 0
    assert statements(warm.get(DAY.format(berlin["id"]))) == 2


def test_a_token_revoked_elsewhere_stops_working_within_moments(warm, conn, berlin):
    token = warm.headers["Authorization"].split()[1]
    conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s",
                 (hash_token(token),))
    until(lambda: warm.get("/api/me").status_code == 401)


def test_a_user_deactivated_elsewhere_is_locked_out_within_moments(warm, conn, alice):
    conn.execute("UPDATE users SET active = false WHERE id = %s", (alice["id"],))
    until(lambda: warm.get("/api/me").status_code == 401)


def test_a_renamed_user_is_shown_renamed_within_moments(warm, conn, alice):
    assert warm.get("/api/me").get_json()["user"]["name"] == "Alice"
    conn.execute("UPDATE users SET name = 'Alice B.' WHERE id = %s", (alice["id"],))
    until(lambda: warm.get("/api/me").get_json()["user"]["name"] == "Alice B.")


def test_a_session_ended_elsewhere_stops_working_within_moments(app, alice, conn):
    browser = Browser(app.test_client())
    browser.login(alice["email"])
    for _ in range(3):
        assert browser.client.get("/api/me").status_code == 200
    conn.execute("DELETE FROM sessions WHERE user_id = %s", (alice["id"],))
    until(lambda: browser.client.get("/api/me").status_code == 401)


def test_a_session_is_never_remembered_past_its_expiry(app, alice, conn):
    """The cache keeps a session at most as long as it has left (the database's
    `seconds_left`), however long AUTH_CACHE_SECONDS is. The cache's clock is
    the test's: it stands still, and moves only when told."""
    users = memo.of(app).users
    users.seconds = 3600
    ticks = [1000.0]
    users.clock = lambda: ticks[0]
    browser = Browser(app.test_client())
    browser.login(alice["email"])
    conn.execute("UPDATE sessions SET expires_at = now() + interval '100 seconds' "
                 "WHERE user_id = %s", (alice["id"],))
    for _ in range(3):
        assert browser.client.get("/api/me").status_code == 200
    remembered = browser.client.get("/api/me")
    assert remembered.status_code == 200 and statements(remembered) == 0
    ticks[0] += 50                                 # half its time left: still remembered
    assert statements(browser.client.get("/api/me")) == 0
    ticks[0] += 50                                 # its end (by the cache's clock): asked again
    asked = browser.client.get("/api/me")
    assert asked.status_code == 200 and statements(asked) == 1


def test_a_lost_listening_connection_means_asking_the_database(app, warm, conn, berlin,
                                                               monkeypatch):
    monkeypatch.setattr(channel, "RECONNECT_SECONDS", 0.0)
    assert statements(warm.get(DAY.format(berlin["id"]))) == 1
    killed = conn.execute("SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity "
                          "WHERE application_name = 'booking memo' "
                          "AND datname = current_database()").fetchall()
    assert [r["done"] for r in killed] == [True]
    # Noticed at the next request: asked the database, and listening again.
    until(lambda: statements(warm.get(DAY.format(berlin["id"]))) == 2)
    # A revocation while it was down is not missed.
    token = warm.headers["Authorization"].split()[1]
    conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s",
                 (hash_token(token),))
    until(lambda: warm.get("/api/me").status_code == 401)


def test_a_lookup_that_raced_with_a_change_is_not_kept(database_url, conn, make, alice):
    listening = channel.Channel(database_url)
    cache = Users(listening, 30)
    key, row = b"k" * 32, {"id": alice["id"], "name": "Alice"}
    try:
        assert cache.generation() is None       # not listening yet: nothing is kept
        cache.keep(key, row, None)               # ... but now it listens
        generation = cache.generation()
        assert generation is not None
        conn.execute("UPDATE users SET name = 'Alice B.' WHERE id = %s", (alice["id"],))
        until(lambda: cache.generation() != generation)
        cache.keep(key, row, generation)         # read before the change: dropped
        assert cache.get(key) is None
        cache.keep(key, row, cache.generation())
        assert cache.get(key) == row
        ticks = [0.0]
        cache.clock = lambda: ticks[0]
        cache.keep(key, row, cache.generation(), seconds_left=5)     # a session's end
        ticks[0] = 4.9
        assert cache.get(key) == row
        ticks[0] = 5.0
        assert cache.get(key) is None
    finally:
        listening.close()
