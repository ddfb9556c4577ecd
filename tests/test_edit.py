"""PATCH /api/bookings/<id>: change and move a booking, the contract at its edges.

A refused change leaves the booking exactly as it was (its row, compared
whole), and every change is audited and told (booking.updated).
"""

from datetime import datetime, timedelta

import pytest

from conftest import NOW, UTC

DAY = "2027-03-02"          # tomorrow in Berlin (NOW is Monday 1 March 2027, 09:00 there)


def book(api, room, start, end, title="Planning", **extra):
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": title,
                                        "start_time": f"{DAY}T{start}",
                                        "end_time": f"{DAY}T{end}", **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["booking"]


def row(conn, booking_id):
    """The booking's whole row, as text: what "exactly as it was" compares."""
    return conn.execute("SELECT b::text AS t FROM bookings b WHERE id = %s",
                        (booking_id,)).fetchone()["t"]


def error(r):
    return r.get_json()["error"]


def test_moving_a_booking_answers_it_as_get_shows_it(api_as, alice, berlin, conn):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    r = api.patch(f"/api/bookings/{booking['id']}",
                  json={"start_time": f"{DAY}T14:00", "title": "Moved"})
    assert r.status_code == 200, r.get_json()
    moved = r.get_json()["booking"]
    # a new start alone keeps the length
    assert (moved["start_time"], moved["end_time"], moved["title"]) == (
        f"{DAY}T14:00:00+01:00", f"{DAY}T15:00:00+01:00", "Moved")
    shown = api.get(f"/api/bookings/{booking['id']}")
    assert shown.get_json() == r.get_json()
    assert shown.headers["ETag"] == r.headers["ETag"]


def test_a_new_end_alone_keeps_the_start_and_room_alone_keeps_the_times(api_as, alice, berlin,
                                                                        make):
    other = make.room("Havel", capacity=8)
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    r = api.patch(f"/api/bookings/{booking['id']}", json={"end_time": f"{DAY}T11:45"})
    assert r.get_json()["booking"]["start_time"] == f"{DAY}T10:00:00+01:00"
    assert r.get_json()["booking"]["end_time"] == f"{DAY}T11:45:00+01:00"
    r = api.patch(f"/api/bookings/{booking['id']}", json={"room_id": other["id"]})
    moved = r.get_json()["booking"]
    assert (moved["room_id"], moved["start_time"], moved["end_time"]) == (
        other["id"], f"{DAY}T10:00:00+01:00", f"{DAY}T11:45:00+01:00")


def test_a_move_into_a_taken_slot_is_409_with_suggestions_and_changes_nothing(
        api_as, alice, bob, berlin, make, conn):
    make.room("Havel", capacity=8)          # free then: offered
    api = api_as(alice)
    mine = book(api, berlin, "10:00", "11:00")
    theirs = book(api_as(bob), berlin, "14:00", "15:00", title="Bob's")
    before = row(conn, mine["id"])
    events = conn.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"]
    r = api.patch(f"/api/bookings/{mine['id']}", json={"start_time": f"{DAY}T14:30"})
    assert r.status_code == 409
    err = error(r)
    assert err["code"] == "conflict"
    assert [c["id"] for c in err["details"]["conflicts"]] == [theirs["id"]]
    suggestions = err["details"]["suggestions"]
    # the next free hour from 14:30 in Spree is 15:00 (its own 10:00 slot does not count)
    assert suggestions["same_room"][0]["start_time"] == f"{DAY}T15:00:00+01:00"
    assert [room["name"] for room in suggestions["other_rooms"]] == ["Havel"]
    assert row(conn, mine["id"]) == before
    assert conn.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"] == events


def test_back_to_back_is_no_conflict_and_moving_within_its_own_hour_neither(api_as, alice, bob,
                                                                           berlin):
    api = api_as(alice)
    mine = book(api, berlin, "10:00", "11:00")
    book(api_as(bob), berlin, "12:00", "13:00")
    r = api.patch(f"/api/bookings/{mine['id']}", json={"start_time": f"{DAY}T10:30"})
    assert r.status_code == 200
    r = api.patch(f"/api/bookings/{mine['id']}", json={"start_time": f"{DAY}T11:00"})
    assert r.status_code == 200          # 11:00-12:00 ends as Bob's begins
    r = api.patch(f"/api/bookings/{mine['id']}", json={"start_time": f"{DAY}T11:01"})
    assert r.status_code == 409


@pytest.mark.parametrize("change, code", [
    ({"start_time": f"{DAY}T08:59"}, "outside_hours"),
    ({"start_time": f"{DAY}T09:00"}, None),
    ({"start_time": f"{DAY}T17:00", "end_time": f"{DAY}T18:01"}, "outside_hours"),
    ({"start_time": f"{DAY}T17:00", "end_time": f"{DAY}T18:00"}, None),
    ({"end_time": f"{DAY}T10:14"}, "too_short"),
    ({"end_time": f"{DAY}T10:15"}, None),
    ({"start_time": "2027-03-01T07:59:00+00:00", "end_time": "2027-03-01T09:00:00+00:00"},
     "in_past"),
    ({"start_time": "2027-03-01T08:00:00+00:00", "end_time": "2027-03-01T09:00:00+00:00"}, None),
    ({"start_time": "2027-08-28T10:00", "end_time": "2027-08-28T11:00"}, None),
    ({"start_time": "2027-08-29T10:00", "end_time": "2027-08-29T11:00"}, "beyond_window"),
    ({"start_time": f"{DAY}T10:00:30"}, "not_whole_minutes"),
])
def test_every_create_rule_applies_to_the_new_times(api_as, alice, berlin, conn, change, code):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    before = row(conn, booking["id"])
    r = api.patch(f"/api/bookings/{booking['id']}", json=change)
    if code is None:
        assert r.status_code == 200, r.get_json()
    else:
        assert r.status_code == 422, r.get_json()
        assert code in [v["code"] for v in error(r)["details"]["violations"]], r.get_json()
        assert row(conn, booking["id"]) == before


def test_only_the_title_may_change_in_a_room_that_became_inactive(api_as, alice, berlin, conn):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    conn.execute("UPDATE rooms SET active = false WHERE id = %s", (berlin["id"],))
    assert api.patch(f"/api/bookings/{booking['id']}", json={"title": "Renamed"}).status_code == 200
    r = api.patch(f"/api/bookings/{booking['id']}", json={"start_time": f"{DAY}T12:00"})
    assert r.status_code == 422 and error(r)["code"] == "room_inactive"


def test_attendees_over_capacity_is_422_naming_it(api_as, alice, berlin, conn):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")           # Spree seats 6
    assert api.patch(f"/api/bookings/{booking['id']}", json={"attendees": 6}).status_code == 200
    before = row(conn, booking["id"])
    r = api.patch(f"/api/bookings/{booking['id']}", json={"attendees": 7})
    assert r.status_code == 422
    assert (error(r)["code"], error(r)["details"]["capacity"]) == ("over_capacity", 6)
    assert row(conn, booking["id"]) == before


def test_a_room_that_seats_fewer_since_does_not_hold_a_booking_to_its_times(api_as, alice,
                                                                           berlin, make, conn):
    """QA, 2026-12-05: a booking for 6, then the room made to seat 4: renaming it
    worked, but shortening or moving it was 422 over_capacity. The party is judged
    when it or the room changes."""
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00", attendees=6)
    conn.execute("UPDATE rooms SET capacity = 4 WHERE id = %s", (berlin["id"],))
    r = api.patch(f"/api/bookings/{booking['id']}", json={"end_time": f"{DAY}T10:45"})
    assert r.status_code == 200, r.get_json()
    r = api.patch(f"/api/bookings/{booking['id']}", json={"start_time": f"{DAY}T13:00"})
    assert r.status_code == 200, r.get_json()
    before = row(conn, booking["id"])
    r = api.patch(f"/api/bookings/{booking['id']}", json={"attendees": 5})
    assert (r.status_code, error(r)["code"]) == (422, "over_capacity")
    small = make.room("Havel", capacity=2)
    r = api.patch(f"/api/bookings/{booking['id']}", json={"room_id": small["id"]})
    assert (r.status_code, error(r)["code"]) == (422, "over_capacity")
    assert row(conn, booking["id"]) == before


def test_people_and_notes_are_in_the_booking(api_as, alice, bob, berlin):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00", attendees=4,
                   invitees=["bob@example.com", "guest@partner.example", "BOB@example.com"],
                   notes="Bring the\nfigures")
    assert booking["attendees"] == 4
    assert booking["invitees"] == ["bob@example.com", "guest@partner.example"]
    assert booking["notes"] == "Bring the\nfigures"
    r = api.patch(f"/api/bookings/{booking['id']}", json={"notes": None, "invitees": []})
    assert (r.get_json()["booking"]["notes"], r.get_json()["booking"]["invitees"]) == (None, [])


@pytest.mark.parametrize("body", [
    {}, {"colour": "red"}, {"title": ""}, {"start_time": "tomorrow"}, {"attendees": 0},
    {"attendees": "many"}, {"invitees": ["not an address"]}, {"notes": "x" * 2001},
    {"invitees": [f"p{n}@example.com" for n in range(51)]}, {"room_id": "x"},
])
def test_bad_input_is_400_and_changes_nothing(api_as, alice, berlin, conn, body):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    before = row(conn, booking["id"])
    r = api.patch(f"/api/bookings/{booking['id']}", json=body)
    assert r.status_code == 400 and error(r)["code"] == "invalid", r.get_json()
    assert row(conn, booking["id"]) == before


def test_others_are_403_and_delegates_and_admins_may(api_as, alice, bob, admin, berlin, make,
                                                     conn):
    booking = book(api_as(alice), berlin, "10:00", "11:00")
    r = api_as(bob).patch(f"/api/bookings/{booking['id']}", json={"title": "Mine now"})
    assert r.status_code == 403 and error(r)["code"] == "forbidden"
    assert api_as(admin).patch(f"/api/bookings/{booking['id']}",
                               json={"title": "By admin"}).status_code == 200
    alice_api = api_as(alice)
    assert alice_api.patch("/api/me", json={"delegates": ["bob@example.com"]}).status_code == 200
    r = api_as(bob).patch(f"/api/bookings/{booking['id']}", json={"title": "By delegate"})
    assert r.status_code == 200, r.get_json()
    actor = conn.execute("SELECT actor_id FROM audit_log WHERE action = 'booking.update' "
                         "ORDER BY id DESC LIMIT 1").fetchone()["actor_id"]
    assert actor == bob["id"]


def test_an_ended_or_cancelled_booking_is_409_not_editable(api_as, alice, berlin, make, app):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    app.config["NOW"] = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)      # 11:00 in Berlin: ended
    r = api.patch(f"/api/bookings/{booking['id']}", json={"title": "Too late"})
    assert (r.status_code, error(r)["code"]) == (409, "not_editable")
    app.config["NOW"] = datetime(2027, 3, 2, 9, 59, tzinfo=UTC)      # 10:59: still on
    assert api.patch(f"/api/bookings/{booking['id']}", json={"title": "Just in time"}
                     ).status_code == 200
    app.config["NOW"] = NOW
    other = book(api, berlin, "12:00", "13:00")
    assert api.delete(f"/api/bookings/{other['id']}").status_code == 200
    r = api.patch(f"/api/bookings/{other['id']}", json={"title": "Gone"})
    assert (r.status_code, error(r)["code"]) == (409, "not_editable")
    assert api.patch("/api/bookings/4242", json={"title": "x"}).status_code == 404


def test_a_meeting_under_way_may_end_later(api_as, alice, berlin, app):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    app.config["NOW"] = datetime(2027, 3, 2, 9, 30, tzinfo=UTC)      # 10:30 in Berlin
    r = api.patch(f"/api/bookings/{booking['id']}", json={"end_time": f"{DAY}T11:30"})
    assert r.status_code == 200, r.get_json()
    r = api.patch(f"/api/bookings/{booking['id']}", json={"start_time": f"{DAY}T10:15"})
    assert (r.status_code, error(r)["code"]) == (422, "in_past")


def test_if_match_that_no_longer_matches_is_412_and_changes_nothing(api_as, alice, berlin, conn):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    etag = api.get(f"/api/bookings/{booking['id']}").headers["ETag"]
    # a gzipped answer's ETag is the same tag made weak: it matches too
    r = api.patch(f"/api/bookings/{booking['id']}", json={"title": "First"},
                  headers={"If-Match": "W/" + etag})
    assert r.status_code == 200
    before = row(conn, booking["id"])
    r = api.patch(f"/api/bookings/{booking['id']}", json={"title": "Second"},
                  headers={"If-Match": etag})
    assert (r.status_code, error(r)["code"]) == (412, "precondition_failed")
    assert row(conn, booking["id"]) == before
    # without If-Match the last writer wins
    assert api.patch(f"/api/bookings/{booking['id']}", json={"title": "Second"}).status_code == 200


def test_if_match_is_checked_on_the_locked_row(app, api_as, alice, berlin, conn):
    """The version read and the version written are one: a change that lands between
    the edit's read and its write makes the write a 412 (edit_booking() compares the
    sequence on the locked row), not a lost update."""
    from booking import db
    from booking.bookings import service

    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    with app.test_request_context():
        with db.connection() as c:
            result = c.execute(service.EDIT_SQL, {
                "id": booking["id"], "actor": alice["id"], "admin": False, "now": NOW,
                "sequence": 7, "room": None, "start": None, "end": None, "title": "x",
                "set_attendees": False, "attendees": None, "invitees": None,
                "set_notes": False, "notes": None, "overrides": None, "panel": None,
                "fingerprint": None,
                **{k: None for k in ("alt_version", "alt_rooms", "alt_zone_of", "alt_zones",
                                     "alt_start", "alt_end", "alt_people", "alt_equipment",
                                     "alt_buffers", "alt_mine_from", "alt_mine_until",
                                     "alt_mine_user", "alt_want_mine")}
            }).fetchone()["result"]
    assert result == {"kind": "precondition_failed"}


def test_a_change_is_audited_and_told_as_booking_updated(api_as, alice, berlin, conn):
    api = api_as(alice)
    booking = book(api, berlin, "10:00", "11:00")
    api.patch(f"/api/bookings/{booking['id']}", json={"start_time": f"{DAY}T12:00"})
    event = conn.execute("SELECT kind, actor_id, payload FROM outbox ORDER BY id DESC LIMIT 1"
                         ).fetchone()
    assert (event["kind"], event["actor_id"]) == ("booking.updated", alice["id"])
    assert event["payload"]["before"]["start_at"].startswith("2027-03-02T09:00")
    assert event["payload"]["booking"]["start_at"].startswith("2027-03-02T11:00")
    assert event["payload"]["booking"]["sequence"] == 1
    audit = conn.execute("SELECT action, actor_id FROM audit_log ORDER BY id DESC LIMIT 1"
                         ).fetchone()
    assert (audit["action"], audit["actor_id"]) == ("booking.update", alice["id"])


@pytest.mark.parametrize("between", ["approval", "checkin"])
def test_if_match_read_before_a_checkin_or_an_approval_is_412(app, api_as, admin, alice, berlin,
                                                              conn, between):
    """Found by testing from outside: a check-in or an approval that committed while a
    PATCH waited for the row changes what GET shows (its ETag) but not the
    booking's sequence, and the PATCH went through with its stale If-Match. The
    edit now compares the booking's whole JSON on the locked row: here the PATCH
    is read, then the other change lands, then it writes."""
    from policykit import room_policy
    from booking.bookings import service

    if between == "approval":
        room_policy(conn, berlin, approval_required=True)
    api = api_as(alice)
    r = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Planning",
                                        "start_time": "2027-03-01T09:00",   # NOW, in Berlin
                                        "end_time": "2027-03-01T10:00"})
    booking = r.get_json()["booking"]
    etag = api.get(f"/api/bookings/{booking['id']}").headers["ETag"]
    landed = []

    def in_between(row, end):      # after the edit's read, before its write; committed
        if between == "approval":
            landed.append(conn.execute(
                "SELECT outcome FROM decide_request(%s, NULL, %s, 'confirmed', NULL)",
                (booking["id"], admin["id"])).fetchone()["outcome"])
        else:
            landed.append(conn.execute(
                "SELECT checkin_booking(%s, %s, %s, false, NULL, %s, interval '10 minutes') "
                "->> 'kind' AS outcome", (booking["id"], alice["id"], alice["email"], NOW)
            ).fetchone()["outcome"])

    r = api.patch(f"/api/bookings/{booking['id']}", json={"title": "Fresh"},
                  headers={"If-Match": etag})
    assert r.status_code == 200, r.get_json()      # nothing in between: the tag holds
    etag = api.get(f"/api/bookings/{booking['id']}").headers["ETag"]
    original = service.edit
    try:
        service.edit = lambda *a, **k: original(*a, **{**k, "check": in_between})
        r = api.patch(f"/api/bookings/{booking['id']}", json={"title": "Stale"},
                      headers={"If-Match": etag})
    finally:
        service.edit = original
    assert landed == ["done" if between == "approval" else "checked_in"]
    assert (r.status_code, r.get_json()["error"]["code"]) == (412, "precondition_failed")
    row = conn.execute("SELECT title, status, checked_in_at FROM bookings WHERE id = %s",
                       (booking["id"],)).fetchone()
    assert row["title"] == "Fresh"
