"""/api/rooms: the overview, a room's day, and the admin's create and edit."""

from datetime import datetime

import pytest

from conftest import UTC


def at(hour, minute=0, day=1):
    """An instant on March `day` 2027 given in UTC hours (Berlin is UTC+1 then)."""
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


def test_overview_shows_now_next_and_todays_count(api_as, alice, bob, berlin, make):
    # NOW is 08:00 UTC = 09:00 Berlin.
    running = make.booking(berlin, alice, at(7, 30), at(8, 30), title="Stand-up")
    later = make.booking(berlin, bob, at(13), at(14), title="Review")
    make.booking(berlin, bob, at(15), at(16), title="Retro")
    make.booking(berlin, bob, at(10), at(11), title="Cancelled", cancelled=True)
    make.booking(berlin, bob, at(10, day=2), at(11, day=2), title="Tomorrow")
    r = api_as(alice).get("/api/rooms")
    assert r.status_code == 200
    (room,) = r.get_json()["rooms"]
    assert room["current_booking"]["id"] == running["id"]
    assert room["next_booking"]["id"] == later["id"]
    assert room["bookings_today"] == 3
    assert list(room)[:10] == ["id", "name", "building", "floor", "capacity", "equipment",
                               "timezone", "opens", "closes", "active"]


def test_overview_today_is_the_rooms_own_day(api_as, alice, new_york, make):
    # NOW is 03:00 on Monday 1 March in New York: "today" is counted by the
    # room's local date, so 21:00 New York (02:00 UTC on the 2nd) is today.
    make.booking(new_york, alice, at(14), at(15))                 # 09:00 New York, today
    make.booking(new_york, alice, at(2, day=2), at(3, day=2))     # 21:00 New York, today
    make.booking(new_york, alice, at(6, day=2), at(7, day=2))     # 01:00 tomorrow
    (room,) = api_as(alice).get("/api/rooms").get_json()["rooms"]
    assert room["bookings_today"] == 2
    assert room["current_booking"] is None
    assert room["next_booking"]["start_time"] == "2027-03-01T09:00:00-05:00"


def test_next_booking_is_only_later_today(api_as, alice, berlin, make):
    make.booking(berlin, alice, at(10, day=2), at(11, day=2))
    (room,) = api_as(alice).get("/api/rooms").get_json()["rooms"]
    assert room["next_booking"] is None and room["bookings_today"] == 0


def test_inactive_rooms_are_left_out_unless_asked_for(api_as, alice, berlin, make):
    make.room("Closed", active=False)
    api = api_as(alice)
    assert [r["name"] for r in api.get("/api/rooms").get_json()["rooms"]] == ["Spree"]
    everything = api.get("/api/rooms?include_inactive=true").get_json()["rooms"]
    assert [r["name"] for r in everything] == ["Spree", "Closed"]


def test_day_view_lists_the_local_days_live_bookings_in_order(api_as, alice, berlin, make):
    b2 = make.booking(berlin, alice, at(13, day=2), at(14, day=2))
    b1 = make.booking(berlin, alice, at(9, day=2), at(10, day=2))
    make.booking(berlin, alice, at(11, day=2), at(12, day=2), cancelled=True)
    make.booking(berlin, alice, at(9, day=3), at(10, day=3))
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02")
    assert r.status_code == 200
    data = r.get_json()
    assert data["date"] == "2027-03-02"
    assert data["room"]["name"] == "Spree"
    assert [b["id"] for b in data["bookings"]] == [b1["id"], b2["id"]]


def test_day_view_defaults_to_today_in_the_rooms_zone(api_as, alice, new_york):
    # 08:00 UTC is still 03:00 on 1 March in New York.
    r = api_as(alice).get(f"/api/rooms/{new_york['id']}/bookings")
    assert r.get_json()["date"] == "2027-03-01"


def test_day_view_on_the_dst_day_has_the_right_offsets(api_as, alice, make):
    room = make.room("Nightly", opens="00:00", closes="23:59")
    # 28 March 2027: Berlin jumps from 02:00 +01:00 to 03:00 +02:00.
    make.booking(room, alice, datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
                 datetime(2027, 3, 28, 1, 30, tzinfo=UTC))
    make.booking(room, alice, datetime(2027, 3, 28, 22, 0, tzinfo=UTC),
                 datetime(2027, 3, 28, 22, 30, tzinfo=UTC))   # 00:00 on the 29th
    data = api_as(alice).get(f"/api/rooms/{room['id']}/bookings?date=2027-03-28").get_json()
    assert [(b["start_time"], b["end_time"]) for b in data["bookings"]] == [
        ("2027-03-28T01:30:00+01:00", "2027-03-28T03:30:00+02:00")]


@pytest.mark.parametrize("url, status, field", [
    ("/api/rooms/{id}/bookings?date=2027-02-30", 400, "date"),
    ("/api/rooms/{id}/bookings?date=tomorrow", 400, "date"),
    ("/api/rooms/4242/bookings", 404, None),
    ("/api/rooms/0/bookings", 404, None),
])
def test_day_view_errors(api_as, alice, berlin, url, status, field):
    r = api_as(alice).get(url.format(id=berlin["id"]))
    assert r.status_code == status
    assert r.get_json()["error"]["details"].get("field") == field


# -- admin -----------------------------------------------------------------------------

ROOM = {"name": "Boardroom", "building": "HQ", "floor": 3, "capacity": 20,
        "equipment": ["Screen", "video", "screen"], "timezone": "Europe/London",
        "opens": "08:00", "closes": "20:00"}


def test_admin_creates_a_room(api_as, admin):
    r = api_as(admin).post("/api/rooms", json=ROOM)
    assert r.status_code == 201, r.get_json()
    room = r.get_json()["room"]
    assert room["equipment"] == ["screen", "video"]
    assert (room["opens"], room["closes"], room["active"]) == ("08:00", "20:00", True)
    assert r.headers["Location"] == f"/api/rooms/{room['id']}"
    assert api_as(admin).get(f"/api/rooms/{room['id']}").get_json()["room"] == room


def test_a_new_room_gets_the_default_hours(api_as, admin):
    r = api_as(admin).post("/api/rooms", json={"name": "Small", "capacity": 2,
                                               "timezone": "Europe/Berlin"})
    room = r.get_json()["room"]
    assert (room["opens"], room["closes"], room["building"], room["floor"]) == ("09:00", "18:00", "", 0)


def test_staff_may_not_manage_rooms(api_as, alice, berlin, conn):
    api = api_as(alice)
    assert api.post("/api/rooms", json=ROOM).status_code == 403
    r = api.patch(f"/api/rooms/{berlin['id']}", json={"name": "Mine"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (403, "forbidden")
    assert conn.execute("SELECT name FROM rooms").fetchone()["name"] == "Spree"


def test_admin_edits_only_the_fields_sent(api_as, admin, berlin):
    r = api_as(admin).patch(f"/api/rooms/{berlin['id']}", json={"capacity": 12, "active": False})
    assert r.status_code == 200
    room = r.get_json()["room"]
    assert (room["name"], room["capacity"], room["active"]) == ("Spree", 12, False)


@pytest.mark.parametrize("change, field", [
    ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"capacity": 0}, "capacity"),
    ({"capacity": "many"}, "capacity"), ({"capacity": 10**20}, "capacity"),
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"timezone": "../etc/passwd"}, "timezone"),
    ({"opens": "25:00"}, "opens"), ({"opens": "18:00", "closes": "09:00"}, "closes"),
    ({"closes": "08:00"}, "closes"), ({"equipment": "x" * 41}, "equipment"),
    ({"equipment": [1, 2]}, "equipment"), ({"active": "maybe"}, "active"),
    ({"colour": "red"}, "colour"), ({}, "body"),
])
def test_room_validation(api_as, admin, berlin, conn, change, field):
    r = api_as(admin).patch(f"/api/rooms/{berlin['id']}", json=change)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == field
    row = conn.execute("SELECT name, capacity, opens::text, closes::text FROM rooms").fetchone()
    assert row == {"name": "Spree", "capacity": 6, "opens": "09:00:00", "closes": "18:00:00"}


def test_room_names_are_unique_whatever_the_case(api_as, admin, berlin):
    r = api_as(admin).post("/api/rooms", json={**ROOM, "name": "SPREE"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "conflict")
    assert r.get_json()["error"]["details"]["field"] == "name"


def test_edit_unknown_room_is_404(api_as, admin):
    assert api_as(admin).patch("/api/rooms/4242", json={"capacity": 3}).status_code == 404


def test_room_json_in_sql_is_the_same_shape_as_room_fields(conn, berlin, make):
    make.room("Shaped", equipment=["screen"], building="B", floor=-1)
    from booking.rooms.service import ROOM_FIELDS
    python_side = conn.execute(f"SELECT {ROOM_FIELDS} FROM rooms r ORDER BY r.id").fetchall()
    sql_side = [r["room"] for r in conn.execute("SELECT room_json(r) AS room FROM rooms r ORDER BY r.id")]
    assert [list(d.items()) for d in sql_side] == [list(d.items()) for d in python_side]
