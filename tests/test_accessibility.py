"""axe on every page, in the light theme and in the dark one, in English and in German:
no serious or critical finding.

axe-core (Deque's rules: contrast, names, labels, landmarks, ARIA, ...) comes
inside the axe-playwright-python package, so nothing is fetched at test time;
it runs in Debian's Chromium against the real gunicorn. The theme is chosen the
way a person's browser does (prefers-color-scheme, with the account's theme on
"same as my device"); one more test shows the account's choice overrides it. The
language too is the browser's (Chromium's locale, so its Accept-Language): German
words are longer, and the names axe checks (labels, headings, buttons) are others.

A page a route serves that is missing from PAGES fails the suite, so a new
page gets its check too.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from booking.times import zone
from routemap import app_routes
from test_browser import chromium, sign_in  # noqa: F401  (fixture)
from test_languages_browser import sign_in_in_german

SERIOUS = ("serious", "critical")

# Every page (GET, HTML), by route, with how to fill in its variables from the
# world below. Pages that are files, JSON or redirects are in NOT_PAGES.
PAGES = {
    "/login": "/login",
    "/": "/",
    "/board": "/board",
    "/rooms/<id:room_id>": "/rooms/{room_id}",
    "/rooms/<id:room_id>/week": "/rooms/{room_id}/week",
    "/rooms/<id:room_id>/availability": "/rooms/{room_id}/availability",
    "/find": "/find?date={day}&start=10:00&end=11:00&timezone=Europe/Berlin&attendees=2",
    "/bookings/new": "/bookings/new",
    "/bookings/mine": "/bookings/mine",
    "/bookings/<id:booking_id>": "/bookings/{booking_id}",
    "/bookings/<id:booking_id>/edit": "/bookings/{booking_id}/edit",
    "/rooms/<id:room_id>/panel": "/rooms/{room_id}/panel",
    "/bookings/<id:booking_id>/checkin/<signed>": "/bookings/{booking_id}/checkin/{signed}",
    "/series/<id:series_id>/cancel/<offer>": "/series/{series_id}/cancel/{offer}",
    "/series/<id:series_id>": "/series/{series_id}",
    "/account": "/account",
    "/activity": "/activity",
    "/admin/rooms": "/admin/rooms",
    "/admin/users": "/admin/users",
    "/admin/rooms/<id:room_id>": "/admin/rooms/{room_id}",
    "/admin/audit": "/admin/audit",
    "/admin/webhooks": "/admin/webhooks",
    "/admin/webhooks/<id:endpoint_id>": "/admin/webhooks/{endpoint_id}",
    "/admin/deliveries": "/admin/deliveries",
    "/reports": "/reports",
    "/api/docs": "/api/docs",
    "/admin/areas": "/admin/areas",
    "/admin/areas/<id:area_id>": "/admin/areas/{area_id}",
    "/admin/groups": "/admin/groups",
    "/admin/groups/<id:group_id>": "/admin/groups/{group_id}",
    "/admin/rooms/<id:room_id>/policy": "/admin/rooms/{room_id}/policy",
    "/approvals": "/approvals",
    "/approvals/tap/<tapped>": "/approvals/tap/{tapped}",
}
# Variants of a page that show different things (tomorrow's board: a booking waiting
# for approval among the others).
MORE = ["/bookings/mine?view=week", "/find", "/nothing-here", "/board?date={day}"]
NOT_PAGES = {"/healthz", "/readyz", "/metrics", "/static/<path:filename>",
             "/rooms/<id:room_id>/calendar.ics", "/calendar/<token>.ics",
             "/reports/utilisation.csv", "/rooms/<id:room_id>/panel/qr.svg"}


def test_every_page_is_checked():
    pages = {rule for method, rule in app_routes()
             if method == "GET" and not rule.startswith("/api/") or rule == "/api/docs"}
    missing = sorted(pages - set(PAGES) - NOT_PAGES)
    assert not missing, f"add to PAGES in tests/test_accessibility.py: {missing}"


@pytest.fixture
def world(app, make, conn, api_as):
    """An admin with a room, a booking tomorrow, a series, a webhook endpoint."""
    app.config["NOW"] = datetime.now(timezone.utc)   # the live server's clock is the real one
    admin = make.user("Ada", role="admin", email="ada@example.com")
    room = make.room("Spree", "Europe/Berlin", equipment=["screen"])
    make.room("Hudson", "America/New_York", building="NY", capacity=10)
    berlin = zone("Europe/Berlin")
    today = datetime.now(timezone.utc).astimezone(berlin).date()
    tomorrow = today + timedelta(days=1)
    at = datetime.combine(tomorrow, datetime.min.time(), berlin).replace(hour=10)
    booking = make.booking(room, admin, at, at + timedelta(hours=1), title="Planning")
    made = api_as(admin).post("/api/bookings", json={
        "room_id": room["id"], "title": "Weekly", "recurrence": "FREQ=WEEKLY;BYDAY=TU;COUNT=3",
        "start_time": f"{tomorrow}T15:00", "end_time": f"{tomorrow}T16:00",
        "skip_conflicts": True}).get_json()
    endpoint = conn.execute(
        "INSERT INTO webhook_endpoints (url, events, secret, created_by) "
        "VALUES ('https://93.184.215.14/hook', '{booking.created}', 'whsec_x', %s) "
        "RETURNING id", (admin["id"],)).fetchone()
    # Issue 18: the room in an area with a policy naming a group; a request waiting
    # for approval, and a one-tap link for it (signed as the live server signs).
    group = conn.execute("INSERT INTO groups (name) VALUES ('Facilities') RETURNING id"
                         ).fetchone()
    conn.execute("INSERT INTO group_members VALUES (%s, %s)", (group["id"], admin["id"]))
    area = conn.execute(
        "INSERT INTO areas (name, policy) VALUES ('Campus', jsonb_build_object("
        "'max_minutes', 120, 'buffer_minutes', 10, 'approvers', jsonb_build_array(%s::int), "
        "'opening_hours', '{\"mon\": [\"08:00\", \"18:00\"]}'::jsonb)) RETURNING id",
        (group["id"],)).fetchone()
    conn.execute("UPDATE rooms SET area_id = %s WHERE id = %s", (area["id"], room["id"]))
    waiting = make.booking(room, admin, at + timedelta(hours=3), at + timedelta(hours=4),
                           title="Waiting")
    conn.execute("UPDATE bookings SET status = 'pending' WHERE id = %s", (waiting["id"],))
    from booking.approvals.service import tap_token
    tapped = tap_token({"SECRET_KEY": "live-test-secret"}, admin["id"], "reject",
                       booking_id=waiting["id"])
    # Issue 17: a reminder's check-in link and a release streak's offer.
    from itsdangerous import URLSafeSerializer   # signed as the live server signs it
    signed = URLSafeSerializer("live-test-secret", salt="booking.checkin-link").dumps(
        [booking["id"], admin["id"]])
    offer = URLSafeSerializer("live-test-secret", salt="booking.cancel-series").dumps(
        [made["series"]["id"], admin["id"]])
    return {"admin": admin, "room_id": room["id"], "booking_id": booking["id"],
            "series_id": made["series"]["id"], "endpoint_id": endpoint["id"],
            "day": tomorrow.isoformat(), "area_id": area["id"], "group_id": group["id"],
            "tapped": tapped, "signed": signed, "offer": offer}


def serious(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in results.response["violations"] if v["impact"] in SERIOUS]


@pytest.mark.parametrize("scheme, locale", [("light", "en-GB"), ("dark", "en-GB"),
                                            ("light", "de-DE"), ("dark", "de-DE")])
def test_axe_finds_nothing_serious_on_any_page(live_server, chromium, world, scheme, locale):
    context = chromium.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900},
                                   locale=locale)
    page = context.new_page()
    page.set_default_timeout(15000)
    found = {}
    page.goto(live_server.url + "/login")
    assert page.locator("html").get_attribute("lang") == locale[:2]
    found["/login"] = serious(page)
    (sign_in_in_german if locale == "de-DE" else sign_in)(page, live_server.url, world["admin"])
    urls = [url.format(**world) for rule, url in PAGES.items() if rule != "/login"] + [
        url.format(**world) for url in MORE]
    for url in urls:
        page.goto(live_server.url + url)
        assert page.locator("html").get_attribute("lang") == locale[:2], url
        found[url] = serious(page)
    context.close()
    bad = {url: problems for url, problems in found.items() if problems}
    assert not bad, json.dumps(bad, indent=1)


def test_a_phone_sized_page_is_clean_too(live_server, chromium, world):
    """The folded menu and the stacked forms at 390 px, dark."""
    context = chromium.new_context(color_scheme="dark", viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server.url, world["admin"])
    for url in ("/board", "/bookings/new", f"/rooms/{world['room_id']}/week"):
        page.goto(live_server.url + url)
        assert not serious(page), url
    context.close()


def test_the_account_s_theme_overrides_the_browser_s(live_server, chromium, world):
    context = chromium.new_context(color_scheme="light")
    page = context.new_page()
    sign_in(page, live_server.url, world["admin"])
    background = "getComputedStyle(document.documentElement).backgroundColor"
    light = page.evaluate(background)
    page.goto(live_server.url + "/account")
    page.get_by_label("Dark", exact=True).check()
    page.get_by_role("button", name="Save preferences").click()
    # The form posts back to /account: waiting for that URL would return at
    # once, before the answer, so wait for what the answer brings.
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    dark = page.evaluate(background)
    assert dark != light and dark == "rgb(17, 20, 24)", (light, dark)
    assert not serious(page)
    context.close()
