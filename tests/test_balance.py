"""Balanced assignment (issue 18): among rooms otherwise equally good, the finder
and automatic assignment prefer the one less used this week, as a weighted soft
preference (ASSIGN_BALANCE_WEIGHT, beside 50 for the building, 30 for the
floor, up to 20 for fit). A table of cases: each room is (name, building,
floor, capacity, days of the week it is booked 09:00-11:00), searched for four
people on Tuesday 2 March 2027, 10:00-11:00, in rooms open 09:00-11:00 (so a
room booked on the six other days is 6/7 used)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

import pytest

from booking.times import zone

BERLIN = zone("Europe/Berlin")
WEEK = [date(2027, 3, 1) + timedelta(days=n) for n in range(7)]     # Monday to Sunday
OTHER_DAYS = [d for d in WEEK if d != date(2027, 3, 2)]


CASES = [
    # weight, rooms, query, expected order
    pytest.param(5, [("Ash", "B", 1, 6, OTHER_DAYS), ("Birch", "B", 1, 6, [])], {},
                 ["Birch", "Ash"], id="equal rooms: the unused one first"),
    pytest.param(0, [("Ash", "B", 1, 6, OTHER_DAYS), ("Birch", "B", 1, 6, [])], {},
                 ["Ash", "Birch"], id="weight 0: no balancing (then by name)"),
    pytest.param(5, [("Ash", "B", 1, 6, OTHER_DAYS[:1]), ("Birch", "B", 1, 6, OTHER_DAYS[:3])],
                 {}, ["Ash", "Birch"], id="less used beats more used"),
    pytest.param(5, [("Ash", "B", 2, 6, OTHER_DAYS), ("Birch", "B", 1, 6, [])], {"floor": 2},
                 ["Ash", "Birch"], id="balance never beats the requested floor"),
    pytest.param(5, [("Ash", "A", 1, 6, OTHER_DAYS), ("Birch", "B", 1, 6, [])],
                 {"building": "A"}, ["Ash", "Birch"], id="nor the requested building"),
    pytest.param(5, [("Ash", "B", 1, 4, OTHER_DAYS), ("Birch", "B", 1, 5, [])], {},
                 ["Birch", "Ash"], id="an unused room one seat bigger beats a busy exact fit"),
    pytest.param(2, [("Ash", "B", 1, 4, OTHER_DAYS), ("Birch", "B", 1, 5, [])], {},
                 ["Ash", "Birch"], id="with a small weight the fit wins"),
    pytest.param(5, [("Ash", "B", 1, 4, []), ("Birch", "B", 1, 12, [])], {},
                 ["Ash", "Birch"], id="balance does not put four in a room for twelve"),
    pytest.param(5, [("Ash", "B", 1, 6, [date(2027, 2, 26), date(2027, 3, 8)]),
                     ("Birch", "B", 1, 6, [date(2027, 3, 3)])], {},
                 ["Ash", "Birch"], id="only this week (Monday to Sunday) counts"),
]


@pytest.mark.parametrize("weight, rooms, query, expected", CASES)
def test_balanced_ranking(app, api_as, alice, bob, make, weight, rooms, query, expected):
    app.config["ASSIGN_BALANCE_WEIGHT"] = weight
    for name, building, floor, capacity, busy_days in rooms:
        room = make.room(name, building=building, floor=floor, capacity=capacity,
                         opens="09:00", closes="11:00")
        for day in busy_days:
            start = datetime.combine(day, time(9), BERLIN)
            make.booking(room, bob, start, start + timedelta(hours=2))
    params = {"start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00",
              "timezone": "Europe/Berlin", "capacity": 4, **query}
    r = api_as(alice).get("/api/rooms/free?" + urlencode(params))
    assert r.status_code == 200, r.get_json()
    found = r.get_json()["rooms"]
    assert [room["name"] for room in found] == expected
    scores = [room["score"] for room in found]
    assert scores == sorted(scores, reverse=True)


def test_utilisation_and_score_are_shown(app, api_as, alice, bob, make):
    room = make.room("Ash", building="B", floor=1, capacity=4, opens="09:00", closes="11:00")
    for day in OTHER_DAYS[:3]:
        start = datetime.combine(day, time(9), BERLIN)
        make.booking(room, bob, start, start + timedelta(hours=2))
    r = api_as(alice).get("/api/rooms/free?" + urlencode({
        "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00",
        "timezone": "Europe/Berlin", "capacity": 4}))
    (found,) = r.get_json()["rooms"]
    assert found["utilisation_this_week"] == round(360 / 840, 3)
    assert found["score"] == round(50 + 30 + 20 + 5 * (1 - 360 / 840), 1)


def test_automatic_assignment_books_the_less_used_room(app, api_as, alice, bob, make):
    busy = make.room("Ash", building="B", floor=1, capacity=6, opens="09:00", closes="11:00")
    make.room("Birch", building="B", floor=1, capacity=6, opens="09:00", closes="11:00")
    for day in OTHER_DAYS:
        start = datetime.combine(day, time(9), BERLIN)
        make.booking(busy, bob, start, start + timedelta(hours=2))
    r = api_as(alice).post("/api/bookings/auto", json={
        "title": "Sync", "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00",
        "timezone": "Europe/Berlin", "attendees": 4})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["room"]["name"] == "Birch"
