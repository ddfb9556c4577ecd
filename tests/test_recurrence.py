"""RRULE parsing and expansion: RFC 5545's own examples, DST, and refusals."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking import recurrence
from booking.errors import BookingError

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def expand(rule, first, until=datetime(2030, 1, 1), tz=NEW_YORK):
    return recurrence.starts(recurrence.parse(rule, tz), first, until)


def days(*dates):
    return [datetime(y, m, d, 9, 0) for y, m, d in dates]


# RFC 5545, section 3.8.5.3: the examples a meeting room can have (DTSTART
# 1997-09-02T09:00 America/New_York unless said otherwise).
def test_rfc_daily_for_10_occurrences():
    assert expand("RRULE:FREQ=DAILY;COUNT=10", datetime(1997, 9, 2, 9)) == days(
        *[(1997, 9, d) for d in range(2, 12)])


def test_rfc_weekly_on_tuesday_and_thursday_for_five_weeks():
    assert expand("FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
                  datetime(1997, 9, 2, 9)) == days(
        (1997, 9, 2), (1997, 9, 4), (1997, 9, 9), (1997, 9, 11), (1997, 9, 16), (1997, 9, 18),
        (1997, 9, 23), (1997, 9, 25), (1997, 9, 30), (1997, 10, 2))


def test_rfc_every_other_week_on_monday_wednesday_friday_until_december_24():
    found = expand("FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
                   datetime(1997, 9, 1, 9))
    assert found[:6] == days((1997, 9, 1), (1997, 9, 3), (1997, 9, 5), (1997, 9, 15),
                             (1997, 9, 17), (1997, 9, 19))
    assert found[-1] == datetime(1997, 12, 22, 9) and len(found) == 25


def test_rfc_monthly_on_the_first_friday_for_10_occurrences():
    assert expand("FREQ=MONTHLY;COUNT=10;BYDAY=1FR", datetime(1997, 9, 5, 9)) == days(
        (1997, 9, 5), (1997, 10, 3), (1997, 11, 7), (1997, 12, 5), (1998, 1, 2), (1998, 2, 6),
        (1998, 3, 6), (1998, 4, 3), (1998, 5, 1), (1998, 6, 5))


def test_rfc_monthly_on_the_second_to_last_monday_for_6_months():
    assert expand("FREQ=MONTHLY;COUNT=6;BYDAY=-2MO", datetime(1997, 9, 22, 9)) == days(
        (1997, 9, 22), (1997, 10, 20), (1997, 11, 17), (1997, 12, 22), (1998, 1, 19),
        (1998, 2, 16))


def test_rfc_third_tuesday_wednesday_or_thursday_of_the_month_for_3_months():
    assert expand("FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
                  datetime(1997, 9, 4, 9)) == days((1997, 9, 4), (1997, 10, 7), (1997, 11, 6))


def test_rfc_second_to_last_weekday_of_the_month():
    found = expand("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2", datetime(1997, 9, 29, 9),
                   until=datetime(1998, 3, 31))
    assert found == days((1997, 9, 29), (1997, 10, 30), (1997, 11, 27), (1997, 12, 30),
                         (1998, 1, 29), (1998, 2, 26), (1998, 3, 30))


def test_rfc_yearly_in_june_and_july_for_10_occurrences():
    found = expand("FREQ=YEARLY;COUNT=10;BYMONTH=6,7", datetime(1997, 6, 10, 9))
    assert found == days(*[(y, m, 10) for y in range(1997, 2002) for m in (6, 7)])


def test_rfc_every_friday_the_13th():
    found = expand("FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", datetime(1998, 2, 13, 9),
                   until=datetime(1999, 12, 31))
    assert found == days((1998, 2, 13), (1998, 3, 13), (1998, 11, 13), (1999, 8, 13))


def test_the_first_start_is_always_the_first_occurrence_and_counts():
    # A Monday start for "Tuesdays and Thursdays": the Monday is booked too (RFC 5545).
    found = expand("FREQ=WEEKLY;BYDAY=TU,TH;COUNT=3", datetime(2027, 3, 1, 10))
    assert found == [datetime(2027, 3, 1, 10), datetime(2027, 3, 2, 10), datetime(2027, 3, 4, 10)]


def test_until_as_a_date_includes_that_day():
    found = expand("FREQ=DAILY;UNTIL=20270305", datetime(2027, 3, 1, 17, 0))
    assert found[-1] == datetime(2027, 3, 5, 17, 0) and len(found) == 5


def test_an_open_ended_rule_stops_at_the_horizon():
    rule = recurrence.parse("FREQ=WEEKLY", BERLIN)
    assert rule.open_ended
    found = recurrence.starts(rule, datetime(2027, 3, 1, 10), datetime(2027, 6, 1))
    assert len(found) == 14 and found[-1] == datetime(2027, 5, 31, 10)


@pytest.mark.parametrize("zone_name, before, after", [
    ("Europe/Berlin", datetime(2027, 3, 23, 9), datetime(2027, 3, 30, 9)),      # spring
    ("Europe/Berlin", datetime(2027, 10, 26, 9), datetime(2027, 11, 2, 9)),     # autumn
    ("America/New_York", datetime(2027, 3, 9, 9), datetime(2027, 3, 16, 9)),
    ("America/New_York", datetime(2027, 11, 2, 9), datetime(2027, 11, 9, 9)),
])
def test_a_weekly_meeting_keeps_its_wall_clock_time_across_dst(zone_name, before, after):
    tz = ZoneInfo(zone_name)
    rule = recurrence.parse("FREQ=WEEKLY", tz)
    found = recurrence.occurrences(rule, before, timedelta(hours=1), tz,
                                   horizon=after.replace(tzinfo=tz) + timedelta(days=1))
    assert [o.start.astimezone(tz).hour for o in found] == [9, 9]
    assert found[0].start.utcoffset() != found[1].start.utcoffset()
    assert all(o.exists for o in found)


def test_an_occurrence_the_clocks_skip_is_marked():
    rule = recurrence.parse("FREQ=DAILY;COUNT=3", BERLIN)
    found = recurrence.occurrences(rule, datetime(2027, 3, 27, 2, 30), timedelta(minutes=30),
                                   BERLIN, horizon=datetime(2027, 4, 1, tzinfo=BERLIN))
    assert [o.exists for o in found] == [True, False, True]


@pytest.mark.parametrize("text, part", [
    ("FREQ=HOURLY", "FREQ"), ("FREQ=WEEKLY;BYSECOND=5", "BYSECOND"),
    ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR"), ("INTERVAL=2", "FREQ"), ("", "RRULE"),
    ("FREQ=DAILY;COUNT=3;UNTIL=20270401", "COUNT"), ("FREQ=DAILY;COUNT=0", "COUNT"),
    ("FREQ=DAILY;INTERVAL=x", "INTERVAL"), ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
    ("FREQ=WEEKLY;BYDAY=2TU", "BYDAY"), ("FREQ=MONTHLY;BYDAY=6MO", "BYDAY"),
    ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"), ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
    ("FREQ=DAILY;UNTIL=20270230", "UNTIL"), ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL"),
    ("FREQ=DAILY;WKST=XX", "WKST"), ("FREQ=DAILY;FREQ=WEEKLY", "FREQ"), ("FREQ", "FREQ"),
    # Rules that would never happen again (and would make dateutil search until 9999):
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "BYMONTHDAY"),
    ("FREQ=DAILY;BYMONTH=4,6;BYMONTHDAY=31", "BYMONTHDAY"),
    ("FREQ=DAILY;BYSETPOS=2", "BYSETPOS"), ("FREQ=WEEKLY;BYDAY=MO;BYSETPOS=1", "BYSETPOS"),
    ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "BYSETPOS"),
    # An empty item in a list (mail could not read the rule: ValueError in the worker).
    ("FREQ=WEEKLY;BYDAY=TU,,TH;COUNT=3", "BYDAY"), ("FREQ=YEARLY;BYMONTH=1,,2", "BYMONTH"),
    ("FREQ=MONTHLY;BYMONTHDAY=,1", "BYMONTHDAY"), ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,", "BYSETPOS"),
    # RFC 5545 3.3.10: BYMONTHDAY MUST NOT be used with FREQ=WEEKLY.
    ("FREQ=WEEKLY;BYMONTHDAY=15;COUNT=2", "BYMONTHDAY"),
    ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY"), ("FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO"),
])
def test_unsupported_or_impossible_rules_name_the_part(text, part):
    with pytest.raises(BookingError) as caught:
        recurrence.parse(text, BERLIN)
    assert caught.value.code == "invalid_recurrence" and caught.value.status == 422
    assert caught.value.details["part"] == part


@pytest.mark.parametrize("text", ["FREQ=DAILY;COUNT=٣", "FREQ=DAILY;INTERVAL=２",
                                  "FREQ=MONTHLY;BYMONTHDAY=١٥", "FREQ=MONTHLY;BYDAY=٢TU",
                                  "FREQ=DAILY;UNTIL=٢٠٢٧٠٣٣١", "FREQ=DAILY;UNTIL=20270331T١٢0000Z"])
def test_digits_are_ascii_digits(text):
    """Issue 15 #4: `\\d` and int() read other scripts' digits; the rule goes out in mail."""
    with pytest.raises(BookingError) as caught:
        recurrence.parse(text, BERLIN)
    assert caught.value.code == "invalid_recurrence"


@pytest.mark.parametrize("until, zone_name", [
    ("99991231T235959Z", "Europe/Berlin"),     # the year 10000 in Berlin: was an OverflowError
    ("00010101T000000Z", "America/New_York"),  # the year 0 in New York
    ("30000101", "Europe/Berlin"), ("18991231", "Europe/Berlin")])
def test_until_is_a_day_clients_may_name(until, zone_name):
    """Issue 15 #7: UNTIL lies between 1900 and 2999, like every date the API takes."""
    with pytest.raises(BookingError) as caught:
        recurrence.parse(f"FREQ=DAILY;UNTIL={until}", ZoneInfo(zone_name))
    assert caught.value.details["part"] == "UNTIL"
    assert recurrence.parse("FREQ=DAILY;UNTIL=29991231T225959Z", BERLIN).until == \
        datetime(2999, 12, 31, 23, 59, 59)


def test_a_rule_that_stops_matching_is_searched_for_at_most_400_years(monkeypatch):
    """Issue 15 #4: dateutil looks for a next occurrence until 9999 (417,000 seven-day
    periods from 2027, half a second of CPU); expanded 400·k years later it stops
    within 400 years of the limit. Counted in dateutil's own periods, not seconds."""
    from dateutil import rrule as du

    periods = []
    original = du._iterinfo.ddayset
    monkeypatch.setattr(du._iterinfo, "ddayset",
                        lambda self, *a: periods.append(1) or original(self, *a))
    rule = recurrence.parse("FREQ=DAILY;INTERVAL=7;BYDAY=WE", BERLIN)
    tuesday = datetime(2027, 3, 2, 10)
    assert recurrence.matches(rule, tuesday, datetime(2027, 9, 1)) == []
    assert recurrence.starts(rule, tuesday, datetime(2027, 9, 1)) == [tuesday]
    assert 0 < len(periods) <= 2 * 400 * 366 // 7
    # Rules that do match come out the same as dateutil's own expansion here.
    for text, first in [("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", datetime(2028, 2, 29, 9)),
                        ("FREQ=MONTHLY;BYDAY=-1FR", datetime(2027, 1, 29, 9)),
                        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,SU;WKST=SU", datetime(2027, 3, 1, 9))]:
        parsed = recurrence.parse(text, BERLIN)
        until = datetime(2999, 12, 31)
        expected = list(du.rrule(recurrence.FREQS[parsed.freq], dtstart=first,
                                 interval=parsed.interval, until=until, wkst=parsed.wkst,
                                 byweekday=[du.weekday(d, o or None) for d, o in parsed.byday]
                                 or None, bymonthday=parsed.bymonthday or None,
                                 bymonth=parsed.bymonth or None))
        assert recurrence.matches(parsed, first, until) == expected


def test_a_month_interval_that_never_reaches_bymonth_is_refused():
    rule = recurrence.parse("FREQ=MONTHLY;INTERVAL=2;BYMONTH=2", BERLIN)
    with pytest.raises(BookingError) as caught:
        recurrence.starts(rule, datetime(2027, 1, 5, 10), datetime(2028, 1, 1))
    assert caught.value.details["part"] == "BYMONTH"


# Every shape of rule parse() accepts: the rule stored is the one mail sends
# (booking/events/invitations.py), and what a calendar reads back means the same.
ACCEPTED = [
    "FREQ=DAILY", "freq=daily;count=3", "RRULE:FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270331",
    "FREQ=WEEKLY;INTERVAL=02;BYDAY=MO,WE,FR;WKST=su", "FREQ=WEEKLY;BYDAY=TU;",
    "FREQ=DAILY;UNTIL=20270331T120000Z", "FREQ=DAILY;UNTIL=20270331T120000",
    "FREQ=MONTHLY;BYDAY=+2TU;COUNT=+6", "FREQ=MONTHLY;BYDAY=-01FR", "FREQ=MONTHLY;BYMONTHDAY=+5",
    "FREQ=MONTHLY;BYMONTHDAY=-1,15", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
    "FREQ=MONTHLY;INTERVAL=2;BYMONTH=01,3", "FREQ=YEARLY;BYMONTH=6,7;COUNT=10",
    "FREQ=YEARLY;BYMONTH=3;BYDAY=-2SU", "FREQ=YEARLY;BYDAY=20MO", "FREQ=DAILY;BYMONTH=1,2",
    "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", " FREQ = WEEKLY ; COUNT = 4 ",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_the_rule_stored_is_the_rule_mail_sends(text):
    from icalendar.prop import vRecur

    from booking.events.invitations import _rrule

    first, until = datetime(2027, 3, 1, 10), datetime(2029, 1, 1)
    rule = recurrence.parse(text, BERLIN)
    assert recurrence.parse(rule.text, BERLIN) == rule
    assert vRecur.from_ical(rule.text)     # as the worker reads it
    sent = _rrule(rule, BERLIN).to_ical().decode()
    read_back = recurrence.parse(sent, BERLIN)
    assert recurrence.starts(read_back, first, until) == recurrence.starts(rule, first, until)


def test_the_prefix_and_case_do_not_matter():
    assert recurrence.parse("rrule:freq=weekly;byday=tu,th", BERLIN).text == "FREQ=WEEKLY;BYDAY=TU,TH"


class Form(dict):
    def getlist(self, key):
        value = self.get(key, [])
        return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("fields, expected", [
    ({"repeat": "none"}, None),
    ({"repeat": "daily"}, "FREQ=DAILY"),
    ({"repeat": "weekly", "weekdays": ["TU", "TH"], "ends": "on", "until": "2027-03-31"},
     "FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270331"),
    ({"repeat": "weekly", "every": "2"}, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
    ({"repeat": "monthly"}, "FREQ=MONTHLY;BYMONTHDAY=9"),
    ({"repeat": "monthly", "monthly": "weekday", "ends": "after", "count": "6"},
     "FREQ=MONTHLY;BYDAY=2TU;COUNT=6"),
    ({"repeat": "yearly"}, "FREQ=YEARLY"),
])
def test_the_forms_repeat_section_builds_the_rule(fields, expected):
    from datetime import date
    assert recurrence.from_form(Form(fields), date(2027, 3, 9)) == expected  # a Tuesday


def test_the_fifth_weekday_of_a_month_becomes_the_last():
    from datetime import date
    assert recurrence.from_form(Form({"repeat": "monthly", "monthly": "weekday"}),
                                date(2027, 3, 30)) == "FREQ=MONTHLY;BYDAY=-1TU"


# -- a rule in words (series page, mail subjects, activity) -----------------------------------

@pytest.mark.parametrize("rule, words", [
    ("FREQ=WEEKLY;BYDAY=TU;COUNT=8", "Weekly on Tuesday, 8 times"),
    ("RRULE:FREQ=WEEKLY;COUNT=8", "Weekly, 8 times"),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Every weekday (Mon–Fri)"),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR", "Every 2 weeks on Monday, Tuesday, "
                                                     "Wednesday, Thursday and Friday"),
    ("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270331", "Weekly on Tuesday and Thursday, "
                                               "until Wed 31 Mar 2027"),
    ("FREQ=DAILY;COUNT=1", "Daily, once"),
    ("FREQ=DAILY;INTERVAL=3", "Every 3 days"),
    ("FREQ=MONTHLY;BYDAY=2TU", "Monthly on the 2nd Tuesday"),
    ("FREQ=MONTHLY;BYDAY=-1FR", "Monthly on the last Friday"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1", "Monthly on the last day"),
    ("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15", "Every 2 months on day 15"),
    ("FREQ=YEARLY;BYMONTH=3;BYDAY=-2SU", "Yearly on the 2nd last Sunday in March"),
    ("FREQ=MONTHLY;BYDAY=MO,FR;BYSETPOS=1", "Monthly on Monday and Friday (1st of those days)"),
    ("FREQ=HOURLY", "FREQ=HOURLY"),         # not one we say: shown as it is
    ("nonsense", "nonsense"),
])
def test_a_rule_in_words(rule, words):
    assert recurrence.describe(rule) == words


def test_the_form_s_every_weekday_is_monday_to_friday():
    form = Form({"repeat": "weekdays", "every": "1", "ends": "after", "count": "10"})
    assert recurrence.from_form(form, date(2027, 3, 2)) == \
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
    # Each week: another Every is not left out silently (the form says it at the field).
    with pytest.raises(BookingError):
        recurrence.from_form({**form, "every": "3"}, date(2027, 3, 2))
