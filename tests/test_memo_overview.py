"""The rooms overview is built once per overview version and minute (booking/memo/overview.py)."""

import gzip
import json
import re
from datetime import datetime, timedelta

from booking import close
from conftest import NOW, UTC


def statements(response):
    return int(re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"]).group(1))


def test_a_second_reader_gets_the_kept_answer_in_two_statements(api_as, alice, bob, berlin):
    first = api_as(alice).get("/api/rooms")
    second = api_as(bob).get("/api/rooms")
    assert statements(first) == 3 and statements(second) == 2
    assert first.get_json() == second.get_json()
    assert first.headers["ETag"] == second.headers["ETag"]


def test_any_booking_change_shows_at_once(api_as, alice, berlin, make, conn):
    api = api_as(alice)
    assert api.get("/api/rooms").get_json()["rooms"][0]["bookings_today"] == 0
    booking = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Now-ish",
                                              "start_time": "2027-03-01T10:00",
                                              "end_time": "2027-03-01T11:00"}).get_json()["booking"]
    (room,) = api.get("/api/rooms").get_json()["rooms"]
    assert room["bookings_today"] == 1 and room["next_booking"]["id"] == booking["id"]
    api.delete(f"/api/bookings/{booking['id']}")
    (room,) = api.get("/api/rooms").get_json()["rooms"]
    assert room["bookings_today"] == 0 and room["next_booking"] is None
    # A change made behind the app's back (another process, psql) counts too.
    conn.execute("UPDATE rooms SET name = 'Renamed'")
    assert api.get("/api/rooms").get_json()["rooms"][0]["name"] == "Renamed"


def test_the_answer_moves_on_with_the_minute(api_as, alice, berlin, make, app):
    make.booking(berlin, alice, datetime(2027, 3, 1, 8, 30, tzinfo=UTC),
                 datetime(2027, 3, 1, 9, 0, tzinfo=UTC), title="Half past")
    api = api_as(alice)
    app.config["NOW"] = datetime(2027, 3, 1, 8, 29, 59, tzinfo=UTC)
    assert api.get("/api/rooms").get_json()["rooms"][0]["current_booking"] is None
    app.config["NOW"] = datetime(2027, 3, 1, 8, 30, 0, tzinfo=UTC)
    assert api.get("/api/rooms").get_json()["rooms"][0]["current_booking"]["title"] == "Half past"


def test_gzip_and_304_for_the_kept_answer(api_as, alice, make):
    for i in range(12):
        make.room(f"Room {i:02}")
    api = api_as(alice)
    plain = api.get("/api/rooms")
    zipped = api.get("/api/rooms", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert json.loads(gzip.decompress(zipped.data)) == plain.get_json()
    # The same tag, weak for the gzipped body (booking/http.py does the same).
    assert zipped.headers["ETag"] == "W/" + plain.headers["ETag"]
    for tag in (plain.headers["ETag"], zipped.headers["ETag"]):
        again = api.get("/api/rooms", headers={"If-None-Match": tag, "Accept-Encoding": "gzip"})
        assert again.status_code == 304 and again.data == b""


def test_each_app_keeps_its_own_answers(app, api_as, alice, berlin, conn, tmp_path, pg_cluster):
    """Two apps in one process, same data version and minute, different databases:
    each answers from its own database."""
    from booking import create_app, db
    from conftest import Api, Factory

    other_url = pg_cluster.create_database("shared_other")
    db.upgrade(other_url)
    other = create_app({"DATABASE_URL": other_url, "SECRET_KEY": "x", "VAR_DIR": str(tmp_path)})
    other.extensions["booking.clock"] = lambda: NOW
    try:
        with db.connect(other_url) as other_conn:
            make_other = Factory(other_conn)
            make_other.room("Elsewhere")
            token = make_other.token(make_other.user("Zed"))
            for c in (conn, other_conn):
                c.execute("UPDATE memo_versions SET n = 0")
        assert [r["name"] for r in api_as(alice).get("/api/rooms").get_json()["rooms"]] == ["Spree"]
        answer = Api(other.test_client(), token).get("/api/rooms").get_json()
        assert [r["name"] for r in answer["rooms"]] == ["Elsewhere"]
    finally:
        close(other)


def test_only_writes_near_today_change_the_version(conn, make, alice, berlin):
    """sql/011_memo.sql: a booking far ahead cannot change what the overview shows now."""
    conn.execute("SET booking.bump_everything = off")
    version = lambda: conn.execute("SELECT memo_version('overview') AS v").fetchone()["v"]  # noqa: E731
    now = conn.execute("SELECT date_trunc('hour', now()) AS t").fetchone()["t"]
    before = version()
    far = make.booking(berlin, alice, now + timedelta(days=30), now + timedelta(days=30, minutes=30))
    conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id = %s", (far["id"],))
    conn.execute("DELETE FROM bookings WHERE id = %s", (far["id"],))
    assert version() == before
    # Near now, in any time zone: within two days either side.
    for offset in (timedelta(days=-2, minutes=30), timedelta(0), timedelta(days=1, hours=23)):
        before = version()
        near = make.booking(berlin, alice, now + offset, now + offset + timedelta(minutes=30))
        assert version() == before + 1, offset
        conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id = %s", (near["id"],))
        assert version() == before + 2, offset
    # Moving a booking from far away to today counts (its new row is near) ...
    moved = make.booking(berlin, alice, now + timedelta(days=40), now + timedelta(days=40, minutes=15))
    before = version()
    conn.execute("UPDATE bookings SET start_at = start_at - interval '40 days', "
                 "end_at = end_at - interval '40 days' WHERE id = %s", (moved["id"],))
    assert version() == before + 1
    # ... and so does moving it away from today (its old row was near).
    conn.execute("UPDATE bookings SET start_at = start_at + interval '40 days', "
                 "end_at = end_at + interval '40 days' WHERE id = %s", (moved["id"],))
    assert version() == before + 2
    # Two days and a bit ahead: no.
    before = version()
    make.booking(berlin, alice, now + timedelta(days=2, hours=1), now + timedelta(days=2, hours=2))
    assert version() == before
