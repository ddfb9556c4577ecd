"""Ghost time in the utilisation report (issue 17): used, released and ghost minutes
per room and per building, in the twin, the page and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from booking.bookings import release
from conftest import NOW, UTC

DAY = datetime(2027, 2, 26, 9, 0, tzinfo=UTC)          # Friday, 10:00 in Berlin
QUERY = "from=2027-02-26&to=2027-02-26"


@pytest.fixture
def world(app, make, alice, conn):
    checkin = make.room("Spree", "Europe/Berlin", building="HQ")
    plain = make.room("Havel", "Europe/Berlin", building="Annex")
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (checkin["id"],))
    used = make.booking(checkin, alice, DAY, DAY + timedelta(hours=1))
    conn.execute("UPDATE bookings SET checked_in_at = %s WHERE id = %s", (DAY, used["id"]))
    released = make.booking(checkin, alice, DAY + timedelta(hours=2), DAY + timedelta(hours=3))
    with app.app_context():
        assert release.sweep(DAY + timedelta(hours=2, minutes=15), 100) == 1
    # Over without a check-in, never swept (the worker was down): ghost all the same.
    make.booking(checkin, alice, DAY + timedelta(hours=4), DAY + timedelta(hours=4, minutes=30))
    make.booking(plain, alice, DAY, DAY + timedelta(hours=1))      # no check-in asked
    return {"checkin": checkin, "plain": plain, "released": released}


def test_used_released_and_ghost_minutes_per_room_and_building(api_as, admin, world):
    api = api_as(admin)
    rooms = api.get(f"/api/reports/utilisation?{QUERY}&group=room").json
    by_name = {r["room_name"]: r for r in rooms["rows"]}
    spree, havel = by_name["Spree"], by_name["Havel"]
    assert (spree["used_minutes"], spree["released_minutes"], spree["ghost_minutes"]) == \
        (60, 45, 90)
    assert spree["booked_minutes"] == 60 + 15 + 30          # the released one as it is now
    assert (havel["used_minutes"], havel["released_minutes"], havel["ghost_minutes"]) == (0, 0, 0)
    assert rooms["total"]["ghost_minutes"] == 90
    buildings = api.get(f"/api/reports/utilisation?{QUERY}&group=building").json
    hq = next(r for r in buildings["rows"] if r["building"] == "HQ")
    assert (hq["used_minutes"], hq["released_minutes"], hq["ghost_minutes"]) == (60, 45, 90)


def test_the_csv_and_the_page_carry_them(browser_as, admin, world):
    page = browser_as(admin)
    text = page.get(f"/reports/utilisation.csv?{QUERY}&group=room").get_data(as_text=True)
    rows = {r["room_name"] if r["room_id"] != "total" else "total": r
            for r in csv.DictReader(io.StringIO(text))}
    assert rows["Spree"]["ghost_minutes"] == "90.0" and rows["Spree"]["used_minutes"] == "60.0"
    assert rows["total"]["released_minutes"] == "45.0"
    html = page.get(f"/reports?{QUERY}").get_data(as_text=True)
    assert "Ghost min" in html
    assert "60 minutes checked in; 90 booked and never used (45 of them given back by " \
           "releases)" in html


def test_one_minute_checked_in_is_said_in_the_singular(browser_as, admin, alice, make, conn):
    """QA, 2026-12-06: the report said "1 minutes checked in"."""
    room = make.room("Spree", "Europe/Berlin", building="HQ")
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (room["id"],))
    used = make.booking(room, alice, DAY, DAY + timedelta(minutes=15))
    # checked in, then ended early a minute after its start
    conn.execute("UPDATE bookings SET checked_in_at = start_at, end_at = start_at + "
                 "interval '1 minute' WHERE id = %s", (used["id"],))
    html = browser_as(admin).get(f"/reports?{QUERY}").get_data(as_text=True)
    assert "1 minute checked in; 0 booked and never used" in html


def test_only_bookings_held_while_check_in_was_required_are_ghost_time(app, api_as, admin,
                                                                      alice, make):
    """Found by testing from outside: turning check-in on for a room made every past
    booking nobody checked in to ghost time (past weeks' ghost_minutes 60 -> 150),
    turning it off took them back. Only what was booked while check-in was
    required (rooms.checkin_since) and never used is ghost time."""
    room = make.room("Spree", "Europe/Berlin", building="HQ")
    before = make.booking(room, alice, DAY - timedelta(days=1),
                          DAY - timedelta(days=1, minutes=-90))     # Thursday, 90 min
    after = make.booking(room, alice, DAY, DAY + timedelta(hours=1))  # Friday, 60 min
    assert before and after
    api = api_as(admin)
    app.config["NOW"] = DAY - timedelta(hours=12)        # check-in on from Thursday night
    assert api.patch(f"/api/rooms/{room['id']}",
                     json={"checkin_required": True}).status_code == 200
    app.config["NOW"] = NOW
    query = "from=2027-02-25&to=2027-02-26&group=room"
    row = api.get(f"/api/reports/utilisation?{query}").json["rows"][0]
    assert row["ghost_minutes"] == 60
