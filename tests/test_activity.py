"""/activity from the outbox, and live pages that refresh through their twins' ETags."""

from datetime import datetime, timedelta

import pytest

from conftest import NOW, UTC


def book(api, room, start, end, title="Meeting"):
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": title,
                                        "start_time": start, "end_time": end})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["booking"]


def test_admins_see_everything_and_staff_their_own_newest_first(api_as, browser_as, alice, bob,
                                                                 admin, berlin):
    a = book(api_as(alice), berlin, "2027-03-02T10:00", "2027-03-02T11:00", "Alice's")
    book(api_as(bob), berlin, "2027-03-02T12:00", "2027-03-02T13:00", "Bob's")
    api_as(admin).delete(f"/api/bookings/{a['id']}")
    everything = api_as(admin).get("/api/activity").get_json()["events"]
    assert [e["type"] for e in everything] == ["booking.cancelled", "booking.created", "booking.created"]
    cancelled = everything[0]
    assert cancelled["actor"] == {"id": admin["id"], "name": "Ada"}
    assert cancelled["user"] == {"id": alice["id"], "name": "Alice"}
    assert cancelled["summary"].startswith("Cancelled by Ada: “Alice's” in Spree, Tue 2 Mar 2027, 10:00–11:00")
    assert cancelled["data"]["booking"]["start_time"] == "2027-03-02T10:00:00+01:00"
    mine = api_as(alice).get("/api/activity").get_json()["events"]
    assert [(e["type"], e["booking_id"]) for e in mine] == [("booking.cancelled", a["id"]),
                                                            ("booking.created", a["id"])]
    page = browser_as(alice).get("/activity").get_data(as_text=True)
    assert "Cancelled by Ada" in page and "Bob's" not in page


def test_activity_is_keyset_paginated(api_as, alice, berlin):
    api = api_as(alice)
    for hour in range(9, 16):
        book(api, berlin, f"2027-03-02T{hour:02d}:00", f"2027-03-02T{hour:02d}:30", f"#{hour}")
    seen, cursor = [], None
    while True:
        page = api.get("/api/activity?limit=3" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [e["data"]["booking"]["title"] for e in page["events"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"#{h}" for h in range(15, 8, -1)]
    assert api.get("/api/activity?cursor=garbage").status_code == 400


# -- live pages ----------------------------------------------------------------------------

def at(hour, minute=0, day=1):
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def busy_day(make, alice, bob, berlin):
    """NOW is 09:00 in Berlin: one meeting on now, one next, one later today, one tomorrow."""
    return {"current": make.booking(berlin, alice, at(7, 30), at(8, 30), "Now"),
            "next": make.booking(berlin, bob, at(10), at(11), "Next"),
            "later": make.booking(berlin, bob, at(13), at(14), "Later"),
            "tomorrow": make.booking(berlin, bob, at(10, day=2), at(11, day=2), "Tomorrow")}


@pytest.mark.parametrize("which, changes", [("current", True), ("next", True), ("later", True),
                                            ("tomorrow", False)])
def test_the_overview_etag_changes_when_a_booking_in_view_changes(api_as, admin, alice, busy_day,
                                                                  which, changes):
    api = api_as(alice)
    first = api.get("/api/rooms")
    etag = first.headers["ETag"]
    assert api.get("/api/rooms", headers={"If-None-Match": etag}).status_code == 304
    assert api_as(admin).delete(f"/api/bookings/{busy_day[which]['id']}").status_code == 200
    again = api.get("/api/rooms", headers={"If-None-Match": etag})
    assert again.status_code == (200 if changes else 304)
    if changes:
        assert again.headers["ETag"] != etag


def test_the_day_twin_etag_changes_when_a_booking_that_day_is_made_or_cancelled(api_as, alice, admin,
                                                                                 berlin, busy_day):
    api = api_as(alice)
    url = f"/api/rooms/{berlin['id']}/bookings?date=2027-03-01"
    etag = api.get(url).headers["ETag"]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304
    book(api, berlin, "2027-03-01T16:00", "2027-03-01T17:00")
    changed = api.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    etag = changed.headers["ETag"]
    assert api_as(admin).delete(f"/api/bookings/{busy_day['later']['id']}").status_code == 200
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_live_pages_name_their_twin_and_its_current_etag(browser_as, api_as, alice, berlin, busy_day):
    import re

    page = browser_as(alice)
    overview = page.get("/").get_data(as_text=True)
    refresh, etag = re.search(r'data-refresh="([^"]+)" data-etag="([^"]+)"', overview).groups()
    assert refresh == "/api/rooms"
    for encoding in ("", "gzip, deflate"):             # browsers take gzip: a weak ETag back
        twin = page.client.get(refresh, headers={"If-None-Match": etag.replace("&#34;", '"'),
                                                 "Accept-Encoding": encoding})
        assert twin.status_code == 304                  # the first refresh costs no body
    day = page.get(f"/rooms/{berlin['id']}?date=2027-03-01").get_data(as_text=True)
    refresh, etag = re.search(r'data-refresh="([^"]+)" data-etag="([^"]+)"', day).groups()
    assert refresh == f"/api/rooms/{berlin['id']}/bookings?date=2027-03-01"
    twin = page.client.get(refresh, headers={"If-None-Match": etag.replace("&#34;", '"')})
    assert twin.status_code == 304
    assert '<script src="/static/app.js" defer></script>' in day and "<script>" not in day
