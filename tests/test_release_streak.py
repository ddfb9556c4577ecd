"""A series nobody came to three times in a row (issue 17): its organiser gets one
mail offering to cancel the rest, by a signed link that does only that."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from booking.bookings import release
from booking.events.worker import Worker
from conftest import NOW
from test_worker import smtp  # noqa: F401  (a real SMTP server)

FIRST = NOW + timedelta(hours=1)            # Monday 10:00 in Berlin, then daily


@pytest.fixture
def daily(api_as, alice, berlin, conn):
    conn.execute("UPDATE rooms SET checkin_required = true, opens = '00:00', closes = '23:59' "
                 "WHERE id = %s", (berlin["id"],))
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Daily", "recurrence": "FREQ=DAILY;COUNT=6",
        "start_time": "2027-03-01T10:00", "end_time": "2027-03-01T10:30"})
    assert made.status_code == 201, made.json
    return made.json["series"]


def release_day(app, n):
    with app.app_context():
        return release.sweep(FIRST + timedelta(days=n, minutes=15), 100)


def streaks(conn):
    return conn.execute("SELECT series_id, payload->>'last_start' AS last FROM outbox "
                        "WHERE kind = 'series.release_streak' ORDER BY id").fetchall()


def test_the_third_release_in_a_row_tells_once(app, daily, conn):
    for n in range(2):
        assert release_day(app, n) == 1
        assert streaks(conn) == []
    assert release_day(app, 2) == 1
    assert len(streaks(conn)) == 1 and streaks(conn)[0]["series_id"] == daily["id"]
    assert release_day(app, 3) == 1
    assert len(streaks(conn)) == 1                # the fourth tells no more


def test_a_checkin_in_between_starts_the_count_again(app, daily, conn):
    assert release_day(app, 0) == 1
    conn.execute("UPDATE bookings SET checked_in_at = start_at WHERE series_id = %s AND "
                 "start_at = %s", (daily["id"], FIRST + timedelta(days=1)))
    assert release_day(app, 1) == 0
    assert release_day(app, 2) == 1 and release_day(app, 3) == 1
    assert streaks(conn) == []
    assert release_day(app, 4) == 1
    assert len(streaks(conn)) == 1


def test_the_mail_offers_to_cancel_the_rest_by_a_signed_link(app, smtp, daily, conn, client):
    for n in range(3):
        release_day(app, n)
    app.config["NOW"] = FIRST + timedelta(days=2, minutes=20)
    Worker(app, clock=lambda: app.config["NOW"]).run_until_idle()
    mails = [m for to, m in smtp.messages if "three times" in m["Subject"]]
    assert len(mails) == 1
    text = mails[0].get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/series/\d+/cancel/\S+", text).group(0)
    path = "/" + link.split("//", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200
    assert client.post(path + "x").status_code == 404            # forged
    other = path.replace(f"/series/{daily['id']}/", f"/series/{daily['id'] + 1}/")
    assert client.post(other).status_code == 404
    done = client.post(path)
    assert done.status_code == 200
    left = conn.execute("SELECT count(*) AS n FROM bookings WHERE series_id = %s AND "
                        "cancelled_at IS NULL AND start_at > %s",
                        (daily["id"], app.config["NOW"])).fetchone()["n"]
    assert left == 0
    assert conn.execute("SELECT cancelled_at IS NOT NULL AS c FROM series WHERE id = %s",
                        (daily["id"],)).fetchone()["c"]
