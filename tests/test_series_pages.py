"""The booking form's Repeat section, the series page, the availability page."""

import re
from datetime import datetime

from conftest import UTC


def text(r):
    return r.get_data(as_text=True)


FORM = {"title": "Team sync", "date": "2027-03-02", "start": "10:00", "end": "10:30"}


def test_booking_a_weekly_series_through_the_form(browser_as, alice, berlin, conn):
    b = browser_as(alice)
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "repeat": "weekly",
                                      "weekdays": ["TU", "TH"], "ends": "on", "until": "2027-03-31"})
    assert r.status_code == 302, text(r)[:2000]
    assert r.headers["Location"].startswith("/series/")
    page = text(b.get(r.headers["Location"]))
    assert "Booked 9 occurrences." in page
    assert "Weekly on Tuesday and Thursday, until Wed 31 Mar 2027" in page
    assert page.count("Cancel this and following") == 9
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 9


def test_a_bad_repeat_is_shown_in_the_repeat_section_keeping_the_input(browser_as, alice, berlin):
    b = browser_as(alice)
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "repeat": "weekly",
                                      "weekdays": ["TU"], "ends": "after", "count": "0"})
    assert r.status_code == 422
    page = text(r)
    assert 'id="recurrence-error"' in page and "COUNT" in page
    assert 'value="TU" checked' in page and 'value="after" checked' in page


def test_a_series_outside_hours_lists_the_occurrences_on_the_form(browser_as, alice, berlin):
    b = browser_as(alice)
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "start": "08:00", "end": "08:30",
                                      "repeat": "daily", "ends": "after", "count": "3"})
    assert r.status_code == 422
    assert len(re.findall(r"can be booked from 09:00 to 18:00", text(r))) >= 3


def test_missing_date_or_time_on_the_form_is_named(browser_as, alice, berlin):
    b = browser_as(alice)
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "date": ""})
    assert r.status_code == 400 and 'id="date-error"' in text(r) and "Choose a date." in text(r)


def test_series_page_cancels_this_and_following(browser_as, alice, berlin, conn):
    b = browser_as(alice)
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "repeat": "weekly",
                                      "ends": "after", "count": "4"})
    series_id = int(r.headers["Location"].rsplit("/", 1)[1])
    third = conn.execute("SELECT start_at FROM bookings ORDER BY start_at OFFSET 2 LIMIT 1").fetchone()
    r = b.post(f"/series/{series_id}/cancel", data={"from": third["start_at"].isoformat()})
    assert r.status_code == 302
    assert "Cancelled this and the following occurrences: 2 bookings." in text(b.get(r.headers["Location"]))
    assert conn.execute("SELECT count(*) AS n FROM bookings WHERE cancelled_at IS NULL").fetchone()["n"] == 2


def test_series_page_for_someone_else_has_no_cancel_buttons(browser_as, alice, bob, berlin):
    r = browser_as(alice).post("/bookings/new", data={**FORM, "room_id": berlin["id"], "repeat": "daily",
                                                      "ends": "after", "count": "2"})
    page = browser_as(bob).get(r.headers["Location"])
    assert page.status_code == 200 and "Cancel" not in text(page).split("<main", 1)[1]


def test_availability_page_lists_free_time_with_book_links(browser_as, alice, berlin, make):
    make.booking(berlin, alice, datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 10, tzinfo=UTC))
    r = browser_as(alice).get(f"/rooms/{berlin['id']}/availability?start=2027-03-02&end=2027-03-03")
    assert r.status_code == 200
    page = text(r)
    assert "09:00</time>–<time" in page and "11:00</time>–<time" in page
    assert f"/bookings/new?room_id={berlin['id']}&amp;date=2027-03-02&amp;start=11:00&amp;end=18:00" in page


def test_account_page_shows_the_calendar_address_and_makes_a_new_one(browser_as, alice):
    b = browser_as(alice)
    first = re.search(r'id="calendar-url">([^<]+)<', text(b.get("/account"))).group(1)
    assert "/calendar/" in first and first.endswith(".ics")
    assert b.post("/account/calendar").status_code == 302
    second = re.search(r'id="calendar-url">([^<]+)<', text(b.get("/account"))).group(1)
    assert second != first
