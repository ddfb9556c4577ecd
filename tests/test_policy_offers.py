"""Nothing offered is then refused, nothing refused is offered (issue 18): the
finder, automatic assignment, a room's free time, batch availability and the
suggestions all apply each room's effective policy, as booking does. Checked
by booking what was offered, and trying what was not."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from conftest import UTC
from policykit import area, area_policy, group, put_in, room_policy

# NOW is Monday 1 March 2027, 09:00 in Berlin.
INTERVALS = [("2027-03-02T09:00", "2027-03-02T10:00"),   # Tuesday
             ("2027-03-02T10:20", "2027-03-02T11:20"),
             ("2027-03-02T16:00", "2027-03-02T18:00"),
             ("2027-03-03T12:00", "2027-03-03T13:00"),   # Wednesday: closed in one area
             ("2027-03-06T10:00", "2027-03-06T11:00"),   # Saturday
             ("2027-03-01T09:30", "2027-03-01T10:30")]   # today, within a room's notice


@pytest.fixture
def campus(conn, make, alice, bob):
    """Six rooms, each with a rule that bites somewhere in INTERVALS."""
    lab = group(conn, "Lab", bob)
    rooms = {}
    for name, policy in [
            ("Plain", {}),
            ("Buffered", {"buffer_minutes": 30}),
            ("Weekdays", {"opening_hours": {d: ["09:00", "17:00"]
                                            for d in ("mon", "tue", "wed", "thu", "fri")}}),
            ("Closed Wednesday", {"closed_dates": ["2027-03-03"]}),
            ("Lab only", {"bookers": [lab["id"]]}),
            ("Notice", {"min_notice_minutes": 120, "max_minutes": 90})]:
        room = make.room(name, capacity=6)
        holder = area(conn, f"Area of {name}", **policy)
        put_in(conn, room, holder)
        rooms[name] = room
    # A booking in the buffered room ending 10:00 on Tuesday: 10:20 is too close.
    make.booking(rooms["Buffered"], bob, datetime(2027, 3, 2, 8, tzinfo=UTC),
                 datetime(2027, 3, 2, 9, tzinfo=UTC))
    conn.execute("UPDATE bookings SET buffer_minutes = 30")
    return rooms


def offered(api, start, end):
    r = api.get("/api/rooms/free?" + urlencode({"start_time": start, "end_time": end,
                                                "timezone": "Europe/Berlin", "capacity": 2}))
    if r.status_code == 422:
        return set(), r.get_json()["error"]["code"]
    assert r.status_code == 200, r.get_json()
    return {room["name"] for room in r.get_json()["rooms"]}, None


def bookable(api, room, start, end):
    """Whether booking goes through (and then the booking is cancelled again)."""
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": "Try",
                                        "start_time": start, "end_time": end})
    if r.status_code == 201:
        assert api.delete(f"/api/bookings/{r.get_json()['booking']['id']}").status_code == 200
        return True
    assert r.status_code in (403, 409, 422), r.get_json()
    return False


def test_the_finder_offers_exactly_what_can_be_booked(api_as, alice, campus):
    api = api_as(alice)
    for start, end in INTERVALS:
        found, code = offered(api, start, end)
        can = {name for name, room in campus.items() if bookable(api, room, start, end)}
        assert found == can, (start, end, code)


def test_the_finder_for_someone_in_the_lab(api_as, bob, campus):
    api = api_as(bob)
    found, _ = offered(api, *INTERVALS[0])
    assert "Lab only" in found and "Buffered" not in found


def test_a_quota_reached_takes_its_rooms_out_of_the_offer(api_as, alice, campus, conn):
    holder = conn.execute("SELECT area_id FROM rooms WHERE id = %s",
                          (campus["Plain"]["id"],)).fetchone()["area_id"]
    area_policy(conn, {"id": holder}, quota={"bookings_per_day": 1})
    api = api_as(alice)
    assert "Plain" in offered(api, *INTERVALS[1])[0]
    assert bookable(api, campus["Plain"], *INTERVALS[0]) is True
    api.post("/api/bookings", json={"room_id": campus["Plain"]["id"], "title": "Mine",
                                    "start_time": INTERVALS[0][0], "end_time": INTERVALS[0][1]})
    assert "Plain" not in offered(api, *INTERVALS[1])[0]
    assert bookable(api, campus["Plain"], *INTERVALS[1]) is False
    # the next day is another day
    assert "Plain" in offered(api, *INTERVALS[3])[0]


def test_automatic_assignment_books_only_what_the_policies_allow(api_as, alice, campus, conn):
    api = api_as(alice)
    for start, end in INTERVALS:
        found, _ = offered(api, start, end)
        r = api.post("/api/bookings/auto", json={"title": "Auto", "start_time": start,
                                                 "end_time": end, "timezone": "Europe/Berlin",
                                                 "attendees": 2})
        if found:
            assert r.status_code == 201, r.get_json()
            assert r.get_json()["room"]["name"] in found
            api.delete(f"/api/bookings/{r.get_json()['booking']['id']}")
        else:
            assert r.status_code in (409, 422), r.get_json()


def test_a_rooms_free_time_is_bookable(api_as, alice, campus):
    api = api_as(alice)
    for name in ("Buffered", "Weekdays", "Closed Wednesday", "Notice"):
        room = campus[name]
        r = api.get(f"/api/rooms/{room['id']}/availability?start=2027-03-01&end=2027-03-08")
        assert r.status_code == 200, r.get_json()
        free = r.get_json()["free"]
        assert free, name
        for interval in free:
            start = datetime.fromisoformat(interval["start_time"])
            end = min(datetime.fromisoformat(interval["end_time"]), start + timedelta(minutes=60))
            assert bookable(api, room, start.isoformat(), end.isoformat()), (name, interval)
        days = {f["start_time"][:10] for f in free}
        if name == "Weekdays":
            assert not days & {"2027-03-06", "2027-03-07"}
        if name == "Closed Wednesday":
            assert "2027-03-03" not in days
    buffered = api.get(f"/api/rooms/{campus['Buffered']['id']}/availability?start=2027-03-02"
                       ).get_json()["free"]
    assert buffered[0]["start_time"] == "2027-03-02T10:30:00+01:00"   # 10:00 + its buffer
    notice = api.get(f"/api/rooms/{campus['Notice']['id']}/availability").get_json()["free"]
    assert notice[0]["start_time"] == "2027-03-01T11:00:00+01:00"     # 09:00 + 2 hours


def test_free_time_ends_the_rooms_buffer_before_the_next_booking(api_as, alice, bob, campus,
                                                                  make):
    room = campus["Buffered"]
    make.booking(room, bob, datetime(2027, 3, 2, 13, tzinfo=UTC),
                 datetime(2027, 3, 2, 14, tzinfo=UTC))          # 14:00-15:00 in Berlin
    api = api_as(alice)
    free = api.get(f"/api/rooms/{room['id']}/availability?start=2027-03-02").get_json()["free"]
    assert [(f["start_time"][11:16], f["end_time"][11:16]) for f in free] == [
        ("10:30", "13:30"), ("15:00", "18:00")]          # that booking was made with no buffer
    assert bookable(api, room, "2027-03-02T12:30", "2027-03-02T13:30")
    assert not bookable(api, room, "2027-03-02T12:31", "2027-03-02T13:31")


def test_batch_availability_says_closed_by_the_policy(api_as, alice, campus):
    checks = [{"room_id": campus["Closed Wednesday"]["id"], "start_time": INTERVALS[3][0],
               "end_time": INTERVALS[3][1]},
              {"room_id": campus["Weekdays"]["id"], "start_time": INTERVALS[4][0],
               "end_time": INTERVALS[4][1]},
              {"room_id": campus["Buffered"]["id"], "start_time": INTERVALS[1][0],
               "end_time": INTERVALS[1][1]},
              {"room_id": campus["Plain"]["id"], "start_time": INTERVALS[1][0],
               "end_time": INTERVALS[1][1]}]
    r = api_as(alice).post("/api/availability", json={"checks": checks})
    assert [x["reason"] for x in r.get_json()["results"]] == ["closed", "closed", "booked", None]


def test_suggestions_when_nothing_fits_are_bookable(api_as, alice, campus, conn):
    api = api_as(alice)
    r = api.get("/api/rooms/free?" + urlencode({
        "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00",
        "timezone": "Europe/Berlin", "capacity": 2, "equipment": "screen"}))
    assert r.get_json()["rooms"] == []
    for name in ("Plain", "Buffered", "Weekdays", "Closed Wednesday", "Notice"):
        conn.execute("UPDATE rooms SET equipment = '{screen}' WHERE id = %s",
                     (campus[name]["id"],))
    # every room with a screen is taken at 10:00-11:00 on Tuesday: suggestions only
    for name in ("Plain", "Buffered", "Weekdays", "Closed Wednesday", "Notice", "Lab only"):
        conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                     "VALUES (%s, (SELECT min(id) FROM users), 'Taken', %s, %s) "
                     "ON CONFLICT DO NOTHING",
                     (campus[name]["id"], datetime(2027, 3, 2, 9, tzinfo=UTC),
                      datetime(2027, 3, 2, 10, tzinfo=UTC)))
    r = api.get("/api/rooms/free?" + urlencode({
        "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00",
        "timezone": "Europe/Berlin", "capacity": 2, "equipment": "screen"}))
    body = r.get_json()
    assert body["rooms"] == [] and body["suggestions"]["times"]
    names = {room["name"]: room for room in campus.values()}
    for time in body["suggestions"]["times"]:
        assert time["room"]["name"] != "Lab only"
        assert bookable(api, names[time["room"]["name"]], time["start_time"],
                        time["end_time"]), time



def test_a_day_at_its_quota_is_suggested_other_days(api_as, alice, make, conn):
    """The finder judges the asked interval's quota and each suggested time's on
    its own: a time on a day the person has used up is not offered, one on
    another day is (the two must not share a verdict)."""
    room = make.room("Quota room", capacity=6)
    put_in(conn, room, area(conn, "Quota area", quota={"bookings_per_day": 1}))
    api = api_as(alice)
    assert bookable(api, room, "2027-03-02T09:00", "2027-03-02T10:00") is True
    api.post("/api/bookings", json={"room_id": room["id"], "title": "Mine",
                                    "start_time": "2027-03-02T09:00",
                                    "end_time": "2027-03-02T10:00"})
    r = api.get("/api/rooms/free?" + urlencode({
        "start_time": "2027-03-02T14:00", "end_time": "2027-03-02T15:00",
        "timezone": "Europe/Berlin", "capacity": 2}))
    body = r.get_json()
    assert body["rooms"] == [], body
    times = body["suggestions"]["times"]
    assert times and all(t["start_time"][:10] != "2027-03-02" for t in times), times
    for time in times:
        assert bookable(api, room, time["start_time"], time["end_time"]), time

# A free stretch's "Book" link on the day and week pages and the board (booking/timeline.py).
BOOK_LINK = re.compile(r'href="/bookings/new\?room_id=(\d+)&amp;date=([\d-]+)'
                       r'&amp;start=([\d:]+)&amp;end=([\d:]+)"')


def test_the_week_pages_draw_each_days_hours_under_the_policy(browser_as, api_as, alice,
                                                              campus):
    """The pages drew the room's own hours (09:00-18:00) every day: a free
    Saturday in a room closed at weekends, 17:00-18:00 in one that closes at
    17:00, a closed date, a two-hour link where 90 minutes is the most. Each day
    is now drawn with the hours the policy gives it, and every link offered on
    the days ahead is bookable (what else the policy holds, and today's links:
    test_every_link_the_pages_offer_is_bookable_by_whoever_sees_it)."""
    b, api = browser_as(alice), api_as(alice)
    for name in ("Plain", "Weekdays", "Closed Wednesday", "Notice"):
        room = campus[name]
        page = b.get(f"/rooms/{room['id']}/week?start=2027-03-01").get_data(as_text=True)
        links = [(day, start, end) for room_id, day, start, end in BOOK_LINK.findall(page)
                 if int(room_id) == room["id"] and day > "2027-03-01"]
        days = {day for day, _, _ in links}
        for day, start, end in links:
            assert bookable(api, room, f"{day}T{start}", f"{day}T{end}"), (name, day, start, end)
        if name == "Weekdays":
            assert days == {"2027-03-02", "2027-03-03", "2027-03-04", "2027-03-05"}
            assert all(end <= "17:00" for _, _, end in links)
        elif name == "Closed Wednesday":
            assert "2027-03-03" not in days and "2027-03-02" in days
        else:
            assert days == {f"2027-03-0{d}" for d in range(2, 8)}
        if name == "Notice":
            assert {(s, e) for _, s, e in links} == {("09:00", "10:30")}   # 90 minutes at most


def test_a_closed_day_is_drawn_closed_on_the_day_page_and_the_board(browser_as, alice, bob,
                                                                     campus, make):
    room = campus["Closed Wednesday"]
    make.booking(room, bob, datetime(2027, 3, 3, 9, tzinfo=UTC),
                 datetime(2027, 3, 3, 10, tzinfo=UTC), title="Made before it closed")
    b = browser_as(alice)
    page = b.get(f"/rooms/{room['id']}?date=2027-03-03").get_data(as_text=True)
    assert not BOOK_LINK.search(page)
    assert "segment closed" in page and "Made before it closed" in page
    assert "outside opening hours" in page          # the booking made before, shown whole
    assert "open 09:00–18:00" not in page
    tuesday = b.get(f"/rooms/{room['id']}?date=2027-03-02").get_data(as_text=True)
    assert "open 09:00–18:00" in tuesday and BOOK_LINK.search(tuesday)

    board = b.get("/board?date=2027-03-03").get_data(as_text=True)
    rows = {name: row for name, row in re.findall(
        r'<li class="board-row"><div class="board-room"><a [^>]*>([^<]+)</a>(.*?)</li>', board)}
    assert 'class="bar closed"' in rows["Closed Wednesday"]
    assert "Made before it closed" in rows["Closed Wednesday"]
    assert 'class="bar free"' not in rows["Closed Wednesday"]
    assert 'class="bar free"' in rows["Plain"] and 'class="bar closed"' not in rows["Plain"]
    saturday = b.get("/board?date=2027-03-06").get_data(as_text=True)
    rows = {name: row for name, row in re.findall(
        r'<li class="board-row"><div class="board-room"><a [^>]*>([^<]+)</a>(.*?)</li>', saturday)}
    assert 'class="bar closed"' in rows["Weekdays"] and 'class="bar free"' in rows["Plain"]


def test_a_closed_day_is_drawn_on_the_hours_the_room_keeps_in_its_week(browser_as, alice,
                                                                        campus):
    """Found by testing from outside: a day the policy closes was drawn on the room's
    own hours (09:00-18:00) by the day page, and the week view stretched every day to
    them, though the policy opens the room 09:00-17:00 on weekdays only."""
    room = campus["Weekdays"]
    b = browser_as(alice)
    closed = re.compile(r'segment closed[^>]*>\s*<span class="seg-time">([^<]*)<')
    saturday = b.get(f"/rooms/{room['id']}?date=2027-03-06").get_data(as_text=True)
    assert closed.findall(saturday) == ["09:00–17:00"]
    week = b.get(f"/rooms/{room['id']}/week?start=2027-03-01").get_data(as_text=True)
    assert closed.findall(week) == ["09:00–17:00", "09:00–17:00"]      # Saturday, Sunday


def test_the_booking_form_allows_the_hours_the_policy_opens_the_room(browser_as, api_as,
                                                                      alice, make, conn):
    """The form's time fields (min, max) and its hint said the room's own 09:00-18:00
    where its area opens it 08:00-19:00 on weekdays: a browser would not send 08:00,
    which the rules allow."""
    room = make.room("Hudson", capacity=6)
    put_in(conn, room, area(conn, "New York", opening_hours={
        d: ["08:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}))
    assert api_as(alice).get("/api/rooms/free?" + urlencode({
        "start_time": "2027-03-02T08:00", "end_time": "2027-03-02T09:00",
        "timezone": "Europe/Berlin"})).status_code == 200      # this process keeps the rooms
    b = browser_as(alice)
    page = b.get(f"/bookings/new?room_id={room['id']}").get_data(as_text=True)
    assert re.search(r'id="start"[^>]* min="08:00" max="19:00"', page)
    assert "open 08:00–19:00" in page and "open 09:00–18:00" not in page
    r = b.post("/bookings/new", data={"room_id": room["id"], "title": "Early", "date": "2027-03-02",
                                      "start": "08:00", "end": "09:00"})
    assert r.status_code == 302


@pytest.mark.parametrize("now, says", [
    (datetime(2027, 3, 6, 11, tzinfo=UTC), "Closed now</strong>, opens Mon 8 Mar 09:00"),   # Saturday
    (datetime(2027, 3, 5, 16, 30, tzinfo=UTC), "Closed now</strong>, opens Mon 8 Mar 09:00"),  # Fri 17:30
    (datetime(2027, 3, 5, 15, 59, tzinfo=UTC), "Free now"),                                  # Fri 16:59
    (datetime(2027, 3, 4, 16, tzinfo=UTC), "Closed now</strong>, opens tomorrow 09:00")])    # Thu 17:00
def test_the_overview_says_closed_by_the_policy_and_when_it_opens(app, browser_as, alice,
                                                                   campus, now, says):
    """A room its area closes at weekends (and at 17:00) showed "Free now" on a Saturday:
    the overview read the room's own 09:00-18:00 every day."""
    app.config["NOW"] = now
    b = browser_as(alice)
    assert b.get(f"/rooms/{campus['Plain']['id']}").status_code == 200   # keeps the rooms
    page = b.get("/").get_data(as_text=True)
    card = re.search(r'<li class="room-card[^"]*">\s*<h2><a [^>]*>Weekdays</a>.*?</li>', page,
                     re.S).group(0)
    assert says in card, card


def board_links(b, day):
    return {(int(room_id), d, s, e) for room_id, d, s, e in
            BOOK_LINK.findall(b.get(f"/board?date={day}").get_data(as_text=True))}


def test_every_link_the_pages_offer_is_bookable_by_whoever_sees_it(browser_as, api_as, alice,
                                                                   bob, campus, make):
    """The pages drew hours only: a "Book" link right after a booking in a buffered
    room, within a room's notice today, in a gap shorter than the shortest booking,
    in the lab's room for someone outside the lab. What the policy would refuse is
    now drawn held and says why, and every link on the week pages and the boards,
    today's included, is a booking the rules allow for the person who sees it."""
    plain = campus["Plain"]
    # Tuesday 11:00-12:00 and 12:10-13:00 in Berlin: ten minutes between, 15 the shortest.
    make.booking(plain, bob, datetime(2027, 3, 2, 10, tzinfo=UTC),
                 datetime(2027, 3, 2, 11, tzinfo=UTC))
    make.booking(plain, bob, datetime(2027, 3, 2, 11, 10, tzinfo=UTC),
                 datetime(2027, 3, 2, 12, tzinfo=UTC))
    by_id = {room["id"]: name for name, room in campus.items()}
    # The board is drawn once for everyone the rules treat alike, not once for all.
    lab_links = [any(by_id.get(room_id) == "Lab only"
                     for room_id, *_ in board_links(browser_as(person), "2027-03-02"))
                 for person in (alice, bob, alice)]
    assert lab_links == [False, True, False]
    for person in (alice, bob):
        b, api = browser_as(person), api_as(person)
        links = board_links(b, "2027-03-01") | board_links(b, "2027-03-02")
        for room in campus.values():
            page = b.get(f"/rooms/{room['id']}/week?start=2027-03-01").get_data(as_text=True)
            links |= {(int(room_id), day, s, e) for room_id, day, s, e in BOOK_LINK.findall(page)}
        for room_id, day, start, end in sorted(links):
            room = campus[by_id[room_id]]
            assert bookable(api, room, f"{day}T{start}", f"{day}T{end}"), (
                person["email"], by_id[room_id], day, start, end)
        starts = {(by_id[room_id], day, s) for room_id, day, s, _ in links}
        lab = {s for name, _, s in starts if name == "Lab only"}
        assert bool(lab) == (person is bob)
        # Bob's 09:00-10:00 in the buffered room holds it until 10:30.
        assert ("Buffered", "2027-03-02", "10:30") in starts
        assert not {s for name, d, s in starts
                    if name == "Buffered" and d == "2027-03-02" and "10:00" <= s < "10:30"}
        # Two hours' notice at 09:00: today from 11:00.
        assert min(s for name, d, s in starts if name == "Notice" and d == "2027-03-01") == "11:00"
        assert ("Plain", "2027-03-02", "12:00") not in starts

    b = browser_as(alice)
    tuesday = b.get(f"/rooms/{plain['id']}?date=2027-03-02").get_data(as_text=True)
    assert re.search(r'segment held"[^>]*>\s*<span class="seg-time">12:00–12:10</span>\s*'
                     r'<span class="held-why"[^>]*>too short to book</span>', tuesday)
    today = b.get(f"/rooms/{campus['Notice']['id']}?date=2027-03-01").get_data(as_text=True)
    assert re.search(r'<span class="seg-time">09:00–11:00</span>\s*<span class="held-why"[^>]*>'
                     r'too soon to book</span>',
                     today)
    buffered = b.get(f"/rooms/{campus['Buffered']['id']}?date=2027-03-02").get_data(as_text=True)
    assert re.search(r'<span class="seg-time">10:00–10:30</span>\s*'
                     r'<span class="held-why"[^>]*>kept free between bookings</span>', buffered)
    lab = b.get(f"/rooms/{campus['Lab only']['id']}?date=2027-03-02").get_data(as_text=True)
    assert not BOOK_LINK.search(lab) and "only some groups may book this room" in lab
    board = b.get("/board?date=2027-03-02").get_data(as_text=True)
    rows = {name: row for name, row in re.findall(
        r'<li class="board-row"><div class="board-room"><a [^>]*>([^<]+)</a>(.*?)</li>', board)}
    assert 'class="bar held"' in rows["Lab only"] and 'class="bar free"' not in rows["Lab only"]
    assert 'only some groups may book this room' in rows["Lab only"]


def test_the_pages_offer_nothing_beyond_the_booking_window(browser_as, api_as, alice, make,
                                                           conn):
    """Two days ahead at most, at Monday 09:00: Wednesday from 09:00 (exactly the
    window) is offered, and nothing after it."""
    room = make.room("Soon only", capacity=4)
    put_in(conn, room, area(conn, "Two days", max_days_ahead=2))
    b, api = browser_as(alice), api_as(alice)
    page = b.get(f"/rooms/{room['id']}/week?start=2027-03-01").get_data(as_text=True)
    links = BOOK_LINK.findall(page)
    assert {day for _, day, _, _ in links} == {"2027-03-01", "2027-03-02", "2027-03-03"}
    assert [(s, e) for _, day, s, e in links if day == "2027-03-03"] == [("09:00", "13:00")]
    for _, day, start, end in links:
        assert bookable(api, room, f"{day}T{start}", f"{day}T{end}"), (day, start, end)
    assert not bookable(api, room, "2027-03-03T09:15", "2027-03-03T10:00")
    assert "too far ahead to book" in page


def test_a_rooms_free_time_ends_at_the_booking_window(api_as, alice, make, conn):
    """Found by testing from outside: a room's free time (API and page) offered the
    days past its window, which booking then refused as beyond_window. Two days
    ahead at Monday 09:00: Wednesday's stretch from 09:00 (exactly the window) is
    offered, Thursday's not."""
    room = make.room("Two days ahead", capacity=4)
    put_in(conn, room, area(conn, "Window of two", max_days_ahead=2))
    api = api_as(alice)
    r = api.get(f"/api/rooms/{room['id']}/availability?start=2027-03-01&end=2027-03-05")
    assert r.status_code == 200, r.get_json()
    free = r.get_json()["free"]
    assert {f["start_time"][:10] for f in free} == {"2027-03-01", "2027-03-02", "2027-03-03"}
    assert [f["start_time"] for f in free if f["start_time"].startswith("2027-03-03")] == [
        "2027-03-03T09:00:00+01:00"]
    for interval in free:
        start = datetime.fromisoformat(interval["start_time"])
        assert bookable(api, room, start.isoformat(),
                        (start + timedelta(minutes=30)).isoformat()), interval
    assert not bookable(api, room, "2027-03-04T09:00", "2027-03-04T09:30")

def test_the_booking_form_allows_the_policy_s_hours_in_a_process_that_kept_no_rooms(
        app, browser_as, alice, make, conn):
    """The form read the policies from this process's copy of the rooms only when it
    had one (after a search): otherwise it allowed the room's own 09:00-18:00."""
    from booking import memo

    room = make.room("Hudson", capacity=6)
    put_in(conn, room, area(conn, "New York", opening_hours={
        d: ["08:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}))
    memo.of(app).rooms.forget()
    page = browser_as(alice).get(f"/bookings/new?room_id={room['id']}").get_data(as_text=True)
    assert re.search(r'id="start"[^>]* min="08:00" max="19:00"', page)


def test_the_overview_says_closed_by_the_policy_in_a_process_that_kept_no_rooms(
        app, browser_as, alice, campus):
    """A process that had not yet kept the rooms (after a restart, or once any room or
    policy changed) drew the overview by the rooms' own hours: "Free now" on a
    Saturday in a room its area closes at weekends. The overview's version
    statement now brings the rooms, still in three statements."""
    from booking import memo

    app.config["NOW"] = datetime(2027, 3, 6, 11, tzinfo=UTC)   # a Saturday
    b = browser_as(alice)
    b.get("/")
    memo.of(app).rooms.forget()
    page = b.get("/").get_data(as_text=True)
    card = re.search(r'<li class="room-card[^"]*">\s*<h2><a [^>]*>Weekdays</a>.*?</li>', page,
                     re.S).group(0)
    assert "Closed now</strong>, opens Mon 8 Mar 09:00" in card, card
    assert memo.of(app).rooms.current()[1].policies


def test_an_empty_booking_form_starts_at_a_slot_the_policy_allows(app, browser_as, alice, make,
                                                                  conn):
    """Open 09:00-18:00 Monday to Saturday and 01:00-05:00 on Sundays: on a Saturday
    evening the empty form offered Monday 01:00 (the week's earliest opening), refused
    as outside that day's hours."""
    app.config["NOW"] = datetime(2027, 3, 6, 18, tzinfo=UTC)   # Saturday 19:00 in Berlin
    room = make.room("Spree", capacity=6)
    week = {d: ["09:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    put_in(conn, room, area(conn, "Late Sundays", opening_hours={**week, "sun": ["01:00", "05:00"]}))
    b = browser_as(alice)
    page = b.get(f"/bookings/new?room_id={room['id']}").get_data(as_text=True)
    found = {name: re.search(rf'name="{name}"[^>]* value="([^"]*)"', page).group(1)
             for name in ("date", "start", "end")}
    assert found == {"date": "2027-03-08", "start": "09:00", "end": "10:00"}
    r = b.post("/bookings/new", data={"room_id": room["id"], "title": "As offered", **found})
    assert r.status_code == 302


@pytest.mark.parametrize("now, name, says", [
    (datetime(2027, 3, 4, 10, tzinfo=UTC), "Weekdays", "Times in Europe/Berlin (09:00–17:00)"),
    (datetime(2027, 3, 6, 10, tzinfo=UTC), "Weekdays", "Times in Europe/Berlin (closed today)"),
    (datetime(2027, 3, 3, 10, tzinfo=UTC), "Closed Wednesday",
     "Times in Europe/Berlin (closed today)"),
    (datetime(2027, 3, 3, 10, tzinfo=UTC), "Plain", "Times in Europe/Berlin (09:00–18:00)"),
])
def test_the_overview_gives_each_room_s_hours_today_by_its_policy(app, browser_as, alice, campus,
                                                                  now, name, says):
    """Every card said the room's own 09:00-18:00, beside "Closed now" on a Saturday."""
    app.config["NOW"] = now
    page = browser_as(alice).get("/").get_data(as_text=True)
    card = re.search(rf'<li class="room-card[^"]*">\s*<h2><a [^>]*>{name}</a>.*?</li>', page,
                     re.S).group(0)
    assert says in card, card


def test_the_overview_offers_to_book_only_the_rooms_this_person_may_book(browser_as, alice, bob,
                                                                         campus):
    """Alice, outside the lab, was offered "Book Lab only", and its form refused her."""
    for person, offered in ((alice, False), (bob, True)):
        page = browser_as(person).get("/").get_data(as_text=True)
        assert ("Book Lab only" in page) is offered
        assert "Book Plain" in page


def test_the_availability_page_gives_each_day_s_hours_and_bookable_links(browser_as, api_as,
                                                                         alice, make, conn):
    """It said the room's own "Open 09:00-18:00" and linked whole free stretches,
    08:00-19:00, eleven hours where four is the most."""
    room = make.room("Broadway", capacity=6)
    put_in(conn, room, area(conn, "Long days", opening_hours={
        d: ["08:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}))
    page = browser_as(alice).get(f"/rooms/{room['id']}/availability?start=2027-03-05"
                                 f"&end=2027-03-09").get_data(as_text=True)
    assert "09:00–18:00" not in page and page.count("open 08:00–19:00") == 2   # Fri and Mon
    links = BOOK_LINK.findall(page)
    assert ("2027-03-08", "08:00", "12:00") in {(d, s, e) for _, d, s, e in links}
    assert '<span class="visually-hidden"> 08:00–12:00</span>' in page   # what the link books
    api = api_as(alice)
    for _, day, start, end in links:
        assert bookable(api, room, f"{day}T{start}", f"{day}T{end}"), (day, start, end)


def test_free_time_on_the_window_s_last_day_reaches_as_far_as_a_booking_started_in_it(
        browser_as, api_as, alice, make, conn):
    """Found by testing from outside: on the day the window ends (Wednesday 09:00,
    two days ahead at Monday 09:00), the whole day was free (API) and drawn free
    (pages), but a booking from 10:00 is refused. Free time now ends where a
    booking starting at 09:00 can reach (four hours, the longest), and the rest
    of the day is drawn held for the window."""
    room = make.room("Two days more", capacity=4)
    put_in(conn, room, area(conn, "Window of two days", max_days_ahead=2))
    api = api_as(alice)
    r = api.get(f"/api/rooms/{room['id']}/availability?start=2027-03-03&end=2027-03-04")
    assert [(f["start_time"], f["end_time"]) for f in r.get_json()["free"]] == [
        ("2027-03-03T09:00:00+01:00", "2027-03-03T13:00:00+01:00")]
    assert not bookable(api, room, "2027-03-03T10:00", "2027-03-03T11:00")
    page = browser_as(alice).get(f"/rooms/{room['id']}?date=2027-03-03").get_data(as_text=True)
    assert "too far ahead to book" in page
    assert [(day, s, e) for _, day, s, e in BOOK_LINK.findall(page)] == [
        ("2027-03-03", "09:00", "13:00")]


def test_free_time_at_the_window_s_end_ends_on_a_whole_minute(app, api_as, alice, make,
                                                              conn):
    """Found by testing from outside: asked at 09:00:20, the window's last free
    stretch ended at 13:00:20, a time no booking may have (not_whole_minutes). The
    last start is the window's end on its minute: 09:00, reaching 13:00; and a
    booking from there goes through."""
    from conftest import NOW
    app.config["NOW"] = NOW + timedelta(seconds=20)
    room = make.room("Two days more", capacity=4)
    put_in(conn, room, area(conn, "Window of two days", max_days_ahead=2))
    api = api_as(alice)
    r = api.get(f"/api/rooms/{room['id']}/availability?start=2027-03-03&end=2027-03-04")
    assert [(f["start_time"], f["end_time"]) for f in r.get_json()["free"]] == [
        ("2027-03-03T09:00:00+01:00", "2027-03-03T13:00:00+01:00")]
    assert bookable(api, room, "2027-03-03T09:00", "2027-03-03T13:00")


@pytest.mark.parametrize("room_buffer_now", [0, 60])
def test_the_pages_hold_after_a_booking_the_buffer_it_was_made_with(browser_as, api_as, alice,
                                                                    campus, conn,
                                                                    room_buffer_now):
    """Found by testing from outside: after the room's buffer changed, the day and week
    pages held the new buffer after bookings made with the old one. Lowered, they
    offered 10:00 where the constraint refuses it; raised, they held back time the
    free-time API, the finder and booking give out. A booking keeps its own buffer
    (Bob's 09:00-10:00 was made with 30 minutes): the pages and the board now hold
    that."""
    room = campus["Buffered"]
    holder = conn.execute("SELECT area_id AS id FROM rooms WHERE id = %s", (room["id"],)).fetchone()
    area_policy(conn, holder, buffer_minutes=room_buffer_now)
    free = api_as(alice).get(f"/api/rooms/{room['id']}/availability?start=2027-03-02"
                             "&end=2027-03-03").get_json()["free"]
    assert free[0]["start_time"] == "2027-03-02T10:30:00+01:00"
    b = browser_as(alice)
    for url in (f"/rooms/{room['id']}?date=2027-03-02",
                f"/rooms/{room['id']}/week?start=2027-03-02", "/board?date=2027-03-02"):
        page = b.get(url).get_data(as_text=True)
        starts = sorted(s for room_id, day, s, _ in BOOK_LINK.findall(page)
                        if day == "2027-03-02" and int(room_id) == room["id"])
        assert min(s for s in starts if s >= "10:00") == "10:30", (url, starts)
