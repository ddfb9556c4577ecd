"""Edit and move under the effective policy (issues 16 and 18 together): a change of
times or room is judged exactly as a new booking is (the target room's policy in
Python for closed, too_soon, not_permitted, ...; its buffer and the owner's
quota, counted without the booking itself, in the statement that writes; a
move into a room that needs approval makes it pending), and what a refused
move offers instead is nothing the policies would refuse."""

from __future__ import annotations

import pytest

from conftest import NOW
from policykit import area, area_policy, group, put_in, room_policy

DAY = "2027-03-02"      # Tuesday; NOW is Monday 1 March 2027, 09:00 in Berlin
NEXT = "2027-03-03"     # Wednesday


def hm(h, m=0, day=DAY):
    return f"{day}T{h:02d}:{m:02d}"


def book(api, room, start, end, title="Planning", **extra):
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": title,
                                        "start_time": start, "end_time": end, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["booking"]


def move(api, booking, **change):
    return api.patch(f"/api/bookings/{booking['id']}", json=change)


def error(r):
    return r.get_json()["error"]


def row(conn, booking):
    return conn.execute("SELECT room_id, start_at, end_at, status, buffer_minutes, overrides, "
                        "sequence FROM bookings WHERE id = %s", (booking["id"],)).fetchone()


@pytest.fixture
def building(conn, berlin):
    found = area(conn, "Building B")
    put_in(conn, berlin, found)
    return found


# -- quotas: the booking moves, it does not add ------------------------------------------

def test_moving_onto_a_day_at_its_quota_is_422_and_changes_nothing(api_as, alice, berlin,
                                                                   building, conn):
    """bookings_per_day 2: Wednesday holds 2 (n), so a Tuesday booking moved there
    would be the third (n + 1)."""
    api = api_as(alice)
    tuesday = book(api, berlin, hm(10), hm(11))
    book(api, berlin, hm(10, day=NEXT), hm(11, day=NEXT))
    book(api, berlin, hm(12, day=NEXT), hm(13, day=NEXT))
    area_policy(conn, building, quota={"bookings_per_day": 2})
    before = row(conn, tuesday)
    r = move(api, tuesday, start_time=hm(15, day=NEXT))
    assert r.status_code == 422, r.get_json()
    err = error(r)
    assert err["code"] == "quota_exceeded"
    assert (err["details"]["quota"], err["details"]["used"], err["details"]["limit"]) == (
        "bookings_per_day", 2, 2)
    assert err["details"]["source"]["name"] == "Building B"
    assert row(conn, tuesday) == before


def test_moving_onto_a_day_below_its_quota_is_fine(api_as, alice, berlin, building, conn):
    """Wednesday holds 1 of 2: the moved booking is the second (n), allowed."""
    api = api_as(alice)
    tuesday = book(api, berlin, hm(10), hm(11))
    book(api, berlin, hm(10, day=NEXT), hm(11, day=NEXT))
    area_policy(conn, building, quota={"bookings_per_day": 2})
    r = move(api, tuesday, start_time=hm(15, day=NEXT))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["booking"]["start_time"].startswith(f"{NEXT}T15:00")


def test_a_booking_moved_within_a_full_day_does_not_count_against_itself(api_as, alice,
                                                                         berlin, building,
                                                                         conn):
    """Tuesday holds exactly the quota (2 of 2): moving one of those two within
    Tuesday, or changing its length, keeps Tuesday at 2."""
    api = api_as(alice)
    first = book(api, berlin, hm(10), hm(11))
    book(api, berlin, hm(12), hm(13))
    area_policy(conn, building, quota={"bookings_per_day": 2, "hours_per_week": 2})
    r = move(api, first, start_time=hm(15))
    assert r.status_code == 200, r.get_json()
    # hours_per_week 2: 1 h + 1 h held; the moved hour stretched to 1 h 1 min is over
    r = move(api, first, end_time=hm(16, 1))
    assert r.status_code == 422 and error(r)["code"] == "quota_exceeded"
    assert error(r)["details"]["quota"] == "hours_per_week"


def test_an_admin_moves_past_a_quota_and_it_is_recorded(api_as, admin, alice, berlin,
                                                        building, conn):
    api = api_as(alice)
    tuesday = book(api, berlin, hm(10), hm(11))
    book(api, berlin, hm(10, day=NEXT), hm(11, day=NEXT))
    area_policy(conn, building, quota={"bookings_per_day": 1})
    assert move(api, tuesday, start_time=hm(15, day=NEXT)).status_code == 422
    r = move(api_as(admin), tuesday, start_time=hm(15, day=NEXT))
    assert r.status_code == 200, r.get_json()
    assert row(conn, tuesday)["overrides"] == ["quota_exceeded"]
    audit = conn.execute("SELECT after FROM audit_log WHERE target = %s ORDER BY id DESC "
                         "LIMIT 1", (f"booking {tuesday['id']}",)).fetchone()
    assert audit["after"]["overrides"] == ["quota_exceeded"]


# -- buffers: the constraint keeps them for a moved booking -------------------------------

def test_moved_exactly_the_buffer_apart_is_fine_a_minute_closer_is_409(api_as, alice, bob,
                                                                       berlin, building, conn):
    """Bob holds 10:00-11:00 with a 15-minute buffer: Alice's booking moved to start
    at 11:15 is fine, at 11:14 it is a conflict and stays where it was."""
    area_policy(conn, building, buffer_minutes=15)
    book(api_as(bob), berlin, hm(10), hm(11))
    api = api_as(alice)
    mine = book(api, berlin, hm(14), hm(15))
    r = move(api, mine, start_time=hm(11, 14))
    assert r.status_code == 409, r.get_json()
    assert row(conn, mine)["start_at"].isoformat().startswith(f"{DAY}T13:00")   # 14:00 CET
    r = move(api, mine, start_time=hm(11, 15))
    assert r.status_code == 200, r.get_json()


def test_a_moved_booking_keeps_its_new_rooms_buffer_after_it(api_as, alice, bob, berlin,
                                                             building, make, conn):
    """Moved into the buffered room before Bob's 10:00, it must end 15 minutes before
    him: 08:45 is not open, so 09:00-09:45 fits exactly and 09:01-09:46 does not.
    The booking takes the new room's buffer (the old one had none)."""
    area_policy(conn, building, buffer_minutes=15)
    plain = make.room("Plain", "Europe/Berlin")
    book(api_as(bob), berlin, hm(10), hm(11))
    api = api_as(alice)
    mine = book(api, plain, hm(14), hm(14, 45))
    assert row(conn, mine)["buffer_minutes"] == 0
    r = move(api, mine, room_id=berlin["id"], start_time=hm(9, 1))
    assert r.status_code == 409, r.get_json()
    assert row(conn, mine)["room_id"] == plain["id"]
    r = move(api, mine, room_id=berlin["id"], start_time=hm(9))
    assert r.status_code == 200, r.get_json()
    assert row(conn, mine)["buffer_minutes"] == 15


def test_a_change_of_title_keeps_the_buffer_it_was_made_with(api_as, alice, berlin, building,
                                                             conn):
    """A change of the room's buffer applies to new and moved bookings; renaming one
    is no move."""
    api = api_as(alice)
    mine = book(api, berlin, hm(10), hm(11))
    area_policy(conn, building, buffer_minutes=30)
    assert move(api, mine, title="Renamed").status_code == 200
    assert row(conn, mine)["buffer_minutes"] == 0
    assert move(api, mine, start_time=hm(12)).status_code == 200
    assert row(conn, mine)["buffer_minutes"] == 30


# -- the rules Python checks, with the target room's policy -------------------------------

def test_moving_onto_a_closed_date_is_422_closed(api_as, alice, berlin, building, conn):
    area_policy(conn, building, closed_dates=[NEXT])
    api = api_as(alice)
    mine = book(api, berlin, hm(10), hm(11))
    before = row(conn, mine)
    r = move(api, mine, start_time=hm(10, day=NEXT))
    assert r.status_code == 422 and error(r)["code"] == "closed", r.get_json()
    assert error(r)["details"]["source"]["name"] == "Building B"
    assert row(conn, mine) == before
    # the day before the closed one is open: the rule is the date, not the move
    assert move(api, mine, start_time=hm(12)).status_code == 200


def test_moving_into_a_room_only_its_bookers_may_book_is_403(api_as, alice, bob, berlin, make,
                                                             conn):
    lab = group(conn, "Lab", bob)
    lab_room = make.room("Lab", "Europe/Berlin")
    room_policy(conn, lab_room, bookers=[lab["id"]])
    api = api_as(alice)
    mine = book(api, berlin, hm(10), hm(11))
    r = move(api, mine, room_id=lab_room["id"])
    assert r.status_code == 403 and error(r)["code"] == "not_permitted", r.get_json()
    assert row(conn, mine)["room_id"] == berlin["id"]
    # Bob is in the Lab group: his booking may move there
    his = book(api_as(bob), berlin, hm(12), hm(13))
    assert move(api_as(bob), his, room_id=lab_room["id"]).status_code == 200


def test_moving_too_close_to_now_is_too_soon(api_as, alice, berlin, building, conn):
    """min_notice_minutes 60, NOW 09:00 Berlin on Monday: 10:00 is exactly the
    notice (fine), 09:59 a minute short."""
    api = api_as(alice)
    mine = book(api, berlin, hm(12), hm(13))
    area_policy(conn, building, min_notice_minutes=60)
    monday = NOW.strftime("%Y-%m-%d")
    r = move(api, mine, start_time=hm(9, 59, day=monday))
    assert r.status_code == 422 and error(r)["code"] == "too_soon", r.get_json()
    assert move(api, mine, start_time=hm(10, day=monday)).status_code == 200


# -- approvals: moved into a room that needs them -----------------------------------------

def test_moving_into_an_approval_room_makes_it_pending_and_out_again_confirmed(
        api_as, alice, berlin, make, conn):
    boardroom = make.room("Boardroom", "Europe/Berlin")
    room_policy(conn, boardroom, approval_required=True)
    api = api_as(alice)
    mine = book(api, berlin, hm(10), hm(11))
    assert mine["status"] == "confirmed"
    r = move(api, mine, room_id=boardroom["id"])
    assert r.status_code == 200 and r.get_json()["booking"]["status"] == "pending", r.get_json()
    # the approvers are asked, as for a new request
    asked = conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'approval.requested' "
                         "AND booking_id = %s", (mine["id"],)).fetchone()["n"]
    assert asked == 1
    # moved within the boardroom it stays pending; moved out, nobody needs to approve it
    assert move(api, mine, start_time=hm(12)).get_json()["booking"]["status"] == "pending"
    r = move(api, mine, room_id=berlin["id"])
    assert r.get_json()["booking"]["status"] == "confirmed"
    decided = conn.execute("SELECT count(*) AS n FROM outbox WHERE booking_id = %s "
                           "AND kind LIKE 'booking.approved'", (mine["id"],)).fetchone()["n"]
    assert decided == 0     # a move out is not an approval


def test_an_admin_moving_into_an_approval_room_books_it_confirmed(api_as, admin, alice, berlin,
                                                                  make, conn):
    boardroom = make.room("Boardroom", "Europe/Berlin")
    room_policy(conn, boardroom, approval_required=True)
    mine = book(api_as(alice), berlin, hm(10), hm(11))
    r = move(api_as(admin), mine, room_id=boardroom["id"])
    assert r.status_code == 200 and r.get_json()["booking"]["status"] == "confirmed", r.get_json()


def asked(conn, booking):
    return conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'approval.requested' "
                        "AND booking_id = %s", (booking["id"],)).fetchone()["n"]


@pytest.mark.parametrize("change, status", [
    ({"start_time": hm(12), "end_time": hm(13)}, "pending"),      # other times
    ({"end_time": hm(11, 15)}, "pending"),                        # a quarter longer
    ({"start_time": hm(9, 45)}, "pending"),                       # starting earlier
    ({"start_time": hm(10, 15), "end_time": hm(10, 45)}, "confirmed"),   # inside: shorter
    ({"end_time": hm(11)}, "confirmed"),                          # the same times
    ({"title": "Renamed"}, "confirmed"),
])
def test_an_approved_booking_moved_or_made_longer_asks_again(api_as, alice, admin, make, conn,
                                                             change, status):
    """Approval of 10:00-11:00 let its owner move it to any other time in the boardroom
    without asking anyone."""
    boardroom = make.room("Boardroom", "Europe/Berlin")
    room_policy(conn, boardroom, approval_required=True)
    mine = book(api_as(alice), boardroom, hm(10), hm(11))
    assert mine["status"] == "pending"
    assert api_as(admin).post(f"/api/bookings/{mine['id']}/approve").status_code == 200
    r = move(api_as(alice), mine, **change)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["booking"]["status"] == status
    assert asked(conn, mine) == (2 if status == "pending" else 1)


def test_an_admin_or_an_approver_moving_an_approved_booking_keeps_it_confirmed(
        api_as, alice, bob, admin, make, conn):
    boardroom = make.room("Boardroom", "Europe/Berlin")
    deciders = group(conn, "Facilities", bob)
    room_policy(conn, boardroom, approval_required=True, approvers=[deciders["id"]])
    for owner, mover, start in ((alice, admin, 10), (bob, bob, 14)):
        made = book(api_as(owner), boardroom, hm(start), hm(start + 1))
        assert api_as(bob).post(f"/api/bookings/{made['id']}/approve").status_code == 200
        r = move(api_as(mover), made, start_time=hm(start + 2), end_time=hm(start + 3))
        assert r.status_code == 200, (mover["email"], r.get_json())
        assert r.get_json()["booking"]["status"] == "confirmed"


def test_an_approved_booking_in_progress_is_extended_without_asking(app, api_as, alice, admin,
                                                                    make, conn):
    """Asked again, it would expire at its start, which has passed: taken off in use."""
    from datetime import timedelta

    boardroom = make.room("Boardroom", "Europe/Berlin")
    room_policy(conn, boardroom, approval_required=True)
    mine = book(api_as(alice), boardroom, hm(10), hm(11))
    assert api_as(admin).post(f"/api/bookings/{mine['id']}/approve").status_code == 200
    app.config["NOW"] = NOW + timedelta(days=1, hours=1, minutes=30)   # Tuesday 10:30
    r = move(api_as(alice), mine, end_time=hm(11, 30))
    assert r.status_code == 200 and r.get_json()["booking"]["status"] == "confirmed", r.get_json()


# -- what a refused move offers -----------------------------------------------------------

def test_an_edits_409_offers_nothing_the_policies_refuse(api_as, alice, bob, berlin, building,
                                                         make, conn):
    """Alice's half hour moved into Bob's 16:00-17:00 is taken. Other rooms: the Lab
    (only its bookers) and the quota room (her quota there is full that day) are
    not offered, the open room is. Same room: the first slot is 17:30, the
    30-minute buffer after Bob (17:00 without it), then none on the closed
    Wednesday: Thursday 09:00."""
    area_policy(conn, building, buffer_minutes=30, closed_dates=[NEXT])
    lab = group(conn, "Lab", bob)
    lab_room = make.room("Lab", "Europe/Berlin", capacity=6)
    room_policy(conn, lab_room, bookers=[lab["id"]])
    quota_room = make.room("Quota", "Europe/Berlin", capacity=6)
    open_room = make.room("Open", "Europe/Berlin", capacity=6)
    api = api_as(alice)
    book(api, quota_room, hm(12), hm(13))
    room_policy(conn, quota_room, quota={"bookings_per_day": 1})
    book(api_as(bob), berlin, hm(16), hm(17))
    mine = book(api, berlin, hm(14), hm(14, 30), attendees=4)
    r = move(api, mine, start_time=hm(16, 30))
    assert r.status_code == 409, r.get_json()
    suggestions = error(r)["details"]["suggestions"]
    assert [o["name"] for o in suggestions["other_rooms"]] == ["Open"]
    slots = [s["start_time"][:16] for s in suggestions["same_room"]]
    assert slots[:2] == [hm(17, 30), hm(9, day="2027-03-04")], slots
    assert not any(s.startswith(NEXT) for s in slots)
    # each offer is then accepted
    assert move(api, mine, room_id=open_room["id"], start_time=hm(16, 30)).status_code == 200
    assert move(api, mine, room_id=berlin["id"], start_time=slots[0]).status_code == 200


def test_refusals_answered_from_the_kept_rooms_offer_nothing_the_policies_refuse(
        api_as, alice, bob, berlin, building, make, conn):
    """The first refusal brings this process's copy of the rooms up to date; later
    ones are answered from it, and then the policies are applied to the rooms the
    statement found free, after it (finder.Alternatives). Every time, for a new
    booking and for a move: the Lab (only its bookers) and the quota room (full
    that day) are free but not offered, the open room is."""
    lab = group(conn, "Lab", bob)
    lab_room = make.room("Lab", "Europe/Berlin", capacity=6)
    room_policy(conn, lab_room, bookers=[lab["id"]])
    quota_room = make.room("Quota", "Europe/Berlin", capacity=6)
    make.room("Open", "Europe/Berlin", capacity=6)
    api = api_as(alice)
    book(api, quota_room, hm(12), hm(13))
    room_policy(conn, quota_room, quota={"bookings_per_day": 1})
    book(api_as(bob), berlin, hm(16), hm(17))
    mine = book(api, berlin, hm(14), hm(14, 30), attendees=4)
    for _ in range(3):
        r = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Retro",
                                            "start_time": hm(16, 30), "end_time": hm(17),
                                            "attendees": 4})
        assert r.status_code == 409, r.get_json()
        offered = error(r)["details"]["suggestions"]["other_rooms"]
        assert [o["name"] for o in offered] == ["Open"]
        r = move(api, mine, start_time=hm(16, 30))
        assert r.status_code == 409, r.get_json()
        offered = error(r)["details"]["suggestions"]["other_rooms"]
        assert [o["name"] for o in offered] == ["Open"]
