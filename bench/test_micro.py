"""Micro-benchmarks of the hot pure-Python paths (pytest-benchmark).

    .venv/bin/python -m pytest bench/test_micro.py --benchmark-only -o testpaths=bench

No database: these time our own code, the part of a request that is Python.
"""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask import g, render_template

from booking import create_app, recurrence, rules
from booking.auth import User
from booking.rooms.views import day_grid

BERLIN = ZoneInfo("Europe/Berlin")
ROOM = {"id": 1, "name": "Spree", "building": "HQ", "floor": 1, "capacity": 8,
        "equipment": ["screen", "video"], "timezone": "Europe/Berlin", "opens": "07:00",
        "closes": "20:00", "active": True}


def fifty_bookings():
    """A 50-booking day: 15-minute meetings back to back from 07:00."""
    day = datetime(2027, 3, 2, 7, 0, tzinfo=BERLIN)
    bookings = []
    for i in range(50):
        start = day + timedelta(minutes=15 * i)
        bookings.append({"id": 1000 + i, "room_id": 1, "room_name": "Spree", "user_id": 7,
                         "user_name": "Alice Andersen", "title": f"Meeting {i}",
                         "start_time": start.isoformat(),
                         "end_time": (start + timedelta(minutes=15)).isoformat(),
                         "series_id": None, "cancelled_at": None,
                         "created_at": "2027-02-20T10:00:00+01:00"})
    return bookings


@pytest.fixture(scope="module")
def app():
    return create_app({"DATABASE_URL": "postgresql:///unused", "SECRET_KEY": "bench",
                       "VAR_DIR": "/tmp"})


def test_rule_check(benchmark):
    now = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)
    start = datetime(2027, 3, 2, 10, 0, tzinfo=BERLIN)
    result = benchmark(rules.check, ROOM, start, start + timedelta(hours=1), now, rules.Policy())
    assert result == []


def test_rrule_expansion_weekly_for_the_booking_window(benchmark):
    rule = recurrence.parse("FREQ=WEEKLY;BYDAY=TU,TH", BERLIN)
    horizon = datetime(2027, 8, 28, tzinfo=timezone.utc)
    found = benchmark(recurrence.occurrences, rule, datetime(2027, 3, 2, 10), timedelta(hours=1),
                      BERLIN, horizon)
    assert len(found) == 52


def test_json_of_a_fifty_booking_day(benchmark, app):
    data = {"room": ROOM, "date": "2027-03-02", "bookings": fifty_bookings()}
    with app.test_request_context():
        body = benchmark(lambda: app.json.response(data).get_data())
    assert body.count(b'"title"') == 50


def test_html_of_a_fifty_booking_day(benchmark, app):
    bookings = fifty_bookings()
    with app.test_request_context("/rooms/1?date=2027-03-02"):
        g._login_user = User(id=7, email="alice@example.com", name="Alice", role="staff",
                             calendar_salt="x")

        def render():
            return render_template("rooms/day.html", room=ROOM, date="2027-03-02", bookings=bookings,
                                   etag='"x"', refresh="/api/rooms/1/bookings?date=2027-03-02",
                                   book_url="/bookings/new?room_id=1&date=2027-03-02",
                                   grid=day_grid(ROOM, "2027-03-02", bookings,
                                                 datetime(2027, 3, 1, 8, tzinfo=timezone.utc)),
                                   prev_day="2027-03-01", next_day="2027-03-03",
                                   today=date(2027, 3, 1))
        html = benchmark(render)
    assert html.count('class="segment booked"') == 50
