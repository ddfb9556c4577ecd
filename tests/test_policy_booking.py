"""Booking under the effective policy, through the API (issue 18): refusals name
the rule and its source, administrators book past the limits (audited), buffers
and quotas are the database's, approvals hold the slot."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from conftest import NOW, UTC
from policykit import area, area_policy, group, put_in, room_policy

DAY = "2027-03-02"      # Tuesday; NOW is Monday 1 March 2027, 09:00 in Berlin


def book(api, room, start, end, title="Planning", **extra):
    return api.post("/api/bookings", json={"room_id": room["id"], "title": title,
                                           "start_time": start, "end_time": end, **extra})


def hm(h, m=0, day=DAY):
    return f"{day}T{h:02d}:{m:02d}"


def error(r):
    return r.get_json()["error"]


def live(conn):
    return conn.execute("SELECT count(*) AS n FROM bookings WHERE cancelled_at IS NULL"
                        ).fetchone()["n"]


@pytest.fixture
def building(conn, berlin):
    found = area(conn, "Building B")
    put_in(conn, berlin, found)
    return found


# -- refusals name the rule and where it comes from ---------------------------------------

@pytest.mark.parametrize("policy, start, end, code, status", [
    ({"max_minutes": 60}, hm(10), hm(11, 1), "too_long", 422),
    ({"min_minutes": 30}, hm(10), hm(10, 29), "too_short", 422),
    ({"max_days_ahead": 0}, hm(10), hm(11), "beyond_window", 422),
    ({"min_notice_minutes": 60 * 26}, hm(10), hm(11), "too_soon", 422),
    ({"closed_dates": ["03-02"]}, hm(10), hm(11), "closed", 422),
    ({"opening_hours": {"tue": ["12:00", "16:00"]}}, hm(10), hm(11), "outside_hours", 422),
    ({"opening_hours": {"mon": ["09:00", "18:00"]}}, hm(10), hm(11), "closed", 422),
])
def test_each_rule_refuses_with_its_code_and_source(api_as, alice, berlin, building, conn,
                                                    policy, start, end, code, status):
    area_policy(conn, building, **policy)
    r = book(api_as(alice), berlin, start, end)
    assert r.status_code == status, r.get_json()
    err = error(r)
    assert err["code"] == code
    assert err["details"]["source"] == {"level": "area", "id": building["id"],
                                        "name": "Building B"}
    assert err["details"]["violations"][0]["source"]["name"] == "Building B"
    assert live(conn) == 0


def test_outside_the_rooms_own_hours_the_source_is_the_room(api_as, alice, berlin, conn):
    """Hours set nowhere are the room's own (09:00-18:00): the refusal named the
    organisation, where the room's policy page says the room."""
    api = api_as(alice)
    r = book(api, berlin, hm(17, 30), hm(18, 30))
    assert (r.status_code, error(r)["code"]) == (422, "outside_hours"), r.get_json()
    shown = api.get(f"/api/rooms/{berlin['id']}/policy").get_json()
    assert error(r)["details"]["source"] == shown["policy"]["opening_hours"]["source"] == {
        "level": "room", "id": berlin["id"], "name": berlin["name"]}
    # hours an area sets: the area
    hours = area(conn, "Hours B", opening_hours={"tue": ["08:00", "17:00"]})
    put_in(conn, berlin, hours)
    r = book(api, berlin, hm(16, 30), hm(17, 30))
    assert (r.status_code, error(r)["code"]) == (422, "outside_hours"), r.get_json()
    assert error(r)["details"]["source"] == {"level": "area", "id": hours["id"],
                                             "name": "Hours B"}


def test_the_same_booking_passes_once_the_rule_is_unset(api_as, alice, berlin, building, conn):
    area_policy(conn, building, max_minutes=60)
    assert book(api_as(alice), berlin, hm(10), hm(12)).status_code == 422
    area_policy(conn, building, max_minutes=None)
    assert book(api_as(alice), berlin, hm(10), hm(12)).status_code == 201


def test_only_the_rooms_bookers_may_book_403_not_permitted(api_as, alice, bob, berlin, building,
                                                           conn):
    lab = group(conn, "Lab", alice)
    area_policy(conn, building, bookers=[lab["id"]])
    r = book(api_as(bob), berlin, hm(10), hm(11))
    assert r.status_code == 403 and error(r)["code"] == "not_permitted"
    assert error(r)["details"]["source"]["name"] == "Building B"
    assert book(api_as(alice), berlin, hm(10), hm(11)).status_code == 201
    assert live(conn) == 1


def test_joining_a_group_lets_one_book_at_once(app, database_url, api_as, bob, berlin,
                                               building, conn):
    from booking import memo
    from booking.auth import hash_token
    from test_budgets import settle

    lab = group(conn, "Lab")
    area_policy(conn, building, bookers=[lab["id"]])
    api = api_as(bob)
    key = hash_token(api.headers["Authorization"].split()[1])
    for _ in range(2):                          # listening, then bob is remembered
        assert api.get("/api/me").status_code == 200
    assert memo.of(app).users.get(key) is not None
    assert book(api, berlin, hm(10), hm(11)).status_code == 403
    conn.execute("INSERT INTO group_members VALUES (%s, %s)", (lab["id"], bob["id"]))
    # the membership change is announced (sql/040): once heard, bob is forgotten
    settle(app, database_url)
    assert memo.of(app).users.get(key) is None
    assert book(api, berlin, hm(10), hm(11)).status_code == 201


def test_an_admin_books_past_every_limit_and_the_audit_log_says_which(api_as, admin, berlin,
                                                                      building, conn):
    lab = group(conn, "Lab")
    area_policy(conn, building, max_minutes=30, bookers=[lab["id"]], closed_dates=[DAY],
                quota={"bookings_per_day": 1}, approval_required=True)
    api = api_as(admin)
    first = book(api, berlin, hm(10), hm(12))
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["booking"]["status"] == "confirmed"     # no approval for admins
    second = book(api, berlin, hm(13), hm(15))
    assert second.status_code == 201, second.get_json()
    entries = conn.execute("SELECT after FROM audit_log WHERE action = 'booking.create' "
                           "ORDER BY id").fetchall()
    assert [e["after"]["overrides"] for e in entries] == [
        ["closed", "not_permitted", "too_long"],
        ["closed", "not_permitted", "quota_exceeded", "too_long"]]
    # never past the constraint
    r = book(api, berlin, hm(11), hm(12))
    assert r.status_code == 409 and error(r)["code"] == "conflict"


def test_a_staff_booking_records_no_overrides(api_as, alice, berlin, conn):
    assert book(api_as(alice), berlin, hm(10), hm(11)).status_code == 201
    assert conn.execute("SELECT overrides FROM bookings").fetchone()["overrides"] is None


# -- buffers ----------------------------------------------------------------------------

def test_exactly_the_buffer_apart_is_fine_a_minute_less_is_a_conflict(api_as, alice, bob, berlin,
                                                                      building, conn):
    area_policy(conn, building, buffer_minutes=15)
    first = book(api_as(alice), berlin, hm(10), hm(11))
    assert first.status_code == 201
    after = book(api_as(bob), berlin, hm(11, 14), hm(12))
    assert after.status_code == 409
    assert [c["id"] for c in error(after)["details"]["conflicts"]] == [
        first.get_json()["booking"]["id"]]
    before = book(api_as(bob), berlin, hm(9), hm(9, 46))
    assert before.status_code == 409
    assert book(api_as(bob), berlin, hm(11, 15), hm(12)).status_code == 201
    assert book(api_as(bob), berlin, hm(9), hm(9, 45)).status_code == 201
    assert conn.execute("SELECT array_agg(buffer_minutes) AS b FROM bookings").fetchone()["b"] \
        == [15, 15, 15]


def test_a_buffer_change_leaves_existing_bookings_and_applies_to_new_ones(
        api_as, alice, bob, berlin, building, conn):
    """Each booking keeps the buffer it was made with: raising the buffer
    invalidates nothing; a new booking keeps the new buffer after itself."""
    early = book(api_as(alice), berlin, hm(10), hm(11)).get_json()["booking"]
    late = book(api_as(alice), berlin, hm(11, 5), hm(12)).get_json()["booking"]   # 5 apart
    area_policy(conn, building, buffer_minutes=30)
    rows = conn.execute("SELECT id, buffer_minutes, cancelled_at FROM bookings ORDER BY id"
                        ).fetchall()
    assert [(r["id"], r["buffer_minutes"], r["cancelled_at"]) for r in rows] == [
        (early["id"], 0, None), (late["id"], 0, None)]
    # after `late` (buffer 0): a new one right at its end is fine ...
    assert book(api_as(bob), berlin, hm(12), hm(12, 30)).status_code == 201
    # ... but the new one keeps 30 minutes after itself: 12:30 + 30 > 12:59
    assert book(api_as(bob), berlin, hm(12, 59), hm(13, 30)).status_code == 409
    assert book(api_as(bob), berlin, hm(13), hm(13, 30)).status_code == 201


def test_conflict_suggestions_keep_the_buffer(api_as, alice, bob, berlin, building, conn):
    area_policy(conn, building, buffer_minutes=30)
    book(api_as(alice), berlin, hm(10), hm(11))
    r = book(api_as(bob), berlin, hm(10), hm(11))
    assert r.status_code == 409
    same_room = error(r)["details"]["suggestions"]["same_room"]
    assert same_room[0]["start_time"] == "2027-03-02T11:30:00+01:00"
    for slot in same_room:       # each is bookable (they are alternatives, not a set)
        r = book(api_as(bob), berlin, slot["start_time"], slot["end_time"])
        assert r.status_code == 201, (slot, r.get_json())
        assert api_as(bob).delete(f"/api/bookings/{r.get_json()['booking']['id']}"
                                  ).status_code == 200


# -- quotas -----------------------------------------------------------------------------

def test_a_daily_quota_at_n_and_n_plus_one_with_its_details(api_as, alice, berlin, building,
                                                            conn, make):
    area_policy(conn, building, quota={"bookings_per_day": 3})
    other = make.room("Havel")
    put_in(conn, other, building)
    api = api_as(alice)
    for h, room in ((9, berlin), (10, other), (11, berlin)):
        assert book(api, room, hm(h), hm(h, 30)).status_code == 201
    r = book(api, other, hm(12), hm(12, 30))
    assert r.status_code == 422
    err = error(r)
    assert err["code"] == "quota_exceeded"
    assert {k: err["details"][k] for k in ("quota", "used", "limit")} == {
        "quota": "bookings_per_day", "used": 3, "limit": 3}
    assert err["details"]["source"]["name"] == "Building B"
    assert live(conn) == 3
    # another day is another count; a room outside the area does not count
    assert book(api, berlin, hm(12, day="2027-03-03"), hm(13, day="2027-03-03")).status_code == 201
    outside = make.room("Elsewhere")
    assert book(api, outside, hm(13), hm(14)).status_code == 201


def test_cancelled_bookings_do_not_count(api_as, alice, berlin, building, conn):
    area_policy(conn, building, quota={"bookings_per_day": 1})
    api = api_as(alice)
    first = book(api, berlin, hm(10), hm(11)).get_json()["booking"]
    assert book(api, berlin, hm(12), hm(13)).status_code == 422
    assert api.delete(f"/api/bookings/{first['id']}").status_code == 200
    assert book(api, berlin, hm(12), hm(13)).status_code == 201


def test_released_bookings_do_not_count(api_as, alice, berlin, building, conn):
    area_policy(conn, building, quota={"bookings_per_day": 1})
    api = api_as(alice)
    first = book(api, berlin, hm(10), hm(11)).get_json()["booking"]
    conn.execute("UPDATE bookings SET status = 'released', end_at = start_at + interval "
                 "'15 minutes' WHERE id = %s", (first["id"],))
    assert book(api, berlin, hm(12), hm(13)).status_code == 201


def test_every_occurrence_of_a_series_counts(api_as, alice, berlin, building, conn):
    area_policy(conn, building, quota={"bookings_per_week": 3})
    api = api_as(alice)
    r = book(api, berlin, hm(10), hm(11), recurrence="FREQ=DAILY;COUNT=4")   # Tue-Fri
    assert r.status_code == 422
    err = error(r)
    assert (err["code"], err["details"]["quota"], err["details"]["used"]) == (
        "quota_exceeded", "bookings_per_week", 3)
    assert err["details"]["start_time"].startswith("2027-03-05T10:00")    # the fourth
    assert live(conn) == 0 and conn.execute("SELECT count(*) AS n FROM series"
                                            ).fetchone()["n"] == 0
    assert book(api, berlin, hm(10), hm(11), recurrence="FREQ=DAILY;COUNT=3").status_code == 201
    assert book(api, berlin, hm(10, day="2027-03-06"), hm(11, day="2027-03-06")).status_code \
        == 422


def test_hours_per_week(api_as, alice, berlin, building, conn):
    area_policy(conn, building, quota={"hours_per_week": 2})
    api = api_as(alice)
    assert book(api, berlin, hm(10), hm(11, 30)).status_code == 201
    r = book(api, berlin, hm(14), hm(14, 31))
    assert (r.status_code, error(r)["details"]["used"]) == (422, 1.5)
    assert book(api, berlin, hm(14), hm(14, 30)).status_code == 201


def test_extending_a_series_skips_what_the_quota_refuses(app, api_as, alice, berlin, building,
                                                         conn):
    from booking.series import service as series

    api = api_as(alice)
    made = book(api, berlin, hm(10), hm(11), recurrence="FREQ=WEEKLY").get_json()
    area_policy(conn, building, quota={"bookings_per_week": 1})
    # Someone (alice herself) already holds her one booking of a week in September.
    conn.execute("UPDATE series SET materialized_until = %s WHERE id = %s",
                 (NOW + timedelta(days=170), made["series"]["id"]))
    conn.execute("DELETE FROM bookings WHERE series_id = %s AND start_at > %s",
                 (made["series"]["id"], NOW + timedelta(days=170)))
    later = NOW + timedelta(days=176)
    conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                 "VALUES (%s, %s, 'Mine', %s, %s)",
                 (berlin["id"], alice["id"], later, later + timedelta(hours=1)))
    with app.app_context():
        totals = series.extend_all(NOW, app.config)
    assert totals["skipped"] >= 1
    reasons = {r["reason"] for r in conn.execute(
        "SELECT reason FROM series_skips WHERE series_id = %s", (made["series"]["id"],))}
    assert reasons == {"quota_exceeded"}


# -- approvals ---------------------------------------------------------------------------

@pytest.fixture
def approval_room(conn, berlin, building, make):
    approvers = group(conn, "Facilities", make.user("Fred"))
    area_policy(conn, building, approval_required=True, approvers=[approvers["id"]])
    return berlin


def fred(api_as, conn):
    user = conn.execute("SELECT id, email, name, role FROM users WHERE name = 'Fred'").fetchone()
    return api_as(user)


def test_a_request_is_pending_and_holds_its_slot(api_as, alice, bob, approval_room, conn):
    r = book(api_as(alice), approval_room, hm(10), hm(11))
    assert r.status_code == 201
    booking = r.get_json()["booking"]
    assert booking["status"] == "pending"
    taken = book(api_as(bob), approval_room, hm(10, 30), hm(11, 30))
    assert taken.status_code == 409
    assert error(taken)["details"]["conflicts"][0]["status"] == "pending"
    day = api_as(bob).get(f"/api/rooms/{approval_room['id']}/bookings?date={DAY}").get_json()
    assert [b["status"] for b in day["bookings"]] == ["pending"]
    mine = api_as(alice).get("/api/bookings/mine").get_json()["bookings"]
    assert [b["status"] for b in mine] == ["pending"]


def test_a_request_made_on_the_page_says_it_waits_for_approval(browser_as, alice,
                                                                approval_room):
    """The page said "Booked …" of a request that waits for approval."""
    b = browser_as(alice)
    r = b.post("/bookings/new", data={"room_id": approval_room["id"], "title": "Planning",
                                      "date": DAY, "start": "10:00", "end": "11:00"})
    assert r.status_code == 302
    page = b.get(r.headers["Location"]).get_data(as_text=True)
    assert "Asked for Spree, 10:00–11:00: it waits for approval." in page
    assert "Booked Spree" not in page


def test_a_booking_ends_after_it_starts(api_as, alice, berlin):
    """An end before the start was told "A booking lasts at least 15 minutes"."""
    for end in (hm(9), hm(10)):
        r = book(api_as(alice), berlin, hm(10), end)
        assert r.status_code == 422
        assert error(r)["code"] == "too_short" and error(r)["details"]["field"] == "end_time"
        assert error(r)["message"] == "A booking ends after it starts."
    assert error(book(api_as(alice), berlin, hm(10), hm(10, 5)))["message"] == \
        "A booking lasts at least 15 minutes."


def test_an_approver_decides_on_the_booking_s_own_page(api_as, browser_as, alice, admin,
                                                      approval_room, conn):
    """The booking's page offered approvers nothing: they had to find it on /approvals."""
    booking = book(api_as(alice), approval_room, hm(10), hm(11)).get_json()["booking"]
    url = f"/bookings/{booking['id']}"
    assert "Approve" not in browser_as(alice).get(url).get_data(as_text=True)
    fred_user = conn.execute("SELECT id, email, name, role FROM users WHERE name = 'Fred'").fetchone()
    b = browser_as(fred_user)
    page = b.get(url).get_data(as_text=True)
    assert f'action="/approvals/{booking["id"]}/approve"' in page
    assert f'action="/approvals/{booking["id"]}/reject"' in page
    r = b.post(f"/approvals/{booking['id']}/approve", data={"next": url})
    assert (r.status_code, r.headers["Location"]) == (302, url)
    after = b.get(url).get_data(as_text=True)
    assert "Approved “Planning” in Spree." in after and "Approve</button>" not in after
    assert conn.execute("SELECT status FROM bookings WHERE id = %s",
                        (booking["id"],)).fetchone()["status"] == "confirmed"
    other = book(api_as(alice), approval_room, hm(14), hm(15)).get_json()["booking"]
    assert f'/approvals/{other["id"]}/approve' in browser_as(admin).get(
        f"/bookings/{other['id']}").get_data(as_text=True)


def test_approvers_list_approve_and_the_loser_gets_409_not_pending(api_as, alice, bob,
                                                                    approval_room, conn):
    booking = book(api_as(alice), approval_room, hm(10), hm(11)).get_json()["booking"]
    approver = fred(api_as, conn)
    listed = approver.get("/api/approvals").get_json()
    assert [r["booking"]["id"] for r in listed["requests"]] == [booking["id"]]
    assert listed["requests"][0]["occurrences"] == 1
    assert api_as(bob).get("/api/approvals").get_json()["requests"] == []
    refused = api_as(bob).post(f"/api/bookings/{booking['id']}/approve")
    assert refused.status_code == 403 and error(refused)["code"] == "forbidden"
    assert api_as(alice).post(f"/api/bookings/{booking['id']}/approve").status_code == 403
    r = approver.post(f"/api/bookings/{booking['id']}/approve")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["booking"]["status"] == "confirmed"
    again = approver.post(f"/api/bookings/{booking['id']}/reject", json={"reason": "late"})
    assert again.status_code == 409 and error(again)["code"] == "not_pending"
    assert error(again)["details"]["status"] == "confirmed"
    row = conn.execute("SELECT status, decided_by, cancelled_at FROM bookings").fetchone()
    assert row["status"] == "confirmed" and row["cancelled_at"] is None
    audit = conn.execute("SELECT actor_id FROM audit_log WHERE action = 'booking.approve'"
                         ).fetchall()
    assert [a["actor_id"] for a in audit] == [row["decided_by"]]


def test_a_rejection_frees_the_slot_and_keeps_the_reason(api_as, alice, bob, admin,
                                                         approval_room, conn):
    booking = book(api_as(alice), approval_room, hm(10), hm(11)).get_json()["booking"]
    r = api_as(admin).post(f"/api/bookings/{booking['id']}/reject",
                           json={"reason": "Board meeting"})
    assert r.status_code == 200 and r.get_json()["booking"]["status"] == "rejected"
    assert r.get_json()["booking"]["cancelled_at"] is not None
    assert conn.execute("SELECT decision_reason FROM bookings").fetchone()["decision_reason"] \
        == "Board meeting"
    assert book(api_as(bob), approval_room, hm(10), hm(11)).status_code == 201
    # Changing it says it was rejected, not cancelled.
    again = api_as(alice).patch(f"/api/bookings/{booking['id']}", json={"title": "Please"})
    assert again.status_code == 409 and error(again)["code"] == "not_editable"
    assert "rejected" in error(again)["message"], error(again)["message"]


def test_a_series_asks_once_and_is_decided_whole(api_as, alice, approval_room, conn):
    made = book(api_as(alice), approval_room, hm(10), hm(11),
                recurrence="FREQ=DAILY;COUNT=3").get_json()
    assert {b["status"] for b in made["bookings"]} == {"pending"}
    approver = fred(api_as, conn)
    requests = approver.get("/api/approvals").get_json()["requests"]
    assert len(requests) == 1 and requests[0]["occurrences"] == 3
    assert requests[0]["series"]["id"] == made["series"]["id"]
    r = approver.post(f"/api/bookings/{made['bookings'][1]['id']}/approve")
    assert r.status_code == 200
    statuses = [x["status"] for x in conn.execute(
        "SELECT status FROM bookings ORDER BY start_at").fetchall()]
    assert statuses == ["confirmed"] * 3
    assert conn.execute("SELECT status FROM series").fetchone()["status"] == "confirmed"
    assert approver.get("/api/approvals").get_json()["requests"] == []
    kinds = [k["kind"] for k in conn.execute("SELECT kind FROM outbox ORDER BY id")]
    assert kinds == ["series.created", "approval.requested", "series.approved"]


def test_cancelling_a_request_is_cancelled_not_rejected(api_as, alice, approval_room):
    booking = book(api_as(alice), approval_room, hm(10), hm(11)).get_json()["booking"]
    r = api_as(alice).delete(f"/api/bookings/{booking['id']}")
    assert r.get_json()["booking"]["status"] == "cancelled"


def test_decisions_on_nothing_and_bad_reasons(api_as, admin, approval_room, alice, conn):
    api = api_as(admin)
    assert api.post("/api/bookings/4242/approve").status_code == 404
    booking = book(api_as(alice), approval_room, hm(10), hm(11)).get_json()["booking"]
    r = api.post(f"/api/bookings/{booking['id']}/reject", json={"reason": "x" * 501})
    assert r.status_code == 400 and error(r)["details"]["field"] == "reason"
    r = api.post(f"/api/bookings/{booking['id']}/reject", json={"because": "x"})
    assert r.status_code == 400
    assert conn.execute("SELECT status FROM bookings").fetchone()["status"] == "pending"


def test_a_series_in_a_room_with_a_longer_window_is_held_that_far(app, api_as, alice, berlin,
                                                                  building, conn):
    """The organisation's window is 180 days, Building B's 200: a weekly series there
    is held to 207 days (its window and a week), and a day later the extension
    moves it on by that day, although it is already past the organisation's
    horizon (187 days)."""
    from booking.series import service as series

    area_policy(conn, building, max_days_ahead=200)
    made = book(api_as(alice), berlin, hm(10), hm(11), recurrence="FREQ=WEEKLY").get_json()
    sid = made["series"]["id"]

    def held():
        return conn.execute("SELECT materialized_until FROM series WHERE id = %s",
                            (sid,)).fetchone()["materialized_until"]

    assert held() == NOW + timedelta(days=207)
    with app.app_context():
        series.extend_all(NOW + timedelta(days=1), app.config)
    assert held() == NOW + timedelta(days=208)


def test_bookers_are_asked_about_the_person_the_booking_is_for(api_as, alice, bob, make, berlin,
                                                                building, conn):
    """A lab room booked for someone: the bookers rule asks about the person who will
    hold it, not the delegate who books. Bob (in the lab) named Alice (not in it) his
    delegate: she may book the lab room for him. Carol (not in the lab) named Bob: he
    may not book it for her, though he may for himself. The same holds for a series
    and for moving a booking into the room."""
    carol = make.user("Carol")
    lab = group(conn, "Lab", bob)
    area_policy(conn, building, bookers=[lab["id"]])
    conn.execute("INSERT INTO delegates (user_id, delegate_id) VALUES (%s, %s), (%s, %s)",
                 (bob["id"], alice["id"], carol["id"], bob["id"]))
    for_bob = book(api_as(alice), berlin, hm(10), hm(11), booked_for=bob["email"])
    assert for_bob.status_code == 201, for_bob.json
    for_carol = book(api_as(bob), berlin, hm(12), hm(13), booked_for=carol["email"])
    assert for_carol.status_code == 403 and error(for_carol)["code"] == "not_permitted"
    assert "the person it is for is not in one of them" in error(for_carol)["message"]
    series = book(api_as(bob), berlin, hm(14), hm(15), booked_for=carol["email"],
                  recurrence="FREQ=WEEKLY;COUNT=2")
    assert series.status_code == 403 and error(series)["code"] == "not_permitted"
    assert book(api_as(bob), berlin, hm(12), hm(13)).status_code == 201
    # Carol's own booking elsewhere, moved into the lab room by her delegate Bob.
    other = make.room("Havel", "Europe/Berlin")
    hers = make.booking(other, carol, datetime(2027, 3, 2, 15, tzinfo=UTC),
                        datetime(2027, 3, 2, 16, tzinfo=UTC))
    moved = api_as(bob).patch(f"/api/bookings/{hers['id']}", json={"room_id": berlin["id"]})
    assert moved.status_code == 403 and error(moved)["code"] == "not_permitted"
    assert live(conn) == 3      # Alice's for Bob, Bob's own, Carol's still in Havel
    assert conn.execute("SELECT room_id FROM bookings WHERE id = %s",
                        (hers["id"],)).fetchone()["room_id"] == other["id"]


def test_an_approver_sees_the_buttons_in_a_process_that_kept_no_rooms(app, api_as, browser_as,
                                                                      alice, approval_room,
                                                                      conn):
    """The approvers were read from this process's copy of the rooms only when it had
    one: after a restart, or after any room changed, an approver saw no buttons."""
    from booking import memo

    booking = book(api_as(alice), approval_room, hm(10), hm(11)).get_json()["booking"]
    memo.of(app).rooms.forget()     # as a process that has not read the rooms yet
    fred_user = conn.execute("SELECT id, email, name, role FROM users WHERE name = 'Fred'").fetchone()
    page = browser_as(fred_user).get(f"/bookings/{booking['id']}").get_data(as_text=True)
    assert f'action="/approvals/{booking["id"]}/approve"' in page


def test_a_delegate_over_the_owner_s_quota_is_told_it_is_theirs(api_as, alice, bob, berlin, conn):
    """QA, 2026-12-05: Bob booking for Alice over her daily quota read "You may have at
    most 1 bookings a day here ...; you have 1": the quota is Alice's."""
    room_policy(conn, berlin, quota={"bookings_per_day": 1})
    assert api_as(alice).patch("/api/me", json={"delegates": [bob["email"]]}).status_code == 200
    assert book(api_as(alice), berlin, hm(10), hm(11)).status_code == 201
    r = book(api_as(bob), berlin, hm(12), hm(13), booked_for=alice["email"])
    assert (r.status_code, error(r)["code"]) == (422, "quota_exceeded")
    assert error(r)["message"].startswith("The person it is for may have at most 1 booking "
                                          "a day here")
    r = book(api_as(alice), berlin, hm(14), hm(15))
    assert error(r)["message"].startswith("You may have at most 1 booking a day here")


@pytest.mark.parametrize("limit, english, german", [
    (1, "at most 1 booking a day", "höchstens 1 Buchung pro Tag"),
    (2, "at most 2 bookings a day", "höchstens 2 Buchungen pro Tag"),
])
def test_a_quota_counts_its_limit_in_words(api_as, alice, berlin, conn, limit, english, german):
    """QA, 2026-12-06: "at most 1 bookings a day", "höchstens 1 Buchungen pro Tag"."""
    room_policy(conn, berlin, quota={"bookings_per_day": limit})
    api = api_as(alice)
    for n in range(limit):
        assert book(api, berlin, hm(9 + n), hm(10 + n)).status_code == 201
    assert english in error(book(api, berlin, hm(14), hm(15)))["message"]
    assert api.patch("/api/me", json={"language": "de"}).status_code == 200
    assert german in error(book(api, berlin, hm(14), hm(15)))["message"]
