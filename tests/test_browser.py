"""One walk through the real thing: headless Chromium against gunicorn.

Sign in, book a room, find it in "My bookings", cancel it.

Every step waits for what it needs, not for time or load events: Playwright's
actions wait for their element, and `expect(...)` waits for a page's URL or
content (EXPECT_MS is a deadline for a failure, generous for a busy machine).
"""

import os
import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from booking.times import zone
from conftest import PASSWORD

EXPECT_MS = 30_000

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def page(tmp_path):
    if not os.path.exists(CHROMIUM):
        if shutil.which("apt-get"):
            pytest.fail("Chromium is missing although apt is available: run `make test`, "
                        "which installs Debian's chromium package.")
        pytest.skip("No Chromium and no apt on this machine: the browser test cannot run here.")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_MS)
    os.environ["HOME"] = str(tmp_path)  # keep Chromium's files out of the real home
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(EXPECT_MS)
        yield page
        context.close()
        browser.close()


def test_sign_in_book_find_and_cancel(live_server, page, make, tmp_path):
    alice = make.user("Alice")
    room = make.room("Spree", "Europe/Berlin")
    day = datetime.now(timezone.utc).astimezone(zone("Europe/Berlin")).date() + timedelta(days=1)

    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login"))  # strangers are sent to sign in
    page.get_by_label("Email").fill(alice["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="Spree")).to_be_visible()

    page.get_by_role("link", name="Book a room").first.click()
    page.get_by_label("Room").select_option(str(room["id"]))
    page.get_by_label("What is it for?").fill("Browser-made meeting")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From").fill("10:00")
    page.get_by_label("To").fill("11:30")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(page.get_by_text("Booked Spree, 10:00–11:30.")).to_be_visible()
    page.screenshot(path=str(tmp_path / "booked.png"))

    page.get_by_role("link", name="My bookings").first.click()
    card = page.locator(".booking-card", has_text="Browser-made meeting")
    expect(card).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())   # "Cancel ...?" confirmation
    card.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled “Browser-made meeting” in Spree.")).to_be_visible()
    expect(page.locator(".booking-card", has_text="Browser-made meeting")).to_have_count(0)


def test_an_admin_opens_the_utilisation_report(live_server, page, make):
    admin = make.user("Ada", role="admin", email="ada@example.com")
    room = make.room("Spree", "Europe/Berlin")
    start = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
    make.booking(room, admin, start, start + timedelta(hours=2), title="Planning")

    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(admin["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url + "/")
    page.get_by_role("link", name="Reports").click()
    expect(page).to_have_url(re.compile(r"/reports$"))
    expect(page.get_by_role("heading", name="Room utilisation")).to_be_visible()
    expect(page.get_by_role("img", name="Utilisation by room")).to_be_visible()
    expect(page.locator("#by-table").get_by_role("rowheader", name="Spree")).to_be_visible()
    expect(page.get_by_role("img", name="Busiest hours (weekday × hour, room-local)")).to_be_visible()
    page.get_by_label("By", exact=True).select_option("building")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"group=building"))
    expect(page.locator("#by-table").get_by_role("rowheader", name="HQ")).to_be_visible()


def test_find_a_room_and_book_the_best_with_the_keyboard_alone(live_server, page, make):
    alice = make.user("Alice")
    make.room("Boardroom", "Europe/Berlin", capacity=20, equipment=["screen", "video"])
    make.room("Huddle", "Europe/Berlin", capacity=6, equipment=["screen", "video"])
    make.room("Nook", "Europe/Berlin", capacity=6, equipment=["screen"])
    day = datetime.now(timezone.utc).astimezone(zone("Europe/Berlin")).date() + timedelta(days=1)

    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(alice["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + "/")
    page.get_by_role("link", name="Find a room").click()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From").fill("14:00")
    page.get_by_label("To").fill("15:30")
    assert page.get_by_label("Time zone").input_value() == "Europe/Berlin"
    page.get_by_label("People").fill("5")
    page.get_by_label("Equipment").fill("screen, video")
    page.keyboard.press("Enter")                      # submits the search
    expect(page).to_have_url(re.compile(r"/find\?"))
    results = page.locator("#results h3")
    expect(results).to_have_count(2)
    expect(results.first).to_have_text(re.compile(r"^Huddle"))
    page.get_by_label("What is it for?").fill("Keyboard meeting")
    page.keyboard.press("Enter")                      # the first button: Book the best
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(page.get_by_text("Booked Huddle, 14:00–15:30 (Europe/Berlin time).")).to_be_visible()
