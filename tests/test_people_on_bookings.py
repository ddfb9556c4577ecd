"""Attendees, invitees, notes, booking for someone else and delegates, and the other
rooms a 409 offers, ranked the way the finder ranks (issue 16)."""

import html
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest

from conftest import UTC

DAY = "2027-03-02"


def book(api, room, start="10:00", end="11:00", **extra):
    return api.post("/api/bookings", json={"room_id": room["id"], "title": "Planning",
                                           "start_time": f"{DAY}T{start}",
                                           "end_time": f"{DAY}T{end}", **extra})


def test_a_staff_invitee_sees_the_booking_in_their_bookings_as_invitee(api_as, alice, bob,
                                                                       berlin):
    made = book(api_as(alice), berlin, invitees=["BOB@example.com", "guest@partner.example"])
    assert made.status_code == 201
    booking_id = made.get_json()["booking"]["id"]
    bobs = api_as(bob).get("/api/bookings/mine").get_json()["bookings"]
    assert [(b["id"], b["role"], b["user_name"]) for b in bobs] == [(booking_id, "invitee",
                                                                     "Alice")]
    alices = api_as(alice).get("/api/bookings/mine").get_json()["bookings"]
    assert [(b["id"], b["role"]) for b in alices] == [(booking_id, "organiser")]
    week = api_as(bob).get(f"/api/bookings/mine?view=week&start={DAY}").get_json()
    assert [b["role"] for d in week["days"] for b in d["bookings"]] == ["invitee"]
    # taken off, moved or cancelled: their list follows
    api_as(alice).patch(f"/api/bookings/{booking_id}", json={"invitees": []})
    assert api_as(bob).get("/api/bookings/mine").get_json()["bookings"] == []


def test_my_bookings_page_marks_invitations(api_as, browser_as, alice, bob, berlin):
    book(api_as(alice), berlin, invitees=["bob@example.com"])
    page = browser_as(bob).get("/bookings/mine").get_data(as_text=True)
    assert "invited by Alice" in page
    assert "cancel-form" not in page


def test_attendees_over_the_rooms_capacity_is_422_on_create(api_as, alice, berlin, conn):
    assert book(api_as(alice), berlin, attendees=6).status_code == 201     # Spree seats 6
    r = book(api_as(alice), berlin, "12:00", "13:00", attendees=7)
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert (error["code"], error["details"]["capacity"], error["details"]["field"]) == (
        "over_capacity", 6, "attendees")
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_booked_for_makes_it_theirs_for_admins_and_delegates_only(api_as, alice, bob, admin,
                                                                 berlin, conn):
    r = book(api_as(admin), berlin, booked_for="alice@example.com")
    assert r.status_code == 201, r.get_json()
    made = r.get_json()["booking"]
    assert (made["user_id"], made["created_by"], made["created_by_name"]) == (
        alice["id"], admin["id"], "Ada")
    r = book(api_as(bob), berlin, "12:00", "13:00", booked_for="alice@example.com")
    assert (r.status_code, r.get_json()["error"]["code"]) == (403, "forbidden")
    # Alice names Bob her delegate: now he may, and may cancel it too
    assert api_as(alice).patch("/api/me", json={"delegates": ["bob@example.com"]}
                               ).get_json()["user"]["delegates"] == ["bob@example.com"]
    r = book(api_as(bob), berlin, "12:00", "13:00", booked_for="alice@example.com")
    assert r.status_code == 201
    assert api_as(bob).delete(f"/api/bookings/{r.get_json()['booking']['id']}").status_code == 200
    # but not for someone who did not name him; and no account at all is 422 for an admin
    r = book(api_as(bob), berlin, "14:00", "15:00", booked_for="admin@example.com")
    assert r.status_code == 403
    r = book(api_as(admin), berlin, "14:00", "15:00", booked_for="nobody@example.com")
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, "unknown_user")
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 2


def test_delegates_are_replaced_whole_and_unknown_addresses_change_nothing(api_as, alice, bob,
                                                                          admin):
    api = api_as(alice)
    assert api.patch("/api/me", json={"delegates": ["bob@example.com", "admin@example.com"]}
                     ).status_code == 200
    r = api.patch("/api/me", json={"delegates": ["bob@example.com", "nobody@example.com"],
                                   "theme": "dark"})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert (error["code"], error["details"]["emails"]) == ("unknown_user", ["nobody@example.com"])
    me = api.get("/api/me").get_json()["user"]
    assert (me["delegates"], me["theme"]) == (["admin@example.com", "bob@example.com"], "auto")
    r = api.patch("/api/me", json={"delegates": ["alice@example.com"]})
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "invalid")
    assert api.patch("/api/me", json={"delegates": []}).get_json()["user"]["delegates"] == []


def test_the_account_page_names_delegates(browser_as, alice, bob):
    browser = browser_as(alice)
    r = browser.post("/account/delegates", data={"delegates": "bob@example.com"})
    assert r.status_code == 302
    page = browser.get("/account").get_data(as_text=True)
    assert "Your delegates: Bob." in page and "bob@example.com" in page
    r = browser.post("/account/delegates", data={"delegates": "ghost@example.com"})
    assert r.status_code == 422
    assert "ghost@example.com" in r.get_data(as_text=True)       # what was typed, kept


def test_other_rooms_on_a_conflict_are_ranked_as_the_finder_ranks(api_as, alice, bob, make):
    """Berlin, screen and video, 6 seats asked for 4 people: same time zone only, every
    piece of equipment, seats >= attendees, its building first, then its floor, the
    smallest fit first."""
    room = make.room("Asked", "Europe/Berlin", capacity=6, building="HQ", floor=2,
                     equipment=["screen", "video"])
    make.room("New York", "America/New_York", capacity=4, building="HQ", floor=2,
              equipment=["screen", "video"], opens="00:00", closes="23:59")   # open then
    make.room("No video", "Europe/Berlin", capacity=4, building="HQ", floor=2,
              equipment=["screen"])
    make.room("Too small", "Europe/Berlin", capacity=3, building="HQ", floor=2,
              equipment=["screen", "video"])
    make.room("Other building", "Europe/Berlin", capacity=4, building="Annex", floor=2,
              equipment=["screen", "video"])
    make.room("Big, same floor", "Europe/Berlin", capacity=20, building="HQ", floor=2,
              equipment=["screen", "video", "whiteboard"])
    make.room("Fits, other floor", "Europe/Berlin", capacity=4, building="HQ", floor=3,
              equipment=["screen", "video"])
    make.room("Fits, same floor", "Europe/Berlin", capacity=5, building="HQ", floor=2,
              equipment=["screen", "video"])
    assert book(api_as(bob), room).status_code == 201
    r = book(api_as(alice), room, attendees=4)
    assert r.status_code == 409
    other = r.get_json()["error"]["details"]["suggestions"]["other_rooms"]
    assert [o["name"] for o in other] == ["Fits, same floor", "Big, same floor",
                                          "Fits, other floor", "Other building"]
    # 50 building + 30 floor + 16 fit (20 x 4/5) + 5 balance (ASSIGN_BALANCE_WEIGHT x
    # (1 - utilisation 0)): the finder's score
    assert other[0]["score"] == 101.0
    # without attendees, the party is the asked room's capacity (6): 5 seats no longer fit
    r = book(api_as(alice), room)
    assert [o["name"] for o in r.get_json()["error"]["details"]["suggestions"]["other_rooms"]] \
        == ["Big, same floor"]


def test_other_rooms_stay_in_each_conflicts_own_zone_one_after_the_other(api_as, alice, bob,
                                                                        make):
    """The process remembers which rooms are in which zones with its copy of the rooms:
    a Berlin conflict, then a New York one, then Berlin again, each offered its own."""
    rooms = {}
    for name, zone in [("Berlin asked", "Europe/Berlin"), ("Berlin other", "Europe/Berlin"),
                       ("New York asked", "America/New_York"),
                       ("New York other", "America/New_York")]:
        rooms[name] = make.room(name, zone, capacity=4, opens="00:00", closes="23:59")
    for name in ("Berlin asked", "New York asked"):
        assert book(api_as(bob), rooms[name]).status_code == 201
    api = api_as(alice)
    for name, offered in [("Berlin asked", "Berlin other"), ("New York asked", "New York other"),
                          ("Berlin asked", "Berlin other")]:
        r = book(api, rooms[name])
        assert r.status_code == 409, r.get_json()
        other = r.get_json()["error"]["details"]["suggestions"]["other_rooms"]
        assert [o["name"] for o in other] == [offered], name


def test_feeds_carry_notes_attendees_invitees_and_the_sequence(api_as, alice, berlin):
    api = api_as(alice)
    booking = book(api, berlin, attendees=3, invitees=["guest@partner.example"],
                   notes="Room set up\nfor three").get_json()["booking"]
    api.patch(f"/api/bookings/{booking['id']}", json={"start_time": f"{DAY}T12:00"})
    feed = api.get(f"/rooms/{berlin['id']}/calendar.ics")
    (event,) = icalendar.Calendar.from_ical(feed.get_data()).walk("VEVENT")
    assert event["SEQUENCE"] == 1
    assert "People: 3" in str(event["DESCRIPTION"]) and "for three" in str(event["DESCRIPTION"])
    assert str(event["ATTENDEE"]) == "mailto:guest@partner.example"


def test_an_invitee_we_could_not_mail_is_400_and_books_nothing(api_as, alice, berlin, conn):
    """ü@bücher.de was accepted, and every mail to it then failed in the outbox (an
    ASCII-only header): refused when it is given, naming the field."""
    for address in ("ü@bücher.de", "anna@bücher.de", "zoë@example.com"):
        r = book(api_as(alice), berlin, invitees=["bob@example.com", address])
        assert r.status_code == 400, r.get_json()
        error = r.get_json()["error"]
        assert error["code"] == "invalid" and error["details"]["field"] == "invitees"
        assert "ASCII" in error["message"]
    assert book(api_as(alice), berlin, invitees=["anna@xn--bcher-kva.de"]).status_code == 201
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_a_delegate_no_longer_is_told_by_the_book_for_field(api_as, browser_as, alice, bob,
                                                             berlin, conn):
    """QA, 2026-12-05: Bob opened the form as Alice's delegate; she removed him; his
    submit was a 403 page with no message anywhere (the Book for field, where it
    shows, was no longer drawn)."""
    assert api_as(alice).patch("/api/me", json={"delegates": [bob["email"]]}).status_code == 200
    page = browser_as(bob)
    assert 'name="booked_for"' in page.get("/bookings/new").get_data(as_text=True)
    assert api_as(alice).patch("/api/me", json={"delegates": []}).status_code == 200
    r = page.post("/bookings/new", data={"room_id": berlin["id"], "title": "For Alice",
                                         "date": "2027-03-02", "start": "10:00", "end": "11:00",
                                         "booked_for": alice["email"]})
    assert r.status_code == 403
    html = r.get_data(as_text=True)
    assert 'id="booked_for-error"' in html and "named you their delegate" in html
    assert f'value="{alice["email"]}"' in html
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


def _forms_of(page: str) -> list[dict]:
    """The one-click forms on a page, each as the fields a browser would send."""
    found = []
    for form in re.findall(r'<form method="post" action="/bookings/new" class="inline">(.*?)'
                           r'</form>', page, re.S):
        found.append({name: html.unescape(value) for name, value in
                      re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"',
                                 form)})
    return found


@pytest.mark.parametrize("repeat", [False, True])
def test_a_one_click_choice_after_a_conflict_keeps_who_it_is_for_and_the_people(
        api_as, browser_as, alice, bob, berlin, make, conn, repeat):
    """Found by testing from outside: "Book one of these instead" sent only room,
    title and times, so a booking made for Bob by his delegate became Alice's,
    without its invitees, notes or party size (and a series' "other dates" the same)."""
    assert api_as(bob).patch("/api/me", json={"delegates": [alice["email"]]}).status_code == 200
    make.booking(berlin, bob, datetime(2027, 3, 2, 9, tzinfo=UTC),
                 datetime(2027, 3, 2, 10, tzinfo=UTC), title="In the way")
    make.room("Havel", capacity=10)
    page = browser_as(alice)
    typed = {"room_id": berlin["id"], "title": "Bob sync", "date": "2027-03-02",
             "start": "10:00", "end": "11:00", "attendees": "3",
             "invitees": "guest@partner.example", "notes": "Line one\nLine two",
             "booked_for": bob["email"]}
    if repeat:
        typed.update(repeat="weekly", ends="after", count="3")
    r = page.post("/bookings/new", data=typed)
    assert r.status_code == 409, r.get_data(as_text=True)[-2000:]
    forms = _forms_of(r.get_data(as_text=True))
    assert forms
    for form in forms:
        assert {k: form.get(k) for k in ("attendees", "invitees", "notes", "booked_for")} == {
            "attendees": "3", "invitees": "guest@partner.example", "notes": "Line one\nLine two",
            "booked_for": bob["email"]}, form
    chosen = page.post("/bookings/new", data=forms[0])
    assert chosen.status_code == 302, chosen.get_data(as_text=True)[-2000:]
    made = conn.execute("SELECT user_id, created_by, attendees, invitees, notes FROM bookings "
                        "WHERE title = 'Bob sync' ORDER BY id LIMIT 1").fetchone()
    assert made == {"user_id": bob["id"], "created_by": alice["id"], "attendees": 3,
                    "invitees": ["guest@partner.example"], "notes": "Line one\nLine two"}


@pytest.mark.parametrize("repeat", [False, True])
def test_a_refused_new_booking_offers_every_room_and_starts_again_with_all_that_was_typed(
        api_as, browser_as, alice, bob, berlin, new_york, make, repeat):
    """Found by testing from outside: when the slot was taken, the form's room list held
    only the taken room (no other was free), its zone hint lost the room's zone, and
    "choose another room" started the form again with the title and times only: the
    people, invitees, notes, "Book for" and the Repeat section were gone."""
    assert api_as(bob).patch("/api/me", json={"delegates": [alice["email"]]}).status_code == 200
    havel = make.room("Havel", capacity=10)
    for room in (berlin, havel):   # no other room in Berlin is free then
        make.booking(room, bob, datetime(2027, 3, 2, 9, tzinfo=UTC),
                     datetime(2027, 3, 2, 11, tzinfo=UTC), title="In the way")
    page = browser_as(alice)
    typed = {"room_id": str(berlin["id"]), "title": "Bob sync", "date": DAY,
             "start": "10:30", "end": "11:30", "attendees": "3",
             "invitees": "guest@partner.example", "notes": "Line one\nLine two",
             "booked_for": bob["email"]}
    if repeat:
        typed.update(repeat="weekly", weekdays="TU", every="2", ends="after", count="3")
    # The Repeat section's defaults, as a browser sends them, are not worth carrying.
    defaults = {} if repeat else {"repeat": "none", "every": "1", "monthly": "day",
                                  "ends": "never", "count": "10"}
    r = page.post("/bookings/new", data={**typed, **defaults})
    assert r.status_code == 409
    body = r.get_data(as_text=True)
    select = body[body.index('<select id="room_id"'):]
    select = select[:select.index("</select>")]
    assert sorted(re.findall(r'<option value="(\d+)"', select)) == sorted(
        str(room["id"]) for room in (berlin, havel, new_york))
    assert f'<option value="{berlin["id"]}" selected' in select
    hint = re.search(r'<p class="hint" id="room-zone"[^>]*>([^<]*)</p>', body).group(1)
    assert html.unescape(hint) == ("Times in Europe/Berlin (the room's time zone), "
                                   "open 09:00–18:00.")
    link = html.unescape(re.search(r'<a href="([^"]+)">choose another room</a>', body).group(1))
    assert link.startswith("/bookings/new?")
    again = parse_qs(urlsplit(link).query)
    assert again == {name: [value] for name, value in typed.items() if name != "room_id"}
    # Followed, the form is filled in with all of it (the room left to choose).
    form = page.get(link).get_data(as_text=True)
    for shown in ('value="Bob sync"', 'value="10:30"', 'value="11:30"', 'name="attendees"',
                  'value="guest@partner.example"', ">Line one\nLine two</textarea>",
                  f'value="{bob["email"]}"'):
        assert shown in form, shown
    assert 'id="attendees" name="attendees" type="number" min="1" max="10000" class="short" ' \
           'value="3"' in form
    if repeat:
        assert '<option value="weekly" selected>' in form
        assert 'name="weekdays" value="TU" checked' in form
        assert 'id="every" name="every" type="number" min="1" max="999" value="2"' in form
        assert 'name="ends" value="after" checked' in form
