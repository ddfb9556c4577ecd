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
