"""The finder page, /find: ranked results, "Book this" on each, "Book the best" on
top; forms keep what was typed and show errors by the field."""

import re
from datetime import datetime
from urllib.parse import urlencode

import pytest

from booking.times import zone

BERLIN = zone("Europe/Berlin")
DAY = "2027-03-02"
SEARCH = {"date": DAY, "start": "10:00", "end": "11:00", "timezone": "Europe/Berlin",
          "attendees": "4", "equipment": "", "building": "", "floor": ""}


def text(response):
    return response.get_data(as_text=True)


def at(hm, day=2):
    h, m = map(int, hm.split(":"))
    return datetime(2027, 3, day, h, m, tzinfo=BERLIN)


@pytest.fixture
def rooms(make):
    return {name: make.room(name, capacity=capacity, building=building)
            for name, capacity, building in [("Big", 20, "B"), ("Small", 4, "A"),
                                             ("Medium", 8, "B")]}


def find(browser, **changes):
    return browser.get("/find?" + urlencode({**SEARCH, **changes}))


def book_buttons(page):
    return re.findall(r'<button type="submit"[^>]*name="room" value="(\w+)">([^<]+)', page)


def test_strangers_are_sent_to_sign_in(client):
    r = client.get("/find")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")


def test_an_empty_form_starts_in_the_zone_most_rooms_are_in(browser_as, alice, make):
    make.room("One", "America/New_York")
    make.room("Two", "America/New_York")
    make.room("Three", "Europe/Berlin")
    page = text(browser_as(alice).get("/find"))
    assert 'id="timezone" name="timezone" list="zones" required value="America/New_York"' in page
    for field in ("date", "start", "end", "attendees", "building", "floor"):
        assert f'<label for="{field}">' in page
    assert "Book the best" not in page
    # The next working slot in that zone: it is 03:00 on Monday in New York.
    assert 'id="date" name="date" type="date" required value="2027-03-01"' in page
    assert 'id="start" name="start" type="time" step="60" required value="09:00"' in page
    assert 'id="end" name="end" type="time" step="60" required value="10:00"' in page


def test_results_are_ranked_with_book_this_on_each_and_book_the_best_on_top(browser_as, alice,
                                                                             rooms):
    r = find(browser_as(alice), attendees="3", building="B")
    assert r.status_code == 200
    page = text(r)
    names = re.findall(r"<h3>(\w+)</h3>", page)
    assert names == ["Medium", "Big", "Small"]
    buttons = book_buttons(page)
    assert buttons[0] == ("best", "Book the best: Medium")
    assert buttons[1:] == [(str(rooms[n]["id"]), "Book this") for n in names]
    assert page.index("Book the best") < page.index("Book this")
    # The booking form carries the search along, so booking needs nothing retyped.
    form = page[page.index('id="book-form"'):]
    for name, value in {**SEARCH, "attendees": "3", "building": "B"}.items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in form
    assert '<label for="title">What is it for?</label>' in form


def test_book_the_best(browser_as, alice, rooms, conn):
    b = browser_as(alice)
    r = b.post("/find", data={**SEARCH, "title": "Planning", "room": "best"})
    assert r.status_code == 302, text(r)
    booking_id = int(r.headers["Location"].rsplit("/", 1)[1])
    row = conn.execute("SELECT room_id, user_id, title, start_at FROM bookings WHERE id = %s",
                       (booking_id,)).fetchone()
    assert row == {"room_id": rooms["Small"]["id"], "user_id": alice["id"], "title": "Planning",
                   "start_at": at("10:00")}
    assert "Booked Small, 10:00–11:00 (Europe/Berlin time)." in text(b.get(r.headers["Location"]))


@pytest.mark.parametrize("room", ["best", "Small"])
def test_people_left_empty_book_for_one_as_the_results_said(browser_as, alice, rooms, conn,
                                                            room):
    """QA, 2026-12-05: People empty (the page's default) listed rooms ("Fits 1 of 4
    seats") with Book buttons that then said "attendees is required."."""
    b = browser_as(alice)
    assert "Fits 1 of 4 seats" in text(find(b, attendees=""))
    choice = "best" if room == "best" else str(rooms[room]["id"])
    r = b.post("/find", data={**SEARCH, "attendees": "", "title": "Planning", "room": choice})
    assert r.status_code == 302, text(r)[:3000]
    row = conn.execute("SELECT room_id, attendees FROM bookings").fetchone()
    assert row == {"room_id": rooms["Small"]["id"], "attendees": 1}


def test_book_this_books_that_room(browser_as, alice, rooms, conn):
    b = browser_as(alice)
    r = b.post("/find", data={**SEARCH, "title": "Planning", "room": str(rooms["Big"]["id"])})
    assert r.status_code == 302
    assert conn.execute("SELECT room_id FROM bookings").fetchone()["room_id"] == rooms["Big"]["id"]


def test_book_this_when_someone_was_faster_lists_the_rooms_still_free(browser_as, alice, bob,
                                                                      rooms, make, conn):
    b = browser_as(alice)
    find(b)   # Alice sees Big free ...
    make.booking(rooms["Big"], bob, at("10:30"), at("11:30"))   # ... Bob books it
    r = b.post("/find", data={**SEARCH, "title": "Planning", "room": str(rooms["Big"]["id"])})
    assert r.status_code == 409
    page = text(r)
    assert 'class="form-error" role="alert">That room is no longer free' in page
    assert re.findall(r"<h3>(\w+)</h3>", page) == ["Small", "Medium"]
    assert 'value="Planning"' in page
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


@pytest.mark.parametrize("with_key", [True, False])
def test_book_this_when_that_room_was_the_last_free_shows_what_the_search_would(
        browser_as, alice, bob, make, conn, with_key):
    """QA: "Book this" on the only room listed, which someone else had just taken, said
    "Nothing close either" although the same search, reloaded, listed free times;
    and the typed title was gone. The page now lists what the search lists, and
    the links to those times carry the title."""
    spree = make.room("Spree", capacity=8)
    b = browser_as(alice)
    page = text(find(b))
    assert re.findall(r"<h3>(\w+)</h3>", page) == ["Spree"]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    make.booking(spree, bob, at("10:00"), at("11:00"))
    data = {**SEARCH, "title": "Retro", "room": str(spree["id"])}
    if with_key:
        data["idempotency_key"] = key
    r = b.post("/find", data=data)
    assert r.status_code == 409
    page = text(r)
    assert ('class="form-error" role="alert">That room is no longer free for this request, '
            'and no other room that fits is free then.') in page
    assert "Nothing close either" not in page
    links = re.findall(r'<li><a href="(/find\?[^"]+)">([^<]+)</a> — (\w+)', page)
    searched = re.findall(r'<li><a href="(/find\?[^"]+)">([^<]+)</a> — (\w+)', text(find(b)))
    assert links and [(url.replace("&amp;title=Retro", ""), when, room)
                      for url, when, room in links] == searched
    # The typed title goes along to the time chosen, and is kept for a new search.
    assert all("title=Retro" in url for url, _, _ in links)
    assert '<input type="hidden" name="title" value="Retro">' in page
    assert "Retro" in text(b.get(links[0][0].replace("&amp;", "&")))
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_a_missing_title_is_shown_by_the_title_field_with_the_results_kept(browser_as, alice,
                                                                           rooms, conn):
    r = browser_as(alice).post("/find", data={**SEARCH, "title": " ", "room": "best"})
    assert r.status_code == 400
    page = text(r)
    assert 'id="title-error"' in page and "title is required" in page
    assert re.search(r'id="title"[^>]*aria-invalid="true"', page)
    assert re.findall(r"<h3>(\w+)</h3>", page) == ["Small", "Medium", "Big"]
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


def test_every_field_s_error_is_shown_at_once(browser_as, alice, rooms):
    r = find(browser_as(alice), start="", end="", attendees="0", floor="top")
    assert r.status_code == 400
    page = text(r)
    for field, message in (("start", "Choose a start time."), ("end", "Choose an end time."),
                           ("attendees", "between 1 and 10000"), ("floor", "whole number")):
        assert f'id="{field}-error"' in page and message in page, field
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page), field


def test_building_is_a_choice_and_equipment_boxes_of_the_tags_in_use(browser_as, alice, rooms,
                                                                     make):
    make.room("Screen", capacity=30, building="C", equipment=["screen", "video"])
    make.room("Gone", building="Old wing", equipment=["projector"], active=False)
    page = text(find(browser_as(alice), building="b", equipment="video"))
    assert re.findall(r'<option value="([^"]*)"', page[page.index('id="building"'):
                                                        page.index("</select>")]) == [
        "", "A", "B", "C"]
    assert '<option value="B" selected>' in page
    assert re.findall(r'type="checkbox" name="equipment" value="(\w+)"( checked)?', page) == [
        ("screen", ""), ("video", " checked")]
    assert "Old wing" not in page and "projector" not in page


def test_each_room_says_why_it_ranks(browser_as, alice, rooms, make):
    make.booking(rooms["Medium"], alice, at("14:00"), at("15:00"))
    page = text(find(browser_as(alice), attendees="6", building="B", floor="1"))
    assert "Fits 6 of 8 seats · in B · on floor 1, as asked · 1 other booking that day" in page
    assert "Fits 6 of 20 seats · in B · on floor 1, as asked · 0 other bookings that day" in page
    assert "score" not in page


@pytest.mark.parametrize("changes, field, message", [
    ({"end": "10:10"}, "end", "at least 15 minutes"),
    ({"start": "", "end": ""}, "start", "Choose a start time."),
    ({"date": ""}, "date", "Choose a date."),
    ({"attendees": "0"}, "attendees", "between 1 and 10000"),
    ({"timezone": "Mars/Olympus"}, "timezone", "IANA zone"),
    ({"floor": "top"}, "floor", "whole number"),
    ({"date": "2027-03-01", "start": "07:00", "end": "08:00"}, "start", "already passed"),
])
def test_search_errors_are_shown_by_the_field_keeping_the_input(browser_as, alice, rooms,
                                                                changes, field, message):
    r = find(browser_as(alice), **changes)
    assert r.status_code in (400, 422)
    page = text(r)
    assert f'id="{field}-error"' in page and message in page, page[page.index("<h1>"):]
    for name, value in {**SEARCH, **changes}.items():
        if name == "equipment":
            continue   # no room has any: there is nothing to tick
        assert f'name="{name}"' in page
        if value:
            assert f'value="{value}"' in page


def test_the_same_errors_on_booking_are_shown_by_the_search_fields(browser_as, alice, rooms):
    r = browser_as(alice).post("/find", data={**SEARCH, "attendees": "0", "title": "x",
                                              "room": "best"})
    assert r.status_code == 400
    assert 'id="attendees-error"' in text(r)


@pytest.mark.parametrize("title", ["Planning", ""])
def test_booking_without_a_zone_is_that_field_s_error(browser_as, alice, bob, make, conn, title):
    """Booking from the page checks the search's fields first, as the search does:
    with no zone and times with an offset, nothing fitting (or no title) drew the
    suggested times in no zone, a 500."""
    studio = make.room("Studio", capacity=8)
    make.booking(studio, bob, at("10:00"), at("11:00"))
    r = browser_as(alice).post("/find", data={**SEARCH, "timezone": "", "start": "09:00Z",
                                              "end": "10:00Z", "title": title, "room": "best"})
    assert r.status_code == 400
    assert 'id="timezone-error"' in text(r)
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_a_search_without_a_zone_asks_for_one_before_guessing(browser_as, alice, rooms):
    b = browser_as(alice)
    r = b.get(f"/find?date={DAY}&start=10:00&end=11:00")
    assert r.status_code == 400
    page = text(r)
    assert 'id="timezone-error"' in page and 'value="Europe/Berlin"' in page
    # Once a zone was used, it is the default.
    assert find(b, timezone="UTC").status_code == 200
    r = b.get(f"/find?date={DAY}&start=10:00&end=11:00")
    assert r.status_code == 200 and 'value="UTC"' in text(r)


def test_nothing_free_shows_other_times_and_rooms_missing_one_thing(browser_as, alice, bob, make):
    studio = make.room("Studio", capacity=8, equipment=["screen", "video"])
    make.room("Screen room", capacity=8, equipment=["screen"])
    make.booking(studio, bob, at("10:00"), at("11:00"))
    r = find(browser_as(alice), equipment="screen, video", timezone="UTC",
             start="09:00", end="10:00")   # 10:00-11:00 in Berlin
    assert r.status_code == 200
    page = text(r)
    assert "No free room fits" in page
    links = re.findall(r'<li><a href="(/find\?[^"]+)">([^<]+)</a> — (\w+)', page)
    first_url, first_text, first_room = links[0]
    # Berlin's 09:00-10:00, shown and linked in the zone searched (UTC).
    assert (first_text, first_room) == ("Tue 2 Mar 2027, 08:00–09:00", "Studio")
    assert "start=08:00&amp;end=09:00" in first_url and "timezone=UTC" in first_url
    assert "Screen room" in page and "no video" in page


def test_book_the_best_when_nothing_fits_shows_the_suggestions(browser_as, alice, bob, make, conn):
    studio = make.room("Studio", capacity=8)
    make.booking(studio, bob, at("10:00"), at("11:00"))
    r = browser_as(alice).post("/find", data={**SEARCH, "title": "Planning", "room": "best"})
    assert r.status_code == 409
    page = text(r)
    assert "No free room for 4 people at that time." in page
    assert "Tue 2 Mar 2027, 09:00–10:00" in page
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_booking_from_the_page_needs_the_csrf_token(browser_as, alice, rooms, client, conn):
    browser_as(alice)
    r = client.post("/find", data={**SEARCH, "title": "x", "room": "best"})
    # Without a session: sent to sign in (tests/test_pages.py)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


def test_the_nav_links_to_the_finder(browser_as, alice):
    page = text(browser_as(alice).get("/"))
    assert '<a href="/find" >Find a room</a>' in page


def test_book_this_on_a_room_its_rules_now_refuse_names_the_rule(browser_as, alice, make,
                                                                   conn):
    """QA: "Book this" on a room whose quota the person used up after searching said
    the room was no longer free; it is free, and booking it is refused by the
    quota. The page now says so, as booking the room directly does."""
    from policykit import area, put_in

    spree = make.room("Spree", capacity=8)
    other = make.room("Havel", capacity=8)
    holder = area(conn, "Quota area", quota={"bookings_per_day": 1})
    put_in(conn, spree, holder)
    put_in(conn, other, holder)
    b = browser_as(alice)
    assert "<h3>Spree</h3>" in text(find(b))
    # The one booking a day, made in another room of the area since the search.
    make.booking(other, alice, at("14:00"), at("15:00"))
    r = b.post("/find", data={**SEARCH, "title": "Retro", "room": str(spree["id"])})
    assert r.status_code == 422
    page = text(r)
    assert "no longer free" not in page
    assert ('id="start-error" role="alert">You may have at most 1 booking a day here (from '
            'Quota area); you have 1.</p>') in page
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1
