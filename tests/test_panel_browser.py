"""The door panel in a real browser (issue 17): headless Chromium against gunicorn at
1024x768, a tablet's screen: axe finds nothing serious, and Book now -> Check in ->
End early work through the panel's own buttons, signed in by its panel token."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from booking.bookings.usage import ceil_minute
from booking.panels import service as panels
from test_accessibility import serious
from test_browser import chromium  # noqa: F401  (fixture)


def zone_far_from_midnight() -> str:
    """A zone where it is now between 02:00 and 21:59, so a walk-in of up to an hour
    and the test's own bookings fit in the room's day (none crosses midnight). These
    tests run against the real clock; in Berlin at 23:50 no 15 minutes are left."""
    for name in ("Europe/Berlin", "America/New_York", "Asia/Tokyo"):
        if 2 <= datetime.now(ZoneInfo(name)).hour <= 21:
            return name
    raise AssertionError("three zones eight hours apart: one is always far from midnight")


@pytest.fixture
def tablet(chromium, tmp_path):
    context = chromium.new_context(viewport={"width": 1024, "height": 768}, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def test_the_panel_books_checks_in_and_ends_through_its_buttons(live_server, tablet, make,
                                                                conn, app):
    # Open round the clock where it is not near midnight, so Book now is on offer
    # whenever the test runs.
    room = make.room("Spree", zone_far_from_midnight(), opens="00:00", closes="23:59")
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (room["id"],))
    with app.app_context():
        _row, token = panels.create_token(room["id"], None)
    tablet.goto(f"{live_server.url}/rooms/{room['id']}/panel?key={token}")
    expect(tablet).to_have_url(f"{live_server.url}/rooms/{room['id']}/panel")
    expect(tablet.get_by_role("heading", name="Spree")).to_be_visible()
    expect(tablet.locator(".panel-state")).to_contain_text("Free")
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert serious(tablet) == []

    # A walk-in is checked in as it is made: its people are at the door.
    tablet.get_by_role("button", name="Book now: 15 min").click()
    expect(tablet.locator(".panel-state")).to_contain_text("In use")
    walk_in = conn.execute("SELECT id, title, checked_in_at FROM bookings").fetchone()
    assert walk_in["title"] == "Walk-in" and walk_in["checked_in_at"] is not None
    assert serious(tablet) == []

    tablet.get_by_role("button", name="End early").click()
    expect(tablet.locator(".panel-state")).to_contain_text("Free")
    ended = conn.execute("SELECT end_at, cancelled_at, start_at FROM bookings").fetchone()
    # Ended within its first minute it is cancelled; later, its end is cut to the minute.
    assert ended["cancelled_at"] is not None or \
        ended["end_at"] < ended["start_at"] + timedelta(minutes=15)
    assert serious(tablet) == []

    # Someone's booking from now waits for check-in, and the panel checks it in.
    owner = make.user("Olga", email="olga@example.com")
    start = (ended["start_at"] if ended["cancelled_at"] is not None else ended["end_at"])
    make.booking(room, owner, start, start + timedelta(minutes=30), title="Review")
    tablet.reload()
    expect(tablet.locator(".panel-state")).to_contain_text("waiting for check-in")
    tablet.get_by_role("button", name="Check in").first.click()
    expect(tablet.locator(".panel-state")).to_contain_text("In use")
    assert conn.execute("SELECT checked_in_at FROM bookings WHERE title = 'Review'"
                        ).fetchone()["checked_in_at"]
    assert serious(tablet) == []


def test_the_panel_polls_and_says_when_it_lost_the_server(live_server, tablet, make, app,
                                                          conn):
    room = make.room("Spree", zone_far_from_midnight(), opens="00:00", closes="23:59")
    with app.app_context():
        _row, token = panels.create_token(room["id"], None)
    tablet.clock.install()          # the page's timers run when the test says, not by the clock
    tablet.goto(f"{live_server.url}/rooms/{room['id']}/panel?key={token}")
    expect(tablet.locator(".panel-state")).to_contain_text("Free")
    polls = []
    tablet.on("request", lambda r: polls.append(r) if "/api/rooms/" in r.url else None)
    # A booking under way appears meanwhile: the next poll sees a new ETag and redraws.
    start = ceil_minute(datetime.now(timezone.utc))
    conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                 "SELECT %s, user_id, 'Meeting', %s, %s FROM panel_tokens LIMIT 1",
                 (room["id"], start - timedelta(minutes=1), start + timedelta(minutes=30)))
    tablet.clock.run_for(16_000)
    expect(tablet.locator(".panel-state")).to_contain_text("In use")
    # The poll that saw the change asked with the ETag it had (then the page reloaded).
    assert polls[0].headers.get("if-none-match")
    lost = tablet.locator("#panel-lost")
    expect(lost).to_be_hidden()
    live_server.stop()
    tablet.clock.run_for(16_000)
    expect(lost).to_be_visible()
