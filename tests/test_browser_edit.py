"""Changing a booking in headless Chromium against gunicorn: through the page, and
a refused change that keeps what was typed (issue 16)."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from conftest import tomorrow_at
from test_browser import chromium, page, sign_in  # noqa: F401 (fixtures)


def test_change_a_bookings_time_through_the_page(live_server, page, make, conn):
    alice = make.user("Alice")
    room = make.room("Spree", "Europe/Berlin")
    start = tomorrow_at("Europe/Berlin", 10)
    booking = make.booking(room, alice, start, start + timedelta(hours=1), title="Standup")

    sign_in(page, live_server.url, alice)
    page.goto(f"{live_server.url}/bookings/{booking['id']}")
    page.get_by_role("link", name="Change").click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking['id']}/edit$"))
    expect(page.get_by_label("What is it for?")).to_have_value("Standup")
    expect(page.get_by_label("From")).to_have_value("10:00")
    page.get_by_label("From").fill("14:00")
    page.get_by_label("To").fill("15:30")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking['id']}$"))
    expect(page.get_by_text(re.compile(r"Changed: Spree, .* 14:00–15:30\."))).to_be_visible()
    row = conn.execute("SELECT start_at, end_at FROM bookings WHERE id = %s",
                       (booking["id"],)).fetchone()
    moved = tomorrow_at("Europe/Berlin", 14)
    assert (row["start_at"], row["end_at"]) == (moved, moved + timedelta(minutes=90))


def test_a_refused_change_keeps_what_was_typed_and_offers_where_to_go(live_server, page, make,
                                                                     conn):
    alice, bob = make.user("Alice"), make.user("Bob")
    room = make.room("Spree", "Europe/Berlin")
    make.room("Havel", "Europe/Berlin", capacity=8)
    start = tomorrow_at("Europe/Berlin", 10)
    booking = make.booking(room, alice, start, start + timedelta(hours=1), title="Standup")
    taken = tomorrow_at("Europe/Berlin", 14)
    make.booking(room, bob, taken, taken + timedelta(hours=1), title="Bob's review")
    before = conn.execute("SELECT b::text AS t FROM bookings b WHERE id = %s",
                          (booking["id"],)).fetchone()["t"]

    sign_in(page, live_server.url, alice)
    page.goto(f"{live_server.url}/bookings/{booking['id']}/edit")
    page.get_by_label("What is it for?").fill("Typed title")
    page.get_by_label("From").fill("14:30")
    page.get_by_label("To").fill("15:30")
    page.get_by_label("Notes (optional)").fill("Typed notes")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_text("Spree is already booked at that time.").first).to_be_visible()
    expect(page.get_by_role("link", name="Bob's review")).to_be_visible()
    expect(page.get_by_label("What is it for?")).to_have_value("Typed title")
    expect(page.get_by_label("From")).to_have_value("14:30")
    expect(page.get_by_label("To")).to_have_value("15:30")
    expect(page.get_by_label("Notes (optional)")).to_have_value("Typed notes")
    expect(page.get_by_role("button", name=re.compile(r"^Move to Havel"))).to_be_visible()
    after = conn.execute("SELECT b::text AS t FROM bookings b WHERE id = %s",
                         (booking["id"],)).fetchone()["t"]
    assert after == before

    # One click on a suggestion moves it there, with what was typed.
    page.get_by_role("button", name=re.compile(r"^Move to Havel")).click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking['id']}$"))
    expect(page.get_by_text(re.compile(r"Changed: Havel, .* 14:30–15:30\."))).to_be_visible()
    row = conn.execute("SELECT title, notes FROM bookings WHERE id = %s",
                       (booking["id"],)).fetchone()
    assert (row["title"], row["notes"]) == ("Typed title", "Typed notes")


def test_after_a_refused_form_the_keyboard_starts_at_the_field_at_fault(live_server, page, make):
    """Errors were announced, but focus was on the page itself: a keyboard user tabbed
    down from the top again to reach the field."""
    alice = make.user("Alice")
    room = make.room("Spree", "Europe/Berlin")
    sign_in(page, live_server.url, alice)
    page.goto(f"{live_server.url}/bookings/new?room_id={room['id']}")
    page.get_by_label("What is it for?").fill("")
    page.get_by_label("What is it for?").press("Enter")
    expect(page.get_by_label("What is it for?")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("What is it for?")).to_be_focused()
