"""The planning board: /api/board and /board. One statement, rooms grouped by zone,
building and floor, filters, the day in each room's zone; the page's bars, free
stretches and "now"; a kept board is never stale."""

import gzip
import re
from datetime import date, datetime

import pytest

from booking import memo
from booking.times import zone
from conftest import UTC
from test_budgets import statements

BERLIN, NEW_YORK = zone("Europe/Berlin"), zone("America/New_York")
DAY = "2027-03-02"


def at(hm, tz=BERLIN, day=2):
    h, m = map(int, hm.split(":"))
    return datetime(2027, 3, day, h, m, tzinfo=tz)


@pytest.fixture
def rooms(make):
    """Three rooms in Berlin (two buildings, two floors), two in New York, one inactive."""
    return {
        "Spree": make.room("Spree", "Europe/Berlin", building="HQ", floor=1, capacity=6,
                           equipment=["screen"]),
        "Havel": make.room("Havel", "Europe/Berlin", building="HQ", floor=2),
        "Alster": make.room("Alster", "Europe/Berlin", building="Annex", floor=0),
        "Hudson": make.room("Hudson", "America/New_York", building="NY", floor=5),
        "East": make.room("East", "America/New_York", building="NY", floor=5),
        "Old": make.room("Old", "Europe/Berlin", building="HQ", floor=1, active=False),
    }


def names(board):
    return [entry["room"]["name"] for entry in board["rooms"]]


def test_the_twin_has_every_active_room_grouped_with_its_day_s_bookings(api_as, alice, bob,
                                                                       rooms, make):
    make.booking(rooms["Spree"], alice, at("10:00"), at("11:00"), title="Planning")
    make.booking(rooms["Spree"], bob, at("09:00"), at("09:30"), title="Early")
    make.booking(rooms["Spree"], bob, at("10:00", day=3), at("11:00", day=3), title="Tomorrow")
    make.booking(rooms["Spree"], bob, at("12:00"), at("13:00"), title="Gone", cancelled=True)
    # 10:00 in New York on 2 March is 16:00 in Berlin: on New York's 2 March.
    make.booking(rooms["Hudson"], alice, at("10:00", NEW_YORK), at("11:00", NEW_YORK),
                 title="Standup")
    r = api_as(alice).get(f"/api/board?date={DAY}")
    assert r.status_code == 200
    board = r.get_json()
    assert list(board) == ["date", "rooms"] and board["date"] == DAY
    # Berlin has more rooms, so comes first; then building, floor, name.
    assert names(board) == ["Alster", "Spree", "Havel", "East", "Hudson"]
    spree = board["rooms"][1]
    assert spree["room"] == {"id": rooms["Spree"]["id"], "name": "Spree", "building": "HQ",
                             "floor": 1, "capacity": 6, "equipment": ["screen"],
                             "timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00",
                             "active": True, "area_id": None, "checkin_required": False,
                             "release_after_minutes": 15}
    assert spree["bookings"] == [
        {"id": spree["bookings"][0]["id"], "title": "Early", "user_name": "Bob",
         "start_time": "2027-03-02T09:00:00+01:00", "end_time": "2027-03-02T09:30:00+01:00",
         "status": "confirmed", "buffer_minutes": 0},
        {"id": spree["bookings"][1]["id"], "title": "Planning", "user_name": "Alice",
         "start_time": "2027-03-02T10:00:00+01:00", "end_time": "2027-03-02T11:00:00+01:00",
         "status": "confirmed", "buffer_minutes": 0}]
    assert board["rooms"][4]["bookings"][0]["start_time"] == "2027-03-02T10:00:00-05:00"
    assert statements(r) <= 2


def test_filters_by_building_any_case_and_by_floor(api_as, alice, rooms):
    api = api_as(alice)
    assert names(api.get(f"/api/board?date={DAY}&building=hq").get_json()) == ["Spree", "Havel"]
    assert names(api.get(f"/api/board?date={DAY}&building=HQ&floor=2").get_json()) == ["Havel"]
    assert names(api.get(f"/api/board?date={DAY}&floor=5").get_json()) == ["East", "Hudson"]
    assert names(api.get(f"/api/board?date={DAY}&building=Nowhere").get_json()) == []
    assert len(api.get(f"/api/board?date={DAY}&building=&floor=").get_json()["rooms"]) == 5


def test_without_a_date_it_is_today_in_the_zone_most_rooms_are_in(app, api_as, alice, rooms):
    # 23:30 UTC on 1 March: already 2 March in Berlin (three rooms), still 1 March in New York.
    app.config["NOW"] = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)
    assert api_as(alice).get("/api/board").get_json()["date"] == "2027-03-02"


@pytest.mark.parametrize("query, field", [("date=2027-02-30", "date"), ("date=soon", "date"),
                                          ("floor=top", "floor"), ("floor=999", "floor"),
                                          ("building=" + "x" * 101, "building")])
def test_bad_filters_are_a_400_naming_the_field(api_as, alice, rooms, query, field):
    r = api_as(alice).get("/api/board?" + query)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "invalid"
    assert r.get_json()["error"]["details"]["field"] == field


def test_a_kept_board_is_never_stale(app, api_as, alice, bob, rooms, make, conn):
    """The second ask gets the kept board (its statement sends none); a booking made
    by anyone (here straight in the database) or a renamed user shows at once."""
    api = api_as(alice)
    key = (date(2027, 3, 2), None, None, None)   # day, building, floor, area
    first = api.get(f"/api/board?date={DAY}")
    kept = memo.of(app).board.kept(key)
    again = api.get(f"/api/board?date={DAY}")
    assert again.get_json() == first.get_json() and statements(again) <= 2
    assert memo.of(app).board.kept(key)[1] is kept[1]
    make.booking(rooms["Havel"], bob, at("15:00"), at("16:00"), title="Late")
    after = api.get(f"/api/board?date={DAY}").get_json()
    assert [b["title"] for b in after["rooms"][2]["bookings"]] == ["Late"]
    conn.execute("UPDATE users SET name = 'Robert' WHERE id = %s", (bob["id"],))
    renamed = api.get(f"/api/board?date={DAY}").get_json()
    assert renamed["rooms"][2]["bookings"][0]["user_name"] == "Robert"
    conn.execute("UPDATE rooms SET active = false WHERE id = %s", (rooms["Havel"]["id"],))
    assert "Havel" not in names(api.get(f"/api/board?date={DAY}").get_json())


def test_today_s_board_is_kept_until_the_day_turns_where_it_is_counted(app, api_as, alice,
                                                                       rooms):
    """Without a date the board is today's in Berlin (most rooms): kept from one minute
    to the next, read again when Berlin's midnight passes, not New York's."""
    api = api_as(alice)
    key = (None, None, None, None)
    app.config["NOW"] = datetime(2027, 3, 1, 22, 58, tzinfo=UTC)   # 23:58 in Berlin
    assert api.get("/api/board").get_json()["date"] == "2027-03-01"
    kept = memo.of(app).board.kept(key)
    app.config["NOW"] = datetime(2027, 3, 1, 22, 59, 59, tzinfo=UTC)   # 23:59:59
    assert api.get("/api/board").get_json()["date"] == "2027-03-01"
    assert memo.of(app).board.kept(key)[1] is kept[1]
    app.config["NOW"] = datetime(2027, 3, 1, 23, 0, tzinfo=UTC)   # midnight in Berlin
    assert api.get("/api/board").get_json()["date"] == "2027-03-02"
    assert memo.of(app).board.kept(key)[1] is not kept[1]


def test_the_board_answers_if_none_match_with_304(api_as, alice, rooms):
    api = api_as(alice)
    first = api.get(f"/api/board?date={DAY}")
    again = api.get(f"/api/board?date={DAY}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


# -- the page --------------------------------------------------------------------------------

def page_of(browser, query=f"?date={DAY}"):
    r = browser.get("/board" + query)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    return r.get_data(as_text=True)


def test_the_page_groups_rooms_by_zone_building_and_floor(browser_as, alice, rooms):
    page = page_of(browser_as(alice))
    assert re.findall(r'<h2 id="zone-\d">([\w/]+) <span class="zone">([^<]+)</span>', page) == [
        ("Europe/Berlin", "09:00–18:00 local time"), ("America/New_York", "09:00–18:00 local time")]
    assert re.findall(r'<h3 class="board-group">([^<]+)</h3>', page) == [
        "Annex, floor 0", "HQ, floor 1", "HQ, floor 2", "NY, floor 5"]
    assert "6 seats · screen" in page
    assert 'value="HQ" selected' not in page
    building = page[page.index('id="building"'):]
    assert re.findall(r'<option value="([^"]*)"', building[:building.index("</select>")]) == [
        "", "Annex", "HQ", "NY"]


def test_bars_say_in_words_what_they_are_and_are_placed_by_the_server(browser_as, alice,
                                                                      rooms, make):
    make.booking(rooms["Spree"], alice, at("10:00"), at("11:00"), title="Planning")
    page = page_of(browser_as(alice))
    bar = re.search(r'<a class="bar booked" style="left:([\d.]+)%;width:([\d.]+)%" '
                    r'href="/bookings/(\d+)"><span class="sr">([^<]+)</span>', page)
    assert bar.groups()[:2] == ("11.11", "11.11")   # an hour into 09:00-18:00, an hour wide
    assert bar.group(4) == "Spree, 10:00–11:00, Planning, Alice"


def test_a_booking_waiting_for_approval_says_so_on_the_board_and_in_its_twin(
        api_as, browser_as, alice, bob, rooms, make, conn):
    """QA: the day and week pages said "waiting for approval"; the board drew a pending
    booking as any other (class "bar booked", the same words for screen readers)."""
    make.booking(rooms["Spree"], alice, at("10:00"), at("11:00"), title="Planning")
    waiting = make.booking(rooms["Spree"], bob, at("13:00"), at("14:00"), title="Offsite")
    conn.execute("UPDATE bookings SET status = 'pending' WHERE id = %s", (waiting["id"],))
    page = page_of(browser_as(alice))
    bars = re.findall(r'<a class="(bar booked[^"]*)" style="[^"]*"(?: title="([^"]*)")? '
                      r'href="/bookings/(\d+)"><span class="sr">([^<]+)</span>', page)
    assert [(cls, title, text) for cls, title, _, text in bars] == [
        ("bar booked", "", "Spree, 10:00–11:00, Planning, Alice"),
        ("bar booked pending", "waiting for approval",
         "Spree, 13:00–14:00, Offsite, Bob, waiting for approval")]
    # Drawn apart from a confirmed booking (not by colour alone), in both themes.
    css = open("static/style.css", encoding="utf-8").read()
    assert re.search(r"\.board-track \.bar\.pending \{[^}]*border-style: dashed", css)
    for theme in (":root {", "@media (prefers-color-scheme: dark)", ':root[data-theme="dark"]'):
        block = css[css.index(theme):]
        assert "--pending-bg:" in block[:block.index("}")], theme
    # The twin says it too.
    board = api_as(alice).get(f"/api/board?date={DAY}&building=HQ&floor=1").get_json()
    assert [(b["title"], b["status"]) for b in board["rooms"][0]["bookings"]] == [
        ("Planning", "confirmed"), ("Offsite", "pending")]


def test_free_stretches_link_to_the_form_with_at_most_the_longest_booking(browser_as, alice,
                                                                          rooms, make):
    make.booking(rooms["Spree"], alice, at("10:00"), at("11:00"), title="Planning")
    page = page_of(browser_as(alice), f"?date={DAY}&building=HQ&floor=1")
    free = re.findall(r'<a class="bar free" style="left:([\d.]+)%;width:([\d.]+)%" '
                      r'href="([^"]+)"><span class="sr">([^<]+)</span>', page)
    spree = rooms["Spree"]["id"]
    assert [(href.replace("&amp;", "&"), text) for _, _, href, text in free] == [
        (f"/bookings/new?room_id={spree}&date={DAY}&start=09:00&end=10:00",
         "Spree, 09:00–10:00, free: book"),
        (f"/bookings/new?room_id={spree}&date={DAY}&start=11:00&end=15:00",
         "Spree, 11:00–18:00, free: book")]


def test_today_has_a_now_line_and_the_stretch_already_over_is_no_link(app, browser_as, alice,
                                                                      rooms):
    app.config["NOW"] = datetime(2027, 3, 2, 9, 40, tzinfo=UTC)   # 10:40 in Berlin
    page = page_of(browser_as(alice), "?building=Annex")
    assert "now 10:40" in page
    # The zone's now line (each row's, placed by CSS) at 10:40 of 09:00-18:00.
    assert '<div class="board has-now" style="--hours:9;--now-at:18.52%">' in page
    assert page.count('<span class="now-line" aria-hidden="true">') == 1   # Annex: one room
    assert '<span class="bar past" style="left:0%;width:19.44%">' in page   # to 10:45
    assert f"start=10:45&amp;end=14:45" in page
    assert "now-line" not in page_of(browser_as(alice), "?date=2027-03-03&building=Annex")


def test_the_page_keeps_its_filters_in_its_links(browser_as, alice, rooms):
    page = page_of(browser_as(alice), f"?date={DAY}&building=HQ&floor=2")
    assert '<option value="HQ" selected>' in page and '<option value="2" selected>' in page
    assert 'href="/board?date=2027-03-01&amp;building=HQ&amp;floor=2" rel="prev"' in page
    assert 'href="/board?date=2027-03-03&amp;building=HQ&amp;floor=2" rel="next"' in page
    assert 'href="/board?building=HQ&amp;floor=2">Today</a>' in page


def test_no_rooms_say_so(browser_as, alice, rooms):
    assert "No rooms match these filters." in page_of(browser_as(alice), "?building=Nowhere")


def test_the_gzipped_page_is_the_same_page(browser_as, alice, rooms, make):
    """The board is spliced into the gzip stream (booking/http.py): it must decode to
    exactly the page a client without gzip gets, under one valid ETag each."""
    make.booking(rooms["Spree"], alice, at("10:00"), at("11:00"), title="Planning")
    browser = browser_as(alice)
    plain = browser.client.get(f"/board?date={DAY}")
    packed = browser.client.get(f"/board?date={DAY}", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] == "W/" + plain.headers["ETag"]
    again = browser.client.get(f"/board?date={DAY}", headers={
        "Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304


def test_strangers_are_sent_to_sign_in(client, api_as):
    assert client.get("/board").status_code == 302
    assert client.get("/api/board").status_code == 401


def test_another_day_is_drawn_once_today_once_a_quarter_hour(app, browser_as, alice, rooms):
    """A drawn board is kept per clock (booking/board/views.py clock_of): tomorrow's
    is the same at any minute; today's free time starts at the next quarter hour,
    so 10:41 and 10:45 share a drawing (free from 10:45) and 10:46 draws it again
    (free from 11:00), while the now line, outside the drawing, moves each minute."""
    browser = browser_as(alice)
    drawn = memo.of(app).board._drawn

    def today_at(minute):
        app.config["NOW"] = datetime(2027, 3, 2, 9, minute, tzinfo=UTC)   # 10:mm in Berlin
        return page_of(browser, "?building=Annex")

    app.config["NOW"] = datetime(2027, 3, 2, 9, 40, tzinfo=UTC)
    page_of(browser, "?date=2027-03-03&building=Annex")
    assert len(drawn) == 1
    at_41 = today_at(41)
    assert "now 10:41" in at_41 and "start=10:45&amp;" in at_41 and "--now-at:18.7%" in at_41
    assert len(drawn) == 2
    at_45 = today_at(45)
    assert "now 10:45" in at_45 and "start=10:45&amp;" in at_45 and "--now-at:19.44%" in at_45
    page_of(browser, "?date=2027-03-03&building=Annex")
    assert len(drawn) == 2            # tomorrow's and today's: the same drawings
    at_46 = today_at(46)
    assert "now 10:46" in at_46 and "start=11:00&amp;" in at_46
    assert len(drawn) == 3            # today's: drawn again for the next quarter hour
    app.config["NOW"] = datetime(2027, 3, 3, 9, 41, tzinfo=UTC)   # that day has come
    assert "now 10:41" in page_of(browser, "?date=2027-03-03&building=Annex")


def test_a_booking_the_clocks_go_back_during_is_on_every_page(browser_as, alice, make):
    """QA, 2026-12-05: 02:45 CEST to 02:15 CET was in the JSON but on no page (board,
    day, week), its time drawn free. It holds 02:00-03:00, its two passes."""
    from datetime import timedelta
    night = make.room("Night", "Europe/Berlin", opens="00:00", closes="23:59")
    start = datetime(2027, 10, 31, 0, 45, tzinfo=UTC)          # 02:45 CEST
    make.booking(night, alice, start, start + timedelta(minutes=30), title="Wrap")
    browser = browser_as(alice)
    day = "2027-10-31"
    board = page_of(browser, f"?date={day}")
    assert re.search(r'<span class="sr">Night, 02:00–03:00, Wrap, Alice</span>', board), board
    for url in (f"/rooms/{night['id']}?date={day}", f"/rooms/{night['id']}/week?start=2027-10-25"):
        page = browser.get(url).get_data(as_text=True)
        assert "Wrap" in page, url
