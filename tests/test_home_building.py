"""Where a person is (issue 15 #19): a home building, chosen on /account or with
PATCH /api/me, by default where they booked most lately; the finder and automatic
assignment prefer it and offer no room in another time zone unless asked."""

from datetime import datetime

import pytest

from conftest import UTC

# 15:00-16:00 in Berlin is 09:00-10:00 in New York: rooms in both are open.
BERLIN_TIME = {"start_time": "2027-03-02T15:00", "end_time": "2027-03-02T16:00",
               "timezone": "Europe/Berlin"}


@pytest.fixture
def offices(make):
    """Two Berlin rooms in "Berlin HQ", and in New York the best fit for two people."""
    return {"spree": make.room("Spree", "Europe/Berlin", capacity=8, building="Berlin HQ"),
            "havel": make.room("Havel", "Europe/Berlin", capacity=6, building="Berlin HQ"),
            "hudson": make.room("Hudson", "America/New_York", capacity=2, building="NY Office")}


def names(response):
    assert response.status_code == 200, response.get_json()
    return [room["name"] for room in response.get_json()["rooms"]]


def free(api, **extra):
    query = "&".join(f"{k}={v}" for k, v in {**BERLIN_TIME, "capacity": 2, **extra}.items())
    return api.get(f"/api/rooms/free?{query}")


def test_the_home_building_defaults_to_where_they_booked_most(api_as, alice, offices, make):
    assert api_as(alice).get("/api/me").get_json()["user"]["home_building"] is None
    for day, room in ((2, "hudson"), (3, "spree"), (4, "havel")):
        make.booking(offices[room], alice, datetime(2027, 3, day, 14, tzinfo=UTC),
                     datetime(2027, 3, day, 15, tzinfo=UTC))
    me = api_as(alice).get("/api/me").get_json()["user"]
    assert (me["home_building"], me["home_building_source"]) == ("Berlin HQ", "most_booked")


def test_choosing_a_home_building(api_as, browser_as, alice, offices, conn):
    api = api_as(alice)
    r = api.patch("/api/me", json={"home_building": "ny office"})
    assert r.status_code == 200
    me = r.get_json()["user"]
    assert (me["home_building"], me["home_building_source"]) == ("NY Office", "chosen")
    r = api.patch("/api/me", json={"home_building": "Atlantis"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, "unknown_building")
    assert r.get_json()["error"]["details"]["field"] == "home_building"
    assert conn.execute("SELECT home_building FROM users WHERE id = %s",
                        (alice["id"],)).fetchone()["home_building"] == "NY Office"
    assert api.patch("/api/me", json={"home_building": None}).get_json()["user"][
        "home_building"] is None
    page = browser_as(alice)
    assert page.post("/account/home", data={"home_building": "Berlin HQ"}).status_code == 302
    account = page.get("/account").get_data(as_text=True)
    assert "Yours is <strong>Berlin HQ</strong>" in account
    assert '<option value="Berlin HQ" selected>' in account
    assert page.post("/account/home", data={"home_building": "Atlantis"}).status_code == 422


def test_the_finder_prefers_the_home_building_and_stays_in_its_time_zone(api_as, alice,
                                                                         offices):
    """A Berlin-time search ranked the New York room first (the smallest that fits)."""
    api = api_as(alice)
    assert names(free(api)) == ["Hudson", "Havel", "Spree"]       # no home building: as before
    api.patch("/api/me", json={"home_building": "Berlin HQ"})
    found = free(api).get_json()["rooms"]
    assert [r["name"] for r in found] == ["Havel", "Spree"]
    # 50 for the home building (and 5 for balance: neither is used this week)
    assert [r["score"] for r in found] == [91.7, 90.0]
    # Asked: other zones too, the home building still first.
    assert names(free(api, any_timezone="true")) == ["Havel", "Spree", "Hudson"]
    assert free(api, any_timezone="true").get_json()["rooms"][2]["score"] == 55.0   # 50 + 5
    # A building asked for by name is where they are for this search.
    assert names(free(api, building="NY%20Office")) == ["Hudson"]


def test_auto_assignment_never_books_another_time_zone_unless_asked(api_as, alice, bob,
                                                                    offices, make):
    api = api_as(alice)
    api.patch("/api/me", json={"home_building": "Berlin HQ"})
    body = {"title": "Sync", "attendees": 2, **BERLIN_TIME}
    r = api.post("/api/bookings/auto", json=body)
    assert r.status_code == 201 and r.get_json()["room"]["name"] == "Havel"
    make.booking(offices["spree"], bob, datetime(2027, 3, 2, 14, tzinfo=UTC),
                 datetime(2027, 3, 2, 15, tzinfo=UTC))
    r = api.post("/api/bookings/auto", json=body)              # Berlin is full now
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "no_room")
    suggested = r.get_json()["error"]["details"]["suggestions"]
    assert {t["room"]["timezone"] for t in suggested["times"]} <= {"Europe/Berlin"}
    r = api.post("/api/bookings/auto", json={**body, "any_timezone": True})
    assert r.status_code == 201 and r.get_json()["room"]["name"] == "Hudson"


def test_the_find_page_says_where_it_looks(browser_as, api_as, alice, offices):
    api_as(alice).patch("/api/me", json={"home_building": "Berlin HQ"})
    page = browser_as(alice)
    html = page.get("/find?date=2027-03-02&start=15:00&end=16:00&timezone=Europe/Berlin"
                    "&attendees=2").get_data(as_text=True)
    assert "Your home building, Berlin HQ, is looked at first" in html
    assert 'id="any_timezone" name="any_timezone" type="checkbox"' in html
    assert "Havel" in html and "Hudson" not in html
    html = page.get("/find?date=2027-03-02&start=15:00&end=16:00&timezone=Europe/Berlin"
                    "&attendees=2&any_timezone=on").get_data(as_text=True)
    assert "Hudson" in html
