"""A series' occurrence on a time the clocks skip (found by testing from outside):
recorded, shown and mailed as a real interval, its reason in words."""

from datetime import timedelta

import icalendar
import pytest

from booking.events.worker import Worker
from conftest import NOW
from test_series_api import series
from test_worker import SmtpServer, calendar_of, only_event


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
    yield server
    server.stop()


def test_an_occurrence_the_clocks_skip_is_told_as_a_real_interval(app, api_as, alice, make,
                                                                 runner, conn, smtp):
    """Sundays 02:30-03:00 in New York from 21 March 2027; half a year on, extending
    reaches 12 March 2028, when 02:00-03:00 does not exist there."""
    room = make.room("Late night", timezone="America/New_York", opens="00:00", closes="23:59")
    r = series(api_as(alice), room, "2027-03-21T02:30", "2027-03-21T03:00",
               "FREQ=WEEKLY;BYDAY=SU")   # (the Sundays before the later NOW: in_past)
    assert r.status_code == 201, r.get_json()
    series_id = r.get_json()["series"]["id"]
    app.config["NOW"] = NOW + timedelta(days=200)
    assert runner.invoke(args=["series", "extend"]).exit_code == 0
    skipped = api_as(alice).get(f"/api/series/{series_id}").get_json()["skipped"]
    (s,) = [s for s in skipped if s["reason"] == "nonexistent_time"]
    assert s["start_time"].startswith("2028-03-12") and s["end_time"] > s["start_time"]
    worker = Worker(app, clock=lambda: NOW + timedelta(days=200))
    try:
        worker.run_until_idle()
    finally:
        worker._senders.shutdown(wait=True)
    (told,) = [m for _, m in smtp.messages
               if "Not booked" in m["Subject"] and "12 Mar 2028" in m["Subject"]]
    # Said as the wall-clock time that does not exist (it was "the clocks skip this time",
    # after 03:30-04:00: the time the zone writes it as).
    assert "(the clocks skip 02:30 that day)" in told["Subject"], told["Subject"]
    event = only_event(calendar_of(told))
    assert event.decoded("DTEND") > event.decoded("DTSTART")


def test_a_taken_occurrence_ending_in_the_skipped_hour_is_a_409(api_as, alice, bob, make):
    """Found by testing from outside: daily 01:45-02:15 in New York across 14 March
    2027 (02:00-03:00 does not exist), the 14th taken: the answer was 400 invalid,
    "02:15 does not exist", where the same occurrence with skip_conflicts is
    skipped as taken. It is 409 conflict, the occurrence ending where the zone
    puts 02:15 (03:15-04:00)."""
    room = make.room("Night desk", timezone="America/New_York", opens="00:00", closes="23:59")
    r = series(api_as(bob), room, "2027-03-13T01:45", "2027-03-13T02:15", "FREQ=DAILY;COUNT=3")
    assert r.status_code == 201, r.get_json()
    r = series(api_as(alice), room, "2027-03-12T01:45", "2027-03-12T02:15", "FREQ=DAILY;COUNT=3")
    assert r.status_code == 409, r.get_json()
    conflicts = r.get_json()["error"]["details"]["conflicts"]
    assert [(c["start_time"], c["end_time"]) for c in conflicts] == [
        ("2027-03-13T01:45:00-05:00", "2027-03-13T02:15:00-05:00"),
        ("2027-03-14T01:45:00-05:00", "2027-03-14T03:15:00-04:00")]


def test_an_occurrence_the_clocks_skip_is_written_as_the_zone_says_it(api_as, alice, make):
    """Found by testing from outside: the 422 for a weekly 02:30 in Berlin across 28
    March 2027 wrote that occurrence 02:30+01:00, a time the zone never shows; with
    skip_conflicts it was 03:30+02:00. Both now say 03:30+02:00-04:00+02:00."""
    room = make.room("Small hours", timezone="Europe/Berlin", opens="00:00", closes="23:59")
    api = api_as(alice)
    r = series(api, room, "2027-03-21T02:30", "2027-03-21T03:00", "FREQ=WEEKLY;COUNT=3")
    assert r.status_code == 422, r.get_json()
    (o,) = r.get_json()["error"]["details"]["occurrences"]
    assert (o["start_time"], o["end_time"]) == ("2027-03-28T03:30:00+02:00",
                                                "2027-03-28T04:00:00+02:00")
    r = series(api, room, "2027-03-21T02:30", "2027-03-21T03:00", "FREQ=WEEKLY;COUNT=3",
               skip_conflicts=True)
    assert r.status_code == 201, r.get_json()
    (s,) = r.get_json()["skipped"]
    assert (s["start_time"], s["end_time"]) == ("2027-03-28T03:30:00+02:00",
                                                "2027-03-28T04:00:00+02:00")


@pytest.mark.parametrize("room_zone, start, end, rule, later", [
    # Berlin repeats 02:00-03:00 on 31 October 2027; 02:30+01:00 is the second 02:30.
    ("Europe/Berlin", "2027-10-31T02:30:00+01:00", "2027-10-31T03:30:00+01:00",
     "FREQ=WEEKLY;COUNT=1", []),
    # New York repeats 01:00-02:00 on 7 November 2027; 01:15-05:00 is the second 01:15.
    ("America/New_York", "2027-11-07T01:15:00-05:00", "2027-11-07T01:45:00-05:00",
     "FREQ=WEEKLY;COUNT=2", [("2027-11-14T01:15:00-05:00", "2027-11-14T01:45:00-05:00")]),
])
def test_a_first_start_in_the_repeated_hour_is_the_instant_sent(app, api_as, alice, make,
                                                                 room_zone, start, end, rule,
                                                                 later):
    """Found by testing from outside: a series starting in the second of the hours the
    clocks repeat was booked in the first (an hour early) and twice as long (Berlin),
    or at the earlier 01:15 (New York), where the same times alone are booked as
    sent. With an offset a time is an instant: the first occurrence is that one,
    as long as asked; the later ones keep its wall-clock time."""
    app.config["NOW"] = NOW + timedelta(days=200)
    room = make.room("Night owl", timezone=room_zone, opens="00:00", closes="23:59")
    r = series(api_as(alice), room, start, end, rule)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["series"]["first_start"] == start
    assert [(b["start_time"], b["end_time"]) for b in body["bookings"]] == \
        [(start, end), *later]
    got = api_as(alice).get(f"/api/series/{body['series']['id']}").get_json()["series"]
    assert got["last_start"] == (later[-1][0] if later else start)


def test_an_occurrence_the_clocks_skip_names_the_wall_clock_time_that_does_not_exist(
        api_as, browser_as, alice, make):
    """Found by testing from outside: the 422 said "Sun 28 Mar 2027, 03:30: The clocks skip
    this time", while 03:30 exists; it is 02:30 that does not (Berlin, 28 March 2027).
    The times stay as the zone writes them (03:30+02:00), the words name 02:30: in the
    422, on the form, and on the series page for one skipped."""
    room = make.room("Small hours", timezone="Europe/Berlin", opens="00:00", closes="23:59")
    api = api_as(alice)
    r = series(api, room, "2027-03-21T02:30", "2027-03-21T03:00", "FREQ=WEEKLY;COUNT=3")
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    said = "02:30 does not exist on Sun 28 Mar 2027 (the clocks skip it)."
    assert error["code"] == "nonexistent_time"
    (o,) = error["details"]["occurrences"]
    assert (o["code"], o["start_time"], o["message"]) == (
        "nonexistent_time", "2027-03-28T03:30:00+02:00", said)
    assert error["message"].endswith(said) and "03:30" not in error["message"]

    page = browser_as(alice).post("/bookings/new", data={
        "room_id": room["id"], "title": "Night", "date": "2027-03-21", "start": "02:30",
        "end": "03:00", "repeat": "weekly", "ends": "after", "count": "3"})
    assert page.status_code == 422
    assert said in page.get_data(as_text=True) and "03:30" not in page.get_data(as_text=True)

    r = series(api, room, "2027-03-21T02:30", "2027-03-21T03:00", "FREQ=WEEKLY;COUNT=3",
               skip_conflicts=True)
    assert r.status_code == 201, r.get_json()
    shown = browser_as(alice).get(f"/series/{r.get_json()['series']['id']}").get_data(
        as_text=True)
    assert "the clocks skip 02:30 that day" in shown


def test_an_occurrence_the_clock_change_makes_shorter_is_its_own_length_in_the_calendar(
        app, api_as, alice, make, smtp):
    """Daily 01:30-03:30 in Berlin across 28 March 2027: that night 02:00-03:00 does not
    exist, so the booking lasts an hour. The series' VEVENT has one exact length for
    every instance (RFC 5545 3.8.5.3: DTSTART to DTEND), which put that night's in
    calendars until 04:30; it is sent as an instance of its own, ending at 03:30."""
    room = make.room("Night shift", timezone="Europe/Berlin", opens="00:00", closes="23:59")
    r = series(api_as(alice), room, "2027-03-27T01:30", "2027-03-27T03:30",
               "FREQ=DAILY;COUNT=3")
    assert r.status_code == 201, r.get_json()
    assert [(b["start_time"], b["end_time"]) for b in r.get_json()["bookings"]] == [
        ("2027-03-27T01:30:00+01:00", "2027-03-27T03:30:00+01:00"),
        ("2027-03-28T01:30:00+01:00", "2027-03-28T03:30:00+02:00"),
        ("2027-03-29T01:30:00+02:00", "2027-03-29T03:30:00+02:00")]
    worker = Worker(app, clock=lambda: NOW)
    try:
        worker.run_until_idle()
    finally:
        worker._senders.shutdown(wait=True)
    (message,) = [m for _, m in smtp.messages if "Booked" in m["Subject"]]
    events = calendar_of(message).walk("VEVENT")
    (main,) = [e for e in events if "RRULE" in e]
    assert main.decoded("DTEND") - main.decoded("DTSTART") == timedelta(hours=2)
    (night,) = [e for e in events if "RECURRENCE-ID" in e]
    assert str(night["UID"]) == str(main["UID"])
    assert night.decoded("RECURRENCE-ID").isoformat() == "2027-03-28T01:30:00+01:00"
    assert (night.decoded("DTSTART").isoformat(), night.decoded("DTEND").isoformat()) == (
        "2027-03-28T01:30:00+01:00", "2027-03-28T03:30:00+02:00")


@pytest.mark.parametrize("cut", ["2027-10-31T02:30", "2027-10-31T02:30:00+01:00"])
def test_a_first_start_in_the_repeated_hour_is_changed_from_itself(app, api_as, alice, make,
                                                                   cut):
    """"This and following" from the first occurrence of such a series, named by its
    wall-clock time or its instant, changes the whole series in place (no split)."""
    app.config["NOW"] = NOW + timedelta(days=200)
    room = make.room("Night owl", timezone="Europe/Berlin", opens="00:00", closes="23:59")
    api = api_as(alice)
    made = series(api, room, "2027-10-31T02:30:00+01:00", "2027-10-31T03:30:00+01:00",
                  "FREQ=WEEKLY;COUNT=2").get_json()
    r = api.patch(f"/api/series/{made['series']['id']}", query_string={"from": cut},
                  json={"title": "Renamed"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["series"]["id"] == made["series"]["id"]
    assert [(b["start_time"], b["end_time"], b["title"]) for b in body["bookings"]] == [
        ("2027-10-31T02:30:00+01:00", "2027-10-31T03:30:00+01:00", "Renamed"),
        ("2027-11-07T02:30:00+01:00", "2027-11-07T03:30:00+01:00", "Renamed")]
