"""One walk through the real thing: headless Chromium against gunicorn.

Sign in, book a room, find it in "My bookings", cancel it.
"""

import os
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from booking.times import zone
from conftest import PASSWORD

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
    from playwright.sync_api import sync_playwright

    os.environ["HOME"] = str(tmp_path)  # keep Chromium's files out of the real home
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def test_sign_in_book_find_and_cancel(live_server, page, make, tmp_path):
    alice = make.user("Alice")
    room = make.room("Spree", "Europe/Berlin")
    day = datetime.now(timezone.utc).astimezone(zone("Europe/Berlin")).date() + timedelta(days=1)

    page.goto(live_server.url + "/")
    assert "/login" in page.url                      # strangers are sent to sign in
    page.get_by_label("Email").fill(alice["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("heading", name="Spree").is_visible()

    page.get_by_role("link", name="Book a room").first.click()
    page.get_by_label("Room").select_option(str(room["id"]))
    page.get_by_label("What is it for?").fill("Browser-made meeting")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From").fill("10:00")
    page.get_by_label("To").fill("11:30")
    page.get_by_role("button", name="Book", exact=True).click()
    page.wait_for_url("**/bookings/*")
    assert page.get_by_text("Booked Spree, 10:00–11:30.").is_visible()
    page.screenshot(path=str(tmp_path / "booked.png"))

    page.get_by_role("link", name="My bookings").first.click()
    card = page.locator(".booking-card", has_text="Browser-made meeting")
    assert card.is_visible()
    page.once("dialog", lambda dialog: dialog.accept())   # "Cancel ...?" confirmation
    card.get_by_role("button", name="Cancel").click()
    page.wait_for_load_state()
    assert page.get_by_text("Cancelled “Browser-made meeting” in Spree.").is_visible()
    assert page.locator(".booking-card", has_text="Browser-made meeting").count() == 0


def test_an_admin_opens_the_utilisation_report(live_server, page, make):
    admin = make.user("Ada", role="admin", email="ada@example.com")
    room = make.room("Spree", "Europe/Berlin")
    start = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
    make.booking(room, admin, start, start + timedelta(hours=2), title="Planning")

    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(admin["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    page.get_by_role("link", name="Reports").click()
    page.wait_for_url("**/reports")
    assert page.get_by_role("heading", name="Room utilisation").is_visible()
    assert page.get_by_role("img", name="Utilisation by room").is_visible()
    assert page.locator("#by-table").get_by_role("rowheader", name="Spree").is_visible()
    assert page.get_by_role("img", name="Busiest hours (weekday × hour, room-local)").is_visible()
    page.get_by_label("By", exact=True).select_option("building")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**group=building**")
    assert page.locator("#by-table").get_by_role("rowheader", name="HQ").is_visible()


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
    page.wait_for_url(live_server.url + "/")
    page.get_by_role("link", name="Find a room").click()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From").fill("14:00")
    page.get_by_label("To").fill("15:30")
    assert page.get_by_label("Time zone").input_value() == "Europe/Berlin"
    page.get_by_label("People").fill("5")
    page.get_by_label("Equipment").fill("screen, video")
    page.keyboard.press("Enter")                      # submits the search
    page.wait_for_url("**/find?*")
    results = page.locator("#results h3")
    assert results.all_inner_texts()[0].startswith("Huddle")
    assert results.count() == 2
    page.get_by_label("What is it for?").fill("Keyboard meeting")
    page.keyboard.press("Enter")                      # the first button: Book the best
    page.wait_for_url("**/bookings/*")
    assert page.get_by_text("Booked Huddle, 14:00–15:30 (Europe/Berlin time).").is_visible()
