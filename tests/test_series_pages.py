"""The booking form's Repeat section, the series page, the availability page."""

import html
import re
from datetime import datetime

import pytest
from werkzeug.datastructures import MultiDict

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
                                      "weekdays": ["TU"], "ends": "on", "until": "2027-03-01"})
    assert r.status_code == 422
    page = text(r)
    assert 'id="recurrence-error"' in page and "before its first date" in page
    assert 'value="TU" checked' in page and 'value="on" checked' in page


@pytest.mark.parametrize("fields, errors", [
    ({"ends": "after", "count": "0", "every": "0"}, {"count": "End after 1 to 1000 occurrences.",
                                                    "every": "Repeat every 1 to 999 days"}),
    ({"ends": "after", "count": "1001"}, {"count": "End after 1 to 1000 occurrences."}),
    ({"ends": "on", "until": ""}, {"until": "Choose the series&#39; last day."}),
    ({"ends": "on", "until": "2027-02-30"}, {"until": "not a real date"}),
])
def test_the_repeat_fields_are_named_in_words_at_each_field(browser_as, alice, berlin, conn,
                                                            fields, errors):
    """"“UNTIL=” is not NAME=VALUE." and "COUNT must be between 1 and 1000." were said
    of the whole Repeat section."""
    r = browser_as(alice).post("/bookings/new", data={**FORM, "room_id": berlin["id"],
                                                      "repeat": "daily", **fields})
    assert r.status_code == 400
    page = text(r)
    for field, message in errors.items():
        assert re.search(rf'id="{field}"[^>]* aria-describedby="[^"]*{field}-error"'
                         r'[^>]* aria-invalid="true"', page), field
        error = re.search(rf'<p class="field-error" id="{field}-error" role="alert">([^<]*)</p>',
                          page)
        assert error and message in error.group(1), (field, error and error.group(1))
    assert "NAME=VALUE" not in page and "COUNT" not in page
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


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
    # 11:00-18:00 is free; its link offers the longest booking, four hours
    assert f"/bookings/new?room_id={berlin['id']}&amp;date=2027-03-02&amp;start=11:00&amp;end=15:00" in page


def test_account_page_shows_the_calendar_address_and_makes_a_new_one(browser_as, alice):
    b = browser_as(alice)
    first = re.search(r'id="calendar-url">([^<]+)<', text(b.get("/account"))).group(1)
    assert "/calendar/" in first and first.endswith(".ics")
    assert b.post("/account/calendar").status_code == 302
    second = re.search(r'id="calendar-url">([^<]+)<', text(b.get("/account"))).group(1)
    assert second != first


def test_the_series_page_says_where_the_series_really_ends(browser_as, api_as, alice, berlin):
    """Issue 15 #16: 8 weekly occurrences ending in April said "Booked up to" the end of
    the booking window (August)."""
    api = api_as(alice)
    b = browser_as(alice)

    def made(rule, start="2027-03-02T10:00", end="2027-03-02T11:00"):
        r = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Sync",
                                            "start_time": start, "end_time": end,
                                            "recurrence": rule})
        assert r.status_code == 201, r.get_json()
        series_id = r.get_json()["series"]["id"]
        return series_id, api.get(f"/api/series/{series_id}").get_json()["series"]

    counted, shown = made("FREQ=WEEKLY;COUNT=8")
    assert shown["last_start"] == "2027-04-20T10:00:00+02:00"
    assert shown["materialized_until"] > shown["last_start"]        # the window's end: August
    page = text(b.get(f"/series/{counted}"))
    assert "Tue 20 Apr 2027, 10:00</time> (the last occurrence)" in page
    assert "Booked up to" not in page

    until, shown = made("FREQ=MONTHLY;BYMONTHDAY=3;UNTIL=20271231", "2027-03-03T10:00",
                        "2027-03-03T11:00")
    assert shown["last_start"] == "2027-12-03T10:00:00+01:00"     # beyond the window
    page = text(b.get(f"/series/{until}"))
    assert "Fri 3 Dec 2027, 10:00</time> (the last occurrence)" in page
    assert "Booked up to" in page and "the rest is booked as the booking window moves on" in page

    endless, shown = made("FREQ=WEEKLY", "2027-03-04T12:00", "2027-03-04T13:00")
    assert shown["last_start"] is None
    page = text(b.get(f"/series/{endless}"))
    assert "never (it repeats with no end date)" in page and "Booked up to" in page

    # "This and following" ends it too.
    assert api.delete(f"/api/series/{counted}?from=2027-04-06T10:00").status_code == 200
    assert api.get(f"/api/series/{counted}").get_json()["series"]["last_start"] == \
        "2027-03-30T10:00:00+02:00"
    assert api.delete(f"/api/series/{endless}?from=2027-03-18T12:00").status_code == 200
    assert api.get(f"/api/series/{endless}").get_json()["series"]["last_start"] == \
        "2027-03-11T12:00:00+01:00"


def one_click_form(page, label):
    """The fields of the form whose button says `label`, as a browser would send them."""
    for form in re.findall(r"<form .*?</form>", page, re.S):
        if label in form:
            return [(html.unescape(n), html.unescape(v)) for n, v in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)]
    raise AssertionError(f"no form with {label!r}")


def test_a_series_conflict_offers_the_series_elsewhere_and_says_so_in_page_words(
        browser_as, alice, bob, berlin, make, conn):
    """Issue 15 #13: "Book Tiergarten at 09:00" on a series' conflict page booked one
    meeting; the message named the API field; the room list offered only the taken room."""
    tiergarten = make.room("Tiergarten", capacity=8)
    make.booking(berlin, bob, datetime(2027, 3, 9, 9, tzinfo=UTC), datetime(2027, 3, 9, 10, tzinfo=UTC))
    b = browser_as(alice)
    form = {**FORM, "start": "10:00", "end": "11:00", "room_id": berlin["id"], "repeat": "weekly",
            "weekdays": ["TU"], "ends": "after", "count": "4"}
    r = b.post("/bookings/new", data=form)
    assert r.status_code == 409
    page = text(r)
    assert "Book with skip_conflicts" not in page and "skip_conflicts to" not in page
    assert "1 date of this series is already taken in Spree." in page
    options = re.findall(r'<option value="(\d+)"', page)
    assert options == [str(berlin["id"]), str(tiergarten["id"])]
    assert "Book Spree, " not in page                 # no single meeting offered for a series
    # "Book the series in Tiergarten": the whole series, there.
    fields = one_click_form(page, "Book the series in Tiergarten (8 people) at 10:00–11:00")
    assert ("repeat", "weekly") in fields and ("weekdays", "TU") in fields
    assert ("count", "4") in fields and ("room_id", str(tiergarten["id"])) in fields
    r = b.client.post("/bookings/new", data=MultiDict(fields))
    assert r.status_code == 302 and r.headers["Location"].startswith("/series/")
    assert conn.execute("SELECT count(*) AS n FROM bookings WHERE room_id = %s AND series_id "
                        "IS NOT NULL", (tiergarten["id"],)).fetchone()["n"] == 4
    # "Book the other dates in Spree": the series there, the taken date skipped.
    r = b.post("/bookings/new", data={**form, "title": "Again"})
    fields = one_click_form(text(r), "Book the other dates in Spree (skip the 1 taken)")
    assert ("skip_conflicts", "on") in fields
    r = b.client.post("/bookings/new", data=MultiDict(fields))
    assert r.status_code == 302
    series_page = text(b.get(r.headers["Location"]))
    assert "Booked 3 occurrences; 1 taken and skipped." in series_page


def test_the_form_with_every_date_taken_does_not_offer_to_skip_them(browser_as, alice, bob,
                                                                    berlin, make, conn):
    """Asked with "skip the taken dates" and every date taken, the page offered "Book the
    other dates in Spree (skip the 2 taken)", which books nothing (a 409 again)."""
    make.booking(berlin, bob, datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 10, tzinfo=UTC))
    make.booking(berlin, bob, datetime(2027, 3, 9, 9, tzinfo=UTC), datetime(2027, 3, 9, 10, tzinfo=UTC))
    make.room("Tiergarten", capacity=8)
    b = browser_as(alice)
    r = b.post("/bookings/new", data={**FORM, "start": "10:00", "end": "11:00",
                                      "room_id": berlin["id"], "repeat": "weekly",
                                      "weekdays": ["TU"], "ends": "after", "count": "2",
                                      "skip_conflicts": "on"})
    assert r.status_code == 409
    page = html.unescape(text(r))
    assert ("2 dates of this series are already taken in Spree, and no other is left to "
            "book there.") in page
    assert "Book the other dates in Spree" not in page
    assert "Book the series in Tiergarten" in page
    assert conn.execute("SELECT count(*) AS n FROM series").fetchone()["n"] == 0


def test_a_series_starting_beyond_the_window_says_so_on_the_form(browser_as, alice, berlin):
    """It said "This rule yields no occurrence in the booking window … check its weekdays"."""
    from datetime import timedelta

    from conftest import NOW
    day = (NOW + timedelta(days=200)).date().isoformat()
    r = browser_as(alice).post("/bookings/new", data={**FORM, "date": day,
                                                      "room_id": berlin["id"],
                                                      "repeat": "weekly"})
    assert r.status_code == 422
    assert "at most 180 days ahead" in text(r) and "check its weekdays" not in text(r)


def test_every_weekday_with_every_2_is_refused_at_the_every_field(browser_as, alice, berlin,
                                                                  conn):
    """Found by testing from outside: "Every weekday (Mon–Fri)" with Every 2 booked every
    week, the 2 ignored. static/app.js takes the Every field away for that choice;
    without JavaScript the 2 is said to be wrong, by the field, and nothing is booked."""
    b = browser_as(alice)
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "repeat": "weekdays",
                                      "every": "2", "ends": "after", "count": "5"})
    assert r.status_code == 400, text(r)[:2000]
    error = re.search(r'<p class="field-error" id="every-error" role="alert">([^<]*)</p>',
                      text(r))
    assert error and "Every weekday" in html.unescape(error.group(1))
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "repeat": "weekdays",
                                      "every": "1", "ends": "after", "count": "5"})
    assert r.status_code == 302, text(r)[:2000]
    r = b.post("/bookings/new", data={**FORM, "room_id": berlin["id"], "repeat": "weekdays",
                                      "start": "11:00", "end": "11:30", "ends": "after",
                                      "count": "5"})   # no Every sent (app.js disables it)
    assert r.status_code == 302, text(r)[:2000]
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 10
