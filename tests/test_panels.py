"""Door panels (issue 17): tokens bound to one room, what they may do (only the
panel's actions on their own room), the page and its twin, Book now, and the
admin's make and revoke."""

from __future__ import annotations

from datetime import timedelta

import re

import pytest

from booking.panels import service as panels
from booking.times import zone
from conftest import NOW, heard_so_far
from policykit import room_policy

START = NOW + timedelta(hours=1)           # 10:00 in Berlin (NOW is 09:00 there)
BERLIN_TZ = zone("Europe/Berlin")


@pytest.fixture
def panel_token(app, berlin):
    with app.app_context():
        _row, plain = panels.create_token(berlin["id"], None)
    return plain


@pytest.fixture
def panel(app, panel_token):
    from conftest import Api
    return Api(app.test_client(), panel_token)


def test_the_cli_prints_the_token_on_its_last_line(runner, berlin, conn):
    result = runner.invoke(args=["panels", "create", "--room", str(berlin["id"])])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("bkp_") and len(token) > 30
    from booking.auth import hash_token
    row = conn.execute("SELECT room_id FROM panel_tokens WHERE token_hash = %s",
                       (hash_token(token),)).fetchone()
    assert row == {"room_id": berlin["id"]}
    missing = runner.invoke(args=["panels", "create", "--room", "424242"])
    assert missing.exit_code != 0


def test_a_panel_sees_its_room_and_nothing_else(panel, berlin, make, alice):
    other = make.room("Havel", "Europe/Berlin")
    assert panel.get(f"/api/rooms/{berlin['id']}/panel").status_code == 200
    assert panel.get(f"/rooms/{berlin['id']}/panel").status_code == 200
    for url in (f"/api/rooms/{other['id']}/panel", f"/rooms/{other['id']}/panel",
                "/api/rooms", "/api/bookings/mine", "/", f"/rooms/{berlin['id']}",
                "/api/me", "/admin/rooms"):
        answer = panel.get(url)
        assert answer.status_code == 403, (url, answer.status_code)
    booked = panel.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "x", "start_time": "2027-03-01T11:00",
        "end_time": "2027-03-01T12:00"})
    assert booked.status_code == 403


def test_public_routes_answer_a_panel_as_they_answer_anyone(app, panel, panel_token, client):
    """QA: with a panel's token, GET /api/openapi.json and /api/docs were 403 (a wrong
    bearer gets 200: security: []), and /healthz a 403 page. Routes that need no
    sign-in answer a panel as anyone, by header or by the tablet's cookie."""
    for url in ("/api/openapi.json", "/api/docs", "/healthz", "/readyz",
                "/static/style.css"):
        anyone = client.get(url)
        assert anyone.status_code == 200, url
        assert panel.get(url).status_code == 200, url
        assert client.get(url, headers={"Authorization": "Bearer bkp_nothing"}
                          ).status_code == 200, url
    tablet = app.test_client()
    tablet.set_cookie("booking_panel", panel_token)
    assert tablet.get("/healthz").status_code == 200
    assert tablet.get("/api/openapi.json").status_code == 200
    # Routes for the signed in stay fenced, as before; and signing in on the tablet.
    assert tablet.get("/").status_code == 403 and panel.get("/api/me").status_code == 403
    assert tablet.get("/login").status_code == 403


def test_a_panel_checks_in_ends_and_extends_in_its_room_only(app, panel, make, alice,
                                                            berlin, conn):
    other = make.room("Havel", "Europe/Berlin")
    here = make.booking(berlin, alice, START, START + timedelta(hours=1))
    there = make.booking(other, alice, START, START + timedelta(hours=1))
    app.config["NOW"] = START
    assert panel.post(f"/api/bookings/{there['id']}/checkin").status_code == 403
    assert panel.post(f"/api/bookings/{there['id']}/end").status_code == 403
    assert panel.post(f"/api/bookings/{there['id']}/extend",
                      json={"end_time": "2027-03-01T11:15"}).status_code == 403
    assert panel.post(f"/api/bookings/{here['id']}/checkin").status_code == 200
    extended = panel.post(f"/api/bookings/{here['id']}/extend",
                          json={"end_time": "2027-03-01T11:15"})
    assert extended.status_code == 200, extended.json
    app.config["NOW"] = START + timedelta(minutes=10)
    assert panel.post(f"/api/bookings/{here['id']}/end").status_code == 200
    rows = conn.execute("SELECT id, end_at, checked_in_at FROM bookings ORDER BY id").fetchall()
    assert rows[0]["end_at"] == START + timedelta(minutes=10)
    assert rows[1]["end_at"] == START + timedelta(hours=1) and rows[1]["checked_in_at"] is None


def test_the_twin_says_the_state_and_offers_book_now_up_to_the_next_booking(
        app, panel, make, alice, berlin, conn):
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    make.booking(berlin, alice, NOW - timedelta(minutes=40), NOW - timedelta(minutes=10),
                 title="Gone")
    make.booking(berlin, alice, NOW + timedelta(minutes=30), START, title="Soon")
    state = panel.get(f"/api/rooms/{berlin['id']}/panel").json
    assert state["status"] == "free"
    assert [o["minutes"] for o in state["book_now"]] == [15, 30]      # 60 runs into 09:30
    assert state["book_now_reason"] is None
    assert [b["title"] for b in state["next"]] == ["Soon"]
    app.config["NOW"] = NOW + timedelta(minutes=30)
    state = panel.get(f"/api/rooms/{berlin['id']}/panel").json
    assert state["status"] == "awaiting" and state["current"]["may_check_in"] is True
    assert state["book_now"] == [] and state["book_now_reason"] is None   # in use: says so
    app.config["PANEL_SHOW_TITLES"] = False
    hidden = panel.get(f"/api/rooms/{berlin['id']}/panel").json
    assert hidden["current"]["title"] is None and hidden["current"]["user_name"] is None


def tablet(client, room, token):
    """A tablet signed in with the panel's cookie; returns its CSRF token."""
    client.get(f"/rooms/{room['id']}/panel?key={token}")
    html = client.get(f"/rooms/{room['id']}/panel").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_book_now_books_a_walk_in_from_the_next_minute(app, client, berlin, panel_token, conn):
    app.config["NOW"] = NOW + timedelta(seconds=20)        # on the next minute: 09:01
    csrf = tablet(client, berlin, panel_token)
    made = client.post(f"/rooms/{berlin['id']}/panel",
                       data={"action": "book", "minutes": "30", "csrf_token": csrf})
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    row = conn.execute("SELECT b.title, b.start_at, b.end_at, u.email FROM bookings b "
                       "JOIN users u ON u.id = b.user_id").fetchone()
    assert row == {"title": "Walk-in", "start_at": NOW + timedelta(minutes=1),
                   "end_at": NOW + timedelta(minutes=31),
                   "email": f"panel-{berlin['id']}@panels.invalid"}
    page = client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
    assert "Booked until 09:31" in page and "In use" in page
    again = client.post(f"/rooms/{berlin['id']}/panel",
                        data={"action": "book", "minutes": "30", "csrf_token": csrf})
    assert again.status_code == 409                         # taken: said on the panel
    odd = client.post(f"/rooms/{berlin['id']}/panel",
                      data={"action": "book", "minutes": "45", "csrf_token": csrf})
    assert odd.status_code == 400


def test_the_panel_buttons_check_in_and_end_early(app, client, berlin, panel_token, make,
                                                  alice, conn):
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    booking = make.booking(berlin, alice, NOW, START)
    app.config["NOW"] = NOW + timedelta(minutes=3)
    csrf = tablet(client, berlin, panel_token)
    page = client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
    assert "Booked: waiting for check-in" in page
    for action in ("checkin", "extend", "end"):
        done = client.post(f"/rooms/{berlin['id']}/panel", data={
            "action": action, "booking_id": str(booking["id"]), "csrf_token": csrf})
        assert done.status_code == 302, (action, done.get_data(as_text=True)[:500])
    row = conn.execute("SELECT checked_in_at, end_at FROM bookings").fetchone()
    assert row == {"checked_in_at": NOW + timedelta(minutes=3),
                   "end_at": NOW + timedelta(minutes=3)}
    assert "Free" in client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)


def test_the_panel_token_cookie_signs_in_the_tablet(app, client, berlin, panel_token, make):
    other = make.room("Havel", "Europe/Berlin")
    answer = client.get(f"/rooms/{berlin['id']}/panel?key={panel_token}")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(
        f"/rooms/{berlin['id']}/panel")
    assert "HttpOnly" in answer.headers["Set-Cookie"]
    page = client.get(f"/rooms/{berlin['id']}/panel")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Spree" in html and f'<img src="/rooms/{berlin["id"]}/panel/qr.svg?date=2027-03-01"' in html
    qr = client.get(f"/rooms/{berlin['id']}/panel/qr.svg?date=2027-03-01")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert client.get(f"/rooms/{other['id']}/panel/qr.svg?date=2027-03-01").status_code == 403
    assert client.get(f"/rooms/{other['id']}/panel").status_code == 403
    assert client.get("/bookings/mine").status_code == 403


def test_revoked_panel_tokens_sign_in_nothing(app, browser_as, admin, berlin, panel, conn):
    page = browser_as(admin)
    listed = page.get(f"/admin/rooms/{berlin['id']}").get_data(as_text=True)
    assert "bkp_" in listed
    token_id = conn.execute("SELECT id FROM panel_tokens").fetchone()["id"]
    revoked = page.post(f"/admin/rooms/{berlin['id']}/panels/{token_id}/revoke")
    assert revoked.status_code == 302
    assert panel.get(f"/api/rooms/{berlin['id']}/panel").status_code == 401
    made = page.post(f"/admin/rooms/{berlin['id']}/panels")
    assert made.status_code == 302
    shown = page.get(f"/admin/rooms/{berlin['id']}").get_data(as_text=True)
    assert "shown only now" in shown
    assert conn.execute("SELECT count(*) AS n FROM panel_tokens WHERE revoked_at IS NULL"
                        ).fetchone()["n"] == 1
    actions = [r["action"] for r in conn.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'panel.%' ORDER BY id")]
    assert actions == ["panel.create", "panel.revoke", "panel.create"]


def test_staff_cannot_make_panel_tokens(browser_as, alice, berlin):
    page = browser_as(alice)
    assert page.post(f"/admin/rooms/{berlin['id']}/panels").status_code == 403


def test_admins_make_list_and_revoke_panel_tokens_through_the_api(app, api_as, admin, berlin):
    from conftest import Api
    api = api_as(admin)
    made = api.post(f"/api/rooms/{berlin['id']}/panels")
    assert made.status_code == 201
    token, panel_id = made.json["token"], made.json["panel"]["id"]
    tablet = Api(app.test_client(), token)
    assert tablet.get(f"/api/rooms/{berlin['id']}/panel").status_code == 200
    listed = api.get(f"/api/rooms/{berlin['id']}/panels").json["panels"]
    assert [p["id"] for p in listed] == [panel_id] and listed[0]["revoked_at"] is None
    assert token not in str(listed)
    assert api.delete(f"/api/rooms/{berlin['id']}/panels/{panel_id}").status_code == 200
    assert tablet.get(f"/api/rooms/{berlin['id']}/panel").status_code == 401
    assert api.delete(f"/api/rooms/{berlin['id']}/panels/{panel_id}").status_code == 404


def test_the_qr_code_is_made_once_per_link_and_follows_the_day(app, panel, berlin, monkeypatch):
    """The panel page's QR code links to the room's booking form for today. It is an
    image of its own whose address has the day, kept by the tablet for a day; made
    once per link (booking/memo/pages.py), made again when the day, and so the link,
    moves. A date that is no date is a 400."""
    made = []
    real = panels.segno.make
    monkeypatch.setattr(panels.segno, "make", lambda *a, **k: made.append(a[0]) or real(*a, **k))

    def image_of(page):
        src = re.search(r'<img src="([^"]+/qr\.svg\?date=[^"]+)"', page).group(1)
        return panel.get(src.replace("&amp;", "&"))

    first = image_of(panel.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True))
    assert first.status_code == 200 and "max-age=86400" in first.headers["Cache-Control"]
    again = image_of(panel.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True))
    assert again.data == first.data and len(made) == 1
    assert made[0].endswith(f"/bookings/new?room_id={berlin['id']}&date=2027-03-01")
    assert panel.get(f"/rooms/{berlin['id']}/panel/qr.svg?date=2027-03-01", headers={
        "If-None-Match": first.headers["ETag"]}).status_code == 304
    app.config["NOW"] = NOW + timedelta(days=1)
    tomorrow = image_of(panel.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True))
    assert len(made) == 2 and made[1].endswith("&date=2027-03-02") and tomorrow.data != first.data
    bad = panel.get(f"/rooms/{berlin['id']}/panel/qr.svg?date=soon")
    assert bad.status_code == 400 and len(made) == 2


def test_a_panel_extends_within_the_owner_s_quota_not_past_it(app, panel, make, alice, berlin,
                                                               conn):
    """The panel changes its room's bookings as the panel, not as an administrator
    (sql/056): an extension the owner's quota refuses is refused on the panel too,
    and one within it goes through."""
    from policykit import room_policy
    room_policy(conn, berlin, quota={"hours_per_week": 2})
    here = make.booking(berlin, alice, START, START + timedelta(hours=1))
    make.booking(berlin, alice, START + timedelta(days=1), START + timedelta(days=1, hours=1))
    app.config["NOW"] = START
    past = panel.post(f"/api/bookings/{here['id']}/extend", json={"end_time": "2027-03-01T11:15"})
    assert past.status_code == 422 and past.json["error"]["code"] == "quota_exceeded", past.json
    assert conn.execute("SELECT end_at FROM bookings WHERE id = %s",
                        (here["id"],)).fetchone()["end_at"] == START + timedelta(hours=1)
    conn.execute("UPDATE bookings SET end_at = start_at + interval '45 minutes' "
                 "WHERE id <> %s", (here["id"],))
    within = panel.post(f"/api/bookings/{here['id']}/extend",
                        json={"end_time": "2027-03-01T11:15"})
    assert within.status_code == 200, within.json


def test_a_booking_ended_early_frees_the_panel_at_once(app, panel, make, alice, berlin):
    """Ended at 10:10:30, a booking ends at 10:11 (to the minute): the panel says free
    right away, and offers Book now from 10:11, the next whole minute. At 10:10:30
    before the end it was in use."""
    here = make.booking(berlin, alice, START, START + timedelta(hours=1))
    app.config["NOW"] = START + timedelta(minutes=10, seconds=30)
    assert panel.post(f"/api/bookings/{here['id']}/checkin").status_code == 200
    assert panel.get(f"/api/rooms/{berlin['id']}/panel").json["status"] == "in_use"
    assert panel.post(f"/api/bookings/{here['id']}/end").status_code == 200
    shown = panel.get(f"/api/rooms/{berlin['id']}/panel").json
    assert shown["status"] == "free" and shown["current"] is None
    assert shown["book_now"][0]["start_time"] == "2027-03-01T10:11:00+01:00"


def test_book_now_after_a_booking_ended_early_keeps_the_room_s_buffer(app, panel, make, alice,
                                                                      berlin, conn):
    """With a 10-minute buffer, a booking ended at 10:10:30 (so at 10:11) leaves the room
    free on the panel, and Book now starts at 10:21, the buffer after it, not at 10:11."""
    room_policy(conn, berlin, buffer_minutes=10)
    here = make.booking(berlin, alice, START, START + timedelta(hours=1))
    # Booked under the policy: its buffer is kept with it (sql/040).
    conn.execute("UPDATE bookings SET buffer_minutes = 10 WHERE id = %s", (here["id"],))
    app.config["NOW"] = START + timedelta(minutes=10, seconds=30)
    assert panel.post(f"/api/bookings/{here['id']}/checkin").status_code == 200
    assert panel.post(f"/api/bookings/{here['id']}/end").status_code == 200
    shown = panel.get(f"/api/rooms/{berlin['id']}/panel").json
    assert shown["status"] == "free"
    assert shown["book_now"][0]["start_time"] == "2027-03-01T10:21:00+01:00"


def test_book_now_starts_where_the_panel_offered_it_all_through_the_buffer(app, client, make,
                                                                         alice, berlin, conn):
    """QA, 2026-12-05: a booking ended at 10:28 with a 5-minute buffer; the panel
    offered Book now from 10:33, but the button booked from the next minute (409),
    and a minute later the offer forgot the buffer (409 again). Both now start at
    10:33, the end of the buffer the booking keeps; from 10:33 on, at the next
    minute."""
    with app.app_context():
        _row, token = panels.create_token(berlin["id"], None)
    here = make.booking(berlin, alice, START, START + timedelta(hours=1))
    conn.execute("UPDATE bookings SET end_at = %s, buffer_minutes = 5 WHERE id = %s",
                 (START + timedelta(minutes=28), here["id"]))
    free_from = START + timedelta(minutes=33)
    csrf = None
    for seconds_after in (10, 70, 4 * 60 + 59):
        app.config["NOW"] = START + timedelta(minutes=28, seconds=seconds_after)
        csrf = csrf or tablet(client, berlin, token)
        shown = client.get(f"/api/rooms/{berlin['id']}/panel").json
        assert shown["status"] == "free"
        assert shown["book_now"][0]["start_time"] == "2027-03-01T10:33:00+01:00", seconds_after
        page = client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
        offered = re.search(r'name="start_time" value="([^"]+)"', page).group(1)
        assert offered == "2027-03-01T10:33:00+01:00"
    made = client.post(f"/rooms/{berlin['id']}/panel", data={
        "action": "book", "minutes": "15", "start_time": offered, "csrf_token": csrf})
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    walk_in = conn.execute("SELECT start_at, end_at FROM bookings WHERE title = 'Walk-in'"
                           ).fetchone()
    assert walk_in == {"start_at": free_from, "end_at": free_from + timedelta(minutes=15)}
    # Once the buffer is over, the panel's offer is the next minute again.
    conn.execute("DELETE FROM bookings WHERE title = 'Walk-in'")
    app.config["NOW"] = free_from + timedelta(seconds=5)
    assert client.get(f"/api/rooms/{berlin['id']}/panel").json["book_now"][0]["start_time"] \
        == "2027-03-01T10:34:00+01:00"


@pytest.mark.parametrize("offered", ["2027-03-01T09:00:00+01:00",   # before now: from now
                                     "2027-03-01T10:01:00+01:00",   # the next minute itself
                                     "2027-03-01T14:02:00+01:00",   # a minute past any buffer
                                     "2027-03-01T14:40:00+01:00",
                                     "2027-03-01T10:33:00", "soon"])
def test_book_now_from_an_offer_no_longer_ahead_or_odd_starts_on_the_next_minute(
        app, client, berlin, panel_token, conn, offered):
    app.config["NOW"] = START + timedelta(seconds=20)
    csrf = tablet(client, berlin, panel_token)
    made = client.post(f"/rooms/{berlin['id']}/panel", data={
        "action": "book", "minutes": "15", "start_time": offered, "csrf_token": csrf})
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    row = conn.execute("SELECT start_at FROM bookings WHERE title = 'Walk-in'").fetchone()
    assert row["start_at"] == START + timedelta(minutes=1)


def test_book_now_from_an_offer_a_buffer_s_most_ahead_starts_there(app, client, berlin,
                                                                   panel_token, conn):
    """The edge of the bound above: 240 minutes (a buffer's most) after the next minute."""
    app.config["NOW"] = START + timedelta(seconds=20)
    csrf = tablet(client, berlin, panel_token)
    made = client.post(f"/rooms/{berlin['id']}/panel", data={
        "action": "book", "minutes": "15", "start_time": "2027-03-01T14:01:00+01:00",
        "csrf_token": csrf})
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    row = conn.execute("SELECT start_at FROM bookings WHERE title = 'Walk-in'").fetchone()
    assert row["start_at"] == START + timedelta(minutes=241)


def test_end_early_is_offered_for_someone_s_booking_only_once_it_has_begun(
        app, client, berlin, panel_token, make, alice):
    """QA, 2026-12-05: in the minute before Alice's booking, the panel showed it under
    Now with End early, and pressing it gave a 403 page. The panel's own walk-in
    (which starts on the next minute) may still be ended at once."""
    make.booking(berlin, alice, START, START + timedelta(hours=1))
    app.config["NOW"] = START - timedelta(seconds=30)
    csrf = tablet(client, berlin, panel_token)
    shown = client.get(f"/api/rooms/{berlin['id']}/panel").json
    assert shown["current"]["may_end"] is False
    assert "End early" not in client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
    app.config["NOW"] = START
    assert client.get(f"/api/rooms/{berlin['id']}/panel").json["current"]["may_end"] is True
    assert "End early" in client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
    # The panel's own walk-in, before it begins
    app.config["NOW"] = START + timedelta(hours=1, seconds=10)
    made = client.post(f"/rooms/{berlin['id']}/panel",
                       data={"action": "book", "minutes": "15", "csrf_token": csrf})
    assert made.status_code == 302
    current = client.get(f"/api/rooms/{berlin['id']}/panel").json["current"]
    assert current["under_way"] is False and current["may_end"] is True


def test_a_walk_in_is_checked_in_as_it_is_made_and_never_released(app, client, berlin,
                                                                   panel_token, conn):
    """QA, 2026-12-05: in a room that needs check-in, Book now made a booking awaiting
    check-in; without a second press it was released while its people sat in the
    room. A walk-in is checked in when the panel books it."""
    from booking.bookings import release
    conn.execute("UPDATE rooms SET checkin_required = true, release_after_minutes = 10 "
                 "WHERE id = %s", (berlin["id"],))
    app.config["NOW"] = START + timedelta(seconds=20)
    csrf = tablet(client, berlin, panel_token)
    made = client.post(f"/rooms/{berlin['id']}/panel",
                       data={"action": "book", "minutes": "60", "csrf_token": csrf})
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    row = conn.execute("SELECT id, checked_in_at FROM bookings WHERE title = 'Walk-in'"
                       ).fetchone()
    assert row["checked_in_at"] == START + timedelta(seconds=20)
    app.config["NOW"] = START + timedelta(minutes=30)
    assert client.get(f"/api/rooms/{berlin['id']}/panel").json["status"] == "in_use"
    with app.app_context():
        assert release.sweep(START + timedelta(minutes=30), 100) == 0
    assert conn.execute("SELECT released_at FROM bookings WHERE id = %s",
                        (row["id"],)).fetchone()["released_at"] is None


def test_no_credential_in_an_address_reaches_the_log(app, client, berlin, panel_token, caplog):
    """QA, 2026-12-05: the request log had a panel's token (?key=), one-tap approval and
    check-in links in full. They are logged by their route's pattern, as a calendar
    feed's address already was."""
    import logging
    with caplog.at_level(logging.INFO, logger="booking.request"):
        client.get(f"/rooms/{berlin['id']}/panel?key={panel_token}")
        client.get("/approvals/tap/secret-approval-link")
        client.get("/bookings/1/checkin/secret-checkin-link")
        client.get("/series/1/cancel/secret-cancel-offer")
    logged = [r.getMessage() for r in caplog.records if r.name == "booking.request"]
    assert len(logged) == 4
    assert not [line for line in logged if panel_token in line or "secret-" in line], logged
    assert logged[0].split()[1] == "/rooms/<id:room_id>/panel"


def test_book_now_sent_for_later_is_not_checked_in(app, client, berlin, panel_token, conn):
    """QA, 2026-12-05: the form's start_time (the panel's offer) could name a start up
    to four hours ahead, and the walk-in was checked in at once: never released.
    Only a walk-in starting within the check-in window is checked in."""
    app.config["NOW"] = START + timedelta(seconds=20)
    csrf = tablet(client, berlin, panel_token)
    for minutes_ahead, checked_in in ((11, False), (10, True)):
        conn.execute("DELETE FROM bookings")
        start = (START + timedelta(minutes=minutes_ahead)).astimezone(BERLIN_TZ).isoformat()
        made = client.post(f"/rooms/{berlin['id']}/panel", data={
            "action": "book", "minutes": "15", "start_time": start, "csrf_token": csrf})
        assert made.status_code == 302, made.get_data(as_text=True)[:500]
        row = conn.execute("SELECT start_at, checked_in_at FROM bookings").fetchone()
        assert row["start_at"] == START + timedelta(minutes=minutes_ahead)
        assert (row["checked_in_at"] is not None) is checked_in, minutes_ahead


@pytest.mark.parametrize("rule", ["bookers", "approval"])
def test_book_now_is_offered_only_where_the_panel_may_book_outright(app, client, panel, berlin,
                                                                    panel_token, conn, rule):
    """Found by testing from outside: in a room only some groups may book, the panel
    offered Book now and then refused it (403); in a room that needs approval,
    Book now made a walk-in that only asked, and expired at its start."""
    from policykit import group

    csrf = tablet(client, berlin, panel_token)
    if rule == "bookers":
        room_policy(conn, berlin, bookers=[group(conn, "Lab")["id"]])
    else:
        room_policy(conn, berlin, approval_required=True)
    state = panel.get(f"/api/rooms/{berlin['id']}/panel").json
    assert state["book_now"] == []
    # The panel says why it offers nothing (found by testing from outside: no button
    # and no word).
    reason = {"bookers": "Only some groups may book this room",
              "approval": "Bookings of this room need approval"}[rule]
    assert state["book_now_reason"].startswith(reason)
    assert reason in client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
    r = client.post(f"/rooms/{berlin['id']}/panel",
                    data={"action": "book", "minutes": "30", "csrf_token": csrf})
    assert r.status_code == 403
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
    # the panel's account in the group: offered, and booked outright
    if rule == "bookers":
        conn.execute("INSERT INTO group_members (group_id, user_id) SELECT g.id, u.id "
                     "FROM groups g, users u WHERE g.name = 'Lab' AND u.email = %s",
                     (f"panel-{berlin['id']}@panels.invalid",))
        heard_so_far(app, conn)
        state = panel.get(f"/api/rooms/{berlin['id']}/panel").json
        assert [o["minutes"] for o in state["book_now"]] == [15, 30, 60]
        assert state["book_now_reason"] is None
        r = client.post(f"/rooms/{berlin['id']}/panel",
                        data={"action": "book", "minutes": "30", "csrf_token": csrf})
        assert r.status_code == 302
        assert conn.execute("SELECT status FROM bookings").fetchone()["status"] == "confirmed"


def test_the_panel_s_own_walk_in_waiting_for_its_buffer_can_be_ended(app, client, make, alice,
                                                                     berlin, conn):
    """Found by testing from outside: a walk-in that starts after a buffer is under
    Next, where the panel drew no End early although the twin said may_end."""
    with app.app_context():
        _row, token = panels.create_token(berlin["id"], None)
    here = make.booking(berlin, alice, START, START + timedelta(hours=1))
    conn.execute("UPDATE bookings SET end_at = %s, buffer_minutes = 5 WHERE id = %s",
                 (START + timedelta(minutes=28), here["id"]))
    app.config["NOW"] = START + timedelta(minutes=28, seconds=10)
    csrf = tablet(client, berlin, token)
    made = client.post(f"/rooms/{berlin['id']}/panel", data={
        "action": "book", "minutes": "15", "start_time": "2027-03-01T10:33:00+01:00",
        "csrf_token": csrf})
    assert made.status_code == 302
    (walk_in,) = client.get(f"/api/rooms/{berlin['id']}/panel").json["next"]
    assert walk_in["may_end"] is True
    page = client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
    nexts = page[page.index('id="next-heading"'):]
    assert f'name="booking_id" value="{walk_in["id"]}"' in nexts and "End early" in nexts
    done = client.post(f"/rooms/{berlin['id']}/panel", data={
        "action": "end", "booking_id": str(walk_in["id"]), "csrf_token": csrf})
    assert done.status_code == 302
    assert conn.execute("SELECT cancelled_at IS NOT NULL AS gone FROM bookings WHERE id = %s",
                        (walk_in["id"],)).fetchone()["gone"]


@pytest.mark.parametrize("minutes, next_after, offered", [
    (45, None, True),    # 45 + 15 = 60, the longest
    (46, None, False),   # 61: too long
    (30, 15, True),      # the next booking exactly 15 minutes after its end
    (30, 14, False),
])
def test_extend_is_offered_only_when_it_would_go_through(app, client, make, alice, berlin,
                                                         conn, minutes, next_after, offered):
    """Found by testing from outside: the panel offered Extend 15 min to a booking
    already the longest the room allows, and then refused it."""
    with app.app_context():
        _row, token = panels.create_token(berlin["id"], None)
    room_policy(conn, berlin, max_minutes=60)
    end = START + timedelta(minutes=minutes)
    make.booking(berlin, alice, START, end)
    if next_after is not None:
        later = end + timedelta(minutes=next_after)
        make.booking(berlin, alice, later, later + timedelta(minutes=15))
    app.config["NOW"] = START + timedelta(minutes=5)
    csrf = tablet(client, berlin, token)
    current = client.get(f"/api/rooms/{berlin['id']}/panel").json["current"]
    assert current["may_extend"] is offered
    page = client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
    assert ("Extend 15 min" in page) is offered
    done = client.post(f"/rooms/{berlin['id']}/panel", data={
        "action": "extend", "booking_id": str(current["id"]), "csrf_token": csrf})
    extended = conn.execute("SELECT end_at FROM bookings WHERE id = %s",
                            (current["id"],)).fetchone()["end_at"] > end
    assert extended is offered, done.get_data(as_text=True)[:300]


def test_a_request_waiting_for_approval_is_not_offered_a_check_in(app, client, make, alice,
                                                                   berlin, panel_token, conn):
    """Found by testing from outside: the panel offered Check in to a pending booking,
    and the check-in was then refused (409, sql/070)."""
    conn.execute("UPDATE rooms SET checkin_required = true WHERE id = %s", (berlin["id"],))
    booking = make.booking(berlin, alice, START, START + timedelta(hours=1))
    app.config["NOW"] = START - timedelta(minutes=5)
    tablet(client, berlin, panel_token)
    for status, offered in (("pending", False), ("confirmed", True)):
        conn.execute("UPDATE bookings SET status = %s WHERE id = %s", (status, booking["id"]))
        (shown,) = client.get(f"/api/rooms/{berlin['id']}/panel").json["next"]
        assert shown["may_check_in"] is offered, status
        page = client.get(f"/rooms/{berlin['id']}/panel").get_data(as_text=True)
        assert ("Check in" in page) is offered, status


@pytest.mark.parametrize("late", [
    pytest.param(None, id="booked-ahead"),
    pytest.param("created", id="booked-after-its-start"),
    pytest.param("checkin_since", id="check-in-turned-on-after-its-start"),
])
def test_check_in_is_offered_up_to_the_release_time_and_not_at_it(app, client, make, alice,
                                                                   berlin, panel_token, conn,
                                                                   late):
    """The panel's offer is the release time the sweep and the check-in use (one SQL
    fragment): offered a second before it, and the check-in then goes through; not at it."""
    conn.execute("UPDATE rooms SET checkin_required = true, release_after_minutes = 10 "
                 "WHERE id = %s", (berlin["id"],))
    booking = make.booking(berlin, alice, START, START + timedelta(hours=1))
    release = START + timedelta(minutes=10)
    if late is not None:     # 3 min 20 s after the start: the grace from then, on a whole minute
        moment = START + timedelta(minutes=3, seconds=20)
        table, key = ("bookings", booking["id"]) if late == "created" else ("rooms", berlin["id"])
        conn.execute(f"UPDATE {table} SET {late if late == 'checkin_since' else 'created_at'}"
                     " = %s WHERE id = %s", (moment, key))
        release = START + timedelta(minutes=14)
    tablet(client, berlin, panel_token)
    for now, offered in ((release - timedelta(seconds=1), True), (release, False)):
        app.config["NOW"] = now
        shown = client.get(f"/api/rooms/{berlin['id']}/panel").json["current"]
        assert shown["may_check_in"] is offered, now
    app.config["NOW"] = release - timedelta(seconds=1)
    done = client.post(f"/api/bookings/{booking['id']}/checkin",
                       headers={"Authorization": f"Bearer {panel_token}"})
    assert done.status_code == 200, done.get_json()


def test_walk_ins_count_against_no_quota_while_a_person_s_still_do(app, client, api_as, alice,
                                                                   berlin, panel_token, conn):
    """Found by testing from outside: with a quota of one booking a day, the panel's
    second walk-in of the day was refused (its one account made the first) while
    the panel went on offering Book now. The panel's account stands for whoever
    walks in: its walk-ins count against no quota; a person's bookings still do."""
    room_policy(conn, berlin, quota={"bookings_per_day": 1})
    csrf = tablet(client, berlin, panel_token)
    for minutes_later in (0, 30):                     # 09:00-09:15, then 09:30-09:45
        app.config["NOW"] = NOW + timedelta(minutes=minutes_later)
        state = client.get(f"/api/rooms/{berlin['id']}/panel").json
        assert [o["minutes"] for o in state["book_now"]][:1] == [15], state["book_now"]
        made = client.post(f"/rooms/{berlin['id']}/panel",
                           data={"action": "book", "minutes": "15", "csrf_token": csrf})
        assert made.status_code == 302, made.get_data(as_text=True)[:500]
    walk_ins = conn.execute("SELECT count(*) AS n FROM bookings WHERE room_id = %s "
                            "AND cancelled_at IS NULL", (berlin["id"],)).fetchone()["n"]
    assert walk_ins == 2
    api = api_as(alice)
    for hour, status in (("11", 201), ("13", 422)):
        r = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Mine",
                                            "start_time": f"2027-03-01T{hour}:00",
                                            "end_time": f"2027-03-01T{hour}:30"})
        assert r.status_code == status, r.get_json()


def test_book_now_with_the_panel_token_as_a_bearer_header(app, client, berlin, panel_token,
                                                          conn):
    """Found by testing from outside: an integration sending the panel's token as
    Authorization: Bearer (as the README says it may) was sent to sign in by Book now:
    the form's CSRF check, which a request judged by its header does not need."""
    app.config["NOW"] = NOW + timedelta(seconds=20)
    made = client.post(f"/rooms/{berlin['id']}/panel", data={"action": "book", "minutes": "15"},
                       headers={"Authorization": f"Bearer {panel_token}"})
    assert made.status_code == 302, made.get_data(as_text=True)[:300]
    assert "/login" not in made.headers["Location"]
    booked = conn.execute("SELECT count(*) AS n FROM bookings WHERE room_id = %s "
                          "AND cancelled_at IS NULL", (berlin["id"],)).fetchone()["n"]
    assert booked == 1


@pytest.mark.parametrize("minutes_free, offered", [(14, None), (15, [15])])
def test_a_free_room_whose_next_booking_is_too_close_says_so(app, panel, make, alice, berlin,
                                                              minutes_free, offered):
    """The shortest walk-in is 15 minutes: with 14 free before the next booking the
    panel offers nothing and says why; with 15 it offers 15."""
    make.booking(berlin, alice, NOW + timedelta(minutes=minutes_free),
                 NOW + timedelta(minutes=minutes_free + 60))
    state = panel.get(f"/api/rooms/{berlin['id']}/panel").json
    assert state["status"] == "free"
    if offered is None:
        assert state["book_now"] == []
        assert state["book_now_reason"] == "The next booking starts too soon to book now."
    else:
        assert [o["minutes"] for o in state["book_now"]] == offered
        assert state["book_now_reason"] is None


@pytest.mark.parametrize("action", ["checkin", "end", "extend"])
def test_the_tablet_s_cookie_writes_to_the_api_only_with_the_csrf_token(
        app, client, berlin, panel_token, make, alice, conn, action):
    """Found by a security tester: the panel's cookie alone (no X-CSRFToken) ended a
    meeting through POST /api/bookings/<id>/end from another site's form, since the
    API checked the token only for a signed-in person's session. Every cookie-
    authenticated JSON write needs the CSRF token; the token as a bearer header
    needs none."""
    booking = make.booking(berlin, alice, NOW, START)
    app.config["NOW"] = NOW + timedelta(minutes=3)
    csrf = tablet(client, berlin, panel_token)
    url = f"/api/bookings/{booking['id']}/{action}"
    body = {"end_time": "2027-03-01T10:15"} if action == "extend" else None
    refused = client.post(url, data={"x": "1"},
                          headers={"Origin": "https://wiki.example.com"})
    assert refused.status_code == 400, refused.get_data(as_text=True)[:300]
    assert refused.json["error"]["code"] == "invalid"
    assert refused.json["error"]["message"] == "The CSRF token is missing."
    assert client.post(url, json=body).status_code == 400
    row = conn.execute("SELECT checked_in_at, end_at FROM bookings").fetchone()
    assert row == {"checked_in_at": None, "end_at": START}
    done = client.post(url, json=body, headers={"X-CSRFToken": csrf})
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    # The same token as a bearer header needs no CSRF token (its answer is the
    # action's own: a second check-in changes nothing, a second end is too late).
    later = {"end_time": "2027-03-01T10:30"} if action == "extend" else None
    bearer = app.test_client().post(url, json=later,
                                    headers={"Authorization": f"Bearer {panel_token}"})
    assert "CSRF" not in bearer.get_data(as_text=True), bearer.get_data(as_text=True)[:300]
    assert bearer.status_code in (200, 409), bearer.get_data(as_text=True)[:300]
