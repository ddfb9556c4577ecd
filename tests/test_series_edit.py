"""PATCH /api/series/<id>?from=: "this and following", and the whole series from its
first occurrence; occurrences changed on their own are left alone."""

from datetime import datetime, timedelta

import pytest

from booking.times import zone
from conftest import UTC

BERLIN = zone("Europe/Berlin")


def make_series(api, room, start, end, rule, **extra):
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": "Weekly",
                                        "start_time": start, "end_time": end,
                                        "recurrence": rule, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def live(conn, series_id):
    return [(r["start_at"], r["end_at"]) for r in conn.execute(
        "SELECT start_at, end_at FROM bookings WHERE series_id = %s AND cancelled_at IS NULL "
        "ORDER BY start_at", (series_id,))]


def state(conn):
    return conn.execute("SELECT (SELECT md5(string_agg(b::text, ',' ORDER BY id)) FROM bookings b)"
                        " AS b, (SELECT md5(string_agg(s::text, ',' ORDER BY id)) FROM series s)"
                        " AS s").fetchone()


def test_this_and_following_across_the_october_change_keeps_local_time(app, api_as, alice,
                                                                       berlin, conn):
    """Weekly on Wednesdays at 10:00 in Berlin; from 20 October on at 11:00. The clocks
    go back on 31 October: 27 October is 11:00 CEST (09:00 UTC), 3 November 11:00 CET
    (10:00 UTC). The old series ends before 20 October; a new one carries on."""
    app.config["NOW"] = datetime(2027, 10, 1, 8, tzinfo=UTC)
    api = api_as(alice)
    made = make_series(api, berlin, "2027-10-06T10:00", "2027-10-06T11:00",
                       "FREQ=WEEKLY;COUNT=6")
    old_id = made["series"]["id"]
    r = api.patch(f"/api/series/{old_id}?from=2027-10-20T10:00",
                  json={"start_time": "2027-10-20T11:00", "end_time": "2027-10-20T12:00"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    new_id = body["series"]["id"]
    assert new_id != old_id and body["skipped"] == []
    # COUNT=6 with two used: four left, from 20 October
    assert [b["start_time"] for b in body["bookings"]] == [
        "2027-10-20T11:00:00+02:00", "2027-10-27T11:00:00+02:00",
        "2027-11-03T11:00:00+01:00", "2027-11-10T11:00:00+01:00"]
    assert [s.astimezone(BERLIN).hour for s, _ in live(conn, new_id)] == [11, 11, 11, 11]
    assert [s for s, _ in live(conn, new_id)][1:3] == [
        datetime(2027, 10, 27, 9, tzinfo=UTC), datetime(2027, 11, 3, 10, tzinfo=UTC)]
    assert [s.astimezone(BERLIN).day for s, _ in live(conn, old_id)] == [6, 13]
    old = api.get(f"/api/series/{old_id}").get_json()["series"]
    assert old["continued_by"] == new_id and old["cancelled_from"].startswith("2027-10-20")
    kinds = [r["kind"] for r in conn.execute("SELECT kind FROM outbox ORDER BY id")]
    assert kinds == ["series.created", "series.created", "series.updated"]


def test_from_the_first_occurrence_the_whole_series_changes(api_as, alice, berlin, make, conn):
    other = make.room("Havel", capacity=10)
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                       "FREQ=WEEKLY;COUNT=3")
    series_id = made["series"]["id"]
    r = api.patch(f"/api/series/{series_id}?from=2027-03-02T10:00",
                  json={"room_id": other["id"], "title": "Moved weekly", "attendees": 8})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["series"]["id"] == series_id
    assert (body["series"]["room_id"], body["series"]["title"], body["series"]["attendees"]) == (
        other["id"], "Moved weekly", 8)
    assert [b["room_id"] for b in body["bookings"]] == [other["id"]] * 3
    rows = conn.execute("SELECT room_id, cancelled_at IS NULL AS live FROM bookings "
                        "WHERE series_id = %s ORDER BY id", (series_id,)).fetchall()
    assert [(r["room_id"], r["live"]) for r in rows] == [(berlin["id"], False)] * 3 + [
        (other["id"], True)] * 3
    # the old occurrences went quietly: the series' own event tells
    kinds = [r["kind"] for r in conn.execute("SELECT kind FROM outbox ORDER BY id")]
    assert kinds == ["series.created", "series.updated"]


def test_a_taken_occurrence_makes_it_409_and_changes_nothing_unless_skipped(api_as, alice, bob,
                                                                           berlin, make, conn):
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                       "FREQ=WEEKLY;COUNT=4")
    series_id = made["series"]["id"]
    # Bob has 16 March at 14:00
    make.booking(berlin, bob, datetime(2027, 3, 16, 13, tzinfo=UTC),
                 datetime(2027, 3, 16, 14, tzinfo=UTC))
    before = state(conn)
    r = api.patch(f"/api/series/{series_id}?from=2027-03-09T10:00",
                  json={"start_time": "2027-03-09T14:00", "end_time": "2027-03-09T15:00"})
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert error["code"] == "conflict"
    assert [c["start_time"] for c in error["details"]["conflicts"]] == ["2027-03-16T14:00:00+01:00"]
    assert "other_rooms" in error["details"]["suggestions"]
    assert state(conn) == before
    r = api.patch(f"/api/series/{series_id}?from=2027-03-09T10:00",
                  json={"start_time": "2027-03-09T14:00", "end_time": "2027-03-09T15:00",
                        "skip_conflicts": True})
    assert r.status_code == 200
    body = r.get_json()
    assert [s["start_time"][:10] for s in body["skipped"]] == ["2027-03-16"]
    assert [b["start_time"][:10] for b in body["bookings"]] == ["2027-03-09", "2027-03-23"]


def test_an_occurrence_changed_on_its_own_is_left_alone(api_as, alice, berlin, conn):
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                       "FREQ=WEEKLY;COUNT=4")
    series_id = made["series"]["id"]
    third = made["bookings"][2]                           # 16 March
    assert api.patch(f"/api/bookings/{third['id']}",
                     json={"start_time": "2027-03-16T16:00"}).status_code == 200
    r = api.patch(f"/api/series/{series_id}?from=2027-03-09T10:00",
                  json={"start_time": "2027-03-09T12:00", "end_time": "2027-03-09T13:00"})
    assert r.status_code == 200, r.get_json()
    # 16 March stays at 16:00, in the old series; the new one books none beside it
    assert [b["start_time"][:10] for b in r.get_json()["bookings"]] == ["2027-03-09",
                                                                       "2027-03-23"]
    kept = conn.execute("SELECT start_at, series_id, cancelled_at FROM bookings WHERE id = %s",
                        (third["id"],)).fetchone()
    assert (kept["start_at"], kept["series_id"], kept["cancelled_at"]) == (
        datetime(2027, 3, 16, 15, tzinfo=UTC), series_id, None)


@pytest.mark.parametrize("hour", ["09", "15"])
def test_an_occurrence_changed_on_its_own_is_left_alone_by_a_second_split(api_as, alice,
                                                                          berlin, conn, hour):
    """Found by testing from outside: the changed occurrence stays in the first part;
    changing the second part again booked its day a second time (09:00), or was
    refused by the changed occurrence itself (15:00, beside its 16:00)."""
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                       "FREQ=WEEKLY;COUNT=4")
    third = made["bookings"][2]                           # 16 March, moved to 16:00
    assert api.patch(f"/api/bookings/{third['id']}",
                     json={"start_time": "2027-03-16T16:00"}).status_code == 200
    r = api.patch(f"/api/series/{made['series']['id']}?from=2027-03-09T10:00",
                  json={"start_time": "2027-03-09T12:00", "end_time": "2027-03-09T13:00"})
    assert r.status_code == 200, r.get_json()
    second = r.get_json()["series"]["id"]
    r = api.patch(f"/api/series/{second}?from=2027-03-09T12:00",
                  json={"start_time": f"2027-03-09T{hour}:00",
                        "end_time": f"2027-03-09T{int(hour) + 1}:00"})
    assert r.status_code == 200, r.get_json()
    assert [b["start_time"][:10] for b in r.get_json()["bookings"]] == ["2027-03-09",
                                                                       "2027-03-23"]
    on_the_16th = conn.execute(
        "SELECT id FROM bookings WHERE cancelled_at IS NULL AND start_at >= '2027-03-16' "
        "AND start_at < '2027-03-17'").fetchall()
    assert [row["id"] for row in on_the_16th] == [third["id"]]


def test_from_must_be_an_occurrence_that_has_not_begun(app, api_as, alice, bob, berlin, conn):
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-02T10:00", "2027-03-02T11:00",
                       "FREQ=WEEKLY;COUNT=4")
    series_id = made["series"]["id"]
    before = state(conn)
    for query, status, code in (
            ("?from=2027-03-09T10:30", 400, "invalid"),      # not an occurrence
            ("?from=2027-03-08T10:00", 400, "invalid"),
            ("", 400, "invalid"),
            ("?from=yesterday", 400, "invalid")):
        r = api.patch(f"/api/series/{series_id}{query}", json={"title": "x"})
        assert (r.status_code, r.get_json()["error"]["code"]) == (status, code), query
    r = api_as(bob).patch(f"/api/series/{series_id}?from=2027-03-09T10:00", json={"title": "x"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (403, "forbidden")
    app.config["NOW"] = datetime(2027, 3, 9, 9, 1, tzinfo=UTC)        # 10:01: begun
    r = api.patch(f"/api/series/{series_id}?from=2027-03-09T10:00", json={"title": "x"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "not_editable")
    app.config["NOW"] = datetime(2027, 3, 9, 9, 0, tzinfo=UTC)        # 10:00: this minute
    assert state(conn) == before
    r = api.patch(f"/api/series/{series_id}?from=2027-03-09T10:00", json={"title": "x"})
    assert r.status_code == 200, r.get_json()
    assert api.patch("/api/series/4242?from=2027-03-09T10:00", json={}).status_code == 404


def test_a_series_split_before_keeps_to_its_part_when_changed_again(api_as, alice, berlin, make,
                                                                    conn):
    """Daily 1-5 March, split from the 4th; then the first part changed from its first
    occurrence (another room, an hour earlier) booked 1-5 March again: on the 4th
    and 5th Alice held two rooms, the continuation's and this one's."""
    other = make.room("Havel", capacity=10)
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-01T10:00", "2027-03-01T11:00",
                       "FREQ=DAILY;COUNT=5")
    first_id = made["series"]["id"]
    r = api.patch(f"/api/series/{first_id}?from=2027-03-04T10:00", json={"title": "Part two"})
    assert r.status_code == 200, r.get_json()
    second_id = r.get_json()["series"]["id"]
    r = api.patch(f"/api/series/{first_id}?from=2027-03-01T10:00",
                  json={"room_id": other["id"], "start_time": "2027-03-01T09:00",
                        "end_time": "2027-03-01T10:00"})
    assert r.status_code == 200, r.get_json()
    assert [b["start_time"] for b in r.get_json()["bookings"]] == [
        "2027-03-01T09:00:00+01:00", "2027-03-02T09:00:00+01:00", "2027-03-03T09:00:00+01:00"]
    assert [s.astimezone(BERLIN).day for s, _ in live(conn, first_id)] == [1, 2, 3]
    assert [s.astimezone(BERLIN).day for s, _ in live(conn, second_id)] == [4, 5]
    # A refusal counts this part's occurrences only.
    bad = api.patch(f"/api/series/{first_id}?from=2027-03-01T09:00",
                    json={"start_time": "2027-03-01T19:00", "end_time": "2027-03-01T20:00"})
    assert bad.status_code == 422, bad.get_json()
    assert bad.get_json()["error"]["details"]["count"] == 3


def test_a_series_cut_short_is_not_said_to_repeat_its_old_count(app, api_as, browser_as, alice,
                                                                 berlin):
    """Daily, 5 times, split from the 4th: its page said "Daily, 5 times" beside
    its last occurrence on the 3rd. The rule is said without its end, which the
    page gives on its own."""
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-01T10:00", "2027-03-01T11:00",
                       "FREQ=DAILY;COUNT=5")
    first_id = made["series"]["id"]
    page = browser_as(alice).get(f"/series/{first_id}").get_data(as_text=True)
    assert "Daily, 5 times" in page
    r = api.patch(f"/api/series/{first_id}?from=2027-03-04T10:00", json={"title": "Part two"})
    assert r.status_code == 200, r.get_json()
    page = browser_as(alice).get(f"/series/{first_id}").get_data(as_text=True)
    assert "5 times" not in page
    assert "<dd>Daily</dd>" in page
    assert "Wed 3 Mar 2027" in page      # its last occurrence, said as its end
    continuation = browser_as(alice).get(f"/series/{r.get_json()['series']['id']}")
    assert "Daily, 2 times" in continuation.get_data(as_text=True)


def test_an_occurrence_cancelled_on_its_own_stays_cancelled_when_the_series_changes(
        api_as, alice, berlin, conn):
    """Daily 1-5 March, the 4th cancelled on its own: changing the series from the 3rd
    (split) or from its first occurrence (in place, at another time) booked the
    4th again."""
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-01T10:00", "2027-03-01T11:00",
                       "FREQ=DAILY;COUNT=5")
    series_id = made["series"]["id"]
    assert api.delete(f"/api/bookings/{made['bookings'][3]['id']}").status_code == 200
    r = api.patch(f"/api/series/{series_id}?from=2027-03-01T10:00",
                  json={"start_time": "2027-03-01T12:00", "end_time": "2027-03-01T13:00"})
    assert r.status_code == 200, r.get_json()
    assert [b["start_time"][:13] for b in r.get_json()["bookings"]] == [
        "2027-03-01T12", "2027-03-02T12", "2027-03-03T12", "2027-03-05T12"]
    assert r.get_json()["skipped"] == []       # cancelled, not "could not be booked"
    r = api.patch(f"/api/series/{series_id}?from=2027-03-03T12:00", json={"title": "Later"})
    assert r.status_code == 200, r.get_json()
    new_id = r.get_json()["series"]["id"]
    assert [b["start_time"][:10] for b in r.get_json()["bookings"]] == [
        "2027-03-03", "2027-03-05"]
    assert [s.astimezone(BERLIN).day for s, _ in live(conn, series_id)] == [1, 2]
    assert [s.astimezone(BERLIN).day for s, _ in live(conn, new_id)] == [3, 5]
    # ... and the new part, changed again from its first occurrence, keeps the 4th free
    r = api.patch(f"/api/series/{new_id}?from=2027-03-03T12:00", json={"title": "Again"})
    assert [b["start_time"][:10] for b in r.get_json()["bookings"]] == [
        "2027-03-03", "2027-03-05"]
    assert api.get(f"/api/series/{new_id}").get_json()["skipped"] == []


def test_a_split_before_an_earlier_split_ends_where_the_old_part_did(app, api_as, alice, berlin,
                                                                      make, conn):
    """Weekly without end, split from 31 March into another room; then split again
    from 17 March: the middle part repeated without end (and was extended beside
    the continuation, two rooms a week), and the first part's link to the
    continuation was lost."""
    from booking.series import service as series_service

    other = make.room("Elbe", capacity=10)
    api = api_as(alice)
    made = make_series(api, berlin, "2027-03-03T16:00", "2027-03-03T16:30", "FREQ=WEEKLY")
    first_id = made["series"]["id"]
    r = api.patch(f"/api/series/{first_id}?from=2027-03-31T16:00",
                  json={"room_id": other["id"], "start_time": "2027-03-31T17:00",
                        "end_time": "2027-03-31T17:30"})
    assert r.status_code == 200, r.get_json()
    last_id = r.get_json()["series"]["id"]
    r = api.patch(f"/api/series/{first_id}?from=2027-03-17T16:00", json={"title": "Middle"})
    assert r.status_code == 200, r.get_json()
    middle = r.get_json()["series"]
    assert [b["start_time"][:10] for b in r.get_json()["bookings"]] == [
        "2027-03-17", "2027-03-24"]
    assert middle["cancelled_from"] == "2027-03-31T16:00:00+02:00"
    assert middle["continued_by"] == last_id
    assert api.get(f"/api/series/{first_id}").get_json()["series"]["continued_by"] == middle["id"]
    assert api.get(f"/api/series/{middle['id']}").get_json()["series"]["last_start"] == \
        "2027-03-24T16:00:00+01:00"
    # Extended a month later, the middle part books nothing more
    app.config["NOW"] = app.config["NOW"] + timedelta(days=30)
    with app.app_context():
        series_service.extend_all(app.config["NOW"], app.config)
    assert len(live(conn, middle["id"])) == 2
    assert len(live(conn, last_id)) > 1


@pytest.mark.parametrize("cut, dates", [
    ("2027-03-22T17:00:00+01:00", ["2027-03-22", "2027-03-29", "2027-04-05", "2027-04-12",
                                   "2027-04-19", "2027-04-26"]),
    ("2027-03-01T17:00:00+01:00", ["2027-03-01", "2027-03-08", "2027-03-15", "2027-03-22",
                                   "2027-03-29", "2027-04-05", "2027-04-12", "2027-04-19",
                                   "2027-04-26"]),
])
def test_an_hour_later_keeps_the_dates_of_an_until_in_utc(api_as, alice, make, cut, dates):
    """Found by testing from outside: weekly at 17:00 until 26 April 15:00 UTC (17:00 in
    Berlin), then from an occurrence on at 18:00: 26 April was dropped (18:00 is past
    the instant UNTIL names), where with UNTIL a date it was kept. By default a change
    keeps the old rule, whose last date was 26 April."""
    api = api_as(alice)
    room = make.room("Evening", opens="00:00", closes="23:59")
    made = make_series(api, room, "2027-03-01T17:00", "2027-03-01T17:30",
                       "FREQ=WEEKLY;UNTIL=20270426T150000Z")
    assert len(made["bookings"]) == 9 and made["bookings"][-1]["start_time"].startswith(
        "2027-04-26T17:00")
    day = cut[:10]
    r = api.patch(f"/api/series/{made['series']['id']}", query_string={"from": cut},
                  json={"start_time": f"{day}T18:00", "end_time": f"{day}T18:30"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [b["start_time"][:16] for b in body["bookings"]] == [f"{d}T18:00" for d in dates]
    assert body["skipped"] == []
    assert api.get(f"/api/series/{body['series']['id']}").get_json()["series"][
        "last_start"].startswith("2027-04-26T18:00")
