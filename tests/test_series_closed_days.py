"""A series over days the room is closed (found by testing from outside, 2026-12-06):
with a yearly closed date in the window, an open-ended weekday series could not be
made at all, skip_conflicts or not. With skip_conflicts, an occurrence refused only
for its day (a closed date or weekday, that weekday's hours, a time the clocks
skip) is skipped and listed with its reason, as the series' extension records it
(sql/079); a rule every occurrence breaks alike still refuses the series."""

from __future__ import annotations

import re

import pytest

from policykit import room_policy
from test_series_edit import live, make_series, state

FIRST = "2027-03-02T10:00"      # a Tuesday; NOW is Monday 1 March 2027
RULE = "FREQ=WEEKLY;COUNT=3"    # 2, 9 and 16 March


def book(api, room, rule=RULE, end="2027-03-02T11:00", **extra):
    return api.post("/api/bookings", json={"room_id": room["id"], "title": "Weekly",
                                           "start_time": FIRST, "end_time": end,
                                           "recurrence": rule, **extra})


def skipped_days(body):
    return [(s["start_time"][:10], s["reason"]) for s in body["skipped"]]


@pytest.mark.parametrize("key", [None, "series-over-a-holiday"])
def test_skip_conflicts_skips_a_closed_date_and_books_the_rest(api_as, alice, berlin, conn,
                                                               key):
    room_policy(conn, berlin, closed_dates=["03-09"])          # yearly
    api = api_as(alice)
    before = state(conn)
    refused = book(api, berlin)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "closed"
    # The date as the pages write it (QA: "2027-03-09 10:00" in every language).
    assert "the first, Tue 9 Mar 2027, 10:00: " in refused.get_json()["error"]["message"]
    assert state(conn) == before
    headers = {"Idempotency-Key": key} if key else {}
    r = api.post("/api/bookings", headers=headers, json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": FIRST,
        "end_time": "2027-03-02T11:00", "recurrence": RULE, "skip_conflicts": True})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert [b["start_time"][:10] for b in body["bookings"]] == ["2027-03-02", "2027-03-16"]
    assert skipped_days(body) == [("2027-03-09", "closed")]
    shown = api.get(f"/api/series/{body['series']['id']}").get_json()
    assert [(s["start_time"][:10], s["reason"]) for s in shown["skipped"]] == [
        ("2027-03-09", "closed")]
    assert len(live(conn, body["series"]["id"])) == 2


def test_skip_conflicts_skips_a_weekday_s_shorter_hours_and_a_conflict_alike(api_as, alice,
                                                                             bob, berlin, conn):
    """Daily 17:00-18:00: Wednesday closes at 17:30 (outside_hours), Thursday is taken."""
    room_policy(conn, berlin, opening_hours={
        "mon": ["09:00", "18:00"], "tue": ["09:00", "18:00"], "wed": ["09:00", "17:30"],
        "thu": ["09:00", "18:00"], "fri": ["09:00", "18:00"], "sat": None, "sun": None})
    taken = api_as(bob).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Bob's", "start_time": "2027-03-04T17:00",
        "end_time": "2027-03-04T18:00"})
    assert taken.status_code == 201, taken.get_json()
    r = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Daily", "start_time": "2027-03-02T17:00",
        "end_time": "2027-03-02T18:00", "recurrence": "FREQ=DAILY;COUNT=4",
        "skip_conflicts": True})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert [b["start_time"][:10] for b in body["bookings"]] == ["2027-03-02", "2027-03-05"]
    assert skipped_days(body) == [("2027-03-03", "outside_hours"), ("2027-03-04", "conflict")]


def test_a_series_every_occurrence_of_which_is_closed_is_refused_with_skip_too(api_as, alice,
                                                                            berlin, conn):
    room_policy(conn, berlin, closed_dates=["2027-03-02", "2027-03-09", "2027-03-16"])
    before = state(conn)
    r = book(api_as(alice), berlin, skip_conflicts=True)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "closed" and err["details"]["count"] == 3
    assert state(conn) == before


def test_a_rule_every_occurrence_breaks_alike_still_refuses_with_skip(api_as, alice, berlin,
                                                                      conn):
    """Too long is not a day's refusal: skipping would skip every date, said as one 422."""
    room_policy(conn, berlin, max_minutes=30, closed_dates=["03-09"])
    before = state(conn)
    r = book(api_as(alice), berlin, skip_conflicts=True)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["code"] == "too_long"
    assert state(conn) == before


def test_this_and_following_with_skip_skips_a_closed_date_in_the_new_room(api_as, alice,
                                                                          berlin, make, conn):
    closed = make.room("Closed on the 9th", "Europe/Berlin")
    room_policy(conn, closed, closed_dates=["2027-03-09"])
    api = api_as(alice)
    made = make_series(api, berlin, FIRST, "2027-03-02T11:00", RULE)
    sid = made["series"]["id"]
    r = api.patch(f"/api/series/{sid}?from={FIRST}",
                  json={"room_id": closed["id"], "skip_conflicts": True})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [(b["start_time"][:10], b["room_id"]) for b in body["bookings"]] == [
        ("2027-03-02", closed["id"]), ("2027-03-16", closed["id"])]
    assert skipped_days(body) == [("2027-03-09", "closed")]


def test_a_split_leaves_the_old_part_no_skipped_date_of_the_new_one(api_as, alice, berlin,
                                                                     conn):
    """Found by testing from outside: after "this and following", the old part still
    listed as skipped the closed date after the cut, which the new part lists too."""
    room_policy(conn, berlin, closed_dates=["2027-03-16"])
    api = api_as(alice)
    made = book(api, berlin, rule="FREQ=WEEKLY;COUNT=4", skip_conflicts=True).get_json()
    assert skipped_days(made) == [("2027-03-16", "closed")]
    old = made["series"]["id"]
    r = api.patch(f"/api/series/{old}?from=2027-03-09T10:00",
                  json={"start_time": "2027-03-09T12:00", "end_time": "2027-03-09T13:00",
                        "skip_conflicts": True})
    assert r.status_code == 200, r.get_json()
    assert skipped_days(r.get_json()) == [("2027-03-16", "closed")]
    assert api.get(f"/api/series/{old}").get_json()["skipped"] == []


def test_a_change_from_the_first_date_a_series_holds_changes_it_in_place(api_as, alice,
                                                                         berlin, conn):
    """Found by testing from outside: a series whose first date was skipped (closed),
    changed from its first held date, was split, leaving an empty old part that in a
    room asking for approval waited for a decision nobody could make. Nothing held
    before the cut: the series changes in place."""
    room_policy(conn, berlin, closed_dates=["2027-03-02"], approval_required=True)
    api = api_as(alice)
    made = book(api, berlin, skip_conflicts=True).get_json()
    assert skipped_days(made) == [("2027-03-02", "closed")]
    sid = made["series"]["id"]
    r = api.patch(f"/api/series/{sid}?from=2027-03-09T10:00",
                  json={"start_time": "2027-03-09T11:00", "end_time": "2027-03-09T12:00"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["series"]["id"] == sid and body["series"]["continued_by"] is None
    assert [b["start_time"][11:16] for b in body["bookings"]] == ["11:00", "11:00"]
    series = conn.execute("SELECT id, status FROM series").fetchall()
    assert [s["id"] for s in series] == [sid]
    assert api.get(f"/api/series/{sid}").get_json()["skipped"] == []


def test_the_form_says_dates_a_closed_day_skipped_could_not_be_booked(browser_as, alice,
                                                                      berlin, conn):
    """Found by testing from outside: "Booked 3 occurrences; 1 taken and skipped." for a
    date skipped because the room was closed; nothing had taken it."""
    room_policy(conn, berlin, closed_dates=["2027-03-09"])
    b = browser_as(alice)
    r = b.post("/bookings/new", data={
        "room_id": berlin["id"], "title": "Weekly", "date": "2027-03-02", "start": "10:00",
        "end": "11:00", "repeat": "weekly", "ends": "count", "count": "3",
        "skip_conflicts": "on"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    page = b.get(r.headers["Location"]).get_data(as_text=True)
    assert re.search(r"Booked \d+ occurrences; 1 could not be booked\.", page)
    assert "taken and skipped" not in page


def test_the_series_page_does_not_call_a_skipped_last_date_its_last_occurrence(
        browser_as, api_as, alice, berlin, conn):
    """Found by testing from outside: "Ends Tue 16 Mar 2027, 10:00 (the last
    occurrence)", a date listed below as skipped (closed)."""
    room_policy(conn, berlin, closed_dates=["2027-03-16"])
    made = book(api_as(alice), berlin, skip_conflicts=True).get_json()
    page = browser_as(alice).get(f"/series/{made['series']['id']}").get_data(as_text=True)
    assert "(the last date of its rule, not booked: see below)" in page
    assert "(the last occurrence)" not in page
