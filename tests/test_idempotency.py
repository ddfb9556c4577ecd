"""Idempotency-Key: a retried booking books once (issue 6, "nothing doubled")."""

import re
import threading
from datetime import datetime, timedelta

import pytest

from conftest import NOW, UTC, tomorrow_at

DAY = "2027-03-02"
ONE = {"title": "Retro", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}
AUTO = {**ONE, "attendees": 2, "timezone": "Europe/Berlin"}
KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')


def live_bookings(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM bookings WHERE cancelled_at IS NULL"
                        ).fetchone()["n"]


def with_key(key):
    return {"Idempotency-Key": key}


def test_a_repeat_gets_the_first_answer_and_books_nothing(api_as, alice, berlin, conn):
    api = api_as(alice)
    body = {"room_id": berlin["id"], **ONE}
    first = api.post("/api/bookings", json=body, headers=with_key("retry-1"))
    again = api.post("/api/bookings", json=body, headers=with_key("retry-1"))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert live_bookings(conn) == 1
    # Without a key, the same request is a new one: the slot is taken now.
    assert api.post("/api/bookings", json=body).status_code == 409


def test_the_same_key_with_another_body_is_refused(api_as, alice, berlin, conn):
    api = api_as(alice)
    body = {"room_id": berlin["id"], **ONE}
    assert api.post("/api/bookings", json=body, headers=with_key("k")).status_code == 201
    other = api.post("/api/bookings", json={**body, "title": "Something else"},
                     headers=with_key("k"))
    assert other.status_code == 422
    error = other.get_json()["error"]
    assert error["code"] == "idempotency_mismatch"
    assert error["details"]["field"] == "Idempotency-Key"
    assert live_bookings(conn) == 1


def test_keys_are_per_user(api_as, alice, bob, berlin, conn):
    body = {"room_id": berlin["id"], **ONE}
    assert api_as(alice).post("/api/bookings", json=body, headers=with_key("k")).status_code == 201
    later = {**body, "start_time": f"{DAY}T12:00", "end_time": f"{DAY}T13:00"}
    bobs = api_as(bob).post("/api/bookings", json=later, headers=with_key("k"))
    assert bobs.status_code == 201 and "Idempotent-Replayed" not in bobs.headers
    assert live_bookings(conn) == 2


def test_a_key_lasts_24_hours(app, api_as, alice, berlin, conn):
    api = api_as(alice)
    body = {"room_id": berlin["id"], "title": "Later", "start_time": "2027-03-05T10:00",
            "end_time": "2027-03-05T11:00"}
    first = api.post("/api/bookings", json=body, headers=with_key("day"))
    api.delete(first.headers["Location"])  # free the slot: only the key stands in the way
    app.config["NOW"] = NOW + timedelta(hours=24) - timedelta(seconds=1)
    replay = api.post("/api/bookings", json=body, headers=with_key("day"))
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    assert live_bookings(conn) == 0
    app.config["NOW"] = NOW + timedelta(hours=24)
    fresh = api.post("/api/bookings", json=body, headers=with_key("day"))
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.get_json()["booking"]["id"] != first.get_json()["booking"]["id"]
    assert live_bookings(conn) == 1
    assert conn.execute("SELECT count(*) AS n FROM idempotency_keys").fetchone()["n"] == 1


def test_expired_keys_are_cleaned_up(app, api_as, alice, berlin, conn):
    api = api_as(alice)
    for n in range(3):
        body = {"room_id": berlin["id"], "title": "x", "start_time": f"2027-03-05T1{n}:00",
                "end_time": f"2027-03-05T1{n}:30"}
        assert api.post("/api/bookings", json=body, headers=with_key(f"old-{n}")).status_code == 201
    app.config["NOW"] = NOW + timedelta(days=2)
    body = {"room_id": berlin["id"], "title": "x", "start_time": "2027-03-05T15:00",
            "end_time": "2027-03-05T15:30"}
    assert api.post("/api/bookings", json=body, headers=with_key("new")).status_code == 201
    keys = [r["key"] for r in conn.execute("SELECT key FROM idempotency_keys")]
    assert keys == ["new"]


def test_an_answer_that_booked_nothing_does_not_spend_the_key(api_as, alice, bob, berlin,
                                                              make, conn):
    blocker = make.booking(berlin, bob, datetime(2027, 3, 2, 9, tzinfo=UTC),
                           datetime(2027, 3, 2, 10, tzinfo=UTC))
    api = api_as(alice)
    body = {"room_id": berlin["id"], **ONE}
    assert api.post("/api/bookings", json=body, headers=with_key("k")).status_code == 409
    assert conn.execute("SELECT count(*) AS n FROM idempotency_keys").fetchone()["n"] == 0
    api_as(bob).delete(f"/api/bookings/{blocker['id']}")
    retry = api.post("/api/bookings", json=body, headers=with_key("k"))
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_a_series_is_booked_once(api_as, alice, berlin, conn):
    api = api_as(alice)
    body = {"room_id": berlin["id"], **ONE, "recurrence": "FREQ=DAILY;COUNT=3"}
    first = api.post("/api/bookings", json=body, headers=with_key("s"))
    again = api.post("/api/bookings", json=body, headers=with_key("s"))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and len(first.get_json()["bookings"]) == 3
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert conn.execute("SELECT count(*) AS n FROM series").fetchone()["n"] == 1
    assert live_bookings(conn) == 3


def test_auto_assignment_is_replayed_even_when_no_room_is_free_any_more(api_as, alice, berlin,
                                                                        conn):
    api = api_as(alice)  # one room: the first request takes it
    first = api.post("/api/bookings/auto", json=AUTO, headers=with_key("a"))
    again = api.post("/api/bookings/auto", json=AUTO, headers=with_key("a"))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.get_json()["room"]["id"] == berlin["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert live_bookings(conn) == 1
    assert api.post("/api/bookings/auto", json=AUTO,
                    headers=with_key("b")).get_json()["error"]["code"] == "no_room"


def test_simultaneous_requests_with_one_key_book_once(app, make, alice, api_as, conn):
    """Auto-assignment is the dangerous one: without the key, each request
    would take another of the ten free rooms."""
    for n in range(10):
        make.room(f"Room {n}", "Europe/Berlin")
    api = api_as(alice)
    start = threading.Barrier(8)
    answers = []

    def ask():
        start.wait()
        answers.append(app.test_client().post(
            "/api/bookings/auto", json=AUTO,
            headers={**api.headers, **with_key("together")}))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201] * 8
    assert len({a.get_json()["booking"]["id"] for a in answers}) == 1
    assert sum("Idempotent-Replayed" in a.headers for a in answers) == 7
    assert live_bookings(conn) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "del\x7f"])
def test_a_malformed_key_is_a_400(api_as, alice, berlin, conn, key):
    r = api_as(alice).post("/api/bookings", json={"room_id": berlin["id"], **ONE},
                           headers=with_key(key))
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and error["details"]["field"] == "Idempotency-Key"
    assert live_bookings(conn) == 0


def test_the_longest_key_and_any_printable_ascii_are_fine(api_as, alice, berlin):
    key = ("~ !\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}" * 10)[:255]
    r = api_as(alice).post("/api/bookings", json={"room_id": berlin["id"], **ONE},
                           headers=with_key(key))
    assert r.status_code == 201


def test_a_double_submitted_booking_form_books_once(browser_as, alice, berlin, conn):
    browser = browser_as(alice)
    page = browser.get(f"/bookings/new?room_id={berlin['id']}").get_data(as_text=True)
    key = KEY_INPUT.search(page).group(1)
    assert KEY_INPUT.search(browser.get("/bookings/new").get_data(as_text=True)).group(1) != key
    form = {"room_id": berlin["id"], "title": "Twice", "date": DAY, "start": "10:00",
            "end": "11:00", "idempotency_key": key}
    first = browser.post("/bookings/new", data=form)
    second = browser.post("/bookings/new", data=form)
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert first.headers["Location"].startswith("/bookings/")
    assert live_bookings(conn) == 1
    # The page it lands on says it is booked, not that the slot is taken.
    landed = browser.get(second.headers["Location"]).get_data(as_text=True)
    assert "Booked" in landed and "already booked" not in landed


def test_a_form_used_again_after_going_back_says_so_and_then_books(browser_as, alice, berlin,
                                                                    conn):
    """Found by testing from outside: Back after booking restored the form with the
    same key; changed and sent, it was refused (idempotency_mismatch) on a page that
    said nothing, every time. Now the page says why, booked nothing, keeps what was
    typed, and carries a new key: Book again books it."""
    browser = browser_as(alice)
    form = {"room_id": berlin["id"], "title": "First", "date": DAY, "start": "10:00",
            "end": "11:00", "idempotency_key": "went-back"}
    assert browser.post("/bookings/new", data=form).status_code == 302
    changed = {**form, "title": "Second", "start": "12:00", "end": "13:00"}
    page = browser.post("/bookings/new", data=changed)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "This form already made a booking" in html
    assert 'value="Second"' in html
    key = KEY_INPUT.search(html).group(1)
    assert key != "went-back"
    assert live_bookings(conn) == 1
    again = browser.post("/bookings/new", data={**changed, "idempotency_key": key})
    assert again.status_code == 302, again.get_data(as_text=True)[:300]
    assert live_bookings(conn) == 2


def test_a_form_that_comes_back_with_an_error_keeps_its_key(browser_as, alice, berlin):
    browser = browser_as(alice)
    form = {"room_id": berlin["id"], "title": "", "date": DAY, "start": "10:00",
            "end": "11:00", "idempotency_key": "kept-key"}
    page = browser.post("/bookings/new", data=form)
    assert page.status_code == 400
    assert KEY_INPUT.search(page.get_data(as_text=True)).group(1) == "kept-key"


def test_a_double_submitted_finder_form_books_once(browser_as, alice, berlin, conn):
    browser = browser_as(alice)
    page = browser.get(f"/find?date={DAY}&start=10:00&end=11:00&timezone=Europe/Berlin"
                       "&attendees=2").get_data(as_text=True)
    key = KEY_INPUT.search(page).group(1)
    form = {"date": DAY, "start": "10:00", "end": "11:00", "timezone": "Europe/Berlin",
            "attendees": "2", "title": "Twice", "room": "best", "idempotency_key": key}
    first = browser.post("/find", data=form)
    second = browser.post("/find", data=form)
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert live_bookings(conn) == 1


def test_simultaneous_requests_with_one_key_book_once_across_workers(live_server, make, alice,
                                                                     conn):
    """The same through gunicorn: two worker processes, each with its own pool, four
    requests on each (their connections opened while the other worker was stopped,
    so only this one could take them; /proc confirms which holds each).
    gunicorn runs on the real clock: tomorrow, not DAY (tests/test_live_dates.py)."""
    import http.client
    import json
    import os
    import signal

    from faults.faultkit import children, wait_until, worker_holding

    for n in range(10):
        make.room(f"Room {n}", "Europe/Berlin")
    token = make.token(alice)
    begin = tomorrow_at("Europe/Berlin", 10)
    auto = {"title": "Retro", "attendees": 2, "timezone": "Europe/Berlin",
            "start_time": begin.isoformat(), "end_time": (begin + timedelta(hours=1)).isoformat()}
    workers = sorted(children(live_server.process.pid))
    assert len(workers) == 2
    connections = []
    for taker, stopped in (workers, workers[::-1]):
        os.kill(stopped, signal.SIGSTOP)
        try:
            for _ in range(4):
                connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=60)
                connection.connect()
                connections.append(connection)
                port = connection.sock.getsockname()[1]
                holder = wait_until(lambda: worker_holding(port, live_server.port, set(workers)),
                                    30, "a worker to accept the connection")
                assert holder == taker
        finally:
            os.kill(stopped, signal.SIGCONT)
    start = threading.Barrier(len(connections))
    answers = []

    def ask(connection):
        start.wait()
        connection.request("POST", "/api/bookings/auto", body=json.dumps(auto),
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json",
                                    "Idempotency-Key": "together"})
        response = connection.getresponse()
        answers.append((response.status, json.loads(response.read()),
                        response.getheader("Idempotent-Replayed")))
        connection.close()

    threads = [threading.Thread(target=ask, args=(c,)) for c in connections]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _, _ in answers] == [201] * 8
    assert len({body["booking"]["id"] for _, body, _ in answers}) == 1
    assert [replayed for _, _, replayed in answers].count("true") == 7
    assert live_bookings(conn) == 1
