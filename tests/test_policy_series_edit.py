"""PATCH /api/series/<id>?from= under the target room's effective policy (issues 16
and 18): the new occurrences pass its rules as a new series' do, its quota is
counted after the replaced occurrences are gone, and a series moved into a room
that needs approval asks its approvers once, whole."""

from __future__ import annotations

import pytest

from policykit import room_policy
from test_series_edit import live, make_series, state

FIRST = "2027-03-02T10:00"      # a Tuesday; NOW is Monday 1 March 2027


def patch(api, series_id, **change):
    return api.patch(f"/api/series/{series_id}?from={FIRST}", json=change)


def test_a_series_moved_into_an_approval_room_is_pending_whole(api_as, alice, berlin, make,
                                                               conn):
    boardroom = make.room("Boardroom", "Europe/Berlin")
    room_policy(conn, boardroom, approval_required=True)
    api = api_as(alice)
    made = make_series(api, berlin, FIRST, "2027-03-02T11:00", "FREQ=WEEKLY;COUNT=3")
    sid = made["series"]["id"]
    r = patch(api, sid, room_id=boardroom["id"])
    assert r.status_code == 200, r.get_json()
    assert {b["status"] for b in r.get_json()["bookings"]} == {"pending"}
    status = conn.execute("SELECT status FROM series WHERE id = %s", (sid,)).fetchone()
    assert status["status"] == "pending"
    asked = conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'approval.requested' "
                         "AND series_id = %s", (sid,)).fetchone()["n"]
    assert asked == 1


def test_a_series_edit_the_target_quota_refuses_is_422_and_changes_nothing(api_as, alice,
                                                                           berlin, make, conn):
    """bookings_per_week 1 in the quota room, where Alice already has a booking in the
    second week: moving the weekly series there makes that week's date her second
    (n + 1), and the whole edit is refused; at 2 a week (n) it moves, the
    series' own replaced dates not counting against it."""
    quota_room = make.room("Quota", "Europe/Berlin")
    api = api_as(alice)
    made = make_series(api, berlin, FIRST, "2027-03-02T11:00", "FREQ=WEEKLY;COUNT=3")
    sid = made["series"]["id"]
    r = api.post("/api/bookings", json={"room_id": quota_room["id"], "title": "Other",
                                        "start_time": "2027-03-10T14:00",
                                        "end_time": "2027-03-10T15:00"})
    assert r.status_code == 201
    room_policy(conn, quota_room, quota={"bookings_per_week": 1})
    before = state(conn)
    r = patch(api, sid, room_id=quota_room["id"])
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "quota_exceeded"
    assert (err["details"]["quota"], err["details"]["used"], err["details"]["limit"]) == (
        "bookings_per_week", 1, 1)
    assert err["details"]["start_time"].startswith("2027-03-09")
    assert state(conn) == before
    assert len(live(conn, sid)) == 3
    # the series' own replaced dates do not count against it: at 2 a week it moves
    room_policy(conn, quota_room, quota={"bookings_per_week": 2})
    assert patch(api, sid, room_id=quota_room["id"]).status_code == 200


def test_a_series_edit_onto_a_closed_date_names_the_occurrence(api_as, alice, berlin, make,
                                                               conn):
    closed = make.room("Closed Tuesdays", "Europe/Berlin")
    room_policy(conn, closed, closed_dates=["2027-03-09"])
    api = api_as(alice)
    made = make_series(api, berlin, FIRST, "2027-03-02T11:00", "FREQ=WEEKLY;COUNT=3")
    sid = made["series"]["id"]
    r = patch(api, sid, room_id=closed["id"])
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "closed"
    assert [o["start_time"][:10] for o in err["details"]["occurrences"]] == ["2027-03-09"]
    assert {b["room_id"] for b in api.get(f"/api/series/{sid}").get_json()["bookings"]} == {
        berlin["id"]}


@pytest.mark.parametrize("change, asks", [
    ({"start_time": "2027-03-02T09:00", "end_time": "2027-03-02T10:00"}, True),  # moved
    ({"start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:30"}, True),  # longer
    ({"recurrence": "FREQ=DAILY;COUNT=3"}, True),                                # other days
    ({"start_time": "2027-03-02T10:00", "end_time": "2027-03-02T10:30"}, False), # shorter
    ({"title": "Renamed"}, False),
])
def test_an_approved_series_changed_in_its_room_asks_again_unless_within_its_times(
        api_as, alice, admin, berlin, conn, change, asks):
    """Found by testing from outside: an approved booking moved or made longer asks
    again (sql/064), but an approved series moved within its room kept its approval
    for times nobody approved."""
    room_policy(conn, berlin, approval_required=True)
    made = make_series(api_as(alice), berlin, FIRST, "2027-03-02T11:00", "FREQ=WEEKLY;COUNT=3")
    sid = made["series"]["id"]
    r = api_as(admin).post(f"/api/bookings/{made['bookings'][0]['id']}/approve")
    assert r.status_code == 200, r.get_json()
    r = patch(api_as(alice), sid, **change)
    assert r.status_code == 200, r.get_json()
    wanted = "pending" if asks else "confirmed"
    assert r.get_json()["series"]["status"] == wanted
    assert {b["status"] for b in r.get_json()["bookings"]} == {wanted}
    asked = conn.execute("SELECT count(*) AS n FROM outbox WHERE kind = 'approval.requested' "
                         "AND series_id = %s", (sid,)).fetchone()["n"]
    assert asked == (2 if asks else 1)
