"""Reminders (issue 17): REMINDER_MINUTES before the start, once per booking even
with two workers, with a one-tap check-in link in a check-in room that checks in
only while check-in is open."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from booking.bookings import reminders
from booking.events.worker import Worker
from conftest import NOW
from test_worker import smtp  # noqa: F401  (a real SMTP server)

START = NOW + timedelta(hours=1)          # 10:00 in Berlin
END = START + timedelta(hours=1)


def send(app, moment):
    with app.app_context():
        return reminders.send_due(moment)


@pytest.fixture
def booked(make, berlin, alice, conn):
    booking = make.booking(berlin, alice, START, END, title="Planning")
    conn.execute("UPDATE bookings SET created_at = %s WHERE id = %s",
                 (NOW - timedelta(days=1), booking["id"]))
    return booking


def reminder_events(conn):
    return conn.execute("SELECT booking_id, user_id FROM outbox "
                        "WHERE kind = 'booking.reminder' ORDER BY id").fetchall()


def test_a_reminder_is_due_exactly_reminder_minutes_before_the_start(app, booked, conn):
    assert send(app, START - timedelta(minutes=15, seconds=1)) == 0
    assert send(app, START - timedelta(minutes=15)) == 1
    assert send(app, START - timedelta(minutes=5)) == 0          # once
    assert reminder_events(conn) == [{"booking_id": booked["id"], "user_id": booked_user(conn)}]


def booked_user(conn):
    return conn.execute("SELECT user_id FROM bookings").fetchone()["user_id"]


def test_none_once_started_none_when_booked_just_now_none_when_turned_off(
        app, make, berlin, alice, conn):
    late = make.booking(berlin, alice, START, END)
    conn.execute("UPDATE bookings SET created_at = %s WHERE id = %s",
                 (START - timedelta(minutes=10), late["id"]))
    assert send(app, START - timedelta(minutes=5)) == 0       # booked inside the lead time
    conn.execute("UPDATE bookings SET created_at = %s", (NOW - timedelta(days=1),))
    assert send(app, START) == 0                              # started: too late
    app.config["REMINDER_MINUTES"] = 0
    assert send(app, START - timedelta(minutes=10)) == 0
    app.config["REMINDER_MINUTES"] = 15
    assert send(app, START - timedelta(minutes=10)) == 1


def test_two_workers_at_once_remind_each_booking_once(app, make, alice, conn):
    rooms = [make.room(f"Room {i}", "Europe/Berlin") for i in range(30)]
    for r in rooms:
        make.booking(r, alice, START, END)
    conn.execute("UPDATE bookings SET created_at = %s", (NOW - timedelta(days=1),))
    barrier = threading.Barrier(2)
    counts = []

    def one():
        barrier.wait()
        with app.app_context():
            counts.append(reminders.send_due(START - timedelta(minutes=10), batch=4))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 30
    events = reminder_events(conn)
    assert len(events) == 30 and len({e["booking_id"] for e in events}) == 30


def test_the_reminder_mail_of_a_checkin_room_checks_in_with_one_tap(app, smtp, booked,
                                                                   berlin, conn, client):
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    send(app, START - timedelta(minutes=15))
    Worker(app, clock=lambda: START - timedelta(minutes=15)).run_until_idle()
    mail = [m for to, m in smtp.messages if "Soon" in m["Subject"]]
    assert len(mail) == 1
    text = mail[0].get_body(("plain",)).get_content()
    assert "Your booking starts at 10:00" in text
    link = re.search(r"https?://\S+/bookings/\d+/checkin/\S+", text).group(0)
    path = link.split("//", 1)[1].split("/", 1)[1]
    path = "/" + path

    app.config["NOW"] = START - timedelta(minutes=10, seconds=1)
    page = client.get(path)
    assert page.status_code == 200 and "Check in now" in page.get_data(as_text=True)
    early = client.post(path)
    assert early.status_code == 409
    app.config["NOW"] = START - timedelta(minutes=10)
    done = client.post(path)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert conn.execute("SELECT checked_in_at FROM bookings WHERE id = %s",
                        (booked["id"],)).fetchone()["checked_in_at"] == app.config["NOW"]


def test_the_link_is_for_that_booking_only_and_useless_after_the_release(
        app, make, berlin, alice, booked, conn, client):
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    other = make.booking(berlin, alice, END, END + timedelta(hours=1))
    with app.test_request_context():
        token = reminders.checkin_token(booked["id"], alice["id"])
    assert client.get(f"/bookings/{other['id']}/checkin/{token}").status_code == 404
    assert client.post(f"/bookings/{other['id']}/checkin/{token}").status_code == 404
    assert client.post(f"/bookings/{booked['id']}/checkin/{token}x").status_code == 404
    app.config["NOW"] = START + timedelta(minutes=15)
    late = client.post(f"/bookings/{booked['id']}/checkin/{token}")
    assert late.status_code == 409
    assert conn.execute("SELECT checked_in_at FROM bookings WHERE id = %s",
                        (booked["id"],)).fetchone()["checked_in_at"] is None


def test_the_link_of_a_deactivated_organiser_checks_in_nothing(
        app, berlin, alice, booked, conn, client):
    """Found by a security tester: a reminder's one-tap check-in still checked in
    (anonymous POST: 200) after its organiser was deactivated, where an approver's
    one-tap links are refused then. It is refused the same way: 404, nothing done."""
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    with app.test_request_context():
        token = reminders.checkin_token(booked["id"], alice["id"])
    app.config["NOW"] = START - timedelta(minutes=5)
    conn.execute("UPDATE users SET active = false WHERE id = %s", (alice["id"],))
    for answer in (client.get(f"/bookings/{booked['id']}/checkin/{token}"),
                   client.post(f"/bookings/{booked['id']}/checkin/{token}")):
        assert answer.status_code == 404, answer.get_data(as_text=True)[:300]
        assert "This check-in link is not valid." in answer.get_data(as_text=True)
    assert conn.execute("SELECT checked_in_at FROM bookings WHERE id = %s",
                        (booked["id"],)).fetchone()["checked_in_at"] is None
    conn.execute("UPDATE users SET active = true WHERE id = %s", (alice["id"],))
    assert client.post(f"/bookings/{booked['id']}/checkin/{token}").status_code == 200


def test_a_reminder_without_checkin_has_no_link(app, smtp, booked):
    send(app, START - timedelta(minutes=15))
    Worker(app, clock=lambda: START - timedelta(minutes=15)).run_until_idle()
    mail = [m for to, m in smtp.messages if "Soon" in m["Subject"]]
    assert len(mail) == 1
    assert "/checkin/" not in mail[0].get_body(("plain",)).get_content()


@pytest.mark.parametrize("grace", [1, 15])
def test_the_reminder_says_when_the_room_is_released(app, smtp, booked, berlin, conn, grace):
    """Found by testing from outside: the reminder asked for a check-in "by 10:00",
    the start, where the room is released only after its grace."""
    conn.execute("UPDATE rooms SET checkin_required = true, release_after_minutes = %s "
                 "WHERE id = %s", (grace, berlin["id"]))
    send(app, START - timedelta(minutes=15))
    w = Worker(app, clock=lambda: START - timedelta(minutes=15))
    w.run_until_idle()
    w._senders.shutdown(wait=True)
    (mail,) = [m for to, m in smtp.messages if "Soon" in m["Subject"]]
    for part in ("plain", "html"):
        assert f"needs a check-in by 10:{grace:02d}" in mail.get_body((part,)).get_content()


def test_a_booking_moved_after_its_reminder_is_reminded_of_its_new_start(app, api_as, booked,
                                                                          alice, conn):
    """Found by testing from outside: reminders were recorded per booking, so one moved
    after its reminder was never reminded of its new time."""
    assert send(app, START - timedelta(minutes=15)) == 1
    app.config["NOW"] = START - timedelta(minutes=14)
    r = api_as(alice).patch(f"/api/bookings/{booked['id']}",
                            json={"start_time": "2027-03-02T10:00"})   # a day later
    assert r.status_code == 200, r.get_json()
    later = START + timedelta(days=1)
    assert send(app, later - timedelta(minutes=15, seconds=1)) == 0
    assert send(app, later - timedelta(minutes=15)) == 1
    assert send(app, later - timedelta(minutes=5)) == 0       # once for that start too
    assert len(reminder_events(conn)) == 2


def test_a_request_waiting_for_approval_is_reminded_without_a_check_in(app, smtp, booked,
                                                                       berlin, conn):
    """Found by testing from outside: the reminder of a pending booking in a check-in
    room offered a one-tap check-in, which is then refused (sql/070)."""
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    conn.execute("UPDATE bookings SET status = 'pending'")
    send(app, START - timedelta(minutes=15))
    Worker(app, clock=lambda: START - timedelta(minutes=15)).run_until_idle()
    (mail,) = [m for to, m in smtp.messages if "Soon" in m["Subject"]]
    text = mail.get_body(("plain",)).get_content()
    assert "/checkin/" not in text and "Check in" not in text
