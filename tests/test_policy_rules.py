"""The rules of a room's effective policy at their edges: pure functions, no
database (booking/rules.py)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from booking import rules
from booking.rules import Booker, Policy, Quota, Source, Taken, check, verdict

BERLIN = ZoneInfo("Europe/Berlin")
AUCKLAND = ZoneInfo("Pacific/Auckland")
UTC = timezone.utc
ROOM = {"id": 1, "timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00",
        "active": True}
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=BERLIN)        # Monday
AREA = Source("area", 7, "Building B")


def at(day, hm, tz=BERLIN, month=3, year=2027):
    h, m = map(int, hm.split(":"))
    return datetime(year, month, day, h, m, tzinfo=tz)


def codes(start, end, policy=Policy(), room=ROOM, now=NOW, groups=None):
    return [v.code for v in check(room, start, end, now, policy, groups)]


def test_min_notice_exactly_at_the_limit_is_fine_a_minute_less_is_too_soon():
    notice = Policy(min_notice_minutes=120, sources=(("min_notice_minutes", AREA),))
    room = {**ROOM, "opens": "07:00"}
    assert codes(at(1, "10:00"), at(1, "11:00"), notice, room) == []
    assert codes(at(1, "09:59"), at(1, "10:59"), notice, room) == ["too_soon"]
    # the current minute counts as now, as for the past
    assert codes(at(1, "10:00"), at(1, "11:00"), notice, room,
                 now=NOW + timedelta(seconds=59)) == []
    (violation,) = check(room, at(1, "09:30"), at(1, "10:00"), NOW, notice)
    assert violation.source == AREA and "2 hours" in violation.message
    assert violation.error().details["source"] == {"level": "area", "id": 7,
                                                    "name": "Building B"}


@pytest.mark.parametrize("minutes, expected", [(29, ["too_short"]), (30, []), (90, []),
                                               (91, ["too_long"])])
def test_length_from_the_effective_policy(minutes, expected):
    policy = Policy(min_minutes=30, max_minutes=90,
                    sources=(("max_minutes", AREA), ("min_minutes", Source("room", 1, "S"))))
    start = at(2, "10:00")
    assert codes(start, start + timedelta(minutes=minutes), policy) == expected
    found = check(ROOM, start, start + timedelta(minutes=minutes), NOW, policy)
    for violation in found:
        assert violation.source.level == ("area" if violation.code == "too_long" else "room")


def test_the_window_from_the_effective_policy():
    policy = Policy(max_days_ahead=7, sources=(("max_days_ahead", AREA),))
    edge = NOW + timedelta(days=7)
    room = {**ROOM, "opens": "00:00", "closes": "23:59"}
    assert codes(edge, edge + timedelta(minutes=30), policy, room) == []
    assert codes(edge + timedelta(minutes=1), edge + timedelta(minutes=31), policy,
                 room) == ["beyond_window"]


WEEK = (("09:00", "18:00"),) * 5 + (("10:00", "14:00"), None)
WEEKLY = Policy(opening_hours=tuple(None if h is None else (time.fromisoformat(h[0]),
                                                            time.fromisoformat(h[1]))
                                    for h in WEEK),
                sources=(("opening_hours", AREA),))


@pytest.mark.parametrize("start, end, expected", [
    (at(6, "10:00"), at(6, "14:00"), []),                   # Saturday's own hours
    (at(6, "09:30"), at(6, "10:30"), ["outside_hours"]),
    (at(6, "13:30"), at(6, "14:01"), ["outside_hours"]),
    (at(7, "10:00"), at(7, "11:00"), ["closed"]),             # Sunday: closed
    (at(5, "17:00"), at(5, "18:00"), []),                     # Friday
])
def test_opening_hours_per_weekday(start, end, expected):
    assert codes(start, end, WEEKLY) == expected


def test_a_closed_weekday_names_the_policy_that_closes_it():
    (violation,) = check(ROOM, at(7, "10:00"), at(7, "11:00"), NOW, WEEKLY)
    assert violation.code == "closed" and violation.source == AREA
    assert "Sundays" in violation.message


def test_a_closed_date_is_the_rooms_local_date_across_midnight_utc():
    """Auckland is 13 hours ahead in March: 09:00 on 25 March there is 20:00 on
    24 March in UTC. A closed 25 March closes the room's 25th, not UTC's."""
    room = {**ROOM, "timezone": "Pacific/Auckland"}
    policy = Policy(closed_dates=frozenset({"2027-03-25"}),
                    sources=(("closed_dates", AREA),))
    now = datetime(2027, 3, 1, tzinfo=UTC)
    start = at(25, "09:00", AUCKLAND)
    assert start.astimezone(UTC).day == 24
    assert codes(start, start + timedelta(hours=1), policy, room, now) == ["closed"]
    # the 24th in Auckland ends at 11:00 UTC on the 24th: open
    day_before = at(24, "17:00", AUCKLAND)
    assert codes(day_before, day_before + timedelta(hours=1), policy, room, now) == []
    # 26th Auckland 09:00 is still the 25th in UTC: open
    after = at(26, "09:00", AUCKLAND)
    assert after.astimezone(UTC).day == 25
    assert codes(after, after + timedelta(hours=1), policy, room, now) == []


def test_a_yearly_closed_date_closes_it_every_year():
    policy = Policy(closed_dates=frozenset({"12-25"}), max_days_ahead=3650)
    for year in (2027, 2028, 2031):
        start = datetime(year, 12, 25, 10, tzinfo=BERLIN)
        assert codes(start, start + timedelta(hours=1), policy) == ["closed"]
    start = datetime(2027, 12, 24, 10, tzinfo=BERLIN)
    assert codes(start, start + timedelta(hours=1), policy) == []


def test_opening_hours_on_the_dst_weekend():
    """Berlin springs forward on Sunday 28 March 2027 (02:00 -> 03:00): a room open
    01:00-06:00 that night is open for four real hours, and 02:30 (skipped) opens
    at 03:00, as the clocks skip to."""
    night = Policy(opening_hours=((time(1), time(6)),) * 7, max_minutes=600)
    assert codes(at(28, "01:00"), at(28, "06:00"), night) == []
    assert codes(at(28, "00:59"), at(28, "02:00"), night) == ["outside_hours"]
    skipped_opening = Policy(opening_hours=((time(2, 30), time(6)),) * 7)
    three = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)      # 03:00 CEST
    assert codes(three, three + timedelta(hours=1), skipped_opening) == []
    assert codes(three - timedelta(minutes=1), three + timedelta(hours=1),
                 skipped_opening) == ["outside_hours"]


def test_bookers_refuse_whoever_is_in_none_of_their_groups():
    policy = Policy(bookers=frozenset({3, 4}), sources=(("bookers", AREA),))
    start, end = at(2, "10:00"), at(2, "11:00")
    assert codes(start, end, policy, groups=frozenset({4})) == []
    assert codes(start, end, policy, groups=frozenset({5})) == ["not_permitted"]
    assert codes(start, end, policy, groups=frozenset()) == ["not_permitted"]
    assert codes(start, end, policy, groups=None) == []      # not asked (a series extended)
    assert codes(start, end, Policy(), groups=frozenset()) == []   # no bookers: everyone
    err = rules.as_error(check(ROOM, start, end, NOW, policy, frozenset()))
    assert err.status == 403 and err.details["source"]["name"] == "Building B"


def test_an_admin_books_past_every_policy_limit_and_the_limits_are_named():
    strict = Policy(max_minutes=30, min_notice_minutes=2000, bookers=frozenset({9}),
                    closed_dates=frozenset({"2027-03-02"}))
    start, end = at(2, "07:00"), at(2, "09:00")
    staff = verdict(ROOM, start, end, NOW, strict, Booker(groups=frozenset()))
    assert [v.code for v in staff.violations] == ["not_permitted", "too_long", "closed",
                                                  "too_soon"]
    admin = verdict(ROOM, start, end, NOW, strict, Booker(admin=True, groups=frozenset()))
    assert admin.violations == []
    assert admin.overrides == ["closed", "not_permitted", "too_long", "too_soon"]
    # ... but never past the past, whole minutes, one day, an inactive room
    past = verdict({**ROOM, "active": False}, at(1, "06:00"), at(2, "06:30"), NOW, strict,
                   Booker(admin=True))
    assert [v.code for v in past.violations] == ["room_inactive", "crosses_midnight",
                                                 "in_past"]


# -- quotas over bookings given as data ------------------------------------------------

def taken(*spans, room=1):
    return [Taken(room, s, e) for s, e in spans]


def hour(day, h):
    return at(day, f"{h:02d}:00"), at(day, f"{h + 1:02d}:00")


@pytest.mark.parametrize("held, expected", [(2, None), (3, "bookings_per_day")])
def test_a_daily_quota_at_n_and_n_plus_one(held, expected):
    policy = Policy(quota=Quota(bookings_per_day=3), sources=(("quota", AREA),))
    mine = taken(*(hour(2, 9 + n) for n in range(held)))
    found = rules.quota_violation(ROOM, *hour(2, 15), policy, mine, lambda r: True)
    assert (found and found.extra[0][1]) == expected
    if found:
        assert dict(found.extra) == {"quota": "bookings_per_day", "used": 3, "limit": 3}
        assert found.error().details["source"]["name"] == "Building B"


def test_a_weekly_quota_counts_the_rooms_local_week_monday_to_sunday():
    policy = Policy(quota=Quota(bookings_per_week=2))
    mine = taken(hour(1, 9), hour(7, 9))           # Monday and Sunday of one week
    assert rules.quota_violation(ROOM, *hour(3, 9), policy, mine, lambda r: True) is not None
    assert rules.quota_violation(ROOM, *hour(8, 9), policy, mine, lambda r: True) is None


def test_hours_per_week_counts_minutes_and_the_new_booking():
    policy = Policy(quota=Quota(hours_per_week=3))
    mine = taken((at(2, "09:00"), at(2, "11:00")))
    assert rules.quota_violation(ROOM, at(3, "09:00"), at(3, "10:00"), policy, mine,
                                 lambda r: True) is None
    found = rules.quota_violation(ROOM, at(3, "09:00"), at(3, "10:01"), policy, mine,
                                  lambda r: True)
    assert dict(found.extra) == {"quota": "hours_per_week", "used": 2, "limit": 3}


def test_only_the_rooms_of_the_quotas_level_count():
    policy = Policy(quota=Quota(bookings_per_day=1), sources=(("quota", AREA),))
    areas = {1: (7,), 2: (7, 1), 3: (8,)}
    counts = rules.in_quota_scope(policy, 1, lambda r: areas.get(r, ()))
    assert [counts(r) for r in (1, 2, 3)] == [True, True, False]
    assert rules.quota_violation(ROOM, *hour(2, 15), policy, taken(hour(2, 9), room=3),
                                 counts) is None
    assert rules.quota_violation(ROOM, *hour(2, 15), policy, taken(hour(2, 9), room=2),
                                 counts) is not None
    own = Policy(quota=Quota(bookings_per_day=1), sources=(("quota", Source("room", 1, "S")),))
    counts = rules.in_quota_scope(own, 1, lambda r: areas.get(r, ()))
    assert [counts(r) for r in (1, 2, 3)] == [True, False, False]


def test_every_room_refuses_only_what_every_room_refuses():
    start = at(2, "10:00")
    long_everywhere = [check(ROOM, start, start + timedelta(hours=5), NOW, Policy()),
                       check(ROOM, start, start + timedelta(hours=5), NOW,
                             Policy(max_minutes=120))]
    assert rules.every_room_refuses(long_everywhere).code == "too_long"
    some_allow = long_everywhere + [check(ROOM, start, start + timedelta(hours=5), NOW,
                                          Policy(max_minutes=600))]
    assert rules.every_room_refuses(some_allow) is None


def test_check_reads_of_a_policy_only_what_policy_checked_names():
    """The finder checks rooms whose policies are equal in Policy.checked once (and
    believes the answer for all of them): a field check() reads must be in it."""
    from dataclasses import fields, replace

    not_read = {"buffer_minutes", "quota", "approval_required", "approvers", "sources"}
    assert {f.name for f in fields(Policy)} == set(Policy.CHECKED) | not_read
    strict = Policy(min_minutes=30, max_minutes=90, max_days_ahead=3, min_notice_minutes=60,
                    opening_hours=tuple([(time(9), time(17))] * 5 + [None, None]),
                    closed_dates=frozenset({"03-04"}), bookers=frozenset({5}))
    others = [strict,
              replace(strict, buffer_minutes=30, quota=Quota(bookings_per_day=1),
                      approval_required=True, approvers=frozenset({9}),
                      sources=(("max_minutes", AREA), ("bookers", Source("room", 1, "S"))))]
    assert len({p.checked for p in others}) == 1
    intervals = [(at(d, s), at(d, e)) for d in (1, 2, 4, 5, 6) for s, e in
                 (("08:30", "09:30"), ("09:00", "09:29"), ("09:00", "10:30"),
                  ("10:00", "11:31"), ("16:30", "17:00"), ("16:30", "17:01"))]
    for start, end in intervals:
        for groups in (None, frozenset(), frozenset({5})):
            assert len({tuple(codes(start, end, p, groups=groups)) for p in others}) == 1
    # and the intervals reach every rule it reads
    seen = {c for start, end in intervals for c in codes(start, end, strict, groups=frozenset())}
    assert {"too_short", "too_long", "too_soon", "beyond_window", "closed",
            "outside_hours", "not_permitted"} <= seen
