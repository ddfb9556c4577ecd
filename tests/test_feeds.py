"""Calendar feeds: valid RFC 5545 that calendar clients read back as our bookings."""

from datetime import date, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events

from conftest import UTC


def events_between(ics: bytes, start: date, end: date, *, include_cancelled=False):
    calendar = icalendar.Calendar.from_ical(ics)
    found = recurring_ical_events.of(calendar).between(start, end)
    return [e for e in found if include_cancelled or str(e.get("STATUS")) != "CANCELLED"]


def test_a_room_feed_yields_exactly_the_live_bookings(api_as, alice, bob, berlin, make):
    api = api_as(alice)
    api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Weekly", "recurrence": "FREQ=WEEKLY;COUNT=6",
                                    "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"})
    single = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Once",
                                             "start_time": "2027-03-29T09:00", "end_time": "2027-03-29T09:30"})
    cancelled = make.booking(berlin, bob, datetime(2027, 3, 5, 9, tzinfo=UTC),
                             datetime(2027, 3, 5, 10, tzinfo=UTC), title="Gone", cancelled=True)
    r = api.get(f"/rooms/{berlin['id']}/calendar.ics")
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    events = events_between(r.data, date(2027, 3, 1), date(2027, 4, 15))
    feed = sorted((e["DTSTART"].dt, e["DTEND"].dt, str(e["SUMMARY"])) for e in events)
    expected = []
    for day in range(31 + 15):
        d = date(2027, 3, 1) + timedelta(days=day)
        bookings = api.get(f"/api/rooms/{berlin['id']}/bookings?date={d}").get_json()["bookings"]
        expected += [(datetime.fromisoformat(b["start_time"]), datetime.fromisoformat(b["end_time"]), b["title"])
                     for b in bookings]
    assert feed == sorted(expected)
    assert len(feed) == 7
    # Local times with the room's zone, across the DST change on 28 March.
    starts = [start for start, _, title in feed if title == "Weekly"]
    assert {s.tzinfo.key if hasattr(s.tzinfo, "key") else str(s.tzinfo) for s in starts} == {"Europe/Berlin"}
    assert all(s.hour == 10 for s in starts)
    # The cancelled booking is there, marked cancelled, so clients remove it.
    gone = [e for e in events_between(r.data, date(2027, 3, 1), date(2027, 4, 15), include_cancelled=True)
            if str(e["SUMMARY"]) == "Gone"]
    assert str(gone[0]["STATUS"]) == "CANCELLED" and gone[0]["SEQUENCE"] == 1
    assert str(gone[0]["UID"]) == f"booking-{cancelled['id']}@booking"


def test_the_feed_has_a_vtimezone_and_stable_uids(api_as, alice, berlin):
    api = api_as(alice)
    booking = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "x",
                                              "start_time": "2027-03-02T10:00",
                                              "end_time": "2027-03-02T11:00"}).get_json()["booking"]
    first = api.get(f"/rooms/{berlin['id']}/calendar.ics")
    calendar = icalendar.Calendar.from_ical(first.data)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == [f"booking-{booking['id']}@booking"]
    assert b"DTSTART;TZID=Europe/Berlin:20270302T100000" in first.data
    # Nothing changed: same bytes, so the ETag holds and a client gets 304.
    again = api.get(f"/rooms/{berlin['id']}/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_personal_feed_needs_no_session_and_can_be_revoked(api_as, alice, bob, berlin, client):
    api = api_as(alice)
    api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Mine", "start_time": "2027-03-02T10:00",
                                    "end_time": "2027-03-02T11:00"})
    api_as(bob).post("/api/bookings", json={"room_id": berlin["id"], "title": "Bob's",
                                            "start_time": "2027-03-02T12:00", "end_time": "2027-03-02T13:00"})
    url = api.get("/api/me").get_json()["calendar_url"]
    path = url.replace("http://localhost", "")
    r = client.get(path)                                  # no cookie, no token
    assert r.status_code == 200
    assert [str(e["SUMMARY"]) for e in events_between(r.data, date(2027, 3, 1), date(2027, 4, 1))] == ["Mine"]
    new_url = api.post("/api/me/calendar").get_json()["calendar_url"]
    assert new_url != url
    assert client.get(path).status_code == 404
    assert client.get(new_url.replace("http://localhost", "")).status_code == 200


def test_reactivating_brings_back_no_old_personal_feed_url(api_as, admin, alice, conn,
                                                           client):
    """Found by a security tester: the personal feed's URL (its own credential) worked
    again once its owner was reactivated, where deactivating revokes sessions and
    tokens for good. Deactivating, by any path, makes the old URL dead for good;
    the owner gets a new one on their account as anyone does."""
    old = api_as(alice).get("/api/me").get_json()["calendar_url"].replace("http://localhost", "")
    assert client.get(old).status_code == 200
    assert api_as(admin).patch(f"/api/users/{alice['id']}", json={"active": False}
                               ).status_code == 200
    assert client.get(old).status_code == 404
    conn.execute("UPDATE users SET active = true WHERE id = %s", (alice["id"],))
    assert client.get(old).status_code == 404
    conn.execute("UPDATE users SET active = false WHERE id = %s", (alice["id"],))   # plain SQL
    conn.execute("UPDATE users SET active = true WHERE id = %s", (alice["id"],))
    new = api_as(alice).get("/api/me").get_json()["calendar_url"].replace("http://localhost", "")
    assert new != old and client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    salts = conn.execute("SELECT count(DISTINCT calendar_salt) AS n FROM users").fetchone()["n"]
    assert salts == 2                                        # nobody else's changed


def test_a_forged_personal_feed_url_is_404(client, alice):
    for token in (f"{alice['id']}-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "abc", "1-", "99999999999999999999-x"):
        assert client.get(f"/calendar/{token}.ics").status_code == 404


@pytest.mark.parametrize("token", ["%C2%B2-x", "2-%C3%A9", "%D9%A3-abc", "1-%00", "-x", "1-"])
def test_odd_personal_feed_urls_are_404_without_sign_in(client, alice, token):
    """Issue 15 #7: "²" passed isdigit() and broke int(); "é" broke compare_digest: 500s."""
    r = client.get(f"/calendar/{token}.ics", headers={"Accept": "application/json"})
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "not_found"


def test_a_room_feed_needs_sign_in(client, berlin):
    assert client.get(f"/rooms/{berlin['id']}/calendar.ics").status_code == 302


def test_a_room_feed_with_a_bad_token_is_401_not_the_sign_in_page(app, alice, berlin, client,
                                                                   make, conn):
    """Found by a security tester: a calendar client sending a wrong or revoked
    `Authorization: Bearer` was sent to the sign-in page (302 to HTML), which it
    takes for a feed gone wrong, not for a failed sign-in. It is 401 unauthorized in
    the API's JSON shape, as the API answers a bad bearer; a browser without one
    is still sent to sign in."""
    token = make.token(alice)
    feed = f"/rooms/{berlin['id']}/calendar.ics"
    assert client.get(feed, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    conn.execute("UPDATE api_tokens SET revoked_at = now()")
    for header in (f"Bearer {token}", "Bearer bk_nothing", "Bearer bkp_nothing", "Basic eA==",
                   "Bearer"):
        answer = client.get(feed, headers={"Authorization": header})
        assert answer.status_code == 401, (header, answer.status_code)
        assert answer.mimetype == "application/json"
        assert answer.get_json()["error"]["code"] == "unauthorized"
        api = client.get(f"/api/rooms/{berlin['id']}", headers={"Authorization": header})
        assert api.get_json()["error"] == answer.get_json()["error"]
    # The personal feed's URL is its own credential, whatever a header says.
    with app.test_request_context():
        from booking.auth import User
        from booking.feeds.service import calendar_url
        salt = conn.execute("SELECT calendar_salt FROM users WHERE id = %s",
                            (alice["id"],)).fetchone()["calendar_salt"]
        personal = calendar_url(User(id=alice["id"], email="", name="", role="staff",
                                     calendar_salt=salt)).replace("http://localhost", "")
    assert client.get(personal, headers={"Authorization": "Bearer bk_nothing"}
                      ).status_code == 200


def test_a_request_waiting_for_approval_is_tentative_in_the_feeds(api_as, admin, alice, berlin,
                                                                  conn):
    from policykit import room_policy

    room_policy(conn, berlin, approval_required=True)
    api = api_as(alice)
    r = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Asked",
                                        "start_time": "2027-03-02T10:00",
                                        "end_time": "2027-03-02T11:00"})
    assert r.get_json()["booking"]["status"] == "pending"
    booking_id = r.get_json()["booking"]["id"]

    def status():
        calendar = icalendar.Calendar.from_ical(
            api.get(f"/rooms/{berlin['id']}/calendar.ics").data)
        return [str(e["STATUS"]) for e in calendar.walk("VEVENT")]

    assert status() == ["TENTATIVE"]
    assert api_as(admin).post(f"/api/bookings/{booking_id}/approve").status_code == 200
    assert status() == ["CONFIRMED"]


def test_the_feeds_hold_bookings_as_far_ahead_as_a_room_s_window_lets_them_be(
        api_as, alice, make, conn):
    """Found by testing from outside: the feeds stopped at the organisation's 180
    days, so a booking in a room whose policy allows 400 was in neither feed."""
    from policykit import room_policy
    room = make.room("Far ahead")
    room_policy(conn, room, max_days_ahead=400)
    api = api_as(alice)
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": "Next winter",
                                        "start_time": "2028-01-11T10:00",
                                        "end_time": "2028-01-11T11:00"})
    assert r.status_code == 201, r.get_json()
    personal = api.get("/api/me").get_json()["calendar_url"].replace("http://localhost", "")
    for url in (f"/rooms/{room['id']}/calendar.ics", personal):
        ics = api.get(url).data
        summaries = [str(e["SUMMARY"]) for e in events_between(ics, date(2028, 1, 1),
                                                                date(2028, 2, 1))]
        assert summaries == ["Next winter"], url


def test_a_booking_in_the_second_of_two_repeated_hours_is_where_it_is_in_the_feed(
        api_as, alice, make, conn):
    """Found by testing from outside: 02:15 at +01:00 on 31 October 2027 was written
    as 02:15 with TZID Europe/Berlin, which names the first 02:15 (+02:00), an
    hour early. Such a time is written in UTC; every other time keeps its zone."""
    from policykit import room_policy
    room = make.room("Night shift", opens="00:00", closes="23:59")
    room_policy(conn, room, max_days_ahead=400)
    api = api_as(alice)
    for start, end in (("2027-10-31T02:15:00+01:00", "2027-10-31T02:45:00+01:00"),
                       ("2027-10-31T02:15:00+02:00", "2027-10-31T02:45:00+02:00")):
        r = api.post("/api/bookings", json={"room_id": room["id"], "title": start,
                                            "start_time": start, "end_time": end})
        assert r.status_code == 201, r.get_json()
    calendar = icalendar.Calendar.from_ical(api.get(f"/rooms/{room['id']}/calendar.ics").data)
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    # As instants: under PEP 495 an ambiguous local time compares unequal to any other zone.
    for title, event in events.items():
        start, end = (event.decoded(n).timestamp() for n in ("DTSTART", "DTEND"))
        assert start == datetime.fromisoformat(title).timestamp(), title
        assert end - start == 30 * 60
    assert "TZID" in events["2027-10-31T02:15:00+02:00"]["DTSTART"].params
