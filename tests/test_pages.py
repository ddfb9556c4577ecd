"""The HTML pages: same data as the twins, forms that keep input and show errors."""

import html
import re
from urllib.parse import quote
from datetime import datetime

import pytest

from conftest import UTC, Browser


def text(response):
    return response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/", "/rooms/1", "/bookings/new", "/bookings/mine",
                                 "/bookings/1", "/account", "/admin/rooms"])
def test_pages_send_strangers_to_sign_in(client, url):
    r = client.get(url)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


def test_sign_in_and_out(client, alice, conn):
    b = Browser(client)
    r = b.login(alice["email"])
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "Alice" in text(b.get("/"))
    assert conn.execute("SELECT count(*) AS n FROM sessions").fetchone()["n"] == 1
    cookie = client.get_cookie("booking_session").value
    r = b.post("/logout")
    assert r.status_code == 302
    assert conn.execute("SELECT count(*) AS n FROM sessions").fetchone()["n"] == 0
    # The old cookie is worthless now, even if someone kept a copy.
    client.set_cookie("booking_session", cookie)
    assert client.get("/").status_code == 302


def test_sign_in_gives_a_new_session(client, alice):
    b = Browser(client)
    client.get("/login")
    before = client.get_cookie("booking_session").value
    b.login(alice["email"])
    assert client.get_cookie("booking_session").value != before


def test_wrong_password_and_unknown_email_get_the_same_answer(client, alice):
    b = Browser(client)
    wrong = b.login(alice["email"], "nope")
    unknown = b.login("nobody@example.com", "nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in text(wrong) and "do not match" in text(unknown)
    assert 'value="alice@example.com"' in text(wrong)  # what was typed is kept


def test_sign_in_redirects_only_to_this_site(client, alice):
    b = Browser(client)
    page = client.get("/login?next=/bookings/mine")
    b.csrf = re.search(r'name="csrf_token" value="([^"]+)"', text(page)).group(1)
    r = client.post("/login", data={"email": alice["email"], "password": "correct horse battery",
                                    "csrf_token": b.csrf, "next": "//evil.example/"})
    assert r.headers["Location"] == "/"


@pytest.mark.parametrize("next_, lands", [
    ("/%09/evil.example", "/"),            # werkzeug drops the tab: would be //evil.example
    ("/%0a", "/"),                         # a newline in Location: was a 500 after sign-in
    ("/%0d%0aSet-Cookie:%20x=1", "/"),
    ("/\\evil.example", "/"),
    ("%2F%2Fevil.example", "/"),           # decoded once by the query string: //evil.example
    ("https://evil.example/", "/"),
    ("/%E2%80%8B/evil.example", "/"),      # a zero-width space
    ("//[", "/"),                          # an unclosed IPv6 address: was a 500
    ("http://[::1", "/"),
    ("/bookings/mine?when=past", "/bookings/mine?when=past"),
    ("/rooms/1?date=2027-03-02%23top", "/rooms/1?date=2027-03-02#top"),
])
def test_after_sign_in_next_is_a_path_on_this_site_or_the_overview(client, alice, conn,
                                                                   next_, lands):
    """Issue 15 #2: `next` is parsed and normalised before it is judged."""
    page = client.get(f"/login?next={next_}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text(page)).group(1)
    form_next = re.search(r'name="next" value="([^"]*)"', text(page))
    # What the form carries back is what the query said, decoded once.
    r = client.post("/login", data={"email": alice["email"], "password": "correct horse battery",
                                    "csrf_token": csrf,
                                    "next": html.unescape(form_next.group(1)) if form_next else ""})
    assert r.status_code == 302
    assert r.headers["Location"] == lands
    # Signed in now: GET /login?next= judges it the same way.
    again = client.get(f"/login?next={next_}")
    assert (again.status_code, again.headers["Location"]) == (302, lands)


def test_forms_without_csrf_token_are_refused(client, alice, browser_as, berlin, conn):
    b = browser_as(alice)
    r = client.post("/bookings/new", data={"room_id": berlin["id"], "title": "x",
                                           "date": "2027-03-02", "start": "10:00", "end": "11:00"})
    # Without a session: sent to sign in (a signed-in form without it: a 400,
    # tests/test_csrf_and_sessions.py).
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


def test_a_form_sent_after_its_session_ended_goes_to_sign_in_and_back(app, alice, berlin, conn):
    """Signed out in another tab, the form's Book button gave a bare 400 "The CSRF
    tokens do not match", with no way on."""
    b = Browser(app.test_client())
    b.login(alice["email"])
    form_page = f"/bookings/new?room_id={berlin['id']}"
    b.get(form_page)
    token = b.csrf
    other_tab = Browser(b.client)
    other_tab.csrf = token
    assert other_tab.post("/logout").status_code == 302
    r = b.client.post("/bookings/new", data={
        "csrf_token": token, "room_id": berlin["id"], "title": "x", "date": "2027-03-02",
        "start": "10:00", "end": "11:00"}, headers={"Referer": f"http://localhost{form_page}"})
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=" + quote(form_page, safe="/?")
    login = b.client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Your session had ended, so nothing was saved" in login
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
    # Another site's page is not where it goes back to.
    r = b.client.post("/bookings/new", data={"csrf_token": token},
                      headers={"Referer": "https://evil.example/bookings/new"})
    assert r.headers["Location"] == "/login?next=/"


def test_overview_page_shows_rooms_now_and_next(browser_as, alice, berlin, make):
    make.booking(berlin, alice, datetime(2027, 3, 1, 7, 30, tzinfo=UTC),
                 datetime(2027, 3, 1, 8, 30, tzinfo=UTC), title="Stand-up")
    make.booking(berlin, alice, datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
                 datetime(2027, 3, 1, 13, 0, tzinfo=UTC), title="Lunch talk")
    page = text(browser_as(alice).get("/"))
    assert "Spree" in page and "Stand-up until 09:30" in page
    assert "Next: 13:00–14:00 Lunch talk" in page
    assert "Europe/Berlin" in page


def test_day_page_is_a_timeline_from_opening_to_closing(browser_as, alice, berlin, make):
    make.booking(berlin, alice, datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
                 datetime(2027, 3, 2, 10, 30, tzinfo=UTC), title="Workshop")
    r = browser_as(alice).get(f"/rooms/{berlin['id']}?date=2027-03-02")
    assert r.status_code == 200
    segments = re.findall(r'<span class="seg-time">([^<]+)</span>', text(r))
    assert segments == ["09:00–10:00", "10:00–11:30", "11:30–18:00"]
    assert "Workshop" in text(r)
    assert "date=2027-03-02&amp;start=09:00&amp;end=10:00" in text(r)  # book the free slot


def test_shortened_hours_hide_no_booking_and_the_admin_is_told(browser_as, api_as, alice,
                                                               admin, berlin, make):
    """Issue 15 #12: closing at 12:00 dropped the 13:30, 15:30 and 17:00 bookings from the
    day page and cut a 10:30-12:30 one to 12:00, while the API still returned them."""
    for start, end, title in [((10, 30), (12, 30), "Long"), ((13, 30), (14, 0), "After lunch"),
                              ((15, 30), (16, 0), "Tea"), ((17, 0), (17, 30), "Late")]:
        make.booking(berlin, alice, datetime(2027, 3, 2, start[0] - 1, start[1], tzinfo=UTC),
                     datetime(2027, 3, 2, end[0] - 1, end[1], tzinfo=UTC), title=title)
    admin_page = browser_as(admin)
    form = {"name": "Spree", "building": "HQ", "floor": "1", "capacity": "6", "equipment": "",
            "timezone": "Europe/Berlin", "opens": "09:00", "closes": "12:00", "active": "on"}
    assert admin_page.post(f"/admin/rooms/{berlin['id']}", data=form).status_code == 302
    told = text(admin_page.get("/admin/rooms"))
    assert "4 future bookings of Spree fall outside its hours (09:00–12:00)" in told
    page = text(browser_as(alice).get(f"/rooms/{berlin['id']}?date=2027-03-02"))
    for title, times in [("Long", "10:30–12:30"), ("After lunch", "13:30–14:00"),
                         ("Tea", "15:30–16:00"), ("Late", "17:00–17:30")]:
        assert title in page and f'<span class="seg-time">{times}</span>' in page, title
    assert page.count("outside opening hours</strong>") == 4
    assert '<span class="seg-time">12:30–13:30</span>' in page and "closed" in page
    assert "Book 12:30" not in page                    # no booking offered while closed
    assert "Book 09:00–10:30" in page
    # The API twin says the same, and how many.
    r = api_as(admin).patch(f"/api/rooms/{berlin['id']}", json={"closes": "18:00"})
    assert r.get_json()["bookings_outside_hours"] == 0
    r = api_as(admin).patch(f"/api/rooms/{berlin['id']}", json={"opens": "11:00"})
    assert r.get_json()["bookings_outside_hours"] == 1      # the 10:30 one


def test_day_page_for_unknown_room_is_404(browser_as, alice):
    r = browser_as(alice).get("/rooms/4242")
    assert r.status_code == 404 and "does not exist" in text(r)


def test_the_booking_form_says_what_else_the_room_s_policy_asks(browser_as, alice, admin,
                                                                berlin, new_york, conn):
    """Quotas were not drawn anywhere: a person learnt of one, of a notice or of
    approval only when a booking was refused (or left pending). The chosen room's
    hint says them; an administrator, who books past them, is not told."""
    from policykit import area, put_in, room_policy
    holder = area(conn, "Building B", quota={"bookings_per_day": 2, "hours_per_week": 6})
    put_in(conn, berlin, holder)
    room_policy(conn, berlin, min_notice_minutes=60, approval_required=True)
    hint = re.compile(r'<p class="hint" id="time-hint"[^>]*>([^<]*)</p>')
    page = html.unescape(text(browser_as(alice).get(f"/bookings/new?room_id={berlin['id']}")))
    assert hint.search(page).group(1) == (
        "Bookings last 15 minutes to 4 hours, within opening hours. Book at least 1 hour "
        "ahead. Each person at most 2 bookings a day, 6 hours a week here (from Building B). "
        "Bookings of this room wait for an approver's decision.")
    # another room, none of it: the lengths alone (on its option, for static/app.js)
    assert re.search(rf'<option value="{new_york["id"]}"[^>]* data-lengths="Bookings last '
                     r'15 minutes to 4 hours, within opening hours\."', page)
    page = text(browser_as(admin).get(f"/bookings/new?room_id={berlin['id']}"))
    assert hint.search(page).group(1) == ("Bookings last 15 minutes to 4 hours, within "
                                          "opening hours.")


def test_booking_form_prefills_from_the_link(browser_as, alice, berlin):
    r = browser_as(alice).get(f"/bookings/new?room_id={berlin['id']}&date=2027-03-02&start=10:00&end=11:00")
    page = text(r)
    assert f'<option value="{berlin["id"]}" selected data-opens="09:00"' in page
    assert 'value="2027-03-02"' in page and 'value="10:00"' in page and 'value="11:00"' in page


def test_the_booking_form_says_how_long_a_booking_may_be_in_the_chosen_room(
        browser_as, alice, berlin, new_york, conn):
    """QA, 2026-12-06: the hint always said the organisation's "15 minutes to 4 hours",
    in a room whose policy asks 90 minutes at least. It says the chosen room's; each
    room's rides on its option (static/app.js says it when another is chosen)."""
    from policykit import room_policy
    room_policy(conn, berlin, min_minutes=90, max_minutes=120)
    b = browser_as(alice)
    hint = re.compile(r'<p class="hint" id="time-hint"[^>]*>([^<]*)</p>')
    chosen = text(b.get(f"/bookings/new?room_id={berlin['id']}"))
    assert hint.search(chosen).group(1) == ("Bookings last 1 h 30 min to 2 hours, within "
                                            "opening hours.")
    assert re.search(rf'<option value="{new_york["id"]}"[^>]* data-lengths="Bookings last '
                     r'15 minutes to 4 hours, within opening hours\."', chosen)
    assert hint.search(text(b.get("/bookings/new"))).group(1) == (
        "Bookings last 15 minutes to 4 hours, within opening hours.")
    german = text(b.get(f"/bookings/new?room_id={berlin['id']}",
                        headers={"Accept-Language": "de"}))
    assert hint.search(german).group(1) == ("Buchungen dauern 1 Std. 30 Min. bis 2 Stunden, "
                                            "innerhalb der Öffnungszeiten.")


def test_booking_through_the_form(browser_as, alice, berlin, conn):
    b = browser_as(alice)
    r = b.post("/bookings/new", data={"room_id": berlin["id"], "title": "Planning",
                                      "date": "2027-03-02", "start": "10:00", "end": "11:00"})
    assert r.status_code == 302
    booking_id = int(r.headers["Location"].rsplit("/", 1)[1])
    page = text(b.get(r.headers["Location"]))
    assert "Booked Spree, 10:00–11:00." in page
    assert "Planning" in page and "Cancel this booking" in page
    row = conn.execute("SELECT user_id FROM bookings WHERE id = %s", (booking_id,)).fetchone()
    assert row["user_id"] == alice["id"]


def test_a_rule_break_keeps_the_input_and_shows_the_message_by_the_field(browser_as, alice, berlin):
    b = browser_as(alice)
    r = b.post("/bookings/new", data={"room_id": berlin["id"], "title": "Too early",
                                      "date": "2027-03-02", "start": "08:00", "end": "09:00"})
    assert r.status_code == 422
    page = text(r)
    assert 'id="start-error"' in page and "can be booked from 09:00 to 18:00" in page
    assert 'aria-invalid="true"' in page
    assert 'value="Too early"' in page and 'value="08:00"' in page


def test_a_conflict_on_the_form_lists_what_is_in_the_way(browser_as, alice, bob, berlin, make):
    make.booking(berlin, bob, datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
                 datetime(2027, 3, 2, 10, 0, tzinfo=UTC), title="Bob's meeting")
    b = browser_as(alice)
    r = b.post("/bookings/new", data={"room_id": berlin["id"], "title": "Mine",
                                      "date": "2027-03-02", "start": "10:30", "end": "11:30"})
    assert r.status_code == 409
    page = text(r)
    assert "already booked" in page and "Bob&#39;s meeting" in page
    assert "choose another room" in page


def test_my_bookings_page_and_cancel_button(browser_as, alice, berlin, make, conn):
    booking = make.booking(berlin, alice, datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
                           datetime(2027, 3, 2, 10, 0, tzinfo=UTC), title="Mine to cancel")
    b = browser_as(alice)
    page = text(b.get("/bookings/mine"))
    assert "Mine to cancel" in page
    r = b.post(f"/bookings/{booking['id']}/cancel", data={"next": "/bookings/mine"})
    assert r.status_code == 302 and r.headers["Location"] == "/bookings/mine"
    assert "Cancelled “Mine to cancel”" in text(b.get("/bookings/mine"))
    assert conn.execute("SELECT cancelled_at FROM bookings").fetchone()["cancelled_at"] is not None


def test_a_cancel_that_names_an_address_unparsable_goes_back_to_the_booking(browser_as, alice,
                                                                            berlin, make, conn):
    """An unclosed IPv6 address in `next` made urlsplit raise: the cancel was done and
    then answered 500."""
    booking = make.booking(berlin, alice, datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
                           datetime(2027, 3, 2, 10, 0, tzinfo=UTC))
    r = browser_as(alice).post(f"/bookings/{booking['id']}/cancel",
                               data={"next": "http://[::1"})
    assert r.status_code == 302 and r.headers["Location"] == f"/bookings/{booking['id']}"
    assert conn.execute("SELECT cancelled_at FROM bookings").fetchone()["cancelled_at"] is not None


def test_no_cancel_button_on_someone_elses_booking_and_403_if_tried(browser_as, alice, bob, berlin, make, conn):
    booking = make.booking(berlin, alice, datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
                           datetime(2027, 3, 2, 10, 0, tzinfo=UTC))
    b = browser_as(bob)
    assert "Cancel this booking" not in text(b.get(f"/bookings/{booking['id']}"))
    assert b.post(f"/bookings/{booking['id']}/cancel").status_code == 403
    assert conn.execute("SELECT cancelled_at FROM bookings").fetchone()["cancelled_at"] is None


def test_admin_pages_are_for_admins(browser_as, alice, admin, berlin):
    assert browser_as(alice).get("/admin/rooms").status_code == 403
    page = browser_as(admin).get("/admin/rooms")
    assert page.status_code == 200 and "Spree" in text(page)


def test_admin_creates_and_edits_a_room_through_the_forms(browser_as, admin, conn):
    b = browser_as(admin)
    r = b.post("/admin/rooms", data={"name": "Loft", "building": "B", "floor": "2",
                                     "capacity": "8", "equipment": "Screen, whiteboard",
                                     "timezone": "Europe/Paris", "opens": "08:00",
                                     "closes": "19:00", "active": "on"})
    assert r.status_code == 302
    room = conn.execute("SELECT id, equipment, active FROM rooms WHERE name = 'Loft'").fetchone()
    assert room["equipment"] == ["screen", "whiteboard"] and room["active"]
    r = b.post(f"/admin/rooms/{room['id']}", data={"name": "Loft", "building": "B", "floor": "2",
                                                   "capacity": "0", "equipment": "",
                                                   "timezone": "Europe/Paris", "opens": "08:00",
                                                   "closes": "19:00"})
    assert r.status_code == 400 and 'id="capacity-error"' in text(r)
    r = b.post(f"/admin/rooms/{room['id']}", data={"name": "Loft", "building": "B", "floor": "2",
                                                   "capacity": "9", "equipment": "",
                                                   "timezone": "Europe/Paris", "opens": "08:00",
                                                   "closes": "19:00"})  # box unticked
    assert r.status_code == 302
    room = conn.execute("SELECT capacity, active FROM rooms WHERE name = 'Loft'").fetchone()
    assert room == {"capacity": 9, "active": False}


def test_a_blank_floor_is_no_floor(browser_as, admin, conn):
    """Issue 15 #14: the new-room form showed the floor blank and refused it blank."""
    b = browser_as(admin)
    assert 'id="floor" name="floor" type="number" min="-50" max="500" value="0"' in \
        text(b.get("/admin/rooms"))
    form = {"name": "Loft", "building": "B", "floor": "", "capacity": "8", "equipment": "",
            "timezone": "Europe/Paris", "opens": "08:00", "closes": "19:00", "active": "on"}
    assert b.post("/admin/rooms", data=form).status_code == 302
    room = conn.execute("SELECT id, floor FROM rooms WHERE name = 'Loft'").fetchone()
    assert room["floor"] == 0
    conn.execute("UPDATE rooms SET floor = 3 WHERE id = %s", (room["id"],))
    edit = b.get(f"/admin/rooms/{room['id']}")
    assert 'name="floor" type="number" min="-50" max="500" value="3"' in text(edit)
    assert b.post(f"/admin/rooms/{room['id']}", data={**form, "floor": "  "}).status_code == 302
    assert conn.execute("SELECT floor FROM rooms WHERE id = %s", (room["id"],)).fetchone() == \
        {"floor": 3}
    # A floor that is there is still checked.
    r = b.post(f"/admin/rooms/{room['id']}", data={**form, "floor": "2.5"})
    assert r.status_code == 400 and 'id="floor-error"' in text(r)


def test_admin_page_shows_a_taken_name_by_the_name_field(browser_as, admin, berlin):
    b = browser_as(admin)
    form = {"name": "SPREE", "building": "B", "floor": "2", "capacity": "8",
            "equipment": "screen", "timezone": "Europe/Berlin", "opens": "09:00",
            "closes": "18:00", "active": "on"}
    r = b.post("/admin/rooms", data=form)
    assert r.status_code == 409
    page = text(r)
    assert 'id="name-error"' in page and "already exists" in page
    assert 'value="SPREE"' in page and 'value="screen"' in page


def test_admin_page_edits_equipment_building_and_floor(browser_as, admin, berlin, conn):
    b = browser_as(admin)
    form = {"name": "Spree", "building": "Annex", "floor": "-1", "capacity": "6",
            "equipment": "Video, screen, video", "timezone": "Europe/Berlin", "opens": "09:00",
            "closes": "18:00", "active": "on"}
    assert b.post(f"/admin/rooms/{berlin['id']}", data=form).status_code == 302
    row = conn.execute("SELECT building, floor, equipment FROM rooms").fetchone()
    assert row == {"building": "Annex", "floor": -1, "equipment": ["video", "screen"]}
    r = b.post(f"/admin/rooms/{berlin['id']}", data={**form, "equipment": "x" * 41})
    assert r.status_code == 400 and 'id="equipment-error"' in text(r)
    r = b.post(f"/admin/rooms/{berlin['id']}", data={**form, "floor": "501"})
    assert r.status_code == 400 and 'id="floor-error"' in text(r)


@pytest.mark.parametrize("change, field", [
    ({"name": ""}, "name"), ({"capacity": "0"}, "capacity"), ({"floor": "x"}, "floor"),
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"opens": "18:00", "closes": "09:00"}, "closes"),
    ({"building": "b" * 101}, "building"),
])
def test_admin_page_and_api_refuse_the_same_room_input(browser_as, api_as, admin, berlin,
                                                       change, field):
    form = {"name": "Spree", "building": "B", "floor": "2", "capacity": "8", "equipment": "",
            "timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00", **change}
    page = browser_as(admin).post(f"/admin/rooms/{berlin['id']}", data=form)
    api = api_as(admin).patch(f"/api/rooms/{berlin['id']}", json=change)
    assert page.status_code == api.status_code == 400
    assert api.get_json()["error"]["details"]["field"] == field
    assert f'id="{field}-error"' in text(page)
    assert api.get_json()["error"]["message"] in text(page)


def test_tokens_page_shows_a_new_token_once_and_revokes(app, browser_as, alice, client, conn):
    b = browser_as(alice)
    assert b.post("/account/tokens", data={"name": "Door panel"}).status_code == 302
    # Found by testing from outside: the session cookie (signed, not encrypted) held
    # the new token in plain text until the account page was shown.
    cookie = b.client.get_cookie("booking_session").value
    kept = app.session_interface.get_signing_serializer(app).loads(cookie)
    r = b.get("/account")
    token = re.search(r'<code class="token" id="new-token">([^<]+)</code>', text(r)).group(1)
    assert kept["new_token"]["name"] == "Door panel"
    assert token not in repr(kept) and token[3:20] not in cookie
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page = text(b.get("/account"))
    assert "Door panel" in page and token not in page
    token_id = conn.execute("SELECT id FROM api_tokens").fetchone()["id"]
    assert b.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    stored = conn.execute("SELECT token_hash FROM api_tokens").fetchone()["token_hash"]
    assert token.encode() not in bytes(stored)


def test_cookie_json_writes_need_the_csrf_header(browser_as, alice, berlin, conn):
    b = browser_as(alice)
    body = {"room_id": berlin["id"], "title": "x", "start_time": "2027-03-02T10:00",
            "end_time": "2027-03-02T11:00"}
    r = b.client.post("/api/bookings", json=body)
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]["message"]
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
    assert b.json("POST", "/api/bookings", body).status_code == 201


# -- issue 19: what a new user tripped over ----------------------------------------------------

@pytest.mark.parametrize("now, spree, hudson", [
    # NOW in conftest: 08:00 UTC = 09:00 Berlin, 03:00 New York.
    (datetime(2027, 3, 1, 8, 0, tzinfo=UTC), "Free now", "Closed now</strong>, opens 09:00"),
    (datetime(2027, 3, 1, 16, 59, tzinfo=UTC), "Free now", "Free now"),          # 17:59 Berlin
    (datetime(2027, 3, 1, 17, 0, tzinfo=UTC), "Closed now</strong>, opens tomorrow 09:00",
     "Free now"),                                                                 # 18:00 Berlin
])
def test_a_room_closed_now_says_when_it_opens(app, browser_as, alice, berlin, new_york, now,
                                              spree, hudson):
    app.config["NOW"] = now
    page = text(browser_as(alice).get("/"))
    cards = dict(re.findall(r'<h2><a href="/rooms/\d+">(\w+)</a></h2>(.*?)</li>', page, re.S))
    assert spree in cards["Spree"] and hudson in cards["Hudson"]
    for card, expected in ((cards["Spree"], spree), (cards["Hudson"], hudson)):
        assert ("Free now" in card) == (expected == "Free now")


def test_an_empty_booking_form_starts_at_the_next_working_slot(app, browser_as, alice, berlin,
                                                               new_york, make):
    make.room("Elbe", "Europe/Berlin")
    app.config["NOW"] = datetime(2027, 3, 1, 8, 7, tzinfo=UTC)     # 09:07 in Berlin
    page = text(browser_as(alice).get("/bookings/new"))
    assert 'name="date" type="date" required value="2027-03-01"' in page
    assert 'name="start" type="time" step="60" required value="09:15"' in page
    assert 'name="end" type="time" step="60" required value="10:15"' in page
    # With New York chosen it is that room's next slot, in its zone and hours.
    page = text(browser_as(alice).get(f"/bookings/new?room_id={new_york['id']}"))
    assert 'value="09:00"' in page and 'value="10:00"' in page
    assert 'min="09:00" max="18:00"' in page
    assert "Times in America/New_York (the room's time zone), open 09:00–18:00." in page


def test_the_booking_form_says_every_field_s_error_at_once(browser_as, alice, berlin, conn):
    r = browser_as(alice).post("/bookings/new", data={"room_id": "", "title": " ", "date": "",
                                                     "start": "25:00", "end": ""})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    for field, message in (("room_id", "Choose a room."), ("title", "Say what the booking is for."),
                           ("date", "Choose a date."), ("start", "start must be a time of day"),
                           ("end", "Choose an end time.")):
        assert f'id="{field}-error"' in page and message in page, field
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page), field
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


def test_every_rule_a_booking_breaks_is_shown_by_its_field(browser_as, alice, berlin):
    r = browser_as(alice).post("/bookings/new", data={
        "room_id": berlin["id"], "title": "x", "date": "2027-03-02", "start": "07:00",
        "end": "12:00"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    start = page[page.index('id="start-error"'):][:300]
    end = page[page.index('id="end-error"'):][:300]
    assert "can be booked from 09:00 to 18:00" in start
    assert "at most 4 hours" in end


def test_the_rules_are_said_with_the_other_fields_errors_not_after_them(browser_as, alice,
                                                                        berlin, conn):
    """QA, 2026-12-05: with the title left empty, 07:00-12:00 said only "Say what the
    booking is for."; put right, the next submit said the hours and the length.
    Now one submit says all three, each by its field."""
    r = browser_as(alice).post("/bookings/new", data={
        "room_id": berlin["id"], "title": " ", "date": "2027-03-02", "start": "07:00",
        "end": "12:00", "attendees": "40"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    for field, words in (("title", "Say what the booking is for."),
                         ("start", "can be booked from 09:00 to 18:00"),
                         ("end", "at most 4 hours"), ("attendees", "40 people do not fit")):
        assert words in page[page.index(f'id="{field}-error"'):][:300], field
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
    # Times that break nothing add nothing.
    r = browser_as(alice).post("/bookings/new", data={
        "room_id": berlin["id"], "title": " ", "date": "2027-03-02", "start": "10:00",
        "end": "11:00"})
    page = r.get_data(as_text=True)
    assert 'id="title-error"' in page
    assert 'id="start-error"' not in page and 'id="end-error"' not in page


def test_repeat_options_are_a_section_of_their_own_and_every_weekday_is_offered(browser_as,
                                                                                alice, berlin):
    page = text(browser_as(alice).get("/bookings/new"))
    assert '<option value="weekdays" >Every weekday (Mon–Fri)</option>' in page
    details = page[page.index('<div class="repeat-details">'):]
    assert 'name="every"' in details and 'name="ends"' in details
    assert 'name="repeat"' not in details


def test_activity_shows_each_time_in_its_room_s_zone_and_rules_in_words(app, browser_as, api_as,
                                                                         alice, new_york):
    api_as(alice).post("/api/bookings", json={
        "room_id": new_york["id"], "title": "Standup", "recurrence": "FREQ=WEEKLY;BYDAY=TU;COUNT=8",
        "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T10:30"})
    page = text(browser_as(alice).get("/activity"))
    assert "repeating (Weekly on Tuesday, 8 times)" in page
    assert "FREQ=" not in page
    assert re.search(r'<time datetime="[^"]+Z">\w{3} \d+ \w{3} \d{4}, \d\d:\d\d</time> '
                     r'<span class="zone">America/New_York</span>', page)


def test_the_audit_log_shows_times_in_the_room_s_zone(app, browser_as, api_as, admin, new_york):
    api_as(admin).post("/api/bookings", json={"room_id": new_york["id"], "title": "x",
                                              "start_time": "2027-03-02T10:00",
                                              "end_time": "2027-03-02T10:30"})
    page = text(browser_as(admin).get("/admin/audit"))
    assert '<span class="zone">America/New_York</span>' in page
    assert "Times are UTC." not in page


def test_the_series_page_says_its_rule_in_words(browser_as, api_as, alice, berlin):
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Daily", "recurrence": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T10:30"}).get_json()
    page = text(browser_as(alice).get(f"/series/{made['series']['id']}"))
    assert "<dt>Repeats</dt><dd>Every weekday (Mon–Fri)</dd>" in page


def test_pages_name_an_icon_that_is_there(client, browser_as, alice, app, make):
    """Browsers asked for /favicon.ico on every page and got a 404 (a console error)."""
    from booking.panels import service as panels

    room = make.room("Spree")
    with app.app_context():
        _row, token = panels.create_token(room["id"], None)
    pages = [client.get("/login"), browser_as(alice).get("/"),
             client.get(f"/rooms/{room['id']}/panel?key={token}", follow_redirects=True)]
    for page in pages:
        assert page.status_code == 200
        icon = re.search(r'<link rel="icon" href="([^"]+)"', page.get_data(as_text=True))
        assert icon, page.request.path
        answer = client.get(icon.group(1))
        assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"


def test_a_change_from_a_form_opened_before_another_is_refused_keeping_what_was_typed(
        browser_as, alice, make, conn):
    """Two tabs on one booking: the second save put the old title back, unseen."""
    room = make.room("Spree")
    booking = make.booking(room, alice, datetime(2027, 3, 2, 9, tzinfo=UTC),
                           datetime(2027, 3, 2, 10, tzinfo=UTC), title="Two tabs")
    b = browser_as(alice)
    url = f"/bookings/{booking['id']}/edit"

    def form_of(page):
        html_text = page.get_data(as_text=True)
        fields = dict(re.findall(r'<input[^>]* name="(version|title|date|start|end|room_id)"'
                                 r'[^>]* value="([^"]*)"', html_text))
        return {**{k: html.unescape(v) for k, v in fields.items()}, "room_id": room["id"]}

    one, two = form_of(b.get(url)), form_of(b.get(url))
    assert one["version"] and one == two
    first = b.post(url, data={**one, "title": "Tab one title"})
    assert first.status_code == 302, first.get_data(as_text=True)[-3000:]
    stale = b.post(url, data={**two, "start": "15:00", "end": "16:00"})
    assert stale.status_code == 412
    page = stale.get_data(as_text=True)
    assert "changed since you opened this form" in page and "Tab one title" in page
    again = form_of(stale)
    assert (again["start"], again["end"], again["title"]) == ("15:00", "16:00", "Two tabs")
    row = conn.execute("SELECT title, start_at FROM bookings WHERE id = %s",
                       (booking["id"],)).fetchone()
    assert (row["title"], row["start_at"]) == ("Tab one title",
                                               datetime(2027, 3, 2, 9, tzinfo=UTC))
    # Seen, and saved again: it is what this tab says.
    assert b.post(url, data=again).status_code == 302
    row = conn.execute("SELECT title, start_at FROM bookings WHERE id = %s",
                       (booking["id"],)).fetchone()
    assert (row["title"], row["start_at"]) == ("Two tabs", datetime(2027, 3, 2, 14, tzinfo=UTC))


def test_a_room_whose_area_sets_its_hours_is_counted_and_told_by_them(browser_as, api_as,
                                                                      admin, alice, make,
                                                                      conn):
    """QA, 2026-12-05: an area opens its rooms 08:00-19:00; a room's own 09:00-18:00 do
    not count. Saving the room said a valid 08:00 booking fell "outside its hours
    (09:00-18:00)" and told the admin to move it. The count is by the hours the
    policy gives, and the form says its own hours do not count."""
    from policykit import area, put_in
    week = {d: ["08:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    hq = area(conn, "HQ", opening_hours=week)
    room = make.room("Hudson", "Europe/Berlin")
    put_in(conn, room, hq)
    make.booking(room, alice, datetime(2027, 3, 2, 7, 0, tzinfo=UTC),
                 datetime(2027, 3, 2, 7, 45, tzinfo=UTC))          # 08:00-08:45, a Tuesday
    make.booking(room, alice, datetime(2027, 3, 6, 9, 0, tzinfo=UTC),
                 datetime(2027, 3, 6, 10, 0, tzinfo=UTC))          # Saturday: closed
    r = api_as(admin).patch(f"/api/rooms/{room['id']}", json={"capacity": 6})
    assert r.get_json()["bookings_outside_hours"] == 1            # Saturday's
    page = browser_as(admin)
    edit = text(page.get(f"/admin/rooms/{room['id']}"))
    assert "Its policy's opening hours (from HQ) are the ones that count" in edit
    assert re.search(r'id="opens"[^>]*aria-describedby="hours-hint"', edit)
    form = {"name": "Hudson", "building": "HQ", "floor": "1", "capacity": "6", "equipment": "",
            "timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00", "active": "on"}
    assert page.post(f"/admin/rooms/{room['id']}", data=form).status_code == 302
    told = text(page.get("/admin/rooms"))
    assert ("1 future booking of Hudson falls outside the opening hours its policy gives "
            "(from HQ), or on a day it is closed") in told
    assert "(09:00–18:00)" not in told


def test_a_room_made_inactive_says_how_many_future_bookings_it_keeps(browser_as, admin, alice,
                                                                     berlin, make):
    """QA, 2026-12-05: unticking "Can be booked" for a room with future bookings said
    only "Room Spree saved."; its bookings stayed in a room nobody may book or move
    them within."""
    for day in (2, 3):
        make.booking(berlin, alice, datetime(2027, 3, day, 9, 0, tzinfo=UTC),
                     datetime(2027, 3, day, 10, 0, tzinfo=UTC))
    page = browser_as(admin)
    form = {"name": "Spree", "building": "HQ", "floor": "1", "capacity": "6", "equipment": "",
            "timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00"}
    assert page.post(f"/admin/rooms/{berlin['id']}", data=form).status_code == 302
    told = text(page.get("/admin/rooms"))
    assert "2 future bookings of Spree stay booked, but nobody can book the room now" in told
    assert page.post(f"/admin/rooms/{berlin['id']}",
                     data={**form, "active": "on"}).status_code == 302
    assert "nobody can book the room now" not in text(page.get("/admin/rooms"))


def test_the_room_form_says_every_field_s_error_at_once(browser_as, api_as, admin, berlin,
                                                        conn):
    """Found by testing from outside: a room form with three bad fields flagged only
    the first; fixing it met the next on the next submit. The API names them all
    in details.errors, the first as the error's field, and nothing changes."""
    before = conn.execute("SELECT r::text AS t FROM rooms r WHERE id = %s",
                          (berlin["id"],)).fetchone()["t"]
    form = {"name": "  ", "building": "B", "floor": "2", "capacity": "0", "equipment": "",
            "timezone": "Europe/Berlin", "opens": "18:00", "closes": "09:00"}
    page = browser_as(admin).post(f"/admin/rooms/{berlin['id']}", data=form)
    assert page.status_code == 400
    for field in ("name", "capacity", "closes"):
        assert f'id="{field}-error"' in text(page), field
    r = api_as(admin).patch(f"/api/rooms/{berlin['id']}", json={
        "name": "  ", "capacity": 0, "opens": "18:00", "closes": "09:00"})
    error = r.get_json()["error"]
    assert (r.status_code, error["details"]["field"]) == (400, "name")
    assert [e["field"] for e in error["details"]["errors"]] == ["name", "capacity", "closes"]
    assert conn.execute("SELECT r::text AS t FROM rooms r WHERE id = %s",
                        (berlin["id"],)).fetchone()["t"] == before
