"""Check-in and the no-show release (issue 17): the window's edges, the release at
exactly start + release_after, a check-in racing the release on two real
connections, two sweeps at once, the DST day, and what the release leaves behind
(audit, booking.released, a free slot, the marks on the pages)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import psycopg
import pytest

from booking import db
from booking.bookings import release
from conftest import NOW, UTC

# NOW is Monday 1 March 2027, 09:00 in Berlin; the booking is 10:00-11:00 there.
START = NOW + timedelta(hours=1)
END = START + timedelta(hours=1)


@pytest.fixture
def room(make, conn):
    room = make.room("Spree", "Europe/Berlin")
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (room["id"],))
    return room


@pytest.fixture
def booked(make, room, alice):
    return make.booking(room, alice, START, END, title="Planning")


def at(app, moment):
    app.config["NOW"] = moment


def sweep(app, moment, batch=1000):
    with app.app_context():
        return release.sweep(moment, batch)


def test_checkin_one_second_before_the_window_is_409_and_at_its_opening_200(
        app, api_as, alice, booked, conn):
    api = api_as(alice)
    at(app, START - timedelta(minutes=10, seconds=1))
    early = api.post(f"/api/bookings/{booked['id']}/checkin")
    assert early.status_code == 409
    assert early.json["error"]["code"] == "checkin_not_open"
    assert early.json["error"]["details"]["opens_at"] == "2027-03-01T09:50:00+01:00"
    assert conn.execute("SELECT checked_in_at FROM bookings WHERE id = %s",
                        (booked["id"],)).fetchone()["checked_in_at"] is None

    at(app, START - timedelta(minutes=10))
    ok = api.post(f"/api/bookings/{booked['id']}/checkin")
    assert ok.status_code == 200, ok.json
    assert ok.json["booking"]["checked_in_at"] == "2027-03-01T09:50:00+01:00"
    again = api.post(f"/api/bookings/{booked['id']}/checkin")
    assert again.status_code == 200
    assert again.json["booking"]["checked_in_at"] == "2027-03-01T09:50:00+01:00"
    actions = [r["action"] for r in conn.execute(
        "SELECT action FROM audit_log WHERE target = %s ORDER BY id", (f"booking {booked['id']}",))]
    assert actions.count("booking.checkin") == 1


def test_the_window_closes_at_the_release_time_even_before_the_sweep(app, api_as, alice,
                                                                      booked):
    api = api_as(alice)
    at(app, START + timedelta(minutes=14, seconds=59))
    assert api.post(f"/api/bookings/{booked['id']}/checkin").status_code == 200


def test_checkin_at_the_release_time_is_409_released(app, api_as, alice, booked):
    at(app, START + timedelta(minutes=15))
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/checkin")
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "released"


def test_who_may_check_in(app, api_as, make, alice, bob, admin, room, conn):
    booking = make.booking(room, alice, START, END)
    conn.execute("UPDATE bookings SET invitees = '{carol@example.com}' WHERE id = %s",
                 (booking["id"],))
    carol = make.user("Carol")
    at(app, START)
    url = f"/api/bookings/{booking['id']}/checkin"
    refused = api_as(bob).post(url)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert api_as(carol).post(url).status_code == 200          # a staff invitee
    assert api_as(admin).post(url).status_code == 200          # no-op: already in
    assert api_as(alice).post("/api/bookings/999999/checkin").status_code == 404


def test_an_invitee_checks_in_but_is_not_told_they_may_end_it(app, api_as, make, alice, room,
                                                               conn):
    """QA, 2026-12-05: an invitee ending a booking was refused with "Only the person who
    booked it, ..., an invitee, ... can do this": invitees may check in, not end."""
    booking = make.booking(room, alice, START, END)
    conn.execute("UPDATE bookings SET invitees = '{carol@example.com}' WHERE id = %s",
                 (booking["id"],))
    carol = make.user("Carol")
    at(app, START + timedelta(minutes=5))
    ended = api_as(carol).post(f"/api/bookings/{booking['id']}/end")
    assert ended.status_code == 403
    assert "invitee" not in ended.json["error"]["message"]
    assert "can end it" in ended.json["error"]["message"]
    assert conn.execute("SELECT end_at FROM bookings WHERE id = %s",
                        (booking["id"],)).fetchone()["end_at"] == END


def test_release_happens_exactly_at_start_plus_release_after(app, api_as, alice, bob, booked,
                                                             conn):
    assert sweep(app, START + timedelta(minutes=15) - timedelta(seconds=1)) == 0
    assert sweep(app, START + timedelta(minutes=15)) == 1
    row = conn.execute("SELECT end_at, released_at FROM bookings WHERE id = %s",
                       (booked["id"],)).fetchone()
    assert row["end_at"] == START + timedelta(minutes=15)
    assert row["released_at"] == START + timedelta(minutes=15)
    # Audited, announced, and the rest of the slot is free at once.
    audit = conn.execute("SELECT actor_id FROM audit_log WHERE action = 'booking.release' "
                         "AND target = %s", (f"booking {booked['id']}",)).fetchall()
    assert audit == [{"actor_id": None}]
    events = conn.execute("SELECT kind, user_id FROM outbox WHERE booking_id = %s "
                          "AND kind = 'booking.released'", (booked["id"],)).fetchall()
    assert events == [{"kind": "booking.released", "user_id": booked_owner(conn, booked)}]
    at(app, START + timedelta(minutes=16))
    made = api_as(bob).post("/api/bookings", json={
        "room_id": row_room(conn, booked), "title": "Walk-in",
        "start_time": "2027-03-01T10:30", "end_time": "2027-03-01T11:00"})
    assert made.status_code == 201, made.json
    # And a second sweep releases nothing more.
    assert sweep(app, START + timedelta(minutes=30)) == 0
    late = api_as(alice).post(f"/api/bookings/{booked['id']}/checkin")
    assert late.status_code == 409 and late.json["error"]["code"] == "released"


def booked_owner(conn, booked):
    return conn.execute("SELECT user_id FROM bookings WHERE id = %s",
                        (booked["id"],)).fetchone()["user_id"]


def row_room(conn, booked):
    return conn.execute("SELECT room_id FROM bookings WHERE id = %s",
                        (booked["id"],)).fetchone()["room_id"]


def test_a_checked_in_booking_and_a_room_without_checkin_are_never_released(
        app, make, alice, room, conn):
    checked = make.booking(room, alice, START, START + timedelta(minutes=30))
    conn.execute("UPDATE bookings SET checked_in_at = %s WHERE id = %s", (START, checked["id"]))
    plain_room = make.room("Havel", "Europe/Berlin")
    make.booking(plain_room, alice, START, END)
    assert sweep(app, START + timedelta(hours=2)) == 0


@pytest.mark.parametrize("swept_at, released", [
    (END - timedelta(minutes=1), 1),     # 10:59: a minute of it is still to come
    (END, 0),                            # 11:00: it is over, nothing to free
    (END + timedelta(hours=5), 0),       # check-in turned on hours after it
])
def test_a_booking_that_is_over_is_never_released(app, alice, booked, conn, swept_at, released):
    """Check-in turned on for a room released the day's long-past meetings and mailed
    their owners that nobody had checked in."""
    assert sweep(app, swept_at) == released
    events = conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'booking.released'"
                          ).fetchone()["n"]
    assert events == released


@pytest.mark.parametrize("minutes, released", [(16, 1), (15, 0), (10, 0)])
def test_a_booking_no_longer_than_its_grace_is_not_released(app, make, alice, room, conn,
                                                            minutes, released):
    """15 minutes' grace: a 15-minute booking would be "released" at its end."""
    short = make.booking(room, alice, START, START + timedelta(minutes=minutes))
    assert sweep(app, START + timedelta(minutes=15)) == released
    assert conn.execute("SELECT status FROM bookings WHERE id = %s",
                        (short["id"],)).fetchone()["status"] == (
        "released" if released else "confirmed")


def test_a_booking_made_after_its_start_has_the_grace_from_when_it_was_made(
        app, make, alice, room, conn):
    late = make.booking(room, alice, START, END)
    made_at = START + timedelta(minutes=20, seconds=30)
    conn.execute("UPDATE bookings SET created_at = %s WHERE id = %s", (made_at, late["id"]))
    # Released at 10:35:30, on the minute after: 10:36.
    assert sweep(app, START + timedelta(minutes=35)) == 0
    assert sweep(app, START + timedelta(minutes=36)) == 1
    assert conn.execute("SELECT end_at FROM bookings WHERE id = %s",
                        (late["id"],)).fetchone()["end_at"] == START + timedelta(minutes=36)


def test_release_after_is_the_rooms_setting(app, make, alice, room, conn):
    conn.execute("UPDATE rooms SET release_after_minutes = 5 WHERE id = %s", (room["id"],))
    booking = make.booking(room, alice, START, END)
    assert sweep(app, START + timedelta(minutes=4, seconds=59)) == 0
    assert sweep(app, START + timedelta(minutes=5)) == 1
    assert conn.execute("SELECT end_at FROM bookings WHERE id = %s",
                        (booking["id"],)).fetchone()["end_at"] == START + timedelta(minutes=5)


def test_on_the_dst_day_the_release_is_fifteen_minutes_after_the_local_start(
        app, make, alice, room, conn):
    # Sunday 28 March 2027: Berlin goes from 02:00 CET to 03:00 CEST. 09:00 local is 07:00 UTC.
    start = datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    booking = make.booking(room, alice, start, start + timedelta(hours=1))
    assert sweep(app, start + timedelta(minutes=14, seconds=59)) == 0
    assert sweep(app, start + timedelta(minutes=15)) == 1
    with app.app_context(), db.connection() as c:
        shown = c.execute("SELECT booking_json(b) AS j FROM booking_api b WHERE b.id = %s",
                          (booking["id"],)).fetchone()["j"]
    assert shown["end_time"] == "2027-03-28T09:15:00+02:00"
    assert shown["released_at"] == "2027-03-28T09:15:00+02:00"


def test_a_batch_is_one_statement_and_the_sweep_takes_every_batch(app, make, alice, conn):
    rooms = [make.room(f"Room {i}", "Europe/Berlin") for i in range(7)]
    conn.execute("UPDATE rooms SET checkin_required = true")
    for r in rooms:
        make.booking(r, alice, START, END)
    assert sweep(app, START + timedelta(minutes=15), batch=3) == 7
    assert conn.execute("SELECT count(*) AS n FROM bookings WHERE released_at IS NOT NULL"
                        ).fetchone()["n"] == 7
    state = conn.execute("SELECT last_at, released FROM release_sweeps").fetchone()
    assert state == {"last_at": START + timedelta(minutes=15), "released": 7}


def wait_until_blocked(conn, pid):
    """Until backend `pid` waits for a lock (the condition, not a time)."""
    while not conn.execute("SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity "
                           "WHERE pid = %s", (pid,)).fetchone()["waiting"]:
        pass


CHECKIN = "SELECT checkin_booking(%s, %s, %s, false, NULL, %s, interval '10 minutes') AS r"


def test_a_release_holding_the_row_wins_over_a_checkin_that_waits(app, database_url, booked,
                                                                  alice, conn):
    """The sweep locked the row first: the check-in waits for it, then finds it
    released (409 released); the booking is released and not checked in."""
    sweeper = db.connect(database_url)
    checker = db.connect(database_url)
    try:
        sweeper.execute("BEGIN")
        assert sweeper.execute(release.RELEASE_SQL, {
            "now": START + timedelta(minutes=15), "batch": 10}).fetchone()["released"] == 1
        answer = {}
        pid = checker.info.backend_pid

        def check_in():
            answer["r"] = checker.execute(CHECKIN, (booked["id"], alice["id"], alice["email"],
                                                    START + timedelta(minutes=14))).fetchone()["r"]

        thread = threading.Thread(target=check_in)
        thread.start()
        wait_until_blocked(conn, pid)
        sweeper.execute("COMMIT")
        thread.join()
    finally:
        sweeper.close()
        checker.close()
    assert answer["r"]["kind"] == "released"
    row = conn.execute("SELECT checked_in_at, released_at FROM bookings WHERE id = %s",
                       (booked["id"],)).fetchone()
    assert row["checked_in_at"] is None and row["released_at"] is not None


def test_a_checkin_holding_the_row_wins_over_the_sweep(app, database_url, booked, alice, conn):
    """The check-in locked the row first: the sweep does not wait for it (SKIP LOCKED)
    and, once it is committed, never releases it."""
    checker = db.connect(database_url)
    try:
        checker.execute("BEGIN")
        r = checker.execute(CHECKIN, (booked["id"], alice["id"], alice["email"],
                                      START + timedelta(minutes=14))).fetchone()["r"]
        assert r["kind"] == "checked_in"
        assert sweep(app, START + timedelta(minutes=15)) == 0
        checker.execute("COMMIT")
    finally:
        checker.close()
    assert sweep(app, START + timedelta(minutes=16)) == 0
    row = conn.execute("SELECT checked_in_at, released_at FROM bookings WHERE id = %s",
                       (booked["id"],)).fetchone()
    assert row["checked_in_at"] is not None and row["released_at"] is None


def test_a_sweep_that_waited_for_a_checkin_does_not_release_it(app, database_url, booked,
                                                             alice, conn):
    """The other order of the same race, with the sweep's statement already running
    when the check-in commits: the check-in locks the row, the sweep (without SKIP
    LOCKED, as an UPDATE of that row would) waits and then re-reads the row."""
    checker = db.connect(database_url)
    waiter = db.connect(database_url)
    try:
        checker.execute("BEGIN")
        checker.execute(CHECKIN, (booked["id"], alice["id"], alice["email"],
                                  START + timedelta(minutes=14)))
        got = {}

        def update_like_the_sweep():
            got["n"] = waiter.execute(
                "UPDATE bookings SET released_at = now() WHERE id = %s "
                "AND checked_in_at IS NULL AND released_at IS NULL", (booked["id"],)).rowcount

        thread = threading.Thread(target=update_like_the_sweep)
        thread.start()
        wait_until_blocked(conn, waiter.info.backend_pid)
        checker.execute("COMMIT")
        thread.join()
    finally:
        checker.close()
        waiter.close()
    assert got["n"] == 0


def test_two_sweeps_at_once_release_each_booking_once(app, make, alice, conn, database_url):
    rooms = [make.room(f"Room {i}", "Europe/Berlin") for i in range(40)]
    conn.execute("UPDATE rooms SET checkin_required = true")
    for r in rooms:
        make.booking(r, alice, START, END)
    barrier = threading.Barrier(2)
    totals = []

    def one():
        barrier.wait()
        totals.append(sweep(app, START + timedelta(minutes=15), batch=5))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(totals) == 40
    assert conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'booking.released'"
                        ).fetchone()["n"] == 40
    assert conn.execute("SELECT count(DISTINCT target) AS d, count(*) AS n FROM audit_log "
                        "WHERE action = 'booking.release'").fetchone() == {"d": 40, "n": 40}


def test_released_bookings_are_marked_in_the_day_view_and_my_bookings(
        app, browser_as, api_as, alice, booked):
    sweep(app, START + timedelta(minutes=15))
    at(app, START + timedelta(minutes=20))
    page = browser_as(alice)
    day = page.get("/rooms/%s?date=2027-03-01" % 1).get_data(as_text=True)
    twin = api_as(alice).get(f"/api/bookings/{booked['id']}").json["booking"]
    assert twin["released_at"] == "2027-03-01T10:15:00+01:00"
    assert twin["end_time"] == "2027-03-01T10:15:00+01:00"
    mine = page.get("/bookings/mine?when=upcoming").get_data(as_text=True)
    past = page.get("/bookings/mine?when=past").get_data(as_text=True)
    assert "released: nobody checked in" in day
    assert "released: nobody checked in" in mine + past


def test_room_settings_through_the_api(app, api_as, admin, room):
    api = api_as(admin)
    answer = api.patch(f"/api/rooms/{room['id']}", json={"release_after_minutes": 60,
                                                        "checkin_required": False})
    assert answer.status_code == 200, answer.json
    shown = api.get(f"/api/rooms/{room['id']}").json
    shown = shown.get("room", shown)
    assert shown["release_after_minutes"] == 60 and shown["checkin_required"] is False
    for bad in (0, 61, "x", None, 1.5):
        refused = api.patch(f"/api/rooms/{room['id']}", json={"release_after_minutes": bad})
        assert refused.status_code == 400, (bad, refused.json)
        assert refused.json["error"]["details"]["field"] == "release_after_minutes"
    assert api.patch(f"/api/rooms/{room['id']}", json={"checkin_required": 5}
                     ).status_code == 400
    created = api.post("/api/rooms", json={"name": "New", "capacity": 4,
                                           "timezone": "Europe/Berlin"})
    assert created.status_code == 201, created.json
    body = created.json.get("room", created.json)
    assert body["checkin_required"] is False and body["release_after_minutes"] == 15


def test_metrics_show_the_last_sweep_and_the_bookings_released(app, client, booked):
    before = client.get("/metrics").get_data(as_text=True)
    assert "booking_release_sweep_last_success_timestamp_seconds 0.0" in before
    sweep(app, START + timedelta(minutes=15))
    text = client.get("/metrics").get_data(as_text=True)
    line = next(x for x in text.splitlines()
                if x.startswith("booking_release_sweep_last_success_timestamp_seconds "))
    assert float(line.split()[1]) == (START + timedelta(minutes=15)).timestamp()
    assert "booking_bookings_released_total 1.0" in text


from test_worker import smtp  # noqa: E402,F401  (a real SMTP server)


def test_the_release_updates_the_organiser_s_and_the_invitees_calendars(app, api_as, smtp,
                                                                         alice, booked, conn):
    """Found by testing: the organiser's "Released" mail had no calendar and the invitees
    got none, so their calendars kept 10:00-11:00 (the feeds said 10:15). Now both get
    the update, as ending early sends it: a REQUEST of the same UID, ending at the
    release, one SEQUENCE up."""
    import icalendar

    from booking.events.worker import Worker
    from test_worker import calendar_of, only_event

    conn.execute("UPDATE bookings SET invitees = '{guest@example.org}' WHERE id = %s",
                 (booked["id"],))
    sweep(app, START + timedelta(minutes=15))
    worker = Worker(app, clock=lambda: START + timedelta(minutes=15))
    worker.run_until_idle()
    sent = [(to, m) for to, m in smtp.messages if "Released" in m["Subject"]]
    assert sorted(to for to, _ in sent) == [["alice@example.com"], ["guest@example.org"]]
    for to, message in sent:
        assert "Released, nobody checked in" in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        assert "Nobody checked in by 10:15" in text
        assert "The attached invitation updates it in your calendar." in text
        calendar = calendar_of(message)
        assert str(calendar["METHOD"]) == "REQUEST"
        event = only_event(calendar)
        assert str(event["UID"]) == f"booking-{booked['id']}@booking"
        assert event["SEQUENCE"] == 1                # the booking as made was 0
        assert str(event["STATUS"]) == "CONFIRMED"
        assert (event["DTSTART"].dt, event["DTEND"].dt) == (START, START + timedelta(minutes=15))
    # As the feed has it.
    feed = icalendar.Calendar.from_ical(api_as(alice).get(
        f"/rooms/{row_room(conn, booked)}/calendar.ics").data)
    (fed,) = feed.walk("VEVENT")
    assert (fed["SEQUENCE"], fed["DTEND"].dt) == (1, START + timedelta(minutes=15))
    assert worker.run_until_idle() == 0


def test_a_released_occurrence_updates_its_series_in_the_invitees_calendars(
        app, api_as, smtp, alice, room, conn):
    """An occurrence of a series released: the series' UID with that occurrence's
    RECURRENCE-ID, its end at the release, SEQUENCE above the series' invitation."""
    from booking.events.worker import Worker
    from test_worker import calendar_of, only_event

    made = api_as(alice).post("/api/bookings", json={
        "room_id": room["id"], "title": "Daily", "start_time": "2027-03-01T10:00",
        "end_time": "2027-03-01T11:00", "recurrence": "FREQ=DAILY;COUNT=2",
        "invitees": ["guest@example.org"]})
    assert made.status_code == 201, made.get_json()
    series_id = made.get_json()["series"]["id"]
    worker = Worker(app, clock=lambda: START + timedelta(minutes=15))
    worker.run_until_idle()
    (invited,) = [m for to, m in smtp.messages if to == ["guest@example.org"]]
    first = only_event(calendar_of(invited))["SEQUENCE"]
    sweep(app, START + timedelta(minutes=15))
    worker.run_until_idle()
    sent = [(to, m) for to, m in smtp.messages if "Released" in m["Subject"]]
    assert sorted(to for to, _ in sent) == [["alice@example.com"], ["guest@example.org"]]
    for _to, message in sent:
        calendar = calendar_of(message)
        assert str(calendar["METHOD"]) == "REQUEST"
        event = only_event(calendar)
        assert str(event["UID"]) == f"series-{series_id}@booking"
        assert event["RECURRENCE-ID"].dt == START
        assert (event["DTSTART"].dt, event["DTEND"].dt) == (START, START + timedelta(minutes=15))
        assert event["SEQUENCE"] > first


def test_booking_released_is_a_webhook_event(app, api_as, admin):
    answer = api_as(admin).post("/api/webhooks", json={"url": "https://93.184.215.14/hook",
                                                       "events": ["booking.released"]})
    assert answer.status_code == 201, answer.json
    assert answer.json["endpoint"]["events"] == ["booking.released"]


def test_a_booking_waiting_for_approval_cannot_be_checked_in(app, api_as, admin, alice, booked,
                                                             room, conn):
    """Found by testing from outside: a request was checked in, and the panel said "In
    use" until it expired at its start."""
    conn.execute("UPDATE bookings SET status = 'pending' WHERE id = %s", (booked["id"],))
    at(app, START - timedelta(minutes=5))
    r = api_as(alice).post(f"/api/bookings/{booked['id']}/checkin")
    assert (r.status_code, r.json["error"]["code"]) == (409, "not_editable")
    assert "approv" in r.json["error"]["message"]
    assert conn.execute("SELECT checked_in_at FROM bookings WHERE id = %s",
                        (booked["id"],)).fetchone()["checked_in_at"] is None
    conn.execute("UPDATE bookings SET status = 'confirmed' WHERE id = %s", (booked["id"],))
    assert api_as(alice).post(f"/api/bookings/{booked['id']}/checkin").status_code == 200


def test_ending_twice_in_a_minute_tells_once(app, api_as, alice, booked, conn):
    """Found by testing from outside: the second end wrote the same end again, and
    sent a second "Changed" mail, booking.updated event and audit row."""
    at(app, START + timedelta(minutes=20, seconds=10))
    api = api_as(alice)

    def told():
        return conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'booking.updated'"
                            ).fetchone()["n"]

    first = api.post(f"/api/bookings/{booked['id']}/end")
    assert first.status_code == 200 and told() == 1
    at(app, START + timedelta(minutes=20, seconds=40))
    second = api.post(f"/api/bookings/{booked['id']}/end")
    assert second.status_code == 200 and told() == 1
    assert second.json["booking"]["end_time"] == first.json["booking"]["end_time"] == \
        "2027-03-01T10:21:00+01:00"


def test_turning_check_in_on_gives_a_meeting_under_way_its_grace_from_then(
        app, api_as, make, alice, admin, conn):
    """Found by testing from outside: turning check-in on released the meeting
    already in the room at the sweep's next round, its end cut to before check-in
    was required. Its grace (15 minutes here) now counts from the switch: released
    at 10:35 if nobody checks in, and checking in until then keeps it."""
    plain = make.room("Havel", "Europe/Berlin")
    booking = make.booking(plain, alice, START, END, title="Under way")
    at(app, START + timedelta(minutes=20))
    r = api_as(admin).patch(f"/api/rooms/{plain['id']}", json={"checkin_required": True})
    assert r.status_code == 200, r.get_json()
    assert sweep(app, START + timedelta(minutes=34, seconds=59)) == 0
    at(app, START + timedelta(minutes=34))
    shown = api_as(alice).get(f"/api/bookings/{booking['id']}").get_json()
    assert shown["booking"]["status"] == "confirmed"
    assert sweep(app, START + timedelta(minutes=35)) == 1
    row = conn.execute("SELECT end_at FROM bookings WHERE id = %s", (booking["id"],)).fetchone()
    assert row["end_at"] == START + timedelta(minutes=35)


def test_a_meeting_under_way_checks_in_after_check_in_was_turned_on(app, api_as, make, alice,
                                                                   admin, conn):
    plain = make.room("Alster", "Europe/Berlin")
    booking = make.booking(plain, alice, START, END, title="Under way")
    at(app, START + timedelta(minutes=20))
    assert api_as(admin).patch(f"/api/rooms/{plain['id']}",
                               json={"checkin_required": True}).status_code == 200
    at(app, START + timedelta(minutes=34, seconds=59))
    r = api_as(alice).post(f"/api/bookings/{booking['id']}/checkin")
    assert r.status_code == 200, r.get_json()
    assert sweep(app, START + timedelta(minutes=40)) == 0


def test_a_released_booking_keeps_no_buffer(app, api_as, bob, booked, room, conn):
    """Found by testing from outside: a booking released in a room with a 10-minute
    buffer held the room 10 more minutes, although nobody used it; "the rest of
    its time is free for anyone at once"."""
    from policykit import room_policy
    room_policy(conn, room, buffer_minutes=10)
    conn.execute("UPDATE bookings SET buffer_minutes = 10 WHERE id = %s", (booked["id"],))
    assert sweep(app, START + timedelta(minutes=15)) == 1
    at(app, START + timedelta(minutes=15, seconds=30))
    r = api_as(bob).post("/api/bookings", json={
        "room_id": room["id"], "title": "Right after", "start_time": "2027-03-01T10:16",
        "end_time": "2027-03-01T10:45"})
    assert r.status_code == 201, r.get_json()


def test_the_booking_page_checks_in_extends_and_ends_early(app, browser_as, alice, bob, booked,
                                                           conn):
    """Found by testing from outside: /bookings/<id> offered none of check in, end
    early and extend (the README's table says it does); only the panel and the
    reminder's link did."""
    page = browser_as(alice)
    url = f"/bookings/{booked['id']}"
    at(app, START - timedelta(minutes=11))
    shown = page.get(url).get_data(as_text=True)
    assert "Check in</button>" not in shown and "End early" not in shown
    at(app, START - timedelta(minutes=10))
    shown = page.get(url).get_data(as_text=True)
    assert "Check in</button>" in shown and "check-in by 10:15" in shown
    assert "End early" not in shown                       # not under way yet
    assert "Check in</button>" not in browser_as(bob).get(url).get_data(as_text=True)
    done = page.post(f"{url}/checkin")
    assert done.status_code == 302
    assert "Checked in." in page.get(url).get_data(as_text=True)
    at(app, START + timedelta(minutes=5))
    shown = page.get(url).get_data(as_text=True)
    assert "Check in</button>" not in shown               # done
    assert "End early" in shown and 'name="end" type="time" step="60" value="11:15"' in shown
    assert page.post(f"{url}/extend", data={"date": "2027-03-01", "end": "11:30"}
                     ).status_code == 302
    assert row_of(conn, booked)["end_at"] == END + timedelta(minutes=30)
    refused = page.post(f"{url}/extend", data={"date": "2027-03-01", "end": "10:30"})
    assert refused.status_code == 302
    assert "ends later than the booking does now" in page.get(url).get_data(as_text=True)
    assert page.post(f"{url}/end").status_code == 302
    assert row_of(conn, booked)["end_at"] == START + timedelta(minutes=5)
    assert browser_as(bob).post(f"{url}/end").status_code == 403


def row_of(conn, booking):
    return conn.execute("SELECT end_at FROM bookings WHERE id = %s", (booking["id"],)).fetchone()
