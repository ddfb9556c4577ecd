"""A series over days the room is closed (found by testing from outside, 2026-12-06):
with a yearly closed date in the window, an open-ended weekday series could not be
made at all, skip_conflicts or not. With skip_conflicts, an occurrence refused only
for its day (a closed date or weekday, that weekday's hours, a time the clocks
skip) is skipped and listed with its reason, as the series' extension records it
(sql/079); a rule every occurrence breaks alike still refuses the series."""

from __future__ import annotations

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
