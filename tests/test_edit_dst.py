"""Changing a booking on the nights the clocks change (found by testing from
outside): a new start alone keeps the booking's real length, and saving the
edit form unchanged keeps a booking in the repeated autumn hour where it is."""

import html
import re
from datetime import datetime

from conftest import UTC
from policykit import room_policy


def all_day_room(make, conn):
    room = make.room("Night owl", opens="00:00", closes="23:59")
    room_policy(conn, room, max_days_ahead=400)
    return room


def test_a_new_start_alone_keeps_the_real_length_across_the_spring_change(api_as, alice,
                                                                          make, conn):
    """Two hours from Saturday 01:00 moved to Sunday 01:00, the night Berlin skips
    02:00-03:00: it ends at 04:00 (two hours), not 03:00 (one)."""
    room = all_day_room(make, conn)
    api = api_as(alice)
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": "Two hours",
                                        "start_time": "2027-03-27T01:00",
                                        "end_time": "2027-03-27T03:00"})
    assert r.status_code == 201, r.get_json()
    booking_id = r.get_json()["booking"]["id"]
    r = api.patch(f"/api/bookings/{booking_id}", json={"start_time": "2027-03-28T01:00"})
    assert r.status_code == 200, r.get_json()
    moved = r.get_json()["booking"]
    assert (moved["start_time"], moved["end_time"]) == ("2027-03-28T01:00:00+01:00",
                                                        "2027-03-28T04:00:00+02:00")


def test_saving_the_edit_form_keeps_a_booking_in_the_second_of_two_repeated_hours(
        api_as, browser_as, alice, make, conn):
    """02:15-02:45 at +01:00 on 31 October 2027 (the second time Berlin's clocks
    show 02:15): renamed through the form, it stays there; changed to other
    times, the form's times are the wall clock, as always."""
    room = all_day_room(make, conn)
    r = api_as(alice).post("/api/bookings", json={
        "room_id": room["id"], "title": "Second pass",
        "start_time": "2027-10-31T02:15:00+01:00", "end_time": "2027-10-31T02:45:00+01:00"})
    assert r.status_code == 201, r.get_json()
    booking_id = r.get_json()["booking"]["id"]
    b = browser_as(alice)
    url = f"/bookings/{booking_id}/edit"
    page = b.get(url).get_data(as_text=True)
    form = {name: html.unescape(value) for name, value in re.findall(
        r'<input[^>]* name="([a-z_]+)"[^>]* value="([^"]*)"', page) if name != "csrf_token"}
    assert (form["date"], form["start"], form["end"]) == ("2027-10-31", "02:15", "02:45")

    def times():
        row = conn.execute("SELECT start_at, end_at FROM bookings WHERE id = %s",
                           (booking_id,)).fetchone()
        return row["start_at"], row["end_at"]

    answer = b.post(url, data={**form, "room_id": str(room["id"]), "title": "Renamed"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-2000:]
    assert times() == (datetime(2027, 10, 31, 1, 15, tzinfo=UTC),
                       datetime(2027, 10, 31, 1, 45, tzinfo=UTC))
    page = b.get(url).get_data(as_text=True)
    form = {name: html.unescape(value) for name, value in re.findall(
        r'<input[^>]* name="([a-z_]+)"[^>]* value="([^"]*)"', page) if name != "csrf_token"}
    answer = b.post(url, data={**form, "room_id": str(room["id"]), "end": "03:30"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-2000:]
    # the end typed anew is the wall clock's; the start left as it was stays the
    # booking's own
    assert times() == (datetime(2027, 10, 31, 1, 15, tzinfo=UTC),
                       datetime(2027, 10, 31, 2, 30, tzinfo=UTC))
