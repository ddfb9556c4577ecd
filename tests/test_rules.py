"""The booking rules at their edges: pure functions, no database."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from booking.rules import Policy, check, first_error

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc
LIMITS = Policy(min_minutes=15, max_minutes=240, max_days_ahead=180)
ROOM = {"timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00", "active": True}
NY_ROOM = {**ROOM, "timezone": "America/New_York"}
# Monday 1 March 2027, 08:00 Berlin: before opening, so the whole day is ahead.
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=BERLIN)


def berlin(day, hm, second=0):
    h, m = map(int, hm.split(":"))
    return datetime(2027, 3, day, h, m, second, tzinfo=BERLIN)


def codes(start, end, room=ROOM, now=NOW, limits=LIMITS):
    return [v.code for v in check(room, start, end, now, limits)]


@pytest.mark.parametrize("start, end, expected", [
    # length: 15 minutes to 4 hours
    (berlin(2, "10:00"), berlin(2, "10:14"), ["too_short"]),
    (berlin(2, "10:00"), berlin(2, "10:15"), []),
    (berlin(2, "10:00"), berlin(2, "14:00"), []),
    (berlin(2, "10:00"), berlin(2, "14:01"), ["too_long"]),
    (berlin(2, "10:00"), berlin(2, "10:00"), ["too_short"]),
    (berlin(2, "11:00"), berlin(2, "10:00"), ["too_short"]),
    # opening hours, 09:00 to 18:00
    (berlin(2, "08:59"), berlin(2, "09:30"), ["outside_hours"]),
    (berlin(2, "09:00"), berlin(2, "09:30"), []),
    (berlin(2, "17:30"), berlin(2, "17:59"), []),
    (berlin(2, "17:30"), berlin(2, "18:00"), []),
    (berlin(2, "17:30"), berlin(2, "18:01"), ["outside_hours"]),
    (berlin(2, "17:59"), berlin(2, "18:14"), ["outside_hours"]),
    # whole minutes
    (berlin(2, "10:00", 30), berlin(2, "11:00"), ["not_whole_minutes"]),
    (berlin(2, "10:00"), berlin(2, "11:00", 1), ["not_whole_minutes"]),
])
def test_length_hours_and_minutes(start, end, expected):
    assert codes(start, end) == expected


def test_crossing_midnight_is_refused_even_in_a_room_open_all_day():
    always_open = {**ROOM, "opens": "00:00", "closes": "23:59"}
    assert codes(berlin(2, "23:00"), berlin(3, "00:30"), room=always_open) == ["crosses_midnight"]
    assert codes(berlin(2, "23:00"), berlin(2, "23:59"), room=always_open) == []
    # Ending exactly at midnight stays on the day; 23:59 closing makes it out of hours.
    assert codes(berlin(2, "23:30"), berlin(3, "00:00"), room=always_open) == ["outside_hours"]


@pytest.mark.parametrize("start, expected", [
    (NOW - timedelta(minutes=1), ["in_past"]),
    (NOW, []),
    (NOW + timedelta(minutes=1), []),
])
def test_not_in_the_past(start, expected):
    room = {**ROOM, "opens": "07:00"}
    assert codes(start, start + timedelta(minutes=30), room=room) == expected


def test_the_current_minute_still_counts_as_now():
    now = NOW + timedelta(seconds=40)  # 08:00:40
    room = {**ROOM, "opens": "07:00"}
    assert codes(NOW, NOW + timedelta(minutes=30), room=room, now=now) == []


@pytest.mark.parametrize("ahead, expected", [
    (timedelta(days=180), []),
    (timedelta(days=180, minutes=1), ["beyond_window"]),
])
def test_booking_window(ahead, expected):
    start = NOW.astimezone(UTC) + ahead  # 09:00 (summer time) in Berlin
    assert codes(start, start + timedelta(hours=1)) == expected


def test_inactive_room():
    assert codes(berlin(2, "10:00"), berlin(2, "11:00"), room={**ROOM, "active": False}) == [
        "room_inactive"]


def test_rules_use_the_rooms_own_zone():
    # 15:00-16:00 in Berlin is 09:00-10:00 in New York: open there.
    assert codes(berlin(2, "15:00"), berlin(2, "16:00"), room=NY_ROOM) == []
    # 14:30 Berlin is 08:30 in New York: not open yet there.
    assert codes(berlin(2, "14:30"), berlin(2, "15:30"), room=NY_ROOM) == ["outside_hours"]
    # 23:30-00:30 Berlin is 17:30-18:30 New York: past closing there, not midnight.
    assert codes(berlin(2, "23:30"), berlin(3, "00:30"), room=NY_ROOM) == ["outside_hours"]


def test_opening_hours_are_wall_clock_time_across_daylight_saving():
    # Sunday 28 March 2027 Berlin goes from +01:00 to +02:00; 09:00 is still 09:00.
    before = datetime(2027, 3, 26, 9, 0, tzinfo=BERLIN)  # Friday, +01:00
    after = datetime(2027, 3, 29, 9, 0, tzinfo=BERLIN)   # Monday, +02:00
    assert before.utcoffset() != after.utcoffset()
    for start in (before, after):
        assert codes(start, start + timedelta(hours=1)) == []
        assert codes(start - timedelta(minutes=1), start + timedelta(hours=1)) == ["outside_hours"]


def test_length_is_real_time_on_the_night_the_clocks_change():
    always_open = {**ROOM, "opens": "00:00", "closes": "23:59"}
    # 01:30 to 05:30 wall clock on the spring-forward night is only 3 real hours.
    start = datetime(2027, 3, 28, 1, 30, tzinfo=BERLIN)
    end = datetime(2027, 3, 28, 5, 31, tzinfo=BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=3, minutes=1)
    assert codes(start, end, room=always_open, now=start - timedelta(days=1)) == []
    # ... and in autumn 01:30 to 04:30 wall clock is 4 real hours: still allowed, 4h01 is not.
    start = datetime(2027, 10, 31, 1, 30, tzinfo=BERLIN)
    assert codes(start, datetime(2027, 10, 31, 4, 30, tzinfo=BERLIN), room=always_open,
                 now=start - timedelta(days=1)) == []
    assert codes(start, datetime(2027, 10, 31, 4, 31, tzinfo=BERLIN), room=always_open,
                 now=start - timedelta(days=1)) == ["too_long"]


def test_a_new_york_room_across_its_own_dst_change():
    # America/New_York springs forward on Sunday 14 March 2027.
    friday = datetime(2027, 3, 12, 17, 45, tzinfo=NEW_YORK)
    monday = datetime(2027, 3, 15, 17, 45, tzinfo=NEW_YORK)
    for start in (friday, monday):
        assert codes(start, start + timedelta(minutes=15), room=NY_ROOM) == []
        assert codes(start, start + timedelta(minutes=16), room=NY_ROOM) == ["outside_hours"]


def test_limits_are_settings():
    strict = Policy(min_minutes=30, max_minutes=60, max_days_ahead=7)
    assert codes(berlin(2, "10:00"), berlin(2, "10:29"), limits=strict) == ["too_short"]
    assert codes(berlin(2, "10:00"), berlin(2, "11:01"), limits=strict) == ["too_long"]
    assert codes(berlin(9, "10:00"), berlin(9, "11:00"), limits=strict) == ["beyond_window"]


def test_every_violation_is_reported_first_one_as_the_code():
    err = first_error({**ROOM, "active": False}, berlin(1, "07:00"), berlin(1, "07:05"),
                      NOW, LIMITS)
    assert err.code == "room_inactive"
    assert [v["code"] for v in err.details["violations"]] == [
        "room_inactive", "too_short", "outside_hours", "in_past"]
    assert err.status == 422


def test_the_room_independent_rules_are_the_same_in_every_room():
    """What the finder answers with a 422 before looking at rooms is exactly what
    every room would say about the interval, whatever its policy."""
    from booking.rules import ROOM_INDEPENDENT, check_interval

    rooms = [ROOM, NY_ROOM, {**ROOM, "active": False},
             {**ROOM, "opens": "00:00", "closes": "23:59"}]
    policies = [LIMITS, Policy(min_minutes=1, max_minutes=1440, max_days_ahead=3650,
                               min_notice_minutes=600)]
    starts = [NOW - timedelta(minutes=1), NOW, berlin(2, "10:00"), berlin(2, "10:00", 30),
              berlin(2, "23:50"), NOW.astimezone(UTC) + timedelta(days=180, minutes=1)]
    lengths = [timedelta(minutes=m) for m in (-5, 0, 14, 15, 240, 241)] + [
        timedelta(minutes=30, seconds=1)]
    seen = set()
    for start in starts:
        for length in lengths:
            expected = [v.code for v in check_interval(start, start + length, NOW)]
            seen.update(expected)
            for room in rooms:
                for policy in policies:
                    found = codes(start, start + length, room=room, limits=policy)
                    assert [c for c in found if c in ROOM_INDEPENDENT] == expected, \
                        (start, length)
    assert seen == ROOM_INDEPENDENT
