"""End early and extend (issue 17): the edges (before the start, at it, after the
end), who may, the rules and the constraint, the events, and a real race."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import NOW, tomorrow_at
from test_edit_races import at_once

# NOW is Monday 1 March 2027, 09:00 in Berlin; the booking is 10:00-11:00 there.
START = NOW + timedelta(hours=1)
END = START + timedelta(hours=1)


@pytest.fixture
def booked(make, berlin, alice):
    return make.booking(berlin, alice, START, END, title="Planning")


def at(app, moment):
    app.config["NOW"] = moment


def row(conn, booking):
    return conn.execute("SELECT start_at, end_at, sequence FROM bookings WHERE id = %s",
                        (booking["id"],)).fetchone()


def test_end_before_the_start_is_409_not_started_and_changes_nothing(app, api_as, alice,
                                                                    booked, conn):
    at(app, START - timedelta(seconds=1))
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/end")
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "not_started"
    assert row(conn, booked)["end_at"] == END


def test_end_during_the_booking_cuts_it_to_the_next_minute_and_frees_the_rest(
        app, api_as, alice, bob, booked, berlin, conn):
    at(app, START + timedelta(minutes=20, seconds=30))
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/end")
    assert answer.status_code == 200, answer.json
    assert answer.json["booking"]["end_time"] == "2027-03-01T10:21:00+01:00"
    assert row(conn, booked)["end_at"] == START + timedelta(minutes=21)
    kinds = [r["kind"] for r in conn.execute(
        "SELECT kind FROM outbox WHERE booking_id = %s ORDER BY id", (booked["id"],))]
    assert kinds == ["booking.created", "booking.updated"]
    assert conn.execute("SELECT count(*) AS n FROM audit_log WHERE action = 'booking.update' "
                        "AND target = %s", (f"booking {booked['id']}",)).fetchone()["n"] == 1
    made = api_as(bob).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Next", "start_time": "2027-03-01T10:21",
        "end_time": "2027-03-01T11:00"})
    assert made.status_code == 201, made.json


def test_end_exactly_at_the_start_keeps_one_minute(app, api_as, alice, booked):
    at(app, START)
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/end")
    assert answer.status_code == 200
    assert answer.json["booking"]["end_time"] == "2027-03-01T10:01:00+01:00"


def test_end_on_a_whole_minute_is_that_minute(app, api_as, alice, booked):
    at(app, START + timedelta(minutes=30))
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/end")
    assert answer.json["booking"]["end_time"] == "2027-03-01T10:30:00+01:00"


def test_end_after_the_end_or_of_a_cancelled_booking_is_409_not_editable(
        app, api_as, alice, booked, conn):
    at(app, END)
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/end")
    assert answer.status_code == 409 and answer.json["error"]["code"] == "not_editable"
    at(app, START + timedelta(minutes=5))
    conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id = %s", (booked["id"],))
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/end")
    assert answer.status_code == 409 and answer.json["error"]["code"] == "not_editable"


def test_who_may_end_early(app, api_as, make, alice, bob, admin, berlin, conn):
    at(app, START + timedelta(minutes=5))
    carol = make.user("Carol")
    conn.execute("INSERT INTO delegates (user_id, delegate_id) VALUES (%s, %s)",
                 (alice["id"], carol["id"]))
    first = make.booking(berlin, alice, START, END)
    refused = api_as(bob).post(f"/api/bookings/{first['id']}/end")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert row(conn, first)["end_at"] == END
    assert api_as(carol).post(f"/api/bookings/{first['id']}/end").status_code == 200
    second = make.booking(berlin, alice, END, END + timedelta(hours=1))
    at(app, END + timedelta(minutes=5))
    assert api_as(admin).post(f"/api/bookings/{second['id']}/end").status_code == 200
    assert api_as(alice).post("/api/bookings/424242/end").status_code == 404


def test_extend_moves_the_end_later_and_answers_its_etag(app, api_as, alice, booked, conn):
    at(app, START + timedelta(minutes=30))          # under way: its start is past, that is fine
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/extend",
                                json={"end_time": "2027-03-01T11:15"})
    assert answer.status_code == 200, answer.json
    assert answer.json["booking"]["end_time"] == "2027-03-01T11:15:00+01:00"
    assert answer.headers["ETag"]
    assert row(conn, booked)["end_at"] == END + timedelta(minutes=15)
    assert conn.execute("SELECT count(*) AS n FROM outbox WHERE booking_id = %s "
                        "AND kind = 'booking.updated'", (booked["id"],)).fetchone()["n"] == 1


def test_extend_into_a_taken_slot_is_409_with_suggestions_and_changes_nothing(
        app, api_as, make, alice, bob, booked, berlin, conn):
    make.booking(berlin, bob, END + timedelta(minutes=30), END + timedelta(hours=1))
    before = row(conn, booked)
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/extend",
                                json={"end_time": "2027-03-01T11:45"})
    assert answer.status_code == 409, answer.json
    assert answer.json["error"]["code"] == "conflict"
    assert answer.json["error"]["details"]["conflicts"][0]["user_id"] == bob["id"]
    assert "suggestions" in answer.json["error"]["details"]
    assert row(conn, booked) == before
    # Up to the next booking is fine: back to back.
    fits = api_as(alice).post(f"/api/bookings/{booked['id']}/extend",
                              json={"end_time": "2027-03-01T11:30"})
    assert fits.status_code == 200, fits.json


def afternoon(conn, booking):
    """Move the booking to 15:00-16:00, so that 18:00 is less than 4 hours on."""
    conn.execute("UPDATE bookings SET start_at = start_at + interval '5 hours', "
                 "end_at = end_at + interval '5 hours' WHERE id = %s", (booking["id"],))


@pytest.mark.parametrize("end_time, status, code", [
    ("2027-03-01T11:00", 400, "invalid"),           # not later
    ("2027-03-01T10:30", 400, "invalid"),           # earlier: end it early instead
    ("2027-03-01T18:01", 422, "outside_hours"),     # past closing (18:00 is fine)
    ("2027-03-01T14:01", 422, "too_long"),          # over 4 hours (14:00 is fine)
    ("2027-03-01T11:00:30", 422, "not_whole_minutes"),
    ("tomorrow", 400, "invalid"),
])
def test_extend_refusals(app, api_as, alice, booked, conn, end_time, status, code):
    if code == "outside_hours":
        afternoon(conn, booked)
    before = row(conn, booked)
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/extend",
                                json={"end_time": end_time})
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["code"] == code
    assert row(conn, booked) == before


@pytest.mark.parametrize("end_time", ["2027-03-01T18:00", "2027-03-01T14:00"])
def test_extend_to_the_edges_that_hold(app, api_as, alice, booked, end_time, conn):
    if end_time.endswith("18:00"):
        afternoon(conn, booked)
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/extend",
                                json={"end_time": end_time})
    assert answer.status_code == 200, answer.json


def test_extend_needs_end_time_and_nothing_else(app, api_as, alice, booked):
    api = api_as(alice)
    assert api.post(f"/api/bookings/{booked['id']}/extend", json={}).status_code == 400
    extra = api.post(f"/api/bookings/{booked['id']}/extend",
                     json={"end_time": "2027-03-01T11:30", "title": "x"})
    assert extra.status_code == 400


def test_extend_by_someone_else_is_403_and_of_a_released_booking_409(
        app, api_as, bob, alice, booked, conn):
    answer = api_as(bob).post(f"/api/bookings/{booked['id']}/extend",
                              json={"end_time": "2027-03-01T11:30"})
    assert answer.status_code == 403
    conn.execute("UPDATE bookings SET released_at = %s, end_at = %s WHERE id = %s",
                 (START + timedelta(minutes=15), START + timedelta(minutes=15), booked["id"]))
    at(app, START + timedelta(minutes=10))
    answer = api_as(alice).post(f"/api/bookings/{booked['id']}/extend",
                                json={"end_time": "2027-03-01T11:30"})
    assert answer.status_code == 409 and answer.json["error"]["code"] == "released"


def test_an_extension_and_a_new_booking_racing_for_one_slot_one_wins(live_server, make, conn):
    """Through gunicorn: extending into 11:00-11:30 and booking it at the same moment;
    the exclusion constraint lets exactly one in."""
    room = make.room("Contested", "Europe/Berlin")
    alice, bob = make.user("Alice"), make.user("Bob")
    start = tomorrow_at("Europe/Berlin", 10)
    booking = make.booking(room, alice, start, start + timedelta(hours=1))
    slot_end = tomorrow_at("Europe/Berlin", 11, 30)
    for _ in range(5):
        results = at_once([
            (f"{live_server.url}/api/bookings/{booking['id']}/extend", make.token(alice), "POST",
             {"end_time": slot_end.isoformat()}),
            (f"{live_server.url}/api/bookings", make.token(bob), "POST",
             {"room_id": room["id"], "title": "Rival",
              "start_time": (start + timedelta(hours=1)).isoformat(),
              "end_time": slot_end.isoformat()})])
        statuses = sorted(status for status, _ in results)
        assert statuses in ([200, 409], [201, 409]), results
        live = conn.execute("SELECT count(*) AS n FROM bookings WHERE room_id = %s AND "
                            "cancelled_at IS NULL AND end_at > %s", (room["id"], start +
                                                                     timedelta(hours=1))
                            ).fetchone()["n"]
        assert live == 1
        # Back to the start for the next round.
        conn.execute("UPDATE bookings SET cancelled_at = now() WHERE room_id = %s AND "
                     "id <> %s", (room["id"], booking["id"]))
        conn.execute("UPDATE bookings SET end_at = %s WHERE id = %s",
                     (start + timedelta(hours=1), booking["id"]))


def test_an_extension_past_the_release_time_is_409_released_before_the_sweep(
        app, api_as, alice, booked, berlin, conn):
    """Found by testing from outside: at the release time, before the sweep ran, an
    extension was accepted (mails, webhooks) and then undone by the sweep; and
    extending a released booking was 409 not_editable, not released."""
    from test_checkin import sweep
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    body = {"end_time": "2027-03-01T11:30"}
    at(app, START + timedelta(minutes=14, seconds=59))
    extended = api_as(alice).post(f"/api/bookings/{booked['id']}/extend", json=body)
    assert extended.status_code == 200, extended.json     # within the grace
    at(app, START + timedelta(minutes=15))
    for released in (1, 0):   # before the sweep (which then releases it), and after
        answer = api_as(alice).post(f"/api/bookings/{booked['id']}/extend",
                                    json={"end_time": "2027-03-01T11:45"})
        assert (answer.status_code, answer.json["error"]["code"]) == (409, "released")
        assert sweep(app, START + timedelta(minutes=15)) == released
    assert row(conn, booked)["end_at"] == START + timedelta(minutes=15)
