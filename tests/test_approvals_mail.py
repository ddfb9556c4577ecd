"""Approvals through the delivery worker and a real SMTP server (issue 18): the
approvers are mailed when a request arrives, with signed one-tap links; the
requester on each outcome; a request nobody decides expires."""

from __future__ import annotations

import re
from datetime import timedelta

import icalendar
import pytest

from booking.events.worker import Worker
from conftest import NOW
from policykit import area, group, put_in
from routemap import state
from test_worker import SmtpServer, calendar_of, only_event

DAY = "2027-03-02"


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
    yield server
    server.stop()


@pytest.fixture
def worker(app):
    w = Worker(app)
    yield w
    w._senders.shutdown(wait=True)


@pytest.fixture
def fred(make):
    return make.user("Fred")


@pytest.fixture
def approval_room(conn, berlin, fred):
    facilities = group(conn, "Facilities", fred)
    building = area(conn, "Building B", approval_required=True,
                    approvers=[facilities["id"]])
    put_in(conn, berlin, building)
    return berlin


def request(api, room, **extra):
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": "Offsite prep",
                                        "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00",
                                        **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def made_now(conn):
    """The requests as made at the app's frozen NOW (the database's now() is the real
    clock's), so expiry is measured from there."""
    conn.execute("UPDATE bookings SET created_at = %s", (NOW,))


def to(smtp, address):
    return [m for rcpt, m in smtp.messages if rcpt == [address]]


def links(message):
    text = message.get_body(("plain",)).get_content()
    return dict(re.findall(r"(Approve|Reject): (http\S+)", text))


def test_approvers_get_one_tap_links_and_the_requester_a_tentative_invitation(
        app, api_as, alice, fred, approval_room, smtp, worker, conn, client):
    booking = request(api_as(alice), approval_room)["booking"]
    made_now(conn)
    worker.run_until_idle()
    (asked,) = to(smtp, fred["email"])
    assert "Alice asks to book" in asked["Subject"]
    assert not [p for p in asked.walk() if p.get_content_type() == "text/calendar"]
    found = links(asked)
    assert set(found) == {"Approve", "Reject"}
    (told,) = to(smtp, alice["email"])
    assert "waiting for approval" in told["Subject"]
    event = only_event(calendar_of(told))
    assert str(event["STATUS"]) == "TENTATIVE"

    # Opening the link (a mail scanner would) changes nothing; the button decides.
    path = found["Approve"].replace(app.config["PUBLIC_URL"], "")
    before = state(conn)
    page = client.get(path)
    assert page.status_code == 200 and "Approve as Fred" in page.get_data(as_text=True)
    assert state(conn) == before
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    done = client.post(path, data={"csrf_token": csrf})
    assert done.status_code == 200 and "Approved, Fred" in done.get_data(as_text=True)
    assert conn.execute("SELECT status, decided_by FROM bookings").fetchone() == {
        "status": "confirmed", "decided_by": fred["id"]}
    again = client.post(path, data={"csrf_token": csrf})
    assert again.status_code == 409 and "no longer waiting" in again.get_data(as_text=True)

    worker.run_until_idle()
    (_, approved) = to(smtp, alice["email"])
    assert "Approved:" in approved["Subject"]
    assert "Fred approved it" in approved.get_body(("plain",)).get_content()
    calendar = calendar_of(approved)
    assert str(calendar["METHOD"]) == "REQUEST"
    event = only_event(calendar)
    assert str(event["UID"]) == f"booking-{booking['id']}@booking"
    assert (event["SEQUENCE"], str(event["STATUS"])) == (1, "CONFIRMED")


def test_a_rejection_by_link_is_mailed_with_its_reason(app, api_as, alice, fred, approval_room,
                                                       smtp, worker, conn, client):
    request(api_as(alice), approval_room)
    made_now(conn)
    worker.run_until_idle()
    (asked,) = to(smtp, fred["email"])
    path = links(asked)["Reject"].replace(app.config["PUBLIC_URL"], "")
    page = client.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post(path, data={"csrf_token": csrf, "reason": "Board meeting"})
    assert r.status_code == 200
    worker.run_until_idle()
    rejected = to(smtp, alice["email"])[-1]
    assert "Not approved" in rejected["Subject"]
    assert '"Board meeting"' in rejected.get_body(("plain",)).get_content()
    assert str(calendar_of(rejected)["METHOD"]) == "CANCEL"


def test_a_link_is_for_its_approver_and_no_one_else(app, api_as, alice, bob, fred, approval_room,
                                                    smtp, worker, conn, client):
    from booking.approvals.service import tap_token

    booking = request(api_as(alice), approval_room)["booking"]
    made_now(conn)
    # Bob is no approver: a link signed for him decides nothing.
    forged = tap_token(app.config, bob["id"], "approve", booking_id=booking["id"])
    page = client.get(f"/approvals/tap/{forged}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    before = state(conn)
    r = client.post(f"/approvals/tap/{forged}", data={"csrf_token": csrf})
    assert r.status_code == 403
    assert state(conn) == before
    # Nor does a link with another secret, or a tampered one.
    other = tap_token({"SECRET_KEY": "not ours"}, fred["id"], "approve", booking_id=booking["id"])
    assert client.get(f"/approvals/tap/{other}").status_code == 404
    good = tap_token(app.config, fred["id"], "approve", booking_id=booking["id"])
    assert client.get(f"/approvals/tap/{good[:-2]}xx").status_code == 404


def test_a_request_nobody_decides_expires_and_frees_its_slot(app, api_as, alice, bob, fred,
                                                             approval_room, smtp, conn):
    app.config["APPROVAL_EXPIRES_HOURS"] = 3
    request(api_as(alice), approval_room, start_time="2027-03-03T10:00",
            end_time="2027-03-03T11:00")
    made_now(conn)
    early = Worker(app, clock=lambda: NOW + timedelta(hours=2, minutes=59))
    early.run_until_idle()
    assert conn.execute("SELECT status FROM bookings").fetchone()["status"] == "pending"
    late = Worker(app, clock=lambda: NOW + timedelta(hours=3))
    late.run_until_idle()
    row = conn.execute("SELECT status, cancelled_at FROM bookings").fetchone()
    assert row["status"] == "expired" and row["cancelled_at"] is not None
    expired = to(smtp, alice["email"])[-1]
    assert "Expired without a decision" in expired["Subject"]
    assert str(calendar_of(expired)["METHOD"]) == "CANCEL"
    r = api_as(bob).post("/api/bookings", json={
        "room_id": approval_room["id"], "title": "Mine now", "start_time": "2027-03-03T10:00",
        "end_time": "2027-03-03T11:00"})
    assert r.status_code == 201
    for w in (early, late):
        w._senders.shutdown(wait=True)


def test_a_request_expires_at_its_start_if_that_is_sooner(app, api_as, alice, approval_room,
                                                          smtp, conn):
    request(api_as(alice), approval_room)                 # tomorrow 10:00; 48 hours by default
    made_now(conn)
    start = NOW.replace(hour=9) + timedelta(days=1)       # 10:00 in Berlin on 2 March
    before = Worker(app, clock=lambda: start - timedelta(minutes=1))
    before.run_until_idle()
    assert conn.execute("SELECT status FROM bookings").fetchone()["status"] == "pending"
    at_start = Worker(app, clock=lambda: start)
    at_start.run_until_idle()
    assert conn.execute("SELECT status FROM bookings").fetchone()["status"] == "expired"
    for w in (before, at_start):
        w._senders.shutdown(wait=True)


def test_a_series_asks_once_by_mail_and_its_link_decides_it_whole(
        app, api_as, alice, fred, approval_room, smtp, worker, conn, client):
    request(api_as(alice), approval_room, recurrence="FREQ=DAILY;COUNT=3")
    made_now(conn)
    worker.run_until_idle()
    (asked,) = to(smtp, fred["email"])
    assert "repeating" in asked["Subject"]
    path = links(asked)["Approve"].replace(app.config["PUBLIC_URL"], "")
    page = client.get(path).get_data(as_text=True)
    assert "every date of the repeating booking" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(path, data={"csrf_token": csrf}).status_code == 200
    statuses = [r["status"] for r in conn.execute("SELECT status FROM bookings")]
    assert statuses == ["confirmed"] * 3
    worker.run_until_idle()
    approved = [m for m in to(smtp, alice["email"]) if "Approved" in m["Subject"]]
    assert len(approved) == 1
    event = only_event(calendar_of(approved[0]))
    assert str(event["UID"]).startswith("series-") and "RRULE" in event


def test_who_approves_a_rooms_requests(conn, make, berlin, new_york, fred):
    """approver_ids(): the active members of the groups the room's policy names, each
    once, in id order; the active administrators when it names none."""
    gina, hal = make.user("Gina"), make.user("Hal")
    boss = make.user("Boss", role="admin")
    make.user("Gone", role="admin", active=False)
    left = make.user("Left", active=False)
    one = group(conn, "One", fred, gina, left)
    two = group(conn, "Two", gina, hal)
    group(conn, "Three", boss)
    put_in(conn, berlin, area(conn, "Named", approvers=[two["id"], one["id"]]))

    def approvers(room):
        return conn.execute("SELECT approver_ids(%s) AS ids", (room["id"],)).fetchone()["ids"]

    assert approvers(berlin) == sorted([fred["id"], gina["id"], hal["id"]])
    admins = [u["id"] for u in conn.execute(
        "SELECT id FROM users WHERE role = 'admin' AND active ORDER BY id")]
    assert boss["id"] in admins
    assert approvers(new_york) == admins


def test_a_room_whose_approver_groups_have_nobody_active_asks_the_administrators(
        app, api_as, alice, admin, conn, make, berlin, smtp, worker):
    """Found by testing from outside: the room named an approver group with no
    members; the request was mailed to nobody and expired unseen. Nobody active in
    the groups named is as if none were named: the administrators are asked."""
    empty = group(conn, "Empty")
    gone = make.user("Gone")
    nobody = group(conn, "Nobody active", gone)
    conn.execute("UPDATE users SET active = false WHERE id = %s", (gone["id"],))
    put_in(conn, berlin, area(conn, "Strict", approval_required=True,
                              approvers=[empty["id"], nobody["id"]]))
    admins = [u["id"] for u in conn.execute(
        "SELECT id FROM users WHERE role = 'admin' AND active ORDER BY id")]
    assert admins
    assert conn.execute("SELECT approver_ids(%s) AS ids", (berlin["id"],)).fetchone()["ids"] \
        == admins
    r = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Asked", "start_time": "2027-03-02T10:00",
        "end_time": "2027-03-02T11:00"})
    assert r.status_code == 201 and r.get_json()["booking"]["status"] == "pending"
    worker.run_until_idle()
    asked = {tuple(to) for to, message in smtp.messages if "asks to book" in message["Subject"]}
    emails = [u["email"] for u in conn.execute(
        "SELECT email FROM users WHERE role = 'admin' AND active ORDER BY id")]
    assert asked == {(email,) for email in emails}


def test_an_approval_and_a_release_are_changes_the_feeds_and_later_mail_count(
        app, api_as, admin, alice, berlin, conn, smtp, worker):
    """Found by testing from outside: approved, the feed kept SEQUENCE 0 and the
    request's DTSTAMP while the approval's invitation said 1, and a later move said
    1 again; released (its end cut), the feed kept both. Each is now a change the
    feeds count; neither is told as booking.updated (they are told as themselves)."""
    from policykit import room_policy

    room_policy(conn, berlin, approval_required=True)
    api = api_as(alice)

    def feed():
        (event,) = icalendar.Calendar.from_ical(
            api.get(f"/rooms/{berlin['id']}/calendar.ics").data).walk("VEVENT")
        return event["SEQUENCE"], event["DTSTAMP"].dt, event["DTEND"].dt

    r = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Asked",
                                        "start_time": "2027-03-01T11:00",
                                        "end_time": "2027-03-01T12:00"})
    booking_id = r.get_json()["booking"]["id"]
    conn.execute("UPDATE bookings SET created_at = created_at - interval '1 minute'")
    asked = feed()
    assert asked[0] == 0
    assert api_as(admin).post(f"/api/bookings/{booking_id}/approve").status_code == 200
    approved = feed()
    assert approved[0] == 1 and approved[1] > asked[1]
    worker.run_until_idle()
    mailed = [only_event(calendar_of(m))["SEQUENCE"] for to, m in smtp.messages
              if to == [alice["email"]] and "Approved" in m["Subject"]]
    assert mailed == [1]
    r = api.patch(f"/api/bookings/{booking_id}", json={"title": "Asked, renamed"})
    assert r.status_code == 200, r.get_json()
    worker.run_until_idle()
    changed = [only_event(calendar_of(m))["SEQUENCE"] for to, m in smtp.messages
               if to == [alice["email"]] and "Changed" in m["Subject"]]
    assert changed == [2] and feed()[0] == 2
    # Released: nobody checked in (check-in turned on before the booking was made).
    conn.execute("UPDATE rooms SET checkin_required = true, release_after_minutes = 10, "
                 "checkin_since = %s WHERE id = %s", (NOW - timedelta(days=1), berlin["id"]))
    app.config["NOW"] = NOW + timedelta(hours=2, minutes=11)         # 11:11 in Berlin
    from booking.bookings import release
    with app.app_context():
        assert release.sweep(app.config["NOW"], 100) == 1
    released = feed()
    assert released[0] == 3 and released[2] < approved[2]
    told = [r["kind"] for r in conn.execute(
        "SELECT kind FROM outbox WHERE booking_id = %s ORDER BY id", (booking_id,))]
    assert told.count("booking.updated") == 1, told          # the rename only


GUEST = "guest@partner.example"


@pytest.mark.parametrize("decision", ["approve", "reject", "expire"])
def test_invitees_hear_the_decision_on_a_request(app, api_as, alice, fred, approval_room, smtp,
                                                 worker, conn, decision):
    """Found by testing from outside: invitees got the tentative invitation of a
    request, and nothing when it was rejected or expired (the meeting stayed in
    their calendars) or approved (it stayed tentative)."""
    made = request(api_as(alice), approval_room, invitees=[GUEST])
    booking_id = made["booking"]["id"]
    made_now(conn)
    worker.run_until_idle()
    (invited,) = to(smtp, GUEST)
    assert str(only_event(calendar_of(invited))["STATUS"]) == "TENTATIVE"
    smtp.messages.clear()
    if decision == "expire":
        late = Worker(app, clock=lambda: NOW + timedelta(hours=48))
        late.run_until_idle()
        late._senders.shutdown(wait=True)
    else:
        r = api_as(fred).post(f"/api/bookings/{booking_id}/{decision}", json={"reason": "No"})
        assert r.status_code == 200, r.get_json()
    worker.run_until_idle()
    (told,) = to(smtp, GUEST)
    calendar = calendar_of(told)
    event = only_event(calendar)
    assert str(event["UID"]) == f"booking-{booking_id}@booking"
    if decision == "approve":
        assert (str(calendar["METHOD"]), str(event["STATUS"])) == ("REQUEST", "CONFIRMED")
    else:
        assert (str(calendar["METHOD"]), str(event["STATUS"])) == ("CANCEL", "CANCELLED")
    assert "invited you" in told.get_body(("plain",)).get_content()


def test_an_approver_decides_a_series_only_if_they_approve_every_room_it_asks_in(
        api_as, admin, alice, bob, fred, approval_room, make, conn):
    """Found by testing from outside: an occurrence moved into a room Bob approves
    for let Bob approve the whole series, also its occurrences in the room only
    Fred's group approves."""
    other = make.room("Havel", capacity=10)
    put_in(conn, other, area(conn, "Building C", approval_required=True,
                             approvers=[group(conn, "Lab", bob)["id"]]))
    made = request(api_as(alice), approval_room, recurrence="FREQ=WEEKLY;COUNT=3")
    moved = made["bookings"][1]
    r = api_as(alice).patch(f"/api/bookings/{moved['id']}", json={"room_id": other["id"]})
    assert r.status_code == 200 and r.get_json()["booking"]["status"] == "pending"
    def statuses():
        return [r["status"] for r in conn.execute("SELECT status FROM bookings ORDER BY id")]

    for approver in (bob, fred):
        for booking in made["bookings"]:
            r = api_as(approver).post(f"/api/bookings/{booking['id']}/approve")
            assert (r.status_code, r.get_json()["error"]["code"]) == (403, "forbidden")
    assert statuses() == ["pending"] * 3
    r = api_as(admin).post(f"/api/bookings/{moved['id']}/approve")
    assert r.status_code == 200
    assert [r["status"] for r in conn.execute("SELECT status FROM bookings ORDER BY start_at")
            ] == ["confirmed"] * 3


def test_a_request_asking_again_after_a_move_waits_its_full_time(app, api_as, alice, fred,
                                                                  approval_room, conn):
    """Found by testing from outside: an approved booking moved (so it asks again)
    days after it was made expired at the worker's next round: its time was
    counted from when it was made."""
    app.config["APPROVAL_EXPIRES_HOURS"] = 48
    made = request(api_as(alice), approval_room, start_time="2027-03-10T10:00",
                   end_time="2027-03-10T11:00")
    made_now(conn)
    booking_id = made["booking"]["id"]
    assert api_as(fred).post(f"/api/bookings/{booking_id}/approve").status_code == 200
    moved_at = NOW + timedelta(days=3)
    app.config["NOW"] = moved_at
    r = api_as(alice).patch(f"/api/bookings/{booking_id}",
                            json={"start_time": "2027-03-10T09:00"})
    assert r.get_json()["booking"]["status"] == "pending", r.get_json()
    conn.execute("UPDATE bookings SET updated_at = %s", (moved_at,))   # as the app's clock
    for after, status in ((timedelta(hours=47, minutes=59), "pending"),
                          (timedelta(hours=48), "expired")):
        w = Worker(app, clock=lambda: moved_at + after)
        w.run_until_idle()
        w._senders.shutdown(wait=True)
        assert conn.execute("SELECT status FROM bookings").fetchone()["status"] == status


@pytest.mark.parametrize("decision, status, words", [
    (None, "pending", "waiting for approval"),
    ("approve", "confirmed", None),
    ("reject", "rejected", "not approved"),
    ("expire", "expired", "expired without a decision"),
])
def test_a_series_says_where_its_approval_stands(app, api_as, alice, fred, approval_room, conn,
                                                 browser_as, decision, status, words):
    """Found by testing from outside: a rejected or expired series read, in its JSON
    and on its page, like one that simply had nothing booked (and still offered
    to cancel it)."""
    made = request(api_as(alice), approval_room, recurrence="FREQ=DAILY;COUNT=3")
    series_id = made["series"]["id"]
    assert made["series"]["status"] == "pending"
    made_now(conn)
    if decision == "expire":
        late = Worker(app, clock=lambda: NOW + timedelta(hours=48))
        late.run_until_idle()
        late._senders.shutdown(wait=True)
    elif decision:
        r = api_as(fred).post(f"/api/bookings/{made['bookings'][0]['id']}/{decision}")
        assert r.status_code == 200, r.get_json()
    r = api_as(alice).get(f"/api/series/{series_id}")
    assert r.get_json()["series"]["status"] == status
    page = browser_as(alice).get(f"/series/{series_id}").get_data(as_text=True)
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert (words in heading) if words else ("badge\">repeats" in heading
                                             and heading.count("badge") == 1)
    assert ("Cancel the whole series" in page) == (status in ("pending", "confirmed"))


def test_a_series_asked_for_through_the_form_says_it_waits(browser_as, alice, approval_room,
                                                           conn):
    """Found by testing from outside: the form said "Booked 3 occurrences." of a
    series that waits for approval."""
    page = browser_as(alice)
    r = page.post("/bookings/new", data={
        "room_id": approval_room["id"], "title": "Daily prep", "date": DAY, "start": "10:00",
        "end": "11:00", "repeat": "daily", "ends": "after", "count": "3"})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    shown = page.get(r.headers["Location"]).get_data(as_text=True)
    assert "Asked for 3 occurrences: the repeating booking waits for approval." in shown
    assert "Booked 3" not in shown
