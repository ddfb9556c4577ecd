"""POST/GET/DELETE /api/bookings: the contract, every error code, at the edges."""

from datetime import datetime, timedelta

import pytest

from conftest import NOW

# NOW is Monday 1 March 2027, 09:00 in Berlin. Tomorrow in Berlin:
TOMORROW = "2027-03-02"


def book(api, room, start, end, title="Planning", **extra):
    return api.post("/api/bookings", json={"room_id": room["id"], "title": title,
                                           "start_time": start, "end_time": end, **extra})


def test_booking_is_201_with_location_and_the_documented_shape(api_as, alice, berlin):
    r = book(api_as(alice), berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00")
    assert r.status_code == 201, r.get_json()
    booking = r.get_json()["booking"]
    assert set(booking) == {"id", "room_id", "room_name", "user_id", "user_name", "title",
                            "start_time", "end_time", "status", "series_id", "cancelled_at",
                            "created_at", "attendees", "created_by", "created_by_name",
                            "invitees", "notes", "updated_at", "original_start_time",
                            "checked_in_at", "released_at"}
    assert booking["start_time"] == "2027-03-02T10:00:00+01:00"
    assert booking["end_time"] == "2027-03-02T11:00:00+01:00"
    assert (booking["room_name"], booking["user_name"]) == ("Spree", "Alice")
    assert r.headers["Location"] == f"/api/bookings/{booking['id']}"


def test_times_with_an_offset_are_instants_and_come_back_in_the_rooms_zone(api_as, alice, berlin):
    r = book(api_as(alice), berlin, "2027-03-02T09:00:00Z", "2027-03-02T10:30:00+00:00")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["booking"]["start_time"] == "2027-03-02T10:00:00+01:00"
    assert r.get_json()["booking"]["end_time"] == "2027-03-02T11:30:00+01:00"


def test_times_without_offset_are_read_in_the_rooms_zone(api_as, alice, new_york):
    r = book(api_as(alice), new_york, f"{TOMORROW}T09:00", f"{TOMORROW}T09:30")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["booking"]["start_time"] == "2027-03-02T09:00:00-05:00"


@pytest.mark.parametrize("start, end, code, field", [
    ("10:00", "10:14", "too_short", "end_time"),
    ("10:00", "14:01", "too_long", "end_time"),
    ("08:59", "09:30", "outside_hours", "start_time"),
    ("17:45", "18:01", "outside_hours", "end_time"),
    ("10:00:30", "11:00", "not_whole_minutes", "start_time"),
])
def test_rule_breaks_are_422_with_their_code(api_as, alice, berlin, conn, start, end, code, field):
    r = book(api_as(alice), berlin, f"{TOMORROW}T{start}", f"{TOMORROW}T{end}")
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert (error["code"], error["details"]["field"]) == (code, field)
    assert error["message"]
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


@pytest.mark.parametrize("start, end", [("10:00", "10:15"), ("17:45", "18:00"), ("09:00", "13:00")])
def test_the_allowed_edges_are_booked(api_as, alice, berlin, start, end):
    assert book(api_as(alice), berlin, f"{TOMORROW}T{start}", f"{TOMORROW}T{end}").status_code == 201


def test_crossing_midnight_is_422(api_as, alice, make):
    room = make.room("Night owl", opens="00:00", closes="23:59")
    r = book(api_as(alice), room, f"{TOMORROW}T23:30", "2027-03-03T00:30")
    assert r.get_json()["error"]["code"] == "crosses_midnight"


def test_in_the_past_is_422(api_as, alice, make, app):
    room = make.room("Early", opens="07:00")
    api = api_as(alice)
    app.config["NOW"] = NOW + timedelta(seconds=30)   # 09:00:30 Berlin
    assert book(api, room, "2027-03-01T08:59", "2027-03-01T09:30").get_json()["error"]["code"] == "in_past"
    assert book(api, room, "2027-03-01T09:00", "2027-03-01T09:30").status_code == 201


def test_beyond_the_window_is_422(api_as, alice, berlin):
    api = api_as(alice)
    assert book(api, berlin, "2027-08-28T10:00", "2027-08-28T11:00").status_code == 201
    r = book(api, berlin, "2027-08-29T10:00", "2027-08-29T11:00")
    assert r.get_json()["error"]["code"] == "beyond_window"


def test_inactive_room_is_422(api_as, alice, make):
    room = make.room("Closed for works", active=False)
    r = book(api_as(alice), room, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00")
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, "room_inactive")


def test_unknown_room_is_404(api_as, alice):
    r = api_as(alice).post("/api/bookings", json={"room_id": 999, "title": "x",
                                                  "start_time": f"{TOMORROW}T10:00",
                                                  "end_time": f"{TOMORROW}T11:00"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (404, "not_found")
    assert r.get_json()["error"]["details"]["field"] == "room_id"


def test_a_time_the_clocks_skip_is_400(api_as, alice, make):
    room = make.room("All night", opens="00:00", closes="23:59")
    r = book(api_as(alice), room, "2027-03-28T02:30", "2027-03-28T03:30")
    assert r.status_code == 400
    assert r.get_json()["error"]["details"]["field"] == "start_time"


@pytest.mark.parametrize("body, field", [
    ({"title": "x", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "room_id"),
    ({"room_id": "abc", "title": "x", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "room_id"),
    ({"room_id": True, "title": "x", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "room_id"),
    ({"room_id": 10**30, "title": "x", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "room_id"),
    ({"room_id": 1, "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "title"),
    ({"room_id": 1, "title": "   ", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "title"),
    ({"room_id": 1, "title": "x" * 201, "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "title"),
    ({"room_id": 1, "title": "a\x00b", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "title"),
    ({"room_id": 1, "title": "\ud800", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "title"),
    ({"room_id": 1, "title": 5, "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}, "title"),
    ({"room_id": 1, "title": "x", "start_time": "tomorrow", "end_time": "2027-03-02T11:00"}, "start_time"),
    ({"room_id": 1, "title": "x", "start_time": "2027-02-30T10:00", "end_time": "2027-03-02T11:00"}, "start_time"),
    ({"room_id": 1, "title": "x", "start_time": "2027-03-02", "end_time": "2027-03-02T11:00"}, "start_time"),
    ({"room_id": 1, "title": "x", "start_time": "2027-03-02T10:00", "end_time": None}, "end_time"),
    ({"room_id": 1, "title": "x", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00", "start": "x"}, "start"),
])
def test_malformed_input_is_400_naming_the_field(api_as, alice, berlin, conn, body, field):
    r = api_as(alice).post("/api/bookings", json=body)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["code"] == "invalid"
    assert r.get_json()["error"]["details"]["field"] == field
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


@pytest.mark.parametrize("data, content_type", [
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ("room_id=1", "application/x-www-form-urlencoded"),
])
def test_a_body_that_is_not_a_json_object_is_400(api_as, alice, data, content_type):
    api = api_as(alice)
    r = api.client.post("/api/bookings", data=data, content_type=content_type, headers=api.headers)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "invalid"


def test_overlap_is_409_and_names_the_booking(api_as, alice, bob, berlin, conn):
    first = book(api_as(alice), berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").get_json()["booking"]
    r = book(api_as(bob), berlin, f"{TOMORROW}T10:30", f"{TOMORROW}T11:30")
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert error["code"] == "conflict"
    assert [c["id"] for c in error["details"]["conflicts"]] == [first["id"]]
    assert error["details"]["conflicts"][0]["user_name"] == "Alice"
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_back_to_back_bookings_do_not_collide(api_as, alice, berlin):
    api = api_as(alice)
    assert book(api, berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").status_code == 201
    assert book(api, berlin, f"{TOMORROW}T11:00", f"{TOMORROW}T12:00").status_code == 201
    assert book(api, berlin, f"{TOMORROW}T09:00", f"{TOMORROW}T10:00").status_code == 201


def test_a_cancelled_booking_frees_its_slot(api_as, alice, bob, berlin):
    first = book(api_as(alice), berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").get_json()["booking"]
    assert api_as(alice).delete(f"/api/bookings/{first['id']}").status_code == 200
    assert book(api_as(bob), berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").status_code == 201


def test_same_time_in_another_room_is_fine(api_as, alice, berlin, make):
    other = make.room("Tiergarten")
    api = api_as(alice)
    assert book(api, berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").status_code == 201
    assert book(api, other, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").status_code == 201


# -- reading ----------------------------------------------------------------------------

def test_get_one_booking(api_as, alice, bob, berlin):
    booking = book(api_as(alice), berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").get_json()["booking"]
    r = api_as(bob).get(f"/api/bookings/{booking['id']}")  # staff see who booked what
    assert r.status_code == 200
    assert r.get_json()["booking"] == booking


def test_unknown_booking_is_404(api_as, alice):
    for url in ("/api/bookings/12345", "/api/bookings/99999999999999999999"):
        r = api_as(alice).get(url)
        assert (r.status_code, r.get_json()["error"]["code"]) == (404, "not_found")


def test_several_bookings_by_id_in_the_order_asked(api_as, alice, berlin):
    api = api_as(alice)
    ids = [book(api, berlin, f"{TOMORROW}T{h}:00", f"{TOMORROW}T{h}:30").get_json()["booking"]["id"]
           for h in (10, 11, 12)]
    r = api.get(f"/api/bookings?ids={ids[2]},{ids[0]},777,{ids[1]}")
    assert r.status_code == 200
    assert [b["id"] for b in r.get_json()["bookings"]] == [ids[2], ids[0], ids[1]]
    assert r.get_json()["missing"] == [777]


@pytest.mark.parametrize("query", ["", "?ids=", "?ids=a,b", "?ids=" + ",".join(map(str, range(1, 102))),
                                   "?ids=-1", "?ids=1,,x"])
def test_bad_id_lists_are_400(api_as, alice, query):
    r = api_as(alice).get(f"/api/bookings{query}")
    assert r.status_code == 400
    assert r.get_json()["error"]["details"]["field"] == "ids"


def test_a_hundred_ids_are_allowed(api_as, alice):
    r = api_as(alice).get("/api/bookings?ids=" + ",".join(map(str, range(1, 101))))
    assert r.status_code == 200


# -- cancelling ---------------------------------------------------------------------------

def test_owner_cancels(api_as, alice, berlin, conn):
    api = api_as(alice)
    booking = book(api, berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").get_json()["booking"]
    r = api.delete(f"/api/bookings/{booking['id']}")
    assert r.status_code == 200
    cancelled = r.get_json()["booking"]
    assert cancelled["cancelled_at"] is not None
    assert cancelled["cancelled_at"].endswith("+01:00")
    row = conn.execute("SELECT cancelled_at, cancelled_by FROM bookings WHERE id = %s",
                       (booking["id"],)).fetchone()
    assert row["cancelled_at"] is not None and row["cancelled_by"] == alice["id"]
    # Rows are kept: the booking is still readable, marked cancelled.
    assert api.get(f"/api/bookings/{booking['id']}").get_json()["booking"]["cancelled_at"] == cancelled["cancelled_at"]


def test_someone_else_may_not_cancel(api_as, alice, bob, berlin, conn):
    booking = book(api_as(alice), berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").get_json()["booking"]
    r = api_as(bob).delete(f"/api/bookings/{booking['id']}")
    assert (r.status_code, r.get_json()["error"]["code"]) == (403, "forbidden")
    assert conn.execute("SELECT cancelled_at FROM bookings").fetchone()["cancelled_at"] is None


def test_an_admin_may_cancel_and_it_is_recorded(api_as, alice, admin, berlin, conn):
    booking = book(api_as(alice), berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").get_json()["booking"]
    assert api_as(admin).delete(f"/api/bookings/{booking['id']}").status_code == 200
    row = conn.execute("SELECT cancelled_by FROM bookings").fetchone()
    assert row["cancelled_by"] == admin["id"]


def test_cancelling_twice_changes_nothing(api_as, alice, berlin):
    api = api_as(alice)
    booking = book(api, berlin, f"{TOMORROW}T10:00", f"{TOMORROW}T11:00").get_json()["booking"]
    first = api.delete(f"/api/bookings/{booking['id']}").get_json()["booking"]
    second = api.delete(f"/api/bookings/{booking['id']}")
    assert second.status_code == 200
    assert second.get_json()["booking"]["cancelled_at"] == first["cancelled_at"]


def test_a_booking_that_has_ended_cannot_be_cancelled(api_as, alice, berlin, make, app):
    ended = make.booking(berlin, alice, NOW - timedelta(hours=2), NOW - timedelta(hours=1))
    r = api_as(alice).delete(f"/api/bookings/{ended['id']}")
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, "in_past")


def test_a_running_booking_can_be_cancelled(api_as, alice, berlin, make):
    running = make.booking(berlin, alice, NOW - timedelta(minutes=10), NOW + timedelta(minutes=20))
    assert api_as(alice).delete(f"/api/bookings/{running['id']}").status_code == 200


def test_cancel_unknown_is_404(api_as, alice):
    assert api_as(alice).delete("/api/bookings/4242").status_code == 404


# -- my bookings ----------------------------------------------------------------------------

def test_my_bookings_upcoming_and_past_are_keyset_paginated(api_as, alice, bob, berlin, make):
    start = datetime(2027, 3, 2, 9, 0, tzinfo=NOW.tzinfo)  # 10:00 Berlin
    mine = [make.booking(berlin, alice, start + timedelta(days=d), start + timedelta(days=d, minutes=30))["id"]
            for d in range(5)]
    make.booking(berlin, bob, start + timedelta(hours=2), start + timedelta(hours=3))      # not mine
    make.booking(berlin, alice, start + timedelta(hours=4), start + timedelta(hours=5), cancelled=True)
    past = make.booking(berlin, alice, NOW - timedelta(days=1), NOW - timedelta(days=1, minutes=-30))["id"]
    running = make.booking(berlin, alice, NOW - timedelta(minutes=10), NOW + timedelta(minutes=20))["id"]
    api = api_as(alice)

    seen, cursor = [], None
    for _ in range(5):
        r = api.get("/api/bookings/mine?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200
        page = r.get_json()
        seen += [b["id"] for b in page["bookings"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [running] + mine

    r = api.get("/api/bookings/mine?when=past")
    assert [b["id"] for b in r.get_json()["bookings"]] == [past]
    assert r.get_json()["next_cursor"] is None


@pytest.mark.parametrize("query, field", [("?when=later", "when"), ("?limit=0", "limit"),
                                          ("?limit=101", "limit"), ("?limit=x", "limit"),
                                          ("?cursor=nonsense", "cursor")])
def test_my_bookings_bad_parameters_are_400(api_as, alice, query, field):
    r = api_as(alice).get(f"/api/bookings/mine{query}")
    assert r.status_code == 400
    assert r.get_json()["error"]["details"]["field"] == field


# -- who may ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method, url", [
    ("GET", "/api/rooms"), ("GET", "/api/rooms/1/bookings"), ("GET", "/api/bookings/mine"),
    ("GET", "/api/bookings/1"), ("GET", "/api/bookings?ids=1"), ("POST", "/api/bookings"),
    ("DELETE", "/api/bookings/1"), ("GET", "/api/me"), ("POST", "/api/rooms"),
    ("PATCH", "/api/rooms/1"),
])
def test_without_credentials_the_api_answers_401_json(client, method, url):
    r = client.open(url, method=method, json={})
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthorized"


def test_a_wrong_or_revoked_token_is_401(api_as, alice, client):
    api = api_as(alice)
    assert api.get("/api/me").status_code == 200
    token_id = api.get("/api/tokens").get_json()["tokens"][0]["id"]
    assert api.delete(f"/api/tokens/{token_id}").status_code == 200
    assert api.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Bearer bk_nonsense"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401


def test_a_deactivated_user_is_locked_out(api_as, alice, conn):
    api = api_as(alice)
    conn.execute("UPDATE users SET active = false WHERE id = %s", (alice["id"],))
    assert api.get("/api/me").status_code == 401
