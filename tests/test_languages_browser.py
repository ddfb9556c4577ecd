"""Languages in Debian's Chromium against gunicorn: a German browser (locale="de-DE",
so Accept-Language de-DE) reads German pages with German 24-hour dates; an account
set to French reads French whatever the browser asks for.

The dates come from the live server's real clock (tests/test_live_dates.py), so
the expected German words are written out here from the day the test picks,
not taken from the code under test.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from booking.times import zone
from conftest import PASSWORD
from test_browser import EXPECT_MS, chromium  # noqa: F401  (fixture)

# German as CLDR (and so a German reader) writes weekdays and months in a short date.
WEEKDAYS = ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."]
MONTHS = ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.",
          "Nov.", "Dez."]


def german_day(day) -> str:
    """2027-03-02 -> "Di., 2. März 2027"."""
    return f"{WEEKDAYS[day.weekday()]}, {day.day}. {MONTHS[day.month - 1]} {day.year}"


def sign_in_in_german(page, base_url, user):
    """The sign-in form as a German reader sees it: its labels are German."""
    page.goto(base_url + "/login")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_label("E-Mail").fill(user["email"])
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(base_url + "/")


def test_a_german_browser_sees_german_pages_and_24_hour_german_dates(live_server, chromium,
                                                                      make):
    alice = make.user("Alice")
    room = make.room("Spree", "Europe/Berlin")
    berlin = zone("Europe/Berlin")
    day = datetime.now(timezone.utc).astimezone(berlin).date() + timedelta(days=2)
    start = datetime.combine(day, datetime.min.time(), berlin).replace(hour=15)
    make.booking(room, alice, start, start + timedelta(minutes=90), title="Planung")

    context = chromium.new_context(locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(EXPECT_MS)
    sign_in_in_german(page, live_server.url, alice)
    expect(page.get_by_role("heading", name="Räume", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Hauptmenü")).to_contain_text("Meine Buchungen")

    page.goto(f"{live_server.url}/rooms/{room['id']}?date={day.isoformat()}")
    expect(page.get_by_role("heading", level=2)).to_contain_text(german_day(day))
    timeline = page.get_by_role("list", name="Spree von 09:00 bis 18:00")
    expect(timeline).to_contain_text("15:00–16:30")          # 24 hours, no "3:00 PM"
    expect(timeline).not_to_contain_text("PM")
    expect(page.get_by_role("link", name="Spree buchen")).to_be_visible()

    page.goto(f"{live_server.url}/bookings/mine")
    expect(page.get_by_role("heading", name=german_day(day))).to_be_visible()
    expect(page.locator("main")).to_contain_text("15:00–16:30")

    # The account says French: French from now on, though the browser asks for German.
    page.goto(live_server.url + "/account")
    page.get_by_label("Sprache", exact=True).select_option("fr")
    page.get_by_role("button", name="Einstellungen speichern").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("status")).to_have_text("Vos préférences sont enregistrées.")
    page.goto(f"{live_server.url}/rooms/{room['id']}?date={day.isoformat()}")
    expect(page.get_by_role("link", name="Réserver Spree")).to_be_visible()
    context.close()

