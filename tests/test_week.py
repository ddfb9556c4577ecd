"""A room's week (/rooms/<id>/week and its twin) and my bookings by day and by week."""

import re
from datetime import datetime

import pytest

from booking.times import zone
from conftest import UTC

BERLIN, NEW_YORK = zone("Europe/Berlin"), zone("America/New_York")


def at(day, hm, tz=BERLIN, month=3):
    h, m = map(int, hm.split(":"))
    return datetime(2027, month, day, h, m, tzinfo=tz)


def text(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_a_room_s_week_is_monday_to_sunday_with_each_booking_on_its_day(api_as, alice, berlin,
                                                                       make):
    make.booking(berlin, alice, at(1, "09:00"), at(1, "10:00"), title="Monday")
    make.booking(berlin, alice, at(7, "17:00"), at(7, "18:00"), title="Sunday")
    make.booking(berlin, alice, at(8, "09:00"), at(8, "10:00"), title="Next week")
    make.booking(berlin, alice, at(28, "09:00", month=2), at(28, "10:00", month=2), title="Before")
    r = api_as(alice).get(f"/api/rooms/{berlin['id']}/week?start=2027-03-04")   # a Thursday
    assert r.status_code == 200
    week = r.get_json()
    assert list(week) == ["room", "days"] and week["room"]["name"] == "Spree"
    assert [d["date"] for d in week["days"]] == [f"2027-03-0{n}" for n in range(1, 8)]
    assert [[b["title"] for b in d["bookings"]] for d in week["days"]] == [
        ["Monday"], [], [], [], [], [], ["Sunday"]]


def test_this_week_by_default_in_the_room_s_zone(app, api_as, alice, new_york):
    # Monday 8 March 03:00 UTC is still Sunday 7 March in New York: last week there.
    app.config["NOW"] = datetime(2027, 3, 8, 3, 0, tzinfo=UTC)
    week = api_as(alice).get(f"/api/rooms/{new_york['id']}/week").get_json()
    assert week["days"][0]["date"] == "2027-03-01"


def test_the_week_over_the_clock_change_keeps_wall_clock_times(api_as, alice, berlin, make):
    make.booking(berlin, alice, at(26, "09:00"), at(26, "10:00"), title="Before")
    make.booking(berlin, alice, at(29, "09:00"), at(29, "10:00"), title="After")
    week = api_as(alice).get(f"/api/rooms/{berlin['id']}/week?start=2027-03-28").get_json()
    assert week["days"][0]["date"] == "2027-03-22"
    assert week["days"][4]["bookings"][0]["start_time"] == "2027-03-26T09:00:00+01:00"
    week = api_as(alice).get(f"/api/rooms/{berlin['id']}/week?start=2027-03-29").get_json()
    assert week["days"][0]["bookings"][0]["start_time"] == "2027-03-29T09:00:00+02:00"


@pytest.mark.parametrize("url, status", [("/api/rooms/4242/week", 404),
                                         ("/api/rooms/{room}/week?start=2027-02-30", 400),
                                         ("/api/rooms/{room}/week?start=next", 400)])
def test_bad_weeks(api_as, alice, berlin, url, status):
    r = api_as(alice).get(url.format(room=berlin["id"]))
    assert r.status_code == status and r.get_json()["error"]["code"]


def test_the_week_page_has_seven_day_columns_linking_to_each_day(browser_as, alice, berlin,
                                                                make):
    make.booking(berlin, alice, at(3, "10:00"), at(3, "11:00"), title="Wednesday thing")
    page = text(browser_as(alice).get(f"/rooms/{berlin['id']}/week?start=2027-03-03"))
    days = re.findall(rf'<a href="/rooms/{berlin["id"]}\?date=(2027-03-0\d)">([^<]+)</a>', page)
    assert days == [(f"2027-03-0{n}", label) for n, label in zip(
        range(1, 8), ["Mon 1 Mar", "Tue 2 Mar", "Wed 3 Mar", "Thu 4 Mar", "Fri 5 Mar",
                      "Sat 6 Mar", "Sun 7 Mar"])]
    assert page.count('<ol class="timeline"') == 7
    assert "Wednesday thing" in page
    assert 'rel="prev"' in page and "start=2027-02-22" in page and "start=2027-03-08" in page


def test_the_week_s_days_share_one_scale(browser_as, alice, berlin, make):
    """A day with a booking before opening started its column earlier (08:15), so the
    hour lines no longer lined up across the week: every day now starts where the
    week's earliest does, closed before its own hours."""
    make.booking(berlin, alice, at(2, "08:15"), at(2, "09:30"), title="Early one")
    page = text(browser_as(alice).get(f"/rooms/{berlin['id']}/week?start=2027-03-01"))
    columns = page.split('<ol class="timeline"')[1:]
    assert len(columns) == 7
    for column in columns:
        first = re.search(r'<li class="hour-mark"[^>]*style="grid-row: 1">([^<]+)</li>', column)
        assert first and first.group(1) == "08:15", column[:400]
    wednesday = columns[2]
    assert re.search(r'class="segment closed"[^>]*>\s*<span class="seg-time">08:15–09:00', wednesday)
    assert "Book 09:00–" in wednesday


# -- my bookings ---------------------------------------------------------------------------------

@pytest.fixture
def mine(make, alice, berlin, new_york):
    """Alice's bookings: Berlin 17:15 and New York 12:00 on Tuesday (18:00 in Berlin).
    Most rooms are in Berlin."""
    make.room("Elbe", "Europe/Berlin")
    make.booking(berlin, alice, at(2, "17:15"), at(2, "17:45"), title="Berlin late")
    make.booking(new_york, alice, at(2, "12:00", NEW_YORK), at(2, "13:00", NEW_YORK),
                 title="New York noon")
    make.booking(berlin, alice, at(3, "09:00"), at(3, "10:00"), title="Wednesday")


def test_my_bookings_are_grouped_by_day_naming_another_zone_and_not_my_name(browser_as, alice,
                                                                           mine):
    page = text(browser_as(alice).get("/bookings/mine"))
    assert re.findall(r'<h2 class="day-heading"[^>]*>([^<]+)</h2>', page) == [
        "Tue 2 Mar 2027", "Wed 3 Mar 2027"]
    tuesday = page[page.index("Tue 2 Mar 2027"):page.index("Wed 3 Mar 2027")]
    # In order of time, and the New York one says why it comes after 17:15.
    assert tuesday.index("Berlin late") < tuesday.index("New York noon")
    assert "America/New_York time (18:00–19:00 yours)" in tuesday
    assert "Europe/Berlin time" not in tuesday
    assert "Alice" not in page[page.index("<main"):]
    assert "Days in Europe/Berlin" in page


def test_my_own_time_zone_groups_the_days(browser_as, alice, mine, conn):
    conn.execute("UPDATE users SET timezone = 'America/New_York' WHERE id = %s", (alice["id"],))
    page = text(browser_as(alice).get("/bookings/mine"))
    assert "Days in America/New_York" in page
    assert "Europe/Berlin time (11:15–11:45 yours)" in page
    assert "America/New_York time" not in page


def test_my_week_as_a_page_and_as_json(browser_as, api_as, alice, mine):
    page = text(browser_as(alice).get("/bookings/mine?view=week&start=2027-03-03"))
    assert len(re.findall(r'<h2 class="day-heading"', page)) == 7
    assert "Nothing booked." in page and "New York noon" in page
    week = api_as(alice).get("/api/bookings/mine?view=week&start=2027-03-03").get_json()
    assert (week["view"], week["timezone"], week["start"]) == ("week", "Europe/Berlin",
                                                               "2027-03-01")
    assert [[b["title"] for b in d["bookings"]] for d in week["days"]][:3] == [
        [], ["Berlin late", "New York noon"], ["Wednesday"]]
    assert api_as(alice).get("/api/bookings/mine?view=year").status_code == 400
