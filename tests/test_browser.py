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
def chromium(tmp_path):
    """Debian's Chromium, headless, driven by Playwright: new_context() as needed."""
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
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(EXPECT_MS)
    yield page
    context.close()


def sign_in(page, base_url, user):
    """Sign in through the form, as a person would."""
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(user["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")


def scrolls_sideways(page) -> bool:
    """Whether the page itself is wider than the window (a horizontal scroll bar)."""
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


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
    page.get_by_label("screen").check()
    page.get_by_label("video").check()
    page.keyboard.press("Enter")                      # submits the search
    expect(page).to_have_url(re.compile(r"/find\?"))
    results = page.locator("#results h3")
    expect(results).to_have_count(2)
    expect(results.first).to_have_text(re.compile(r"^Huddle"))
    page.get_by_label("What is it for?").fill("Keyboard meeting")
    page.keyboard.press("Enter")                      # the first button: Book the best
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(page.get_by_text("Booked Huddle, 14:00–15:30 (Europe/Berlin time).")).to_be_visible()


# -- the planning board, phones, the keyboard ----------------------------------------------

@pytest.fixture
def board_world(make):
    """Six rooms in Berlin (two buildings) and two in New York; a booking tomorrow."""
    alice = make.user("Alice")
    rooms = [make.room(f"Room {n}", "Europe/Berlin", building="HQ" if n < 3 else "Annex",
                       floor=n % 2, equipment=["screen"] if n % 2 else [])
             for n in range(6)]
    rooms += [make.room(f"Hudson {n}", "America/New_York", building="NY") for n in range(2)]
    tomorrow = datetime.now(timezone.utc).astimezone(zone("Europe/Berlin")).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, datetime.min.time(), zone("Europe/Berlin")).replace(hour=14)
    make.booking(rooms[1], alice, start, start + timedelta(hours=1), title="Planning")
    return {"alice": alice, "rooms": rooms, "day": tomorrow.isoformat()}


@pytest.mark.parametrize("width", [1280, 390])
def test_the_board_fits_the_window_and_scrolls_its_hours_inside(live_server, chromium,
                                                                board_world, width, tmp_path):
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, board_world["alice"])
    page.goto(f"{live_server.url}/board?date={board_world['day']}")
    expect(page.get_by_role("heading", name="Europe/Berlin")).to_be_visible()
    expect(page.get_by_role("heading", name="America/New_York")).to_be_visible()
    bar = page.get_by_role("link", name=f"Room 1, 14:00–15:00, Planning, Alice")
    expect(bar).to_be_visible()
    assert not scrolls_sideways(page), page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(tmp_path / f"board-{width}.png"), full_page=True)
    scroller = page.locator(".board-scroll").first
    if width == 390:
        # The hours scroll inside the board; the room names stay in view.
        assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
        scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
        room = page.locator(".board-room").first.bounding_box()
        box = scroller.bounding_box()
        assert box["x"] <= room["x"] < box["x"] + 5, (room, box)
        # The menu is folded away behind its button, and opens.
        expect(page.get_by_role("link", name="My bookings")).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(page.get_by_role("link", name="My bookings")).to_be_visible()
    else:
        assert scroller.evaluate("e => e.scrollWidth <= e.clientWidth")
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    context.close()


def test_the_board_draws_its_bars_without_javascript(live_server, chromium, board_world):
    context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                   java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server.url, board_world["alice"])
    page.goto(f"{live_server.url}/board?date={board_world['day']}")
    bar = page.get_by_role("link", name="Room 1, 14:00–15:00, Planning, Alice").bounding_box()
    track = page.locator(".board-row", has_text="Room 1").locator(".board-track").bounding_box()
    # 09:00-18:00 across the track: 14:00 starts 5/9 of the way, an hour is 1/9 wide.
    assert abs(bar["x"] - (track["x"] + track["width"] * 5 / 9)) < 3, (bar, track)
    assert abs(bar["width"] - track["width"] / 9) < 3, (bar, track)
    context.close()


def test_keyboard_from_the_first_free_stretch_to_a_filled_booking_form(live_server, chromium,
                                                                       board_world):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    sign_in(page, live_server.url, board_world["alice"])
    page.goto(f"{live_server.url}/board?date={board_world['day']}")
    for _ in range(80):   # Tab through the page in reading order to the first free stretch
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.bar.free')"):
            break
    else:
        pytest.fail("no free stretch could be reached with Tab")
    name = page.evaluate("document.activeElement.textContent")
    assert name.startswith("Room "), name
    assert "09:00–18:00, free: book" in name
    page.keyboard.press("Enter")
    page.wait_for_url("**/bookings/new?*")
    room_name = name.split(",")[0]
    room = next(r for r in board_world["rooms"] if r["name"] == room_name)
    assert page.get_by_label("Room").input_value() == str(room["id"])
    assert page.get_by_label("Date").input_value() == board_world["day"]
    assert page.get_by_label("From").input_value() == "09:00"
    assert page.get_by_label("To").input_value() == "13:00"     # at most the longest booking
    assert page.locator("#room-zone").inner_text().startswith("Times in Europe/Berlin")
    page.get_by_label("What is it for?").focus()
    page.keyboard.type("Keyboard board meeting")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/bookings/\d+$"))
    expect(page.get_by_text(f"Booked {room_name}, 09:00–13:00.")).to_be_visible()
    context.close()


WORDS_FIT = """table => [...table.querySelectorAll('td, th')].filter(cell => {
    const style = getComputedStyle(cell);
    const ruler = document.createElement('canvas').getContext('2d');
    ruler.font = style.font;
    const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const longest = Math.max(0, ...cell.innerText.split(/\\s+/).map(w => ruler.measureText(w).width));
    return longest > room + 1;
}).map(cell => cell.innerText)"""


def test_a_table_on_a_phone_scrolls_rather_than_breaking_its_words(live_server, chromium, make,
                                                                    conn):
    """With overflow-wrap: anywhere on cells, a table on a phone shrank its columns to a
    letter or two ("the organisati on's default"); it keeps whole words and scrolls
    inside its own box instead."""
    admin = make.user("Ada", role="admin", email="ada@example.com")
    room = make.room("Museumsinsel", "Europe/Berlin")
    site = conn.execute("INSERT INTO areas (name, policy) VALUES ('Headquarters Berlin', "
                        "'{\"buffer_minutes\": 10, \"closed_dates\": [\"12-25\"]}') "
                        "RETURNING id").fetchone()
    conn.execute("UPDATE rooms SET area_id = %s WHERE id = %s", (site["id"], room["id"]))
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server.url, admin)
    page.goto(f"{live_server.url}/admin/rooms/{room['id']}/policy")
    table = page.locator("table.data").first
    expect(table).to_be_visible()
    assert table.evaluate(WORDS_FIT) == []
    assert not scrolls_sideways(page), page.evaluate("document.documentElement.scrollWidth")
    context.close()


WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
               && !e.closest('.table-scroll, .api-op, .board-scroll, .week-scroll, .api-example'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def test_the_admin_pages_the_api_reference_and_the_panel_fit_a_phone(live_server, chromium, make,
                                                                     app):
    """At 390 px the people page (698 px), the API reference (~600 px) and the door
    panel (~480 px) scrolled sideways: a table outside a scroller, long paths in
    headings, the panel's header and code."""
    from booking.panels import service as panels

    admin = make.user("Ada", role="admin", email="ada@example.com")
    for n in range(3):
        make.user(f"Person with a rather long name {n}", email=f"someone.long.{n}@example.com")
    room = make.room("Museumsinsel Konferenzraum", "Europe/Berlin")
    with app.app_context():
        _row, token = panels.create_token(room["id"], None)
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    sign_in(page, live_server.url, admin)
    for path in ("/admin/users", "/api/docs", f"/admin/rooms/{room['id']}"):
        page.goto(live_server.url + path)
        assert not scrolls_sideways(page), (path, page.evaluate(WIDER))
    context.close()
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    panel = context.new_page()
    panel.goto(f"{live_server.url}/rooms/{room['id']}/panel?key={token}")
    assert not scrolls_sideways(panel), panel.evaluate(WIDER)
    context.close()


def test_the_booking_form_s_length_hint_follows_the_room_chosen(live_server, page, make, conn):
    """The hint says how long a booking may be in the chosen room, by its policy, and
    again when another room is chosen (static/app.js, from the option's data)."""
    from policykit import room_policy
    alice = make.user("Alice")
    long_meetings = make.room("Long meetings", "Europe/Berlin")
    plain = make.room("Plain", "Europe/Berlin")
    room_policy(conn, long_meetings, min_minutes=90, max_minutes=120)
    sign_in(page, live_server.url, alice)
    page.goto(f"{live_server.url}/bookings/new?room_id={long_meetings['id']}")
    hint = page.locator("#time-hint")
    expect(hint).to_have_text("Bookings last 1 h 30 min to 2 hours, within opening hours.")
    page.get_by_label("Room").select_option(str(plain["id"]))
    expect(hint).to_have_text("Bookings last 15 minutes to 4 hours, within opening hours.")
    page.get_by_label("Room").select_option(str(long_meetings["id"]))
    expect(hint).to_have_text("Bookings last 1 h 30 min to 2 hours, within opening hours.")


def test_every_weekday_takes_the_every_field_away(live_server, page, make, conn):
    """"Every weekday (Mon–Fri)" is each week: its Every field is hidden and disabled
    (not sent, not reached with Tab), and back for the other choices (static/app.js)."""
    alice = make.user("Alice")
    room = make.room("Daily desk", "Europe/Berlin")
    sign_in(page, live_server.url, alice)
    page.goto(f"{live_server.url}/bookings/new?room_id={room['id']}")
    every = page.locator("#every")
    page.get_by_label("Repeats").select_option("weekly")
    expect(every).to_be_visible()
    expect(every).to_be_enabled()
    page.get_by_label("Repeats").select_option("weekdays")
    expect(every).to_be_hidden()
    expect(every).to_be_disabled()
    page.get_by_label("Repeats").select_option("daily")
    expect(every).to_be_visible()
    expect(every).to_be_enabled()
