"""booking/timeline.py at its edges: a room's day as stretches, the next working slot,
"closed now", and where things sit on the scale. Pure: no database, no Flask."""

from datetime import datetime

import pytest

from booking import timeline
from booking.times import zone

BERLIN = zone("Europe/Berlin")
DAY = "2027-03-02"   # a Tuesday


def booking(start, end, day=DAY, title="x"):
    return {"start_time": f"{day}T{start}:00+01:00", "end_time": f"{day}T{end}:00+01:00",
            "title": title}


def kinds(parts):
    return [(p.kind, p.start_hm, p.end_hm) for p in parts]


def test_an_empty_day_ahead_is_one_free_stretch_offering_at_most_the_longest_booking():
    parts = timeline.stretches("09:00", "18:00", DAY, [], None, 240)
    assert kinds(parts) == [("free", "09:00", "18:00")]
    assert (parts[0].book_start_hm, parts[0].book_end_hm) == ("09:00", "13:00")


def test_a_short_free_stretch_is_offered_whole():
    parts = timeline.stretches("09:00", "18:00", DAY, [booking("10:00", "17:30")], None, 240)
    assert kinds(parts) == [("free", "09:00", "10:00"), ("booked", "10:00", "17:30"),
                            ("free", "17:30", "18:00")]
    assert [(p.book_start_hm, p.book_end_hm) for p in parts if p.kind == "free"] == [
        ("09:00", "10:00"), ("17:30", "18:00")]


def test_bookings_outside_the_hours_are_shown_whole_and_back_to_back_ones_leave_no_gap():
    """Issue 15 #12: a booking made before the hours were shortened is not cut or
    hidden; it is marked, and the time around it outside the hours is closed."""
    parts = timeline.stretches("09:00", "18:00", DAY, [
        booking("08:00", "09:30"), booking("09:30", "10:00"), booking("17:45", "19:00")],
        None, 240)
    assert kinds(parts) == [("booked", "08:00", "09:30"), ("booked", "09:30", "10:00"),
                            ("free", "10:00", "17:45"), ("booked", "17:45", "19:00")]
    assert [p.outside_hours for p in parts] == [True, False, False, True]


def test_a_booking_outside_the_hours_is_drawn_with_the_closed_time_around_it():
    parts = timeline.stretches("09:00", "18:00", DAY, [booking("07:00", "08:00")], None, 240)
    assert kinds(parts) == [("booked", "07:00", "08:00"), ("closed", "08:00", "09:00"),
                            ("free", "09:00", "18:00")]
    assert timeline.span(parts, "09:00", "18:00") == (7 * 60, 18 * 60)


def test_a_booking_that_ends_at_midnight_runs_to_the_end_of_the_day():
    late = {"start_time": f"{DAY}T22:00:00+01:00", "end_time": "2027-03-03T00:00:00+01:00"}
    parts = timeline.stretches("00:00", "23:59", DAY, [late], None, 240)
    assert kinds(parts)[-1] == ("booked", "22:00", "24:00")


@pytest.mark.parametrize("now, expected", [
    (10 * 60, [("past", "09:00", "10:00"), ("free", "10:00", "18:00")]),        # on a quarter
    (10 * 60 + 1, [("past", "09:00", "10:15"), ("free", "10:15", "18:00")]),    # just after
    (8 * 60, [("free", "09:00", "18:00")]),                                     # before opening
    (17 * 60 + 46, [("past", "09:00", "18:00")]),                               # nothing left
    (-1, [("past", "09:00", "18:00")]),                                         # a day gone by
])
def test_today_the_part_before_the_next_quarter_hour_is_past(now, expected):
    parts = timeline.stretches("09:00", "18:00", DAY, [], now, 240)
    assert kinds(parts) == expected
    free = [p for p in parts if p.kind == "free"]
    if free:
        assert free[0].book_start == free[0].start


def test_a_booking_now_stays_a_booking_and_the_rest_splits_around_it():
    parts = timeline.stretches("09:00", "18:00", DAY, [booking("11:00", "12:00")], 11 * 60 + 30,
                               240)
    assert kinds(parts) == [("past", "09:00", "11:00"), ("booked", "11:00", "12:00"),
                            ("free", "12:00", "18:00")]


@pytest.mark.parametrize("local, expected", [
    ("2027-03-02 16:45", ("2027-03-02", "16:45", "17:45")),
    ("2027-03-02 17:00", ("2027-03-02", "17:00", "18:00")),    # the last slot that fits
    ("2027-03-02 17:01", ("2027-03-03", "09:00", "10:00")),    # 17:15-18:15 would not
    ("2027-03-02 07:30", ("2027-03-02", "09:00", "10:00")),    # before opening
    ("2027-03-02 14:07", ("2027-03-02", "14:15", "15:15")),    # the next quarter hour
    ("2027-03-05 17:59", ("2027-03-08", "09:00", "10:00")),    # Friday evening: Monday
    ("2027-03-06 10:00", ("2027-03-08", "09:00", "10:00")),    # Saturday: Monday
    ("2027-03-28 10:00", ("2027-03-29", "09:00", "10:00")),    # the DST Sunday: Monday
])
def test_the_next_working_slot(local, expected):
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)
    assert timeline.next_slot(now, "09:00", "18:00") == expected


def test_the_next_slot_of_a_room_open_less_than_an_hour_is_all_of_it():
    now = datetime(2027, 3, 2, 8, 0, tzinfo=BERLIN)
    assert timeline.next_slot(now, "12:00", "12:30") == ("2027-03-02", "12:00", "12:30")


@pytest.mark.parametrize("hm, expected", [
    ("08:59", "09:00"), ("09:00", None), ("17:59", None), ("18:00", "tomorrow 09:00"),
    ("03:00", "09:00"), ("23:30", "tomorrow 09:00"),
])
def test_closed_now_at_the_edges_of_opening_hours(hm, expected):
    now = datetime.strptime(f"2027-03-02 {hm}", "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)
    assert timeline.closed_now("09:00", "18:00", now) == expected


def test_a_closed_day_has_nothing_free_and_its_bookings_shown_whole():
    parts = timeline.stretches("09:00", "18:00", DAY, [booking("08:30", "10:00")], None, 240,
                               closed=True)
    assert kinds(parts) == [("booked", "08:30", "10:00"), ("closed", "10:00", "18:00")]
    assert parts[0].outside_hours
    assert kinds(timeline.stretches("09:00", "18:00", DAY, [], 600, 240, closed=True)) == [
        ("closed", "09:00", "18:00")]


def test_hour_span_covers_every_room_in_whole_hours():
    rooms = [{"opens": "08:30", "closes": "17:00"}, {"opens": "09:00", "closes": "19:15"}]
    assert timeline.hour_span(rooms) == (8 * 60, 20 * 60)
    assert timeline.hours(8 * 60, 10 * 60) == [480, 540, 600]


@pytest.mark.parametrize("value, expected", [(540, "0%"), (810, "50%"), (1080, "100%"),
                                              (600, "11.11%"), (400, "0%"), (2000, "100%")])
def test_percent_places_a_minute_on_the_scale(value, expected):
    assert timeline.percent(value, 540, 1080) == expected


@pytest.mark.parametrize("local, day, expected", [
    ("2027-03-02 10:42", "2027-03-02", 642), ("2027-03-02 10:42", "2027-03-01", -1),
    ("2027-03-02 10:42", "2027-03-03", None)])
def test_now_minute_is_only_for_today(local, day, expected):
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)
    assert timeline.now_minute(now, day) == expected


def test_grid_rows_hour_marks_and_the_now_mark():
    parts = timeline.stretches("09:30", "12:00", DAY, [booking("10:00", "10:15")], None, 240)
    grid = timeline.grid(parts, "09:30", "12:00", 10 * 60 + 7)
    assert [(s["part"].kind, s["row"], s["span"]) for s in grid["stretches"]] == [
        ("free", 1, 6), ("booked", 7, 3), ("free", 10, 21)]
    assert [(h["label"], h["row"]) for h in grid["hours"]] == [
        ("09:30", 1), ("10:00", 7), ("11:00", 19)]
    assert (grid["now"], grid["now_label"]) == (8, "10:07")
    assert timeline.grid(parts, "09:30", "12:00", 12 * 60)["now"] is None


# -- what of the policy holds free time (timeline.Limits, issue 18) -----------------

def held(parts):
    return [(p.kind, p.start_hm, p.end_hm, p.reason) for p in parts if p.kind != "booked"]


def test_a_buffer_is_held_after_each_booking_and_before_the_next():
    limits = timeline.Limits(buffer=15)
    parts = timeline.stretches("09:00", "18:00", DAY, [booking("10:00", "11:00")], None, 240,
                               limits=limits)
    assert held(parts) == [("free", "09:00", "09:45", None), ("held", "09:45", "10:00", "buffer"),
                           ("held", "11:00", "11:15", "buffer"), ("free", "11:15", "18:00", None)]


@pytest.mark.parametrize("gap_end, expected", [
    # Exactly the buffer apart: nothing between them is free.
    ("11:15", [("held", "11:00", "11:15", "buffer")]),
    # Less than two buffers apart: the two are held as one.
    ("11:25", [("held", "11:00", "11:25", "buffer")]),
    # Two buffers and the shortest booking (15) fit exactly: that is offered...
    ("11:45", [("held", "11:00", "11:15", "buffer"), ("free", "11:15", "11:30", None),
               ("held", "11:30", "11:45", "buffer")]),
    # ... and a minute less is too short to book.
    ("11:44", [("held", "11:00", "11:15", "buffer"), ("held", "11:15", "11:29", "short"),
               ("held", "11:29", "11:44", "buffer")]),
])
def test_between_two_bookings_the_buffers_and_the_shortest_booking(gap_end, expected):
    parts = timeline.stretches("09:00", "18:00", DAY,
                               [booking("10:00", "11:00"), booking(gap_end, "17:30")], None, 240,
                               limits=timeline.Limits(shortest=15, buffer=15))
    between = [p for p in held(parts) if "11:00" <= p[1] < gap_end]
    assert between == expected


def test_no_buffer_is_held_after_a_released_booking():
    """Found by testing from outside: the pages held the buffer after a booking nobody
    checked in to, where its release had set it to 0 and the free-time API and the
    constraint let the next booking start at once. Before it the buffer still holds."""
    released = {**booking("10:00", "10:10"), "status": "released"}
    parts = timeline.stretches("09:00", "18:00", DAY, [released, booking("11:00", "12:00")],
                               None, 240, limits=timeline.Limits(buffer=15))
    assert held(parts) == [("free", "09:00", "09:45", None), ("held", "09:45", "10:00", "buffer"),
                           ("free", "10:10", "10:45", None), ("held", "10:45", "11:00", "buffer"),
                           ("held", "12:00", "12:15", "buffer"), ("free", "12:15", "18:00", None)]


def test_no_buffer_is_held_at_opening_or_closing_time():
    parts = timeline.stretches("09:00", "18:00", DAY, [], None, 240,
                               limits=timeline.Limits(buffer=30))
    assert held(parts) == [("free", "09:00", "18:00", None)]


class Policy:
    """What timeline.limits() reads of a booking.rules.Policy."""
    def __init__(self, notice=0, days=180, shortest=15, buffer=0):
        self.min_notice_minutes, self.max_days_ahead = notice, days
        self.min_minutes, self.buffer_minutes = shortest, buffer


@pytest.mark.parametrize("local, day, expected", [
    ("2027-03-02 09:00", "2027-03-02", 11 * 60),        # two hours' notice, on a quarter
    ("2027-03-02 09:00:59", "2027-03-02", 11 * 60),     # the current minute counts as now
    ("2027-03-02 09:01", "2027-03-02", 11 * 60 + 15),   # 11:01: the form's next quarter
    ("2027-03-02 23:00", "2027-03-02", 24 * 60),        # nothing left of today
    ("2027-03-02 23:00", "2027-03-03", 60),             # tomorrow from 01:00
    ("2027-03-02 09:00", "2027-03-03", None),           # tomorrow: no limit
    ("2027-03-02 09:00", "2027-03-01", 24 * 60),        # a day gone by: none of it
])
def test_the_notice_is_the_first_minute_a_booking_may_start(local, day, expected):
    fmt = "%Y-%m-%d %H:%M:%S" if local.count(":") == 2 else "%Y-%m-%d %H:%M"
    now = datetime.strptime(local, fmt).replace(tzinfo=BERLIN)
    assert timeline.limits(Policy(notice=120), day, now).earliest == expected


def test_the_notice_across_the_october_change_counts_real_time():
    """01:30 CEST plus two hours is 02:30 CET (the clocks go back at 03:00), not 03:30."""
    now = datetime(2027, 10, 31, 1, 30, tzinfo=BERLIN)
    assert now.utcoffset().total_seconds() == 7200
    assert timeline.limits(Policy(notice=120), "2027-10-31", now).earliest == 2 * 60 + 30


@pytest.mark.parametrize("day, expected", [
    ("2027-03-04", None),          # inside the window
    ("2027-03-05", 10 * 60 + 7),   # its last day: a start up to 10:07 (now + 3 days)
    ("2027-03-06", -1),            # beyond it
])
def test_the_window_is_the_last_minute_a_booking_may_start(day, expected):
    now = datetime(2027, 3, 2, 10, 7, 30, tzinfo=BERLIN)
    assert timeline.limits(Policy(days=3), day, now).latest == expected


@pytest.mark.parametrize("latest, expected", [
    # a start at 09:00 is allowed, and reaches 13:00 (the longest, 240 minutes)
    (9 * 60, [("free", "09:00", "13:00", None), ("held", "13:00", "18:00", "window")]),
    (14 * 60, [("free", "09:00", "18:00", None)]),         # reaches past the closing
    (8 * 60 + 59, [("held", "09:00", "18:00", "window")]),  # from 09:00 it is not
    (-1, [("held", "09:00", "18:00", "window")]),
])
def test_a_day_at_the_end_of_the_window(latest, expected):
    parts = timeline.stretches("09:00", "18:00", DAY, [], None, 240,
                               limits=timeline.Limits(latest=latest))
    assert held(parts) == expected


def test_today_the_notice_is_held_after_the_past():
    parts = timeline.stretches("09:00", "18:00", DAY, [booking("12:00", "13:00")], 10 * 60 + 1,
                               240, limits=timeline.Limits(earliest=13 * 60 + 15))
    assert held(parts) == [("past", "09:00", "10:15", None),
                           ("held", "10:15", "12:00", "notice"),
                           ("held", "13:00", "13:15", "notice"),
                           ("free", "13:15", "18:00", None)]
    assert [p.book_start_hm for p in parts if p.kind == "free"] == ["13:15"]


def test_a_room_this_person_may_not_book_has_nothing_free():
    parts = timeline.stretches("09:00", "18:00", DAY, [booking("12:00", "13:00")], None, 240,
                               limits=timeline.limits(Policy(), "2027-03-03",
                                                      datetime(2027, 3, 2, 9, tzinfo=BERLIN),
                                                      "not_permitted"))
    assert {p.kind for p in parts} == {"booked", "held"}
    assert {p.reason for p in parts if p.kind == "held"} == {"not_permitted"}


@pytest.mark.parametrize("zone_name, day, expected", [
    ("Europe/Berlin", "2027-10-31", (120, 180)),      # 03:00 CEST back to 02:00 CET
    ("America/New_York", "2027-11-07", (60, 120)),
    ("Australia/Lord_Howe", "2027-04-04", (90, 120)),  # back half an hour
    ("Europe/Berlin", "2027-10-30", None),
    ("Europe/Berlin", "2027-11-01", None),
    ("Europe/Berlin", "2027-03-28", None),            # forward: nothing twice
    ("UTC", "2027-10-31", None),
])
def test_the_wall_clock_minutes_a_day_goes_through_twice(zone_name, day, expected):
    now = datetime(2027, 3, 1, 9, tzinfo=zone(zone_name))
    assert timeline.limits(Policy(days=400), day, now).repeated == expected
    assert timeline.limits(None, day, now).repeated == expected


@pytest.mark.parametrize("opens, longest, expected", [
    ("01:00", 240, ("01:00", "04:00")),   # 01:00 CEST to 04:00 CET is four hours
    ("00:00", 240, ("00:00", "03:00")),
    ("03:00", 240, ("03:00", "07:00")),   # after the change: as on any day
    ("02:30", 240, ("02:30", "05:30")),   # 02:30 is its first pass (CEST)
    ("02:30", 60, ("02:30", "02:45")),    # an hour from 02:30 CEST ends at 02:30 CET
    ("01:45", 60, ("01:45", "02:45")),
])
def test_a_link_across_the_october_change_lasts_at_most_the_longest_booking(opens, longest,
                                                                          expected):
    """The board offered 01:00-05:00 on the October Sunday with 4 hours the longest: five
    real hours, refused as too long."""
    day = "2027-10-31"
    limits = timeline.limits(Policy(days=400), day, datetime(2027, 3, 1, 9, tzinfo=BERLIN))
    parts = timeline.stretches(opens, "23:00", day, [], None, longest, limits=limits)
    assert (parts[0].book_start_hm, parts[0].book_end_hm) == expected


@pytest.mark.parametrize("zone_name, day", [("Europe/Berlin", "2027-10-31"),
                                            ("America/New_York", "2027-11-07"),
                                            ("Australia/Lord_Howe", "2027-04-04")])
@pytest.mark.parametrize("longest", [15, 60, 90, 240])
def test_every_link_on_the_day_the_clocks_go_back_lasts_at_most_the_longest(zone_name, day,
                                                                            longest):
    """From every quarter hour and every minute near the change: the link's times, read
    as the booking form reads them (a repeated time is its first pass), last at
    least a minute and at most `longest`."""
    from datetime import date, timedelta, timezone

    from booking.times import localize

    tz = zone(zone_name)
    limits = timeline.limits(Policy(days=400), day, datetime(2027, 3, 1, 9, tzinfo=tz))
    starts = sorted(set(range(0, 23 * 60, 15)) | set(range(50, 200)))
    for start in starts:
        parts = timeline.stretches(timeline.hm(start), "23:59", day, [], None, longest,
                                   limits=limits)
        free = parts[0]
        assert free.kind == "free" and start <= free.book_start < free.book_end
        first = date.fromisoformat(day)
        wall = [datetime.combine(first, datetime.min.time()) + timedelta(minutes=m)
                for m in (free.book_start, free.book_end)]
        begin, end = (localize(w, tz, "t") for w in wall)
        # (aware times of one zone subtract as wall clocks: in UTC they do not)
        lasts = (end.astimezone(timezone.utc) - begin.astimezone(timezone.utc)).total_seconds() / 60
        assert 1 <= lasts <= longest, (timeline.hm(start), free.book_end_hm, lasts)


def hours_of(week):
    """rules.Policy's opening_hours from {"mon": ("09:00", "18:00"), ...}."""
    from datetime import time
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return tuple(None if week.get(n) is None else
                 (time.fromisoformat(week[n][0]), time.fromisoformat(week[n][1])) for n in names)


ROOM = {"opens": "09:00", "closes": "18:00", "timezone": "Europe/Berlin", "active": True}


@pytest.mark.parametrize("local, week, extra, expected", [
    # Saturday evening; Monday opens at 10:00 (the room's own hours say 09:00)
    ("2027-03-06 19:00", {"mon": ("10:00", "19:00"), "sun": ("01:00", "05:00")}, {},
     ("2027-03-08", "10:00", "11:00")),
    # Monday 18:00: today is over, Tuesday from its opening
    ("2027-03-08 18:00", {"mon": ("10:00", "19:00"), "tue": ("07:00", "09:00")}, {},
     ("2027-03-08", "18:00", "19:00")),
    ("2027-03-08 18:01", {"mon": ("10:00", "19:00"), "tue": ("07:00", "09:00")}, {},
     ("2027-03-09", "07:00", "08:00")),
    # two hours' notice at 09:00: from 11:00
    ("2027-03-08 09:00", {d: ("09:00", "18:00") for d in ("mon", "tue")},
     {"min_notice_minutes": 120}, ("2027-03-08", "11:00", "12:00")),
    # the shortest booking 90 minutes: the slot is that long
    ("2027-03-08 09:00", {"mon": ("09:00", "18:00")}, {"min_minutes": 90},
     ("2027-03-08", "09:00", "10:30")),
    # closed on Monday the 8th: Tuesday
    ("2027-03-07 12:00", {d: ("09:00", "18:00") for d in ("mon", "tue")},
     {"closed_dates": frozenset({"2027-03-08"})}, ("2027-03-09", "09:00", "10:00")),
    # open only at weekends: Saturday
    ("2027-03-08 12:00", {"sat": ("10:00", "12:00")}, {}, ("2027-03-13", "10:00", "11:00")),
])
def test_the_first_slot_an_empty_form_offers_is_one_the_policy_allows(local, week, extra,
                                                                      expected):
    from booking.rules import Policy as RulesPolicy

    policy = RulesPolicy(opening_hours=hours_of(week), **extra)
    now = datetime.fromisoformat(local).replace(tzinfo=BERLIN)
    assert timeline.first_slot(ROOM, policy, now) == expected


def test_no_first_slot_when_the_window_has_no_open_day():
    from booking.rules import Policy as RulesPolicy

    policy = RulesPolicy(opening_hours=hours_of({"sat": ("10:00", "12:00")}), max_days_ahead=2)
    now = datetime(2027, 3, 8, 12, tzinfo=BERLIN)   # a Monday: Saturday is beyond the window
    assert timeline.first_slot(ROOM, policy, now) is None


def test_nothing_is_free_where_the_shortest_booking_is_longer_than_the_longest():
    """Inherited from two levels, 90 minutes the shortest and 60 the longest: every
    link was refused as too short."""
    parts = timeline.stretches("09:00", "18:00", DAY, [], None, 60,
                               limits=timeline.Limits(shortest=90))
    assert held(parts) == [("held", "09:00", "18:00", "short")]
    parts = timeline.stretches("09:00", "18:00", DAY, [], None, 90,
                               limits=timeline.Limits(shortest=90))
    assert [p.kind for p in parts] == ["free"]


def _drawn_against_real_time(tz, day, bookings, longest=240):
    """The day's stretches for `bookings` (real intervals, aware), with the checks every
    drawing must pass: each booking shown, no link that meets a booking in real
    time (a link's wall-clock times read as the form reads them), and stretches in
    order."""
    from datetime import date, timedelta, timezone

    from booking.times import localize

    texts = [{"start_time": s.astimezone(tz).isoformat(), "end_time": e.astimezone(tz).isoformat(),
              "title": str(n)} for n, (s, e) in enumerate(bookings)]
    limits = timeline.limits(Policy(days=400), day, datetime(2027, 3, 1, 9, tzinfo=tz))
    parts = timeline.stretches("00:00", "23:59", day, texts, None, longest, limits=limits)
    shown = {p.booking["title"] for p in parts if p.kind == "booked"}
    assert shown == {t["title"] for t in texts}, (texts, kinds(parts))
    assert all(p.start < p.end for p in parts), kinds(parts)
    assert all(a.end <= b.start for a, b in zip(parts, parts[1:])), kinds(parts)
    midnight = datetime.combine(date.fromisoformat(day), datetime.min.time())
    for p in parts:
        if p.kind != "free":
            continue
        begin, end = (localize(midnight + timedelta(minutes=m), tz, "t").astimezone(timezone.utc)
                      for m in (p.book_start, p.book_end))
        for s, e in bookings:
            assert not (begin < e and s < end), (p.book_start_hm, p.book_end_hm, s, e)
    return parts


@pytest.mark.parametrize("zone_name, day", [("Europe/Berlin", "2027-10-31"),
                                            ("America/New_York", "2027-11-07"),
                                            ("Australia/Lord_Howe", "2027-04-04")])
def test_a_booking_the_clocks_go_back_during_is_drawn_and_nothing_free_meets_it(zone_name, day):
    """QA, 2026-12-05: 02:45 CEST to 02:15 CET (half an hour, in the repeated hour)
    was left off the board, day and week pages, its time drawn free. Every booking
    from every quarter hour of the night (in real time), 15 minutes to 2 hours
    long, alone and after another."""
    from datetime import date, timedelta, timezone

    tz = zone(zone_name)
    midnight = datetime.combine(date.fromisoformat(day), datetime.min.time(), tz)
    origin = midnight.astimezone(timezone.utc)
    for start in range(0, 6 * 60, 15):
        for length in (15, 30, 60, 90, 120):
            s = origin + timedelta(minutes=start)
            e = s + timedelta(minutes=length)
            _drawn_against_real_time(tz, day, [(s, e)])
            # and one before it, ending 15 minutes before it starts
            if start >= 45:
                _drawn_against_real_time(tz, day, [(s - timedelta(minutes=45),
                                                    s - timedelta(minutes=15)), (s, e)])


def test_the_repeated_hour_s_two_passes_are_both_drawn():
    """02:10-02:50 CEST and 02:20-02:40 CET: both show. A link from the first pass
    to after the change would hold the whole second pass, so the second is drawn
    to 03:00, after the first."""
    day = "2027-10-31"
    first = {"start_time": f"{day}T02:10:00+02:00", "end_time": f"{day}T02:50:00+02:00",
             "title": "first pass"}
    second = {"start_time": f"{day}T02:20:00+01:00", "end_time": f"{day}T02:40:00+01:00",
              "title": "second pass"}
    limits = timeline.limits(Policy(days=400), day, datetime(2027, 3, 1, 9, tzinfo=BERLIN))
    parts = timeline.stretches("00:00", "23:59", day, [first, second], None, 240, limits=limits)
    booked = [(p.booking["title"], p.start_hm, p.end_hm) for p in parts if p.kind == "booked"]
    assert booked == [("first pass", "02:10", "02:50"), ("second pass", "02:50", "03:00")]
    # Not told which minutes repeat (no limits), the second lies inside the first's
    # minutes: the first is drawn around it.
    parts = timeline.stretches("00:00", "23:59", day, [first, second], None, 240)
    booked = [(p.booking["title"], p.start_hm, p.end_hm) for p in parts if p.kind == "booked"]
    assert booked == [("first pass", "02:10", "02:20"), ("second pass", "02:20", "02:40"),
                      ("first pass", "02:40", "02:50")]
    crossing = {"start_time": f"{day}T02:45:00+02:00", "end_time": f"{day}T02:15:00+01:00",
                "title": "across"}
    parts = timeline.stretches("00:00", "23:59", day, [crossing], None, 240, limits=limits)
    assert [(p.kind, p.start_hm, p.end_hm) for p in parts if p.kind == "booked"] == [
        ("booked", "02:00", "03:00")]
    # Not told which minutes repeat (no limits): at most the change either side.
    parts = timeline.stretches("00:00", "23:59", day, [crossing], None, 240)
    assert [(p.kind, p.start_hm, p.end_hm) for p in parts if p.kind == "booked"] == [
        ("booked", "01:15", "03:45")]
