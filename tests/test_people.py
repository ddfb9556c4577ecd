"""People, for admins (issue 15 #9): a deactivated person's series stop booking,
deactivating offers to cancel what they booked, and reactivating brings back
neither their old sessions nor their old tokens."""

import threading
from datetime import datetime, timedelta

from booking import db
from conftest import NOW, PASSWORD, UTC, Browser


def text(response):
    return response.get_data(as_text=True)


def live(conn, user):
    return conn.execute("SELECT count(*) AS n FROM bookings WHERE user_id = %s AND "
                        "cancelled_at IS NULL", (user["id"],)).fetchone()["n"]


def weekly(api, room, start="2027-03-02T10:00", end="2027-03-02T11:00", rule="FREQ=WEEKLY"):
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": "Weekly", "start_time": start,
                                        "end_time": end, "recurrence": rule})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["series"]["id"]


def test_series_of_deactivated_people_stop_booking_and_start_again_when_reactivated(
        api_as, alice, admin, berlin, app, runner, conn):
    series_id = weekly(api_as(alice), berlin)
    booked = live(conn, alice)
    assert api_as(admin).patch(f"/api/users/{alice['id']}", json={"active": False}
                               ).status_code == 200
    assert live(conn, alice) == booked                      # what is booked stays booked
    app.config["NOW"] = NOW + timedelta(days=28)            # four more Tuesdays in the window
    result = runner.invoke(args=["series", "extend"])
    assert result.exit_code == 0, result.output
    assert live(conn, alice) == booked                      # ... and nothing more is booked
    conn.execute("UPDATE users SET active = true WHERE id = %s", (alice["id"],))
    runner.invoke(args=["series", "extend"])
    assert live(conn, alice) == booked + 4
    assert conn.execute("SELECT count(*) AS n FROM series_skips WHERE series_id = %s",
                        (series_id,)).fetchone()["n"] == 0


def test_reactivating_brings_back_no_old_session_or_token(app, alice, admin, api_as, conn):
    browser = Browser(app.test_client())
    assert browser.login(alice["email"]).status_code == 302
    api = api_as(alice)
    assert browser.get("/account").status_code == 200 and api.get("/api/me").status_code == 200
    # Any path: here plain SQL (the admin page and the API do the same).
    conn.execute("UPDATE users SET active = false WHERE id = %s", (alice["id"],))
    assert conn.execute("SELECT count(*) AS n FROM sessions WHERE user_id = %s",
                        (alice["id"],)).fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM api_tokens WHERE user_id = %s AND "
                        "revoked_at IS NULL", (alice["id"],)).fetchone()["n"] == 0
    conn.execute("UPDATE users SET active = true WHERE id = %s", (alice["id"],))
    assert browser.get("/account").status_code == 302        # to sign in again
    assert api.get("/api/me").status_code == 401
    fresh = Browser(app.test_client())                          # signing in anew works
    assert fresh.login(alice["email"], PASSWORD).status_code == 302


def test_deactivating_on_the_page_offers_to_cancel_what_they_booked(
        browser_as, api_as, alice, bob, admin, berlin, make, conn):
    past = make.booking(berlin, alice, NOW - timedelta(days=1, hours=-1), NOW - timedelta(days=1, hours=-2))
    weekly(api_as(alice), berlin, rule="FREQ=WEEKLY;COUNT=3")
    make.booking(berlin, bob, datetime(2027, 3, 3, 9, tzinfo=UTC), datetime(2027, 3, 3, 10, tzinfo=UTC))
    page = browser_as(admin)
    listed = text(page.get("/admin/users"))
    assert "also cancel their 3 bookings from now on and end their 1 repeating booking" in listed
    r = page.post(f"/admin/users/{alice['id']}", data={"active": "false",
                                                      "cancel_future_bookings": "on"})
    assert r.status_code == 302
    shown = text(page.get("/admin/users"))
    assert ("Alice is deactivated (signed out everywhere, tokens revoked); 3 bookings from now "
            "on cancelled and 1 series ended.") in shown
    assert live(conn, alice) == 1                                 # the past one stays
    assert conn.execute("SELECT cancelled_at FROM bookings WHERE id = %s",
                        (past["id"],)).fetchone()["cancelled_at"] is None
    assert conn.execute("SELECT cancelled_at IS NOT NULL AS done, cancelled_by FROM series"
                        ).fetchone() == {"done": True, "cancelled_by": admin["id"]}
    cancels = conn.execute("SELECT actor_id FROM audit_log WHERE action = 'booking.cancel'"
                           ).fetchall()
    assert len(cancels) == 3 and {c["actor_id"] for c in cancels} == {admin["id"]}
    assert live(conn, bob) == 1                                   # nobody else's
    # The series' occurrences went with it: its own event tells them (sql/085).
    told = conn.execute("SELECT kind FROM outbox WHERE series_id IS NOT NULL ORDER BY id")
    assert [r["kind"] for r in told] == ["series.created", "series.cancelled"]


def test_a_deactivated_persons_bookings_can_be_cancelled_later(api_as, alice, admin, berlin,
                                                               make, conn):
    make.booking(berlin, alice, datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 10, tzinfo=UTC))
    api = api_as(admin)
    done = api.patch(f"/api/users/{alice['id']}", json={"active": False}).get_json()
    assert done["user"]["active"] is False and done["cancelled"] == []
    listed = api.get("/api/users").get_json()["users"]
    assert next(u for u in listed if u["id"] == alice["id"])["future_bookings"] == 1
    done = api.patch(f"/api/users/{alice['id']}", json={"cancel_future_bookings": True}).get_json()
    assert done["user"]["active"] is False and len(done["cancelled"]) == 1
    assert live(conn, alice) == 0


def test_only_admins_and_not_on_themselves(api_as, browser_as, alice, admin, conn):
    assert api_as(alice).patch(f"/api/users/{admin['id']}", json={"active": False}
                               ).status_code == 403
    r = api_as(admin).patch(f"/api/users/{admin['id']}", json={"active": False})
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (403, "active")
    r = api_as(admin).patch(f"/api/users/{alice['id']}", json={"active": "maybe"})
    assert r.status_code == 400
    assert api_as(admin).patch(f"/api/users/{alice['id']}", json={}).status_code == 400
    assert conn.execute("SELECT bool_and(active) AS all FROM users").fetchone()["all"]
    assert "Deactivate<span class=\"visually-hidden\"> Ada" not in \
        text(browser_as(admin).get("/admin/users"))


BOOK_FOR = ("SELECT kind FROM book(%s, %s, 'Raced', ARRAY[%s::timestamptz], "
            "ARRAY[%s::timestamptz])")


def test_a_deactivation_waits_for_a_booking_being_made_and_cancels_it(
        api_as, admin, alice, berlin, database_url, conn):
    """Found by testing from outside: a booking committed while the deactivation ran
    was not in its snapshot and stayed, booked for someone inactive. Now the
    deactivation waits for it (the owner's row), then cancels it too."""
    booker = db.connect(database_url)
    start = NOW + timedelta(days=1)
    answer = {}
    try:
        booker.execute("BEGIN")
        kind = booker.execute(BOOK_FOR, (berlin["id"], alice["id"], start,
                                         start + timedelta(hours=1))).fetchone()["kind"]
        assert kind == "created"
        api = api_as(admin)

        def deactivate():
            answer["r"] = api.patch(f"/api/users/{alice['id']}",
                                    json={"active": False, "cancel_future_bookings": True})

        thread = threading.Thread(target=deactivate)
        thread.start()
        while thread.is_alive() and not conn.execute(
                "SELECT count(*) > 0 AS waiting FROM pg_stat_activity WHERE "
                "wait_event_type = 'Lock' AND datname = current_database() AND pid <> %s",
                (booker.info.backend_pid,)).fetchone()["waiting"]:
            pass
        booker.execute("COMMIT")
        thread.join()
    finally:
        booker.close()
    assert answer["r"].status_code == 200, answer["r"].get_json()
    assert len(answer["r"].get_json()["cancelled"]) == 1
    assert live(conn, alice) == 0


def test_a_booking_made_while_a_deactivation_commits_is_refused(alice, admin, berlin,
                                                                 database_url, conn):
    """The other order: the deactivation holds the owner's lock; book() waits for it,
    then finds its owner inactive (bookings_owner_active: 403 forbidden) and books
    nothing."""
    import psycopg
    admin_conn = db.connect(database_url)
    booker = db.connect(database_url)
    start = NOW + timedelta(days=1)
    answer = {}
    try:
        admin_conn.execute("BEGIN")
        admin_conn.execute("SELECT * FROM set_person_active(%s, false, true, %s, %s)",
                           (alice["id"], admin["id"], NOW))

        def book():
            try:
                answer["kind"] = booker.execute(BOOK_FOR, (
                    berlin["id"], alice["id"], start, start + timedelta(hours=1))
                ).fetchone()["kind"]
            except psycopg.errors.CheckViolation as exc:
                answer["refused"] = exc.diag.constraint_name

        thread = threading.Thread(target=book)
        thread.start()
        while thread.is_alive() and not conn.execute(
                "SELECT count(*) > 0 AS waiting FROM pg_stat_activity WHERE "
                "wait_event_type = 'Lock' AND datname = current_database() AND pid = %s",
                (booker.info.backend_pid,)).fetchone()["waiting"]:
            pass
        admin_conn.execute("COMMIT")
        thread.join()
    finally:
        admin_conn.close()
        booker.close()
    assert answer == {"refused": "bookings_owner_active"}
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
    from booking.errors import CONSTRAINTS
    assert CONSTRAINTS["bookings_owner_active"][0] == "forbidden"


def test_a_deactivated_person_s_booking_is_not_moved_by_their_delegate(
        api_as, make, alice, admin, berlin, conn):
    """Found by a security tester: Carol's delegate moved her booking to another time
    and room after Carol was deactivated (200: new time held for an inactive
    account), where a series edit or booked_for is refused. A new time or room is
    refused as the series edit refuses it; a new title and a cancel stay allowed."""
    carol = make.user("Carol")
    other = make.room("Havel", "Europe/Berlin")
    carol_api = api_as(carol)
    assert carol_api.patch("/api/me", json={"delegates": [alice["email"]]}).status_code == 200
    made = carol_api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Carol's", "start_time": "2027-03-02T10:00",
        "end_time": "2027-03-02T11:00"})
    assert made.status_code == 201, made.get_json()
    booking_id = made.get_json()["booking"]["id"]
    assert api_as(admin).patch(f"/api/users/{carol['id']}", json={"active": False}
                               ).status_code == 200
    delegate, boss = api_as(alice), api_as(admin)
    for change in ({"start_time": "2027-03-02T14:00", "end_time": "2027-03-02T15:00",
                    "room_id": other["id"]},
                   {"room_id": other["id"]}, {"end_time": "2027-03-02T12:00"}):
        for who in (delegate, boss):
            moved = who.patch(f"/api/bookings/{booking_id}", json=change)
            assert moved.status_code == 403, (change, moved.get_json())
            assert moved.get_json()["error"] == {
                "code": "forbidden", "details": {},
                "message": "That account has been deactivated: nothing was booked."}
    extended = delegate.post(f"/api/bookings/{booking_id}/extend",
                             json={"end_time": "2027-03-02T11:30"})
    assert extended.status_code == 403, extended.get_json()
    row = conn.execute("SELECT room_id, start_at, end_at, sequence FROM bookings WHERE id = %s",
                       (booking_id,)).fetchone()
    assert row == {"room_id": berlin["id"], "start_at": datetime(2027, 3, 2, 9, tzinfo=UTC),
                   "end_at": datetime(2027, 3, 2, 10, tzinfo=UTC), "sequence": 0}
    # The same times sent again with a new title change only the title.
    retitled = delegate.patch(f"/api/bookings/{booking_id}", json={
        "title": "Renamed", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00",
        "room_id": berlin["id"]})
    assert retitled.status_code == 200, retitled.get_json()
    assert delegate.delete(f"/api/bookings/{booking_id}").status_code == 200
    assert live(conn, carol) == 0


EDIT_MOVE = ("SELECT edit_booking(%s, %s, false, %s, NULL, %s, %s, %s, NULL, false, NULL, "
             "NULL, false, NULL)->>'kind' AS kind")


def test_a_move_waiting_for_a_deactivation_is_refused(alice, bob, admin, berlin, make,
                                                      database_url, conn):
    """Under concurrency as book() is (sql/073): the deactivation holds the owner's
    row; a delegate's move waits for it, then finds the owner inactive
    (bookings_owner_active: 403 forbidden) and moves nothing."""
    import psycopg
    conn.execute("INSERT INTO delegates (user_id, delegate_id) VALUES (%s, %s)",
                 (alice["id"], bob["id"]))
    start = NOW + timedelta(days=1)
    booking = make.booking(berlin, alice, start, start + timedelta(hours=1))
    admin_conn = db.connect(database_url)
    mover = db.connect(database_url)
    answer = {}
    try:
        admin_conn.execute("BEGIN")
        admin_conn.execute("SELECT * FROM set_person_active(%s, false, false, %s, %s)",
                           (alice["id"], admin["id"], NOW))

        def move():
            try:
                answer["kind"] = mover.execute(EDIT_MOVE, (
                    booking["id"], bob["id"], NOW, berlin["id"], start + timedelta(hours=2),
                    start + timedelta(hours=3))).fetchone()["kind"]
            except psycopg.errors.CheckViolation as exc:
                answer["refused"] = exc.diag.constraint_name

        thread = threading.Thread(target=move)
        thread.start()
        while thread.is_alive() and not conn.execute(
                "SELECT count(*) > 0 AS waiting FROM pg_stat_activity WHERE "
                "wait_event_type = 'Lock' AND datname = current_database() AND pid = %s",
                (mover.info.backend_pid,)).fetchone()["waiting"]:
            pass
        admin_conn.execute("COMMIT")
        thread.join()
    finally:
        admin_conn.close()
        mover.close()
    assert answer == {"refused": "bookings_owner_active"}
    assert conn.execute("SELECT start_at FROM bookings WHERE id = %s", (booking["id"],)
                        ).fetchone()["start_at"] == start


def test_a_deactivation_waits_for_a_move_being_made_and_cancels_it(
        alice, bob, admin, berlin, make, database_url, conn):
    """The other order: a move not yet committed holds the owner's row; the
    deactivation waits for it and then cancels the booking at its new time."""
    conn.execute("INSERT INTO delegates (user_id, delegate_id) VALUES (%s, %s)",
                 (alice["id"], bob["id"]))
    start = NOW + timedelta(days=1)
    booking = make.booking(berlin, alice, start, start + timedelta(hours=1))
    admin_conn = db.connect(database_url)
    mover = db.connect(database_url)
    answer = {}
    try:
        mover.execute("BEGIN")
        assert mover.execute(EDIT_MOVE, (
            booking["id"], bob["id"], NOW, berlin["id"], start + timedelta(hours=2),
            start + timedelta(hours=3))).fetchone()["kind"] == "updated"

        def deactivate():
            answer["cancelled"] = admin_conn.execute(
                "SELECT cancelled FROM set_person_active(%s, false, true, %s, %s)",
                (alice["id"], admin["id"], NOW)).fetchone()["cancelled"]

        thread = threading.Thread(target=deactivate)
        thread.start()
        while thread.is_alive() and not conn.execute(
                "SELECT count(*) > 0 AS waiting FROM pg_stat_activity WHERE "
                "wait_event_type = 'Lock' AND datname = current_database() AND pid = %s",
                (admin_conn.info.backend_pid,)).fetchone()["waiting"]:
            pass
        mover.execute("COMMIT")
        thread.join()
    finally:
        admin_conn.close()
        mover.close()
    assert answer == {"cancelled": [booking["id"]]}
    assert live(conn, alice) == 0
