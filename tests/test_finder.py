"""The room finder, automatic assignment and batch availability: the contract,
the ranking, the hard constraints at their edges, the SQL hours filter held
equal to booking.rules."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from booking import memo, rules
from booking.finder import service

from booking.times import zone
from conftest import NOW, UTC

BERLIN = zone("Europe/Berlin")
# NOW is Monday 1 March 2027, 09:00 in Berlin (+01:00). Tomorrow:
DAY = "2027-03-02"


def at(hm, day=2, month=3):
    """A Berlin wall-clock time on `day` March 2027."""
    h, m = map(int, hm.split(":"))
    return datetime(2027, month, day, h, m, tzinfo=BERLIN)


def free(api, start, end, **params):
    query = {"start_time": start, "end_time": end, **params}
    return api.get("/api/rooms/free?" + urlencode(query))


def free_names(api, start, end, **params):
    """The names found, asked twice: an app's first search takes the rooms from the
    database, the next ranks from its copy of them (booking/memo/rooms.py),
    and the two must agree."""
    r = free(api, start, end, **params)
    assert r.status_code == 200, r.get_json()
    assert free(api, start, end, **params).get_json() == r.get_json()
    return [room["name"] for room in r.get_json()["rooms"]]


def auto(api, start, end, attendees=2, title="Planning", **extra):
    return api.post("/api/bookings/auto", json={"title": title, "start_time": start,
                                                "end_time": end, "attendees": attendees,
                                                **extra})


def count(conn, sql="SELECT count(*) AS n FROM bookings WHERE cancelled_at IS NULL"):
    return conn.execute(sql).fetchone()["n"]


# -- ranking --------------------------------------------------------------------------

@pytest.fixture
def campus(make, bob):
    """Rooms crafted so that each step of the ranking decides one pair."""
    rooms = {}
    for name, building, floor, capacity in [
            ("Atrium", "A", 1, 10),     # neither building nor floor
            ("Birch", "B", 2, 12),      # building, not floor
            ("Cedar", "B", 3, 8),       # building and floor, smallest, quiet day
            ("Dune", "B", 3, 8),        # same, but two bookings that day
            ("Elm", "B", 3, 20),        # building and floor, big
            ("Fern", "B", 3, 8),        # ties with Cedar but for the name
            ("Hazel", "A", 3, 8),       # floor, not building
            ("Juniper", "B", 3, 9),     # one seat more than Dune, quiet day
            ("Ash", "b", 3, 6),         # too small: filtered out
            ("Gorse", "B", 3, 30)]:     # booked at the time: filtered out
        rooms[name] = make.room(name, building=building, floor=floor, capacity=capacity)
    make.booking(rooms["Dune"], bob, at("09:00"), at("09:30"))
    make.booking(rooms["Dune"], bob, at("16:00"), at("17:00"))
    make.booking(rooms["Cedar"], bob, at("09:00", day=3), at("10:00", day=3))  # not that day
    make.booking(rooms["Gorse"], bob, at("10:30"), at("11:00"))
    return rooms


@pytest.fixture
def unbalanced(app):
    """The ranking without balancing (ASSIGN_BALANCE_WEIGHT 0): building, floor, fit,
    then that day's bookings and the name (tests/test_balance.py has the weight)."""
    app.config["ASSIGN_BALANCE_WEIGHT"] = 0


def test_ranking_building_then_floor_then_smallest_then_quietest_then_name(api_as, alice, campus,
                                                                          unbalanced):
    r = free(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", capacity=8, building="b", floor=3,
             timezone="Europe/Berlin")
    rooms = r.get_json()["rooms"]
    assert [room["name"] for room in rooms] == [
        "Cedar", "Fern", "Dune", "Juniper", "Elm", "Birch", "Hazel", "Atrium"]
    assert [room["score"] for room in rooms] == [100.0, 100.0, 100.0, 97.8, 88.0, 63.3, 50.0, 16.0]
    assert [room["bookings_that_day"] for room in rooms[:3]] == [0, 0, 2]
    assert r.get_json()["suggestions"] is None


def test_scores_never_increase_down_the_list(api_as, alice, campus):
    for params in ({"capacity": 1}, {"capacity": 8, "building": "A"}, {"floor": 2},
                   {"capacity": 9, "building": "B", "floor": 1}):
        r = free(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin",
                 **params)
        scores = [room["score"] for room in r.get_json()["rooms"]]
        assert scores == sorted(scores, reverse=True), params


def test_without_preferences_the_smallest_room_that_fits_comes_first(api_as, alice, campus,
                                                                     unbalanced):
    names = free_names(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", capacity=3,
                       timezone="Europe/Berlin")
    assert names[:5] == ["Ash", "Cedar", "Fern", "Hazel", "Dune"]
    assert names[-1] == "Elm"


def test_a_result_is_a_room_with_score_load_and_the_interval_in_its_zone(api_as, alice, new_york):
    r = free(api_as(alice), "2027-03-02T10:00:00-05:00", "2027-03-02T11:00:00-05:00", capacity=5)
    (room,) = r.get_json()["rooms"]
    assert list(room) == ["id", "name", "building", "floor", "capacity", "equipment", "timezone",
                          "opens", "closes", "active", "area_id", "checkin_required",
                          "release_after_minutes", "score", "bookings_that_day",
                          "utilisation_this_week", "start_time", "end_time"]
    # 50 + 30 (nothing preferred) + 20 * 5 / 10, + 5 for a room unused this week
    assert room["score"] == 95.0 and room["utilisation_this_week"] == 0
    assert (room["start_time"], room["end_time"]) == ("2027-03-02T10:00:00-05:00",
                                                      "2027-03-02T11:00:00-05:00")


# -- hard constraints at their edges ------------------------------------------------

@pytest.mark.parametrize("capacity, found", [(5, True), (6, True), (7, False)])
def test_capacity_equal_to_the_party_fits(api_as, alice, berlin, capacity, found):
    names = free_names(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", capacity=capacity,
                       timezone="Europe/Berlin")
    assert names == (["Spree"] if found else [])


@pytest.mark.parametrize("asked, found", [
    ("", True), ("screen", True), ("screen,video", True), ("Video, SCREEN", True),
    ("screen,video,whiteboard", False), ("wheelchair", False)])
def test_equipment_the_room_must_have_all_of(api_as, alice, make, asked, found):
    make.room("Studio", equipment=["screen", "video"])
    names = free_names(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", equipment=asked,
                       timezone="Europe/Berlin")
    assert names == (["Studio"] if found else [])


def test_equipment_may_repeat_the_parameter(api_as, alice, make):
    make.room("Studio", equipment=["screen", "video"])
    make.room("Screen only", equipment=["screen"])
    api = api_as(alice)
    r = api.get(f"/api/rooms/free?start_time={DAY}T10:00&end_time={DAY}T11:00"
                "&timezone=Europe/Berlin&equipment=screen&equipment=video")
    assert [room["name"] for room in r.get_json()["rooms"]] == ["Studio"]


@pytest.mark.parametrize("start, end, found", [
    ("09:00", "10:00", True),     # starts at opening
    ("08:59", "10:00", False),
    ("17:00", "18:00", True),     # touches closing
    ("17:01", "18:01", False),
    ("17:45", "18:00", True),
])
def test_open_for_the_whole_interval(api_as, alice, berlin, start, end, found):
    names = free_names(api_as(alice), f"{DAY}T{start}", f"{DAY}T{end}", timezone="Europe/Berlin")
    assert names == (["Spree"] if found else [])


def test_opening_hours_are_each_rooms_own_wall_clock(api_as, alice, berlin, new_york):
    api = api_as(alice)
    # 15:00-16:00 Berlin is 09:00-10:00 in New York: both open.
    assert free_names(api, f"{DAY}T15:00", f"{DAY}T16:00", timezone="Europe/Berlin") == [
        "Spree", "Hudson"]
    # 14:30 Berlin is 08:30 in New York: not open there yet.
    assert free_names(api, f"{DAY}T14:30", f"{DAY}T15:30", timezone="Europe/Berlin") == ["Spree"]
    # 17:00-18:00 New York is 23:00-24:00 Berlin: only New York is open.
    assert free_names(api, f"{DAY}T17:00", f"{DAY}T18:00", timezone="America/New_York") == [
        "Hudson"]


def test_booked_means_a_live_booking_overlaps(api_as, alice, bob, berlin, make):
    make.booking(berlin, bob, at("09:00"), at("10:00"))
    make.booking(berlin, bob, at("11:00"), at("12:00"), cancelled=True)
    api = api_as(alice)
    tz = {"timezone": "Europe/Berlin"}
    assert free_names(api, f"{DAY}T10:00", f"{DAY}T11:00", **tz) == ["Spree"]   # back to back
    assert free_names(api, f"{DAY}T09:59", f"{DAY}T10:30", **tz) == []          # one minute over
    assert free_names(api, f"{DAY}T11:00", f"{DAY}T12:00", **tz) == ["Spree"]   # cancelled


def test_inactive_rooms_are_not_offered(api_as, alice, make):
    make.room("Closed for works", active=False)
    assert free_names(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin") == []


def test_fit_points_are_rounded_half_up(api_as, alice, make, unbalanced):
    """20 x 3 / 400 = 0.15 points, which a float would round down to 0.1."""
    make.room("Hall", capacity=400, building="HQ", floor=1)
    r = free(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", capacity=3, building="Annex",
             floor=7, timezone="Europe/Berlin")
    assert [room["score"] for room in r.get_json()["rooms"]] == [0.2]


# -- the process's copy of the rooms (booking/memo/rooms.py) -----------------------------

def test_a_room_changed_elsewhere_is_seen_by_the_very_next_search(api_as, alice, berlin, conn,
                                                                  monkeypatch):
    """Another process (here, another connection) edits, adds and deletes rooms:
    each search answers from the rooms as they are, in one statement."""
    from booking import db

    api = api_as(alice)
    statements = []
    search_rooms = service.free_rooms

    def counted(*args):
        before = db.current_stats().statements
        found = search_rooms(*args)
        statements.append(db.current_stats().statements - before)
        return found

    monkeypatch.setattr(service, "free_rooms", counted)

    def search(**params):
        r = free(api, f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin", **params)
        assert r.status_code == 200, r.get_json()
        return r

    first = search(capacity=2)
    assert [room["name"] for room in first.get_json()["rooms"]] == ["Spree"]
    assert statements == [1]
    steps = [
        ("UPDATE rooms SET name = 'Renamed', capacity = 8", {"capacity": 8}, ["Renamed"]),
        ("UPDATE rooms SET capacity = 7", {"capacity": 8}, []),
        ("UPDATE rooms SET capacity = 8, closes = '10:30'", {"capacity": 8}, []),
        ("UPDATE rooms SET closes = '11:00', equipment = '{screen}'", {"equipment": "screen"},
         ["Renamed"]),
        ("UPDATE rooms SET active = false", {}, []),
        ("INSERT INTO rooms (name, capacity, timezone) VALUES ('New', 4, 'Europe/Berlin')", {},
         ["New"]),
        ("DELETE FROM rooms WHERE name = 'New'", {}, []),
    ]
    for change, params, names in steps:
        conn.execute(change)
        r = search(**params)
        assert [room["name"] for room in r.get_json()["rooms"]] == names, change
        assert statements[-1] == 1, change


def test_bookings_leave_the_copy_of_the_rooms_alone(api_as, alice, bob, berlin, make, conn, app):
    api = api_as(alice)
    assert free_names(api, f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin") == ["Spree"]
    copy = lambda: memo.of(app).rooms.current()[1]  # noqa: E731
    kept = copy()
    make.booking(berlin, bob, at("10:00"), at("11:00"))
    assert free_names(api, f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin") == []
    assert copy() is kept
    conn.execute("UPDATE rooms SET building = 'Annex'")
    free_names(api, f"{DAY}T12:00", f"{DAY}T13:00", timezone="Europe/Berlin")
    assert copy() is not kept
    assert copy()[berlin["id"]]["building"] == "Annex"


# -- the SQL hours filter equals booking.rules ---------------------------------------

EDGE_ROOMS = [  # name, zone, opens, closes
    ("Berlin day", "Europe/Berlin", "09:00", "18:00"),
    ("Berlin all day", "Europe/Berlin", "00:00", "23:59"),
    ("New York", "America/New_York", "09:00", "18:00"),
    ("Kolkata", "Asia/Kolkata", "08:30", "17:45"),
    ("Chatham", "Pacific/Chatham", "07:15", "19:45"),
    ("Lord Howe", "Australia/Lord_Howe", "00:30", "23:30"),
    # Opening and closing times the clocks skip or repeat on some nights (issue 15 #11).
    ("Berlin gap opens", "Europe/Berlin", "02:30", "18:00"),
    ("New York gap closes", "America/New_York", "00:30", "02:30"),
    ("Lord Howe gap", "Australia/Lord_Howe", "02:15", "02:45"),
]
ROOM_DEPENDENT = {"outside_hours", "crosses_midnight"}


def edge_intervals():
    """Intervals at every room's edges (opening, closing, midnight), on ordinary
    days and on the days the clocks change, seen from every zone."""
    days = ["2027-03-02", "2027-03-14", "2027-03-28", "2027-04-04", "2027-10-03",
            "2027-10-31", "2027-11-07"]
    times = ["00:00", "00:30", "01:59", "02:00", "02:15", "02:30", "02:45", "03:00", "03:30",
             "07:14", "07:15", "08:29", "08:30", "08:59", "09:00",
             "17:00", "17:01", "17:30", "17:45", "18:00", "19:30", "19:45", "23:00",
             "23:30", "23:45"]
    lengths = [15, 16, 60, 240]
    found = set()
    for _, tz_name, _, _ in EDGE_ROOMS:
        tz = zone(tz_name)
        for day in days:
            for hm in times:
                local = datetime.fromisoformat(f"{day}T{hm}")
                start = local.replace(tzinfo=tz)
                for minutes in lengths:
                    end = start.astimezone(UTC) + timedelta(minutes=minutes)
                    found.add((start.astimezone(UTC), end))
                    found.add((end - timedelta(minutes=minutes + 1), end - timedelta(minutes=1)))
                # ... and those that end right at this wall-clock time
                for minutes in lengths:
                    found.add((start.astimezone(UTC) - timedelta(minutes=minutes),
                               start.astimezone(UTC)))
    return sorted(found)


def test_the_sql_hours_filter_agrees_with_the_rules_at_every_edge(conn, make):
    rooms = [make.room(name, tz, opens=opens, closes=closes) | {"opens": opens, "closes": closes,
                                                               "active": True}
             for name, tz, opens, closes in EDGE_ROOMS]
    intervals = edge_intervals()
    assert len(intervals) > 2000
    rows = conn.execute("""
        SELECT i.n, r.id, room_open(r.timezone, r.opens, r.closes, i.s, i.e) AS open
          FROM unnest(%s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY AS i(s, e, n)
         CROSS JOIN rooms r""", ([s for s, _ in intervals], [e for _, e in intervals])).fetchall()
    by_id = {room["id"]: room for room in rooms}
    far_past = datetime(2000, 1, 1, tzinfo=UTC)
    disagree = []
    for row in rows:
        start, end = intervals[row["n"] - 1]
        room = by_id[row["id"]]
        codes = {v.code for v in rules.check(room, start, end, far_past, rules.Policy(
            min_minutes=1, max_minutes=24 * 60, max_days_ahead=100000))}
        if row["open"] != (not codes & ROOM_DEPENDENT):
            disagree.append((room["name"], start.astimezone(zone(room["timezone"])), end, codes))
    assert len(rows) == len(intervals) * len(rooms)
    assert disagree == []


# -- times and input -------------------------------------------------------------------

def test_times_without_offset_need_a_timezone(api_as, alice, berlin):
    r = free(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid", "start_time")
    assert "timezone" in error["message"] and "offset" in error["message"]
    r = free(api_as(alice), f"{DAY}T10:00+01:00", f"{DAY}T11:00")
    assert r.get_json()["error"]["details"]["field"] == "end_time"


def test_naive_times_are_read_in_the_timezone_given(api_as, alice, berlin, new_york):
    api = api_as(alice)
    # 09:00 New York is 15:00 Berlin: both rooms open.
    r = free(api, f"{DAY}T09:00", f"{DAY}T10:00", timezone="America/New_York")
    rooms = r.get_json()["rooms"]
    assert [(x["name"], x["start_time"]) for x in rooms] == [
        ("Spree", "2027-03-02T15:00:00+01:00"), ("Hudson", "2027-03-02T09:00:00-05:00")]


def test_an_offset_wins_over_the_timezone(api_as, alice, berlin):
    r = free(api_as(alice), f"{DAY}T09:00:00Z", f"{DAY}T10:00:00Z", timezone="America/New_York")
    assert r.get_json()["rooms"][0]["start_time"] == "2027-03-02T10:00:00+01:00"


@pytest.mark.parametrize("params, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "Europe/Berlin", "capacity": "0"}, "capacity"),
    ({"timezone": "Europe/Berlin", "capacity": "many"}, "capacity"),
    ({"timezone": "Europe/Berlin", "capacity": "10001"}, "capacity"),
    ({"timezone": "Europe/Berlin", "floor": "x"}, "floor"),
    ({"timezone": "Europe/Berlin", "floor": "501"}, "floor"),
    ({"timezone": "Europe/Berlin", "equipment": "x" * 41}, "equipment"),
    ({"timezone": "Europe/Berlin", "building": "b" * 101}, "building"),
    ({"timezone": "Europe/Berlin", "seats": "3"}, "seats"),
])
def test_malformed_finder_input_is_400_naming_the_field(api_as, alice, params, field):
    r = free(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", **params)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == field


@pytest.mark.parametrize("query, field", [
    ("", "start_time"), (f"start_time={DAY}T10:00&timezone=UTC", "end_time"),
    ("start_time=soon&end_time=later&timezone=UTC", "start_time"),
])
def test_missing_times_are_400(api_as, alice, query, field):
    r = api_as(alice).get("/api/rooms/free?" + query)
    assert r.status_code == 400
    assert r.get_json()["error"]["details"]["field"] == field


def test_a_time_the_clocks_skip_is_400(api_as, alice, berlin):
    r = free(api_as(alice), "2027-03-28T02:30", "2027-03-28T03:30", timezone="Europe/Berlin")
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (400, "start_time")


@pytest.mark.parametrize("start, end, code", [
    (f"{DAY}T10:00", f"{DAY}T10:14", "too_short"),
    (f"{DAY}T11:00", f"{DAY}T10:00", "too_short"),
    (f"{DAY}T10:00", f"{DAY}T14:01", "too_long"),
    (f"{DAY}T10:00:30", f"{DAY}T11:00", "not_whole_minutes"),
    ("2027-03-01T08:59", "2027-03-01T09:30", "in_past"),
    ("2027-08-29T10:00", "2027-08-29T11:00", "beyond_window"),
])
def test_an_interval_no_room_allows_is_422_for_finder_and_auto(api_as, alice, berlin, conn,
                                                                start, end, code):
    api = api_as(alice)
    r = free(api, start, end, timezone="Europe/Berlin")
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, code)
    r = auto(api, start, end, timezone="Europe/Berlin")
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, code)
    assert count(conn) == 0


def test_the_current_minute_is_still_bookable(api_as, alice, make, app):
    make.room("Early", opens="07:00")
    app.config["NOW"] = NOW + timedelta(seconds=40)   # 09:00:40 Berlin
    r = auto(api_as(alice), "2027-03-01T09:00", "2027-03-01T09:30", timezone="Europe/Berlin")
    assert r.status_code == 201, r.get_json()


def test_anonymous_finder_is_401(client):
    r = client.get("/api/rooms/free?start_time=2027-03-02T10:00Z&end_time=2027-03-02T11:00Z")
    assert (r.status_code, r.get_json()["error"]["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("url", ["/api/bookings/auto", "/api/availability"])
def test_anonymous_writes_are_401(client, conn, url):
    r = client.post(url, json={"checks": []})
    assert (r.status_code, r.get_json()["error"]["code"]) == (401, "unauthorized")
    assert count(conn) == 0


# -- automatic assignment ------------------------------------------------------------

def test_auto_books_the_best_room_201_with_location(api_as, alice, campus, conn, unbalanced):
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", attendees=8, building="B", floor=3,
             timezone="Europe/Berlin")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert list(body) == ["booking", "room"]
    booking, room = body["booking"], body["room"]
    assert (room["name"], room["score"]) == ("Cedar", 100.0)
    assert booking["room_id"] == room["id"] and booking["user_name"] == "Alice"
    assert (booking["start_time"], booking["end_time"]) == ("2027-03-02T10:00:00+01:00",
                                                            "2027-03-02T11:00:00+01:00")
    assert r.headers["Location"] == f"/api/bookings/{booking['id']}"
    # The next one gets the next best.
    r = auto(api_as(alice), f"{DAY}T10:00+01:00", f"{DAY}T11:00+01:00", attendees=8,
             building="B", floor=3)
    assert r.get_json()["room"]["name"] == "Fern"


def test_auto_booking_passes_the_booking_rules(api_as, alice, make, app):
    # 17:30-18:30 Berlin runs past the small Berlin room's closing time; it is
    # 11:30-12:30 in New York, so the bigger room there is the one that fits.
    make.room("Small Berlin", capacity=2)
    ny = make.room("Big New York", "America/New_York", capacity=20)
    r = auto(api_as(alice), f"{DAY}T17:30+01:00", f"{DAY}T18:30+01:00")
    assert r.get_json()["room"]["id"] == ny["id"]
    booking, room = r.get_json()["booking"], r.get_json()["room"]
    assert rules.check(room, datetime.fromisoformat(booking["start_time"]),
                       datetime.fromisoformat(booking["end_time"]), NOW,
                       rules.Policy.from_config(app.config)) == []


@pytest.mark.parametrize("body, field", [
    ({"start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00", "attendees": 2,
      "timezone": "UTC"}, "title"),
    ({"title": "x", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00",
      "timezone": "UTC"}, "attendees"),
    ({"title": "x", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00",
      "attendees": True, "timezone": "UTC"}, "attendees"),
    ({"title": "x", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00",
      "attendees": 2, "equipment": [1], "timezone": "UTC"}, "equipment"),
    ({"title": "x", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00",
      "attendees": 2, "floor": 2.5, "timezone": "UTC"}, "floor"),
    ({"title": "x", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00",
      "attendees": 2, "room_id": 1, "timezone": "UTC"}, "room_id"),
    ({"title": "x", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00",
      "attendees": 2}, "start_time"),
])
def test_malformed_auto_input_is_400_naming_the_field(api_as, alice, berlin, conn, body, field):
    r = api_as(alice).post("/api/bookings/auto", json=body)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == field
    assert count(conn) == 0


def test_auto_takes_the_next_room_when_the_best_was_taken_meanwhile(api_as, alice, bob, campus,
                                                                     make, conn, monkeypatch):
    """Someone books the best room between the ranking and the insert: the
    exclusion constraint refuses it and the next candidate is booked."""
    ranked = service.free_rooms

    def someone_is_faster(conn, need, now, user):
        rooms = ranked(conn, need, now, user)
        make.booking(campus["Cedar"], bob, need.start, need.end, title="Faster")
        return rooms

    monkeypatch.setattr(service, "free_rooms", someone_is_faster)
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", attendees=8, building="B", floor=3,
             timezone="Europe/Berlin")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["room"]["name"] == "Fern"
    assert count(conn) == 6  # the campus had 4, the faster one, ours
    assert statements_of(r) == 3


def test_when_every_candidate_is_taken_meanwhile_it_is_409_no_room(api_as, alice, bob, make,
                                                                    conn, monkeypatch):
    room = make.room("Only one", capacity=4)
    ranked = service.free_rooms

    def someone_is_faster(conn, need, now, user):
        rooms = ranked(conn, need, now, user)
        make.booking(room, bob, need.start, need.end, title="Faster")
        return rooms

    monkeypatch.setattr(service, "free_rooms", someone_is_faster)
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin")
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert error["code"] == "no_room"
    # Suggestions were read after the race: 10:00-11:00 is no longer offered.
    times = [(t["start_time"], t["end_time"]) for t in error["details"]["suggestions"]["times"]]
    assert times[:2] == [("2027-03-02T09:00:00+01:00", "2027-03-02T10:00:00+01:00"),
                         ("2027-03-02T11:00:00+01:00", "2027-03-02T12:00:00+01:00")]
    assert count(conn) == 1
    assert statements_of(r) == 3


def test_auto_book_tries_the_candidates_in_order(conn, make, alice, bob):
    first, second, third = (make.room(n) for n in ("First", "Second", "Third"))
    make.booking(first, bob, at("10:00"), at("11:00"))
    row = conn.execute(
        "SELECT auto_book(%s, %s, 'x', %s, %s, 1, '{}', NULL, NULL, %s, %s) AS r",
        ([first["id"], second["id"], third["id"]], alice["id"], at("10:30"), at("11:30"),
         NOW, NOW + timedelta(days=180))).fetchone()["r"]
    assert row["room_id"] == second["id"]
    assert row["booking"]["room_name"] == "Second"


def statements_of(response):
    import re
    return int(re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"]).group(1))


# -- no room: suggestions ---------------------------------------------------------------

def test_no_room_is_409_with_the_nearest_free_times_same_day_first(api_as, alice, bob, make, conn):
    room = make.room("Studio", capacity=8, equipment=["screen", "video"])
    make.room("Tiny", capacity=2, equipment=["screen", "video"])     # too small: never offered
    make.booking(room, bob, at("10:00"), at("11:00"))
    make.booking(room, bob, at("10:00", day=3), at("10:30", day=3))
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", attendees=6,
             equipment=["screen", "video"], timezone="Europe/Berlin")
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert error["code"] == "no_room"
    assert error["message"] == "No free room for 6 people with screen and video at that time."
    times = error["details"]["suggestions"]["times"]
    assert [(t["start_time"][5:16], t["room"]["name"]) for t in times] == [
        ("03-02T09:00", "Studio"),   # an hour earlier, same day (a tie: earlier first)
        ("03-02T11:00", "Studio"),   # an hour later
        ("03-03T10:30", "Studio"),   # next day, as near 10:00 as it is free
        ("03-03T09:00", "Studio"),   # ... and in its other free stretch
        ("03-04T10:00", "Studio"),   # the day after, at the time asked
    ]
    assert all(t["end_time"][11:16] == _plus_hour(t["start_time"][11:16]) for t in times)
    assert count(conn) == 2


def _plus_hour(hm):
    return f"{int(hm[:2]) + 1:02d}{hm[2:]}"


def test_suggestions_are_not_in_the_past(api_as, alice, bob, make, app):
    room = make.room("Studio")
    make.booking(room, bob, at("10:00"), at("11:00"))
    app.config["NOW"] = datetime(2027, 3, 2, 8, 20, tzinfo=UTC)   # 09:20 Berlin
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin")
    times = r.get_json()["error"]["details"]["suggestions"]["times"]
    # 09:30-10:30 would collide; 09:00 has passed: the first is 11:00.
    assert times[0]["start_time"] == "2027-03-02T11:00:00+01:00"


def test_suggestions_keep_the_room_s_notice_and_start_later_that_day(api_as, alice, make, app,
                                                                       conn):
    """QA, 2026-12-05: the only room seating 10 needs an hour's notice. At 09:00, asked
    for 09:30-10:30, the first suggestion was the next day: 09:30 was too soon, and
    the room, free from 10:00 that day, was not offered then."""
    from policykit import room_policy
    room = make.room("Museum", capacity=10)
    make.room("Booth", capacity=2)          # free then, but too small
    room_policy(conn, room, min_notice_minutes=60)
    app.config["NOW"] = datetime(2027, 3, 2, 8, 0, tzinfo=UTC)   # 09:00 Berlin
    r = auto(api_as(alice), f"{DAY}T09:30", f"{DAY}T10:30", attendees=10,
             timezone="Europe/Berlin")
    assert r.status_code == 409, r.get_json()
    times = r.get_json()["error"]["details"]["suggestions"]["times"]
    assert times[0]["start_time"] == "2027-03-02T10:00:00+01:00"
    # and what is offered is then booked
    made = api_as(alice).post("/api/bookings", json={
        "room_id": room["id"], "title": "x", "start_time": times[0]["start_time"],
        "end_time": times[0]["end_time"], "attendees": 10})
    assert made.status_code == 201, made.get_json()


def test_when_every_room_is_closed_the_suggestion_is_inside_opening_hours(api_as, alice, berlin):
    r = auto(api_as(alice), f"{DAY}T19:00", f"{DAY}T20:00", timezone="Europe/Berlin")
    assert r.status_code == 409
    times = r.get_json()["error"]["details"]["suggestions"]["times"]
    assert [(t["start_time"], t["end_time"]) for t in times[:2]] == [
        ("2027-03-02T17:00:00+01:00", "2027-03-02T18:00:00+01:00"),
        ("2027-03-03T17:00:00+01:00", "2027-03-03T18:00:00+01:00")]


def test_suggestions_prefer_the_requested_building(api_as, alice, bob, make):
    near = make.room("Near", building="B", capacity=10)
    far = make.room("Far", building="A", capacity=4)
    for room in (near, far):
        make.booking(room, bob, at("10:00"), at("11:00"))
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", building="B",
             timezone="Europe/Berlin")
    times = r.get_json()["error"]["details"]["suggestions"]["times"]
    assert {t["room"]["name"] for t in times} == {"Near"}


def test_rooms_missing_exactly_one_piece_of_equipment_are_suggested(api_as, alice, bob, make):
    make.room("Screen only", capacity=8, equipment=["screen"])
    make.room("Video only", capacity=8, equipment=["video", "whiteboard"])
    make.room("Bare", capacity=8)                                    # misses two
    make.room("Small screen", capacity=3, equipment=["screen"])      # too small
    busy = make.room("Busy screen", capacity=8, equipment=["screen"])
    make.booking(busy, bob, at("10:00"), at("11:00"))
    make.room("Closed screen", "America/New_York", capacity=8, equipment=["screen"])  # 04:00 there
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", attendees=6,
             equipment=["screen", "video"], timezone="Europe/Berlin")
    assert r.status_code == 409
    rooms = r.get_json()["error"]["details"]["suggestions"]["rooms"]
    assert [(a["room"]["name"], a["missing"]) for a in rooms] == [
        ("Screen only", "video"), ("Video only", "screen")]


def test_the_finder_suggests_too_when_nothing_fits(api_as, alice, bob, berlin, make):
    make.booking(berlin, bob, at("10:00"), at("11:00"))
    r = free(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin")
    body = r.get_json()
    assert r.status_code == 200 and body["rooms"] == []
    assert body["suggestions"]["times"][0]["start_time"] == "2027-03-02T09:00:00+01:00"
    assert body["suggestions"]["rooms"] == []


def test_no_room_at_all_is_409_with_empty_suggestions(api_as, alice):
    r = auto(api_as(alice), f"{DAY}T10:00", f"{DAY}T11:00", timezone="Europe/Berlin")
    assert r.status_code == 409
    assert r.get_json()["error"]["details"]["suggestions"] == {"times": [], "rooms": []}


# -- batch availability -------------------------------------------------------------------

def check(room_id, start, end):
    return {"room_id": room_id, "start_time": start, "end_time": end}


def test_availability_answers_each_check_in_order(api_as, alice, bob, berlin, new_york, make):
    closed = make.room("Closed for works", active=False)
    make.booking(berlin, bob, at("10:00"), at("11:00"))
    make.booking(berlin, bob, at("12:00"), at("13:00"), cancelled=True)
    checks = [
        check(berlin["id"], f"{DAY}T10:30", f"{DAY}T11:30"),            # booked
        check(berlin["id"], f"{DAY}T11:00", f"{DAY}T12:00"),            # back to back: free
        check(4242, f"{DAY}T10:00", f"{DAY}T11:00"),                    # no such room
        check(berlin["id"], f"{DAY}T17:30", f"{DAY}T18:30"),            # past closing
        check(new_york["id"], f"{DAY}T09:00", f"{DAY}T10:00"),          # naive: New York time
        check(new_york["id"], f"{DAY}T09:00+01:00", f"{DAY}T10:00+01:00"),  # 03:00 there
        check(closed["id"], f"{DAY}T10:00", f"{DAY}T11:00"),            # inactive
        check(berlin["id"], f"{DAY}T12:00", f"{DAY}T13:00"),            # cancelled: free
        check(berlin["id"], f"{DAY}T09:00:00Z", f"{DAY}T10:00:00Z"),    # 10:00 Berlin: booked
    ]
    r = api_as(alice).post("/api/availability", json={"checks": checks})
    assert r.status_code == 200, r.get_json()
    results = r.get_json()["results"]
    assert [(x["available"], x["reason"]) for x in results] == [
        (False, "booked"), (True, None), (False, "not_found"), (False, "closed"), (True, None),
        (False, "closed"), (False, "closed"), (True, None), (False, "booked")]
    assert [(x["room_id"], x["start_time"], x["end_time"]) for x in results] == [
        (c["room_id"], c["start_time"], c["end_time"]) for c in checks]
    assert list(results[0]) == ["room_id", "start_time", "end_time", "available", "reason"]


def test_a_batch_of_500_checks_is_one_statement(api_as, alice, bob, make):
    rooms = [make.room(f"Room {i}") for i in range(10)]
    make.booking(rooms[3], bob, at("10:00"), at("11:00"))
    checks = [check(rooms[i % 10]["id"], f"{DAY}T{10 + i % 8:02d}:00", f"{DAY}T{10 + i % 8:02d}:30")
              for i in range(500)]
    r = api_as(alice).post("/api/availability", json={"checks": checks})
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert len(results) == 500
    assert statements_of(r) == 2   # the token, then the whole batch
    booked = [i for i, x in enumerate(results) if x["reason"] == "booked"]
    assert booked == [i for i in range(500) if i % 10 == 3 and i % 8 == 0]
    assert [x["reason"] for x in results if x["reason"] != "booked"] == [None] * (500 - len(booked))


def test_more_than_500_checks_is_400(api_as, alice, berlin):
    checks = [check(berlin["id"], f"{DAY}T10:00Z", f"{DAY}T10:30Z")] * 501
    r = api_as(alice).post("/api/availability", json={"checks": checks})
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (400, "checks")


def test_an_empty_batch_is_an_empty_answer(api_as, alice):
    r = api_as(alice).post("/api/availability", json={"checks": []})
    assert (r.status_code, r.get_json()) == (200, {"results": []})


@pytest.mark.parametrize("checks, field", [
    ("all", "checks"),
    ([5], "checks[0]"),
    ([check(1, f"{DAY}T10:00", f"{DAY}T11:00"), check("x", f"{DAY}T10:00", f"{DAY}T11:00")],
     "checks[1].room_id"),
    ([check(1, "noon", f"{DAY}T11:00")], "checks[0].start_time"),
    ([check(1, f"{DAY}T10:00", None)], "checks[0].end_time"),
    ([check(1, f"{DAY}T11:00", f"{DAY}T10:00")], "checks[0].end_time"),
    ([check(1, f"{DAY}T11:00Z", f"{DAY}T11:00Z")], "checks[0].end_time"),
    ([{**check(1, f"{DAY}T10:00", f"{DAY}T11:00"), "room": 1}], "checks[0].room"),
    ([check(1, "2027-03-28T02:30", "2027-03-28T03:30")], "checks[0].start_time"),
    ([check(1, f"{DAY}T11:00", f"{DAY}T10:30:00+01:00")], "checks[0].end_time"),
])
def test_malformed_checks_are_400_naming_the_check(api_as, alice, berlin, checks, field):
    assert berlin["id"] == 1  # room 1 exists: only the input is at fault
    r = api_as(alice).post("/api/availability", json={"checks": checks})
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == field


def test_malformed_input_is_answered_before_broken_rules(api_as, alice):
    """A 400 for what cannot be read comes before a 422 for what is read but not allowed."""
    api = api_as(alice)
    past = {"start_time": "2027-03-01T07:00", "end_time": "2027-03-01T08:00",
            "timezone": "Europe/Berlin"}
    r = free(api, past["start_time"], past["end_time"], timezone="Europe/Berlin", capacity="x")
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (400, "capacity")
    r = api.post("/api/bookings/auto", json={**past, "attendees": 2})
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (400, "title")


@pytest.mark.parametrize("tz", [{}, ["Europe/Berlin"], 1, True])
def test_auto_refuses_a_timezone_that_is_not_text(api_as, alice, berlin, conn, tz):
    # found by schemathesis: a JSON object as the zone was a 500 (unhashable)
    r = api_as(alice).post("/api/bookings/auto", json={
        "title": "x", "attendees": 2, "timezone": tz,
        "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"})
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (400, "timezone")
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
