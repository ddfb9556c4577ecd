"""Free time in a room, and the suggestions every 409 carries."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking import availability, rules
from conftest import NOW, UTC

BERLIN = ZoneInfo("Europe/Berlin")
ROOM = {"timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00", "active": True}


def b(day, hm_start, hm_end):
    """A Berlin interval on March `day` 2027."""
    h1, m1 = map(int, hm_start.split(":"))
    h2, m2 = map(int, hm_end.split(":"))
    return (datetime(2027, 3, day, h1, m1, tzinfo=BERLIN), datetime(2027, 3, day, h2, m2, tzinfo=BERLIN))


def local(intervals):
    return [(s.astimezone(BERLIN).strftime("%d %H:%M"), e.astimezone(BERLIN).strftime("%d %H:%M"))
            for s, e in intervals]


def test_free_intervals_are_the_gaps_inside_opening_hours():
    busy = [b(2, "10:00", "11:00"), b(2, "11:00", "11:30"), b(2, "17:00", "18:00")]
    free = availability.free_intervals(ROOM, busy, b(2, "00:00", "00:00")[0], b(3, "00:00", "00:00")[0], NOW)
    assert local(free) == [("02 09:00", "02 10:00"), ("02 11:30", "02 17:00")]


def test_free_intervals_skip_the_past_and_short_gaps():
    busy = [b(1, "10:00", "10:50"), b(1, "11:00", "12:00")]
    now = datetime(2027, 3, 1, 9, 40, 30, tzinfo=BERLIN)
    free = availability.free_intervals(ROOM, busy, b(1, "00:00", "00:00")[0], b(2, "00:00", "00:00")[0],
                                       now, min_minutes=25)
    assert local(free) == [("01 12:00", "01 18:00")]   # 09:40-10:00 and 10:50-11:00 are too short
    free = availability.free_intervals(ROOM, busy, b(1, "00:00", "00:00")[0], b(2, "00:00", "00:00")[0],
                                       now, min_minutes=10)
    assert local(free) == [("01 09:40", "01 10:00"), ("01 10:50", "01 11:00"), ("01 12:00", "01 18:00")]


def test_next_slots_follow_the_blocker_and_obey_the_rules():
    busy = [b(2, "10:30", "11:30"), b(2, "12:30", "17:00")]
    slots = availability.next_slots(ROOM, busy, b(2, "10:00", "10:00")[0], timedelta(hours=1),
                                    NOW, rules.Policy(), count=5)
    assert local(slots) == [("02 11:30", "02 12:30"), ("02 17:00", "02 18:00"),
                            ("03 09:00", "03 10:00"), ("03 10:00", "03 11:00"), ("03 11:00", "03 12:00")]


def test_availability_api(api_as, alice, berlin, make):
    make.booking(berlin, alice, datetime(2027, 3, 2, 9, 0, tzinfo=UTC), datetime(2027, 3, 2, 10, 0, tzinfo=UTC))
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/availability?start=2027-03-02&end=2027-03-04")
    assert r.status_code == 200
    data = r.get_json()
    assert data["room_id"] == berlin["id"]
    assert data["free"] == [
        {"start_time": "2027-03-02T09:00:00+01:00", "end_time": "2027-03-02T10:00:00+01:00"},
        {"start_time": "2027-03-02T11:00:00+01:00", "end_time": "2027-03-02T18:00:00+01:00"},
        {"start_time": "2027-03-03T09:00:00+01:00", "end_time": "2027-03-03T18:00:00+01:00"}]
    assert 'db;desc="2 statements"' in r.headers["Server-Timing"]


def test_availability_with_times_and_min_minutes(api_as, alice, berlin, make):
    make.booking(berlin, alice, datetime(2027, 3, 2, 9, 0, tzinfo=UTC), datetime(2027, 3, 2, 9, 30, tzinfo=UTC))
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/availability"
                          "?start=2027-03-02T09:45:00%2B01:00&end=2027-03-02T12:00&min_minutes=60")
    assert r.get_json()["free"] == [
        {"start_time": "2027-03-02T10:30:00+01:00", "end_time": "2027-03-02T12:00:00+01:00"}]


def test_availability_defaults_to_today_from_now(api_as, alice, berlin):
    # NOW is 09:00 on 1 March in Berlin.
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/availability")
    assert r.get_json()["free"] == [
        {"start_time": "2027-03-01T09:00:00+01:00", "end_time": "2027-03-01T18:00:00+01:00"}]


def test_availability_over_the_dst_change_is_in_wall_clock_hours(api_as, alice, berlin):
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/availability?start=2027-03-27&end=2027-03-30")
    assert [f["start_time"] for f in r.get_json()["free"]] == [
        "2027-03-27T09:00:00+01:00", "2027-03-28T09:00:00+02:00", "2027-03-29T09:00:00+02:00"]


@pytest.mark.parametrize("query, field, status", [
    ("?start=2027-03-01&end=2027-04-02", "end", 400),       # 32 days
    ("?start=2027-03-05&end=2027-03-01", "end", 400),
    ("?start=soon", "start", 400), ("?start=2027-03-01&end=2027-02-30", "end", 400),
    ("?min_minutes=0", "min_minutes", 400), ("?min_minutes=abc", "min_minutes", 400),
])
def test_availability_bad_ranges(api_as, alice, berlin, query, field, status):
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/availability{query}")
    assert r.status_code == status
    assert r.get_json()["error"]["details"]["field"] == field


def test_thirty_one_days_are_allowed(api_as, alice, berlin):
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/availability?start=2027-03-01&end=2027-04-01")
    assert r.status_code == 200 and len(r.get_json()["free"]) == 31


def test_availability_unknown_room_is_404(api_as, alice):
    assert api_as(alice).get("/api/rooms/4242/availability").status_code == 404


# -- suggestions on 409 ---------------------------------------------------------------------

def test_a_conflict_suggests_free_slots_and_other_rooms(api_as, alice, bob, make):
    small = make.room("Small", capacity=4)
    same = make.room("Same size", capacity=4)
    bigger = make.room("Bigger", capacity=10)
    make.room("Tiny", capacity=2)                                  # too small
    make.room("Closed", capacity=8, active=False)                  # not bookable
    busy_big = make.room("Busy big", capacity=8)
    early = make.room("Opens late", capacity=12, opens="11:00")    # not open at 10:00
    ny = make.room("New York", "America/New_York", capacity=20)    # 04:00 there: closed
    for room in (small, busy_big):
        make.booking(room, bob, datetime(2027, 3, 2, 9, 0, tzinfo=UTC), datetime(2027, 3, 2, 10, 0, tzinfo=UTC))
    r = api_as(alice).post("/api/bookings", json={"room_id": small["id"], "title": "x",
                                                  "start_time": "2027-03-02T10:00",
                                                  "end_time": "2027-03-02T10:30"})
    assert r.status_code == 409
    suggestions = r.get_json()["error"]["details"]["suggestions"]
    assert suggestions["same_room"][:3] == [
        {"start_time": "2027-03-02T11:00:00+01:00", "end_time": "2027-03-02T11:30:00+01:00"},
        {"start_time": "2027-03-02T11:30:00+01:00", "end_time": "2027-03-02T12:00:00+01:00"},
        {"start_time": "2027-03-02T12:00:00+01:00", "end_time": "2027-03-02T12:30:00+01:00"}]
    assert len(suggestions["same_room"]) == 5
    assert [room["name"] for room in suggestions["other_rooms"]] == ["Same size", "Bigger"]
    assert 'db;desc="3 statements"' in r.headers["Server-Timing"]


def test_the_409_page_offers_the_suggestions_as_one_click_choices(browser_as, alice, bob, berlin, make, conn):
    other = make.room("Tiergarten", capacity=8)
    make.booking(berlin, bob, datetime(2027, 3, 2, 9, 0, tzinfo=UTC), datetime(2027, 3, 2, 10, 0, tzinfo=UTC))
    b = browser_as(alice)
    r = b.post("/bookings/new", data={"room_id": berlin["id"], "title": "Planning", "date": "2027-03-02",
                                      "start": "10:00", "end": "11:00"})
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert "Book Spree, Tue 2 Mar 2027 11:00–12:00" in page
    assert "Book Tiergarten (8 people) at 10:00–11:00" in page
    # One click: the suggestion's form books it.
    r = b.post("/bookings/new", data={"room_id": other["id"], "title": "Planning", "date": "2027-03-02",
                                      "start": "10:00", "end": "11:00"})
    assert r.status_code == 302
    assert conn.execute("SELECT count(*) AS n FROM bookings WHERE room_id = %s", (other["id"],)).fetchone()["n"] == 1


@pytest.mark.parametrize("zone_name, day, opens, closes, first_free, last_free, minutes", [
    # Opens at 02:30, which the clocks skip that night (02:00 -> 03:00): open from 03:00.
    ("Europe/Berlin", "2027-03-28", "02:30", "06:00", "2027-03-28T03:00:00+02:00",
     "2027-03-28T06:00:00+02:00", 180),
    # Closes at 02:30, skipped: closed from the moment the clocks land (03:00).
    ("America/New_York", "2027-03-14", "01:00", "02:30", "2027-03-14T01:00:00-05:00",
     "2027-03-14T03:00:00-04:00", 60),
    # Opens at 02:30, which happens twice (03:00 -> 02:00): from the first 02:30.
    ("Europe/Berlin", "2027-10-31", "02:30", "06:00", "2027-10-31T02:30:00+02:00",
     "2027-10-31T06:00:00+01:00", 270),
])
def test_hours_the_clocks_skip_or_repeat_read_alike_in_rules_free_time_sql_and_reports(
        api_as, admin, make, conn, app, zone_name, day, opens, closes, first_free, last_free,
        minutes):
    """Issue 15 #11: the rules (wall-clock) let a booking start at 03:00 in a room opening
    at 02:30 on the spring-forward night, while free time and the reports (AT TIME
    ZONE, zoneinfo) had it open from 03:30."""
    # a month before: within the booking window (free time ends there)
    app.config["NOW"] = datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(days=30)
    room = make.room("Night", zone_name, opens=opens, closes=closes)
    api = api_as(admin)
    free = api.get(f"/api/rooms/{room['id']}/availability?start={day}&min_minutes=1").get_json()
    assert [(f["start_time"], f["end_time"]) for f in free["free"]] == [(first_free, last_free)]
    start, end = datetime.fromisoformat(first_free), datetime.fromisoformat(last_free)
    limits = rules.Policy(min_minutes=1, max_minutes=24 * 60, max_days_ahead=100000)
    shape = {"timezone": zone_name, "opens": opens, "closes": closes, "active": True}
    for s, e, ok in [(start, end, True), (start - timedelta(minutes=1), end, False),
                     (start, end + timedelta(minutes=1), False)]:
        broken = {v.code for v in rules.check(shape, s, e, app.config["NOW"], limits)}
        in_sql = conn.execute("SELECT room_open(%s, %s::time, %s::time, %s, %s) AS ok",
                              (zone_name, opens, closes, s, e)).fetchone()["ok"]
        assert ("outside_hours" not in broken) == in_sql == ok, (s, e)
    report = api.get(f"/api/reports/utilisation?from={day}&to={day}").get_json()
    assert report["rows"][0]["open_minutes"] == minutes == (end - start).total_seconds() / 60


def test_nothing_is_offered_in_a_room_the_asker_may_not_book(api_as, browser_as, alice, bob,
                                                               berlin, conn):
    """QA, 2026-12-05: availability offered 09:00-18:00 with Book links in an inactive
    room (then 422 room_inactive) and in a room for one group to someone outside
    it (then 403 not_permitted). Nothing offered is then refused: no free time,
    and the page says why."""
    from policykit import group, room_policy
    url = f"/rooms/{berlin['id']}/availability?start=2027-03-02&end=2027-03-03"
    assert api_as(alice).get("/api" + url).get_json()["free"]
    lab = group(conn, "Lab", bob)
    room_policy(conn, berlin, bookers=[lab["id"]])
    assert api_as(alice).get("/api" + url).get_json()["free"] == []
    page = browser_as(alice).get(url).get_data(as_text=True)
    assert "Only some groups may book this room, and you are not in one of them." in page
    assert ">Book<" not in page
    assert api_as(bob).get("/api" + url).get_json()["free"]          # in the group: offered
    assert api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "x", "start_time": "2027-03-02T10:00",
        "end_time": "2027-03-02T11:00"}).status_code == 403
    conn.execute("UPDATE rooms SET active = false, policy = '{}' WHERE id = %s", (berlin["id"],))
    assert api_as(bob).get("/api" + url).get_json()["free"] == []
    page = browser_as(bob).get(url).get_data(as_text=True)
    assert "This room is not available for booking." in page and ">Book<" not in page


def test_a_room_local_time_the_clocks_skip_is_400_as_when_booking(api_as, alice, make):
    """Found by testing from outside: 02:30 on Berlin's spring-forward night was
    quietly read as 03:30 here, and refused everywhere else."""
    room = make.room("All night", opens="00:00", closes="23:59")
    api = api_as(alice)
    base = f"/api/rooms/{room['id']}/availability"
    r = api.get(f"{base}?start=2027-03-28T02:30&end=2027-03-28T05:00")
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == "start"
    r = api.get(f"{base}?start=2027-03-28T01:00&end=2027-03-28T02:59")
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (400, "end")
    r = api.get(f"{base}?start=2027-03-28T01:59&end=2027-03-28T03:00")
    assert r.status_code == 200 and r.get_json()["start_time"] == "2027-03-28T01:59:00+01:00"
