"""Pool exhaustion: with every connection held, the next request is a fast 503
with Retry-After, never a hang; and it is counted in /metrics."""

import threading
import time

from booking import metrics


def hold_every_connection(app):
    pool = app.extensions["booking.pool"]
    pool.open(wait=True)
    return pool, [pool.getconn() for _ in range(pool.max_size)]


def test_a_request_finding_no_connection_gets_503_within_the_pool_timeout(app, api_as, alice, berlin):
    api = api_as(alice)
    url = f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02"
    assert api.get(url).status_code == 200
    pool, held = hold_every_connection(app)
    pool.timeout = 0.5
    timeouts = metrics.POOL_TIMEOUTS._value.get()
    errors = pool.get_stats().get("requests_errors", 0)
    try:
        started = time.monotonic()
        answer = api.get(url)
        waited = time.monotonic() - started
    finally:
        for conn in held:
            pool.putconn(conn)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "unavailable"
    assert answer.headers["Retry-After"] == "1"
    # It waited for a connection (at least the pool's timeout), then gave up: the
    # pool counts it as a timed-out request, and so does /metrics.
    assert waited >= 0.5
    assert pool.get_stats().get("requests_errors", 0) == errors + 1
    assert metrics.POOL_TIMEOUTS._value.get() == timeouts + 1
    # The connections are back: the same request is answered again.
    assert api.get(url).status_code == 200


def test_pages_get_the_503_page(app, browser_as, alice):
    browser = browser_as(alice)
    pool, held = hold_every_connection(app)
    pool.timeout = 0.2
    try:
        page = browser.client.get("/bookings/mine")
    finally:
        for conn in held:
            pool.putconn(conn)
    assert page.status_code == 503 and page.headers["Retry-After"] == "1"
    assert "text/html" in page.content_type and "try again" in page.get_data(as_text=True)


def test_beyond_the_queue_limit_the_answer_is_immediate(app, api_as, alice, berlin):
    """POOL_MAX_WAITING: when that many requests already wait, the next is refused at once."""
    api, other = api_as(alice), api_as(alice)
    pool, held = hold_every_connection(app)
    pool.timeout, pool.max_waiting = 30, 1
    waiter = threading.Thread(target=lambda: other.get("/api/rooms"))
    try:
        waiter.start()
        while pool.get_stats().get("requests_waiting", 0) < 1:
            time.sleep(0.01)
        queued = pool.get_stats().get("requests_queued", 0)
        answer = api.get(f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02")
        still_waiting = pool.get_stats().get("requests_waiting", 0)
        queued_after = pool.get_stats().get("requests_queued", 0)
    finally:
        for conn in held:
            pool.putconn(conn)
        waiter.join()
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "unavailable"
    # Refused, never queued: had it waited, the pool would have counted it, and it
    # could only have returned after the 30 s timeout, with the first waiter gone.
    assert queued_after == queued and still_waiting == 1
