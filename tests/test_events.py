"""Events: every committed change has exactly its events, a rolled-back one none.

The outbox rows are written by triggers (sql/005_events.sql) in the same
transaction as the change, whatever path made it.
"""

from datetime import datetime, timedelta

import psycopg
import pytest

from booking import db
from conftest import NOW, UTC


def events(conn):
    return conn.execute("SELECT kind, user_id, actor_id, room_id, booking_id, series_id, payload "
                        "FROM outbox ORDER BY id").fetchall()


def kinds(conn):
    return [e["kind"] for e in events(conn)]


def book(api, room, start, end, title="Meeting", **extra):
    return api.post("/api/bookings", json={"room_id": room["id"], "title": title,
                                           "start_time": start, "end_time": end, **extra})


def test_a_booking_made_is_one_booking_created(api_as, alice, berlin, conn):
    r = book(api_as(alice), berlin, "2027-03-02T10:00", "2027-03-02T11:00")
    assert r.status_code == 201
    (event,) = events(conn)
    booking = r.get_json()["booking"]
    assert event["kind"] == "booking.created"
    assert (event["user_id"], event["actor_id"], event["room_id"], event["booking_id"]) == \
        (alice["id"], alice["id"], berlin["id"], booking["id"])
    assert event["payload"]["booking"]["title"] == "Meeting"


def test_a_refused_booking_leaves_no_event(api_as, alice, bob, berlin, make, conn):
    make.booking(berlin, bob, datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 10, tzinfo=UTC))
    assert kinds(conn) == ["booking.created"]
    r = book(api_as(alice), berlin, "2027-03-02T10:30", "2027-03-02T11:30")
    assert r.status_code == 409
    assert kinds(conn) == ["booking.created"]


def test_an_all_or_nothing_book_that_rolls_back_leaves_nothing(alice, bob, berlin, make, conn):
    make.booking(berlin, bob, datetime(2027, 3, 3, 9, tzinfo=UTC), datetime(2027, 3, 3, 10, tzinfo=UTC))
    starts = [datetime(2027, 3, d, 9, tzinfo=UTC) for d in (2, 3, 4)]
    rows = conn.execute("SELECT kind FROM book(%s, %s, 'x', %s, %s)",
                        (berlin["id"], alice["id"], starts,
                         [s + timedelta(hours=1) for s in starts])).fetchall()
    assert "created" not in {r["kind"] for r in rows}
    assert kinds(conn) == ["booking.created"]        # Bob's, nothing more
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_a_rolled_back_transaction_leaves_no_event(alice, berlin, conn):
    with pytest.raises(RuntimeError):
        with conn.transaction():
            conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                         "VALUES (%s, %s, 'x', %s, %s)",
                         (berlin["id"], alice["id"], NOW + timedelta(days=1),
                          NOW + timedelta(days=1, hours=1)))
            assert kinds(conn) == ["booking.created"]    # inside: there
            raise RuntimeError("undo")
    assert kinds(conn) == []


def test_a_series_is_one_series_created_and_no_booking_created(api_as, alice, berlin, conn):
    r = book(api_as(alice), berlin, "2027-03-02T10:00", "2027-03-02T11:00",
             recurrence="FREQ=WEEKLY;COUNT=5")
    assert r.status_code == 201
    (event,) = events(conn)
    assert event["kind"] == "series.created"
    assert event["series_id"] == r.get_json()["series"]["id"]
    assert event["payload"]["series"]["rrule"] == "FREQ=WEEKLY;COUNT=5"


def test_a_series_refused_with_409_leaves_no_event(api_as, alice, bob, berlin, make, conn):
    make.booking(berlin, bob, datetime(2027, 3, 16, 9, tzinfo=UTC), datetime(2027, 3, 16, 10, tzinfo=UTC))
    r = book(api_as(alice), berlin, "2027-03-02T10:00", "2027-03-02T11:00",
             recurrence="FREQ=WEEKLY;COUNT=4")
    assert r.status_code == 409
    assert kinds(conn) == ["booking.created"]
    r = book(api_as(alice), berlin, "2027-03-02T10:00", "2027-03-02T11:00",
             recurrence="FREQ=WEEKLY;COUNT=4", skip_conflicts=True)
    assert r.status_code == 201
    assert kinds(conn) == ["booking.created", "series.created"]


def test_cancelling_says_who_did_it(api_as, alice, admin, berlin, conn):
    api = api_as(alice)
    mine = book(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00").get_json()["booking"]
    other = book(api, berlin, "2027-03-02T12:00", "2027-03-02T13:00").get_json()["booking"]
    assert api.delete(f"/api/bookings/{mine['id']}").status_code == 200
    assert api_as(admin).delete(f"/api/bookings/{other['id']}").status_code == 200
    assert api.delete(f"/api/bookings/{mine['id']}").status_code == 200   # again: no change
    own, by_admin = [e for e in events(conn) if e["kind"] == "booking.cancelled"]
    assert (own["booking_id"], own["user_id"], own["actor_id"]) == (mine["id"], alice["id"], alice["id"])
    assert own["payload"]["by_admin"] is False and own["payload"]["cancelled_by"] == alice["id"]
    assert (by_admin["booking_id"], by_admin["user_id"], by_admin["actor_id"]) == \
        (other["id"], alice["id"], admin["id"])
    assert by_admin["payload"]["by_admin"] is True


def test_one_occurrence_cancelled_is_occurrence_cancelled(api_as, alice, berlin, conn):
    api = api_as(alice)
    made = book(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                recurrence="FREQ=WEEKLY;COUNT=5").get_json()
    second = made["bookings"][1]
    assert api.delete(f"/api/bookings/{second['id']}").status_code == 200
    assert kinds(conn) == ["series.created", "occurrence.cancelled"]
    event = events(conn)[-1]
    assert (event["booking_id"], event["series_id"]) == (second["id"], made["series"]["id"])


def test_this_and_following_is_one_series_cancelled_and_no_occurrence_events(api_as, alice, admin,
                                                                              berlin, conn):
    made = book(api_as(alice), berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                recurrence="FREQ=WEEKLY;COUNT=5").get_json()
    sid = made["series"]["id"]
    r = api_as(admin).delete(f"/api/series/{sid}?from=2027-03-16T10:00")
    assert r.status_code == 200 and len(r.get_json()["cancelled"]) == 3
    assert kinds(conn) == ["series.created", "series.cancelled"]
    event = events(conn)[-1]
    assert event["payload"]["whole"] is False and event["payload"]["by_admin"] is True
    assert event["actor_id"] == admin["id"] and event["user_id"] == alice["id"]
    assert datetime.fromisoformat(event["payload"]["from"]) == datetime(2027, 3, 16, 9, tzinfo=UTC)
    # Earlier again: another event; the same moment again: none.
    api_as(alice).delete(f"/api/series/{sid}?from=2027-03-16T10:00")
    assert kinds(conn) == ["series.created", "series.cancelled"]
    api_as(alice).delete(f"/api/series/{sid}?from=2027-03-09T10:00")
    assert kinds(conn) == ["series.created", "series.cancelled", "series.cancelled"]
    assert events(conn)[-1]["actor_id"] == alice["id"]


def test_the_whole_series_cancelled_is_one_event(api_as, alice, berlin, conn):
    api = api_as(alice)
    made = book(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                recurrence="FREQ=WEEKLY;COUNT=5").get_json()
    api.delete(f"/api/bookings/{made['bookings'][4]['id']}")       # one on its own first
    assert api.delete(f"/api/series/{made['series']['id']}").status_code == 200
    assert kinds(conn) == ["series.created", "occurrence.cancelled", "series.cancelled"]
    assert events(conn)[-1]["payload"]["whole"] is True
    api.delete(f"/api/series/{made['series']['id']}")              # again: nothing new
    assert len(kinds(conn)) == 3


def test_extending_a_series_emits_nothing(api_as, alice, berlin, conn, runner, app):
    book(api_as(alice), berlin, "2027-03-02T10:00", "2027-03-02T11:00", recurrence="FREQ=WEEKLY")
    app.config["NOW"] = NOW + timedelta(days=30)
    result = runner.invoke(args=["series", "extend"])
    assert result.exit_code == 0 and "4 occurrences booked" in result.output, result.output
    assert kinds(conn) == ["series.created"]


def test_workers_are_notified_at_commit_only(database_url, alice, berlin, conn):
    with db.connect(database_url) as listener:
        listener.execute("LISTEN booking_outbox")
        with conn.transaction():
            conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                         "VALUES (%s, %s, 'x', %s, %s)",
                         (berlin["id"], alice["id"], NOW + timedelta(days=1),
                          NOW + timedelta(days=1, hours=1)))
            assert list(listener.notifies(timeout=0.05, stop_after=1)) == []
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == ["booking_outbox"]


def test_a_delegate_s_cancel_is_not_an_administrator_s(api_as, alice, bob, admin, berlin,
                                                       conn):
    """Found by testing from outside: by_admin was "cancelled by anyone but the
    owner", so a delegate's cancel was told as an administrator's (mail and
    webhooks). A delegate is named, not called an administrator."""
    from booking.events import render
    assert api_as(alice).patch("/api/me", json={"delegates": [bob["email"]]}).status_code == 200
    for who, day in ((bob, "2027-03-02"), (admin, "2027-03-03")):
        made = book(api_as(alice), berlin, f"{day}T10:00", f"{day}T11:00").get_json()["booking"]
        assert api_as(who).delete(f"/api/bookings/{made['id']}").status_code == 200
    by_bob, by_admin = [e for e in events(conn) if e["kind"] == "booking.cancelled"]
    assert (by_bob["payload"]["by_admin"], by_admin["payload"]["by_admin"]) == (False, True)
    said = render.summary({**by_bob, "actor_name": "Bob", "room_name": "Spree",
                           "timezone": "Europe/Berlin", "owner_name": "Alice"})
    assert said.startswith("Cancelled by Bob: ")


def test_series_events_carry_the_series_status_and_who_made_it(api_as, alice, bob, admin,
                                                                berlin, conn):
    """QA: series.* webhook payloads had neither `status` (a request waiting for approval
    could not be told from a confirmed series; booking.* payloads say it) nor
    `created_by`. They say both now, as GET /api/series/<id> does."""
    from policykit import group, room_policy
    facilities = group(conn, "Facilities", admin)
    room_policy(conn, berlin, approval_required=True, approvers=[facilities["id"]])
    assert api_as(alice).patch("/api/me", json={"delegates": [bob["email"]]}).status_code == 200
    r = book(api_as(bob), berlin, "2027-03-02T10:00", "2027-03-02T11:00",
             recurrence="FREQ=DAILY;COUNT=3", booked_for=alice["email"])
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    sid = made["series"]["id"]
    assert made["series"]["status"] == "pending"
    assert api_as(admin).post(f"/api/bookings/{made['bookings'][0]['id']}/approve"
                              ).status_code == 200
    assert api_as(alice).delete(f"/api/series/{sid}").status_code == 200
    said = {e["type"]: e["data"]["series"]
            for e in api_as(admin).get("/api/activity").get_json()["events"]
            if e["series_id"] == sid and e["type"].startswith("series.")}
    assert {kind: (s["status"], s["created_by"]) for kind, s in said.items()} == {
        "series.created": ("pending", bob["id"]), "series.approved": ("confirmed", bob["id"]),
        "series.cancelled": ("cancelled", bob["id"])}
    # As the series' own JSON says them.
    now = api_as(alice).get(f"/api/series/{sid}").get_json()["series"]
    assert (now["status"], now["created_by"]) == ("cancelled", bob["id"])
    # A series made by its owner names them (as booking.* payloads do); rejected.
    mine = book(api_as(alice), berlin, "2027-03-09T10:00", "2027-03-09T11:00",
                recurrence="FREQ=DAILY;COUNT=2").get_json()
    assert api_as(admin).post(f"/api/bookings/{mine['bookings'][0]['id']}/reject",
                              json={"reason": "Closed"}).status_code == 200
    said = {e["type"]: e["data"]["series"]
            for e in api_as(alice).get("/api/activity").get_json()["events"]
            if e["series_id"] == mine["series"]["id"] and e["type"].startswith("series.")}
    assert {kind: (s["status"], s["created_by"], s["created_by_name"])
            for kind, s in said.items()} == {
        "series.created": ("pending", alice["id"], "Alice"),
        "series.rejected": ("rejected", alice["id"], "Alice")}
