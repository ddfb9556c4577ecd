"""Utilisation reports: PostgreSQL's figures against a plain Python computation."""

import csv
import io
import random
import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import NOW, UTC
from test_budgets import statements

START, END = date(2027, 3, 8), date(2027, 4, 4)     # Berlin and New York change clocks inside
ROOMS = [  # name, zone, opens, closes, building, active
    ("Spree", "Europe/Berlin", time(9), time(18), "HQ", True),
    ("Night", "Europe/Berlin", time(1), time(4), "HQ", True),        # spans the 02:00 gap
    ("Hudson", "America/New_York", time(8), time(20), "NY", True),
    ("Ganges", "Asia/Kolkata", time(10), time(16, 30), "HQ", True),
    ("Closed", "Europe/Berlin", time(9), time(18), "HQ", False),
]


def local(day, clock, tz):
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


@pytest.fixture
def dataset(conn, make):
    rng = random.Random(20270308)
    users = [make.user(f"User {i}") for i in range(8)]
    rooms = []
    for name, zone, opens, closes, building, active in ROOMS:
        room = make.room(name, zone, opens=opens.strftime("%H:%M"), closes=closes.strftime("%H:%M"),
                         building=building, active=active)
        rooms.append({**room, "tz": ZoneInfo(zone), "opens": opens, "closes": closes,
                      "building": building, "active": active})
    bookings = []
    day = START - timedelta(days=2)
    while day <= END + timedelta(days=2):
        for room in rooms:
            midnight = local(day, time(0), room["tz"])
            next_midnight = local(day + timedelta(days=1), time(0), room["tz"])
            for _ in range(rng.randint(0, 5)):
                # Anywhere in the local day, also partly outside opening hours.
                start = midnight + timedelta(minutes=15 * rng.randint(0, 95))
                end = min(start + timedelta(minutes=15 * rng.randint(1, 16)), next_midnight)
                if end <= start:
                    continue
                user = rng.choice(users)
                # Most made ahead; one in ten made after its start (an admin's backfill).
                created = start - timedelta(minutes=rng.randint(-60 * 24 * 2 if rng.random() < 0.1
                                                                else 0, 60 * 24 * 20))
                cancelled = rng.random() < 0.15
                row = conn.execute(
                    "INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_at, "
                    "cancelled_at) VALUES (%s, %s, 'x', %s, %s, %s, CASE WHEN %s THEN %s END) "
                    "ON CONFLICT DO NOTHING RETURNING id",
                    (room["id"], user["id"], start, end, created, cancelled, created)).fetchone()
                if row:
                    bookings.append({"room": room, "user": user["id"], "start": start, "end": end,
                                     "created": created, "cancelled": cancelled})
        day += timedelta(days=1)
    return {"rooms": rooms, "bookings": bookings}


def days(start, end):
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def own_hours(room, day):
    return room["opens"], room["closes"]


def reference(data, start, end, building=None, hours_of=own_hours):
    """The report, computed the plain way: loop over rooms, days and bookings.
    `hours_of(room, day)`: its (opens, closes) that day, None when closed."""
    rooms = [r for r in data["rooms"] if r["active"] and building in (None, r["building"])]
    figures = {}
    for room in rooms:
        tz = room["tz"]
        open_minutes = sum((local(d, h[1], tz) - local(d, h[0], tz)).total_seconds() / 60
                           for d in days(start, end) if (h := hours_of(room, d)) is not None)
        mine = [b for b in data["bookings"] if b["room"]["id"] == room["id"]
                and start <= b["start"].astimezone(tz).date() <= end]
        live = [b for b in mine if not b["cancelled"]]
        booked = 0.0
        for b in live:
            d = b["start"].astimezone(tz).date()
            hours = hours_of(room, d)
            if hours is None:
                continue
            overlap = (min(b["end"], local(d, hours[1], tz))
                       - max(b["start"], local(d, hours[0], tz))).total_seconds() / 60
            booked += max(0.0, overlap)
        figures[room["id"]] = {
            "open_minutes": open_minutes, "booked_minutes": booked, "bookings": len(live),
            "users": {b["user"] for b in live},
            "lengths": [(b["end"] - b["start"]).total_seconds() / 60 for b in live],
            "leads": [(b["start"] - b["created"]).total_seconds() / 60 for b in live
                      if b["created"] <= b["start"]],   # a backfill had no lead
            "cancelled": len(mine) - len(live)}
    return figures


def combine(parts):
    out = {"open_minutes": 0.0, "booked_minutes": 0.0, "bookings": 0, "users": set(), "lengths": [],
           "leads": [], "cancelled": 0}
    for p in parts:
        for key in ("open_minutes", "booked_minutes", "bookings", "cancelled"):
            out[key] += p[key]
        out["users"] |= p["users"]
        out["lengths"] += p["lengths"]
        out["leads"] += p["leads"]
    return out


def assert_row(row, expected):
    assert row["open_minutes"] == pytest.approx(expected["open_minutes"])
    assert row["booked_minutes"] == pytest.approx(expected["booked_minutes"])
    assert row["utilisation"] == pytest.approx(expected["booked_minutes"] / expected["open_minutes"], abs=1e-4)
    assert row["bookings"] == expected["bookings"]
    assert row["bookers"] == len(expected["users"])
    assert row["cancelled"] == expected["cancelled"]
    made = expected["bookings"] + expected["cancelled"]
    assert row["cancellation_rate"] == pytest.approx(expected["cancelled"] / made if made else None, abs=1e-4)
    if expected["lengths"]:
        assert row["average_minutes"] == pytest.approx(statistics.mean(expected["lengths"]), abs=0.01)
        assert row["median_lead_minutes"] == pytest.approx(statistics.median(expected["leads"]), abs=0.01)
    else:
        assert row["average_minutes"] is None and row["median_lead_minutes"] is None


def report(api, **query):
    r = api.get("/api/reports/utilisation", query_string=query)
    assert r.status_code == 200, r.get_json()
    assert statements(r) <= 2
    return r.get_json()


def test_figures_by_room_and_in_total_match_a_plain_computation(api_as, admin, dataset):
    assert len(dataset["bookings"]) > 300
    body = report(api_as(admin), **{"from": START.isoformat(), "to": END.isoformat()})
    expected = reference(dataset, START, END)
    assert [r["room_id"] for r in body["rows"]] == sorted(expected, key=lambda i: next(
        (r["building"], r["name"]) for r in dataset["rooms"] if r["id"] == i))
    for row in body["rows"]:
        assert_row(row, expected[row["room_id"]])
    assert_row(body["total"], combine(expected.values()))
    night = next(r for r in body["rows"] if r["room_name"] == "Night")
    # 28 days of 01:00-04:00, one of them (28 March) an hour short in real time.
    assert night["open_minutes"] == 28 * 180 - 60


def test_figures_by_building_and_for_one_building(api_as, admin, dataset):
    api = api_as(admin)
    expected = reference(dataset, START, END)
    body = report(api, **{"from": START.isoformat(), "to": END.isoformat(), "group": "building"})
    for row in body["rows"]:
        ids = [r["id"] for r in dataset["rooms"] if r["active"] and r["building"] == row["building"]]
        assert_row(row, combine(expected[i] for i in ids))
    only = report(api, **{"from": "2027-03-27", "to": "2027-03-29", "building": "HQ"})
    expected = reference(dataset, date(2027, 3, 27), date(2027, 3, 29), "HQ")
    assert {r["room_id"] for r in only["rows"]} == set(expected)
    assert_row(only["total"], combine(expected.values()))
    # A building's name in any case, as the finder and the account take it.
    lower = report(api, **{"from": "2027-03-27", "to": "2027-03-29", "building": "hq"})
    assert lower["rows"] == only["rows"] and lower["total"] == only["total"]


def test_the_weekday_hour_heatmap_matches_a_plain_computation(api_as, admin, dataset):
    body = report(api_as(admin), **{"from": START.isoformat(), "to": END.isoformat(),
                                    "group": "weekday_hour"})
    open_m, booked_m = defaultdict(float), defaultdict(float)
    for room in dataset["rooms"]:
        if not room["active"]:
            continue
        tz = room["tz"]
        for d in days(START, END):
            opens, closes = local(d, room["opens"], tz), local(d, room["closes"], tz)
            for hour in range(24):
                slot_start = local(d, time(hour), tz)
                slot_end = local(d + timedelta(days=1), time(0), tz) if hour == 23 else local(d, time(hour + 1), tz)
                lo, hi = max(slot_start, opens), min(slot_end, closes)
                open_m[(d.isoweekday(), hour)] += max(0.0, (hi - lo).total_seconds() / 60)
                for b in dataset["bookings"]:
                    if b["cancelled"] or b["room"]["id"] != room["id"] or b["start"].astimezone(tz).date() != d:
                        continue
                    overlap = (min(hi, b["end"]) - max(lo, b["start"])).total_seconds() / 60
                    booked_m[(d.isoweekday(), hour)] += max(0.0, overlap)
    rows = {(r["weekday"], r["hour"]): r for r in body["rows"]}
    assert set(rows) == {k for k, v in open_m.items() if v > 0}
    for key, row in rows.items():
        assert row["open_minutes"] == pytest.approx(open_m[key]), key
        assert row["booked_minutes"] == pytest.approx(booked_m[key]), key


WEEK = {"mon": ["08:00", "19:00"], "tue": ["08:00", "19:00"], "wed": ["08:00", "19:00"],
        "thu": ["08:00", "19:00"], "fri": ["09:00", "13:00"], "sat": None, "sun": None}
CLOSED = {"Spree": ["2027-03-17", "03-29"], "Hudson": ["2027-03-14", "2027-03-08"]}


def policy_hours(room, day):
    """What booking.rules' Policy.open_on gives for the policies set below."""
    if day.isoformat() in CLOSED.get(room["name"], ()) or \
            day.strftime("%m-%d") in CLOSED.get(room["name"], ()):
        return None
    if room["name"] != "Spree":
        return room["opens"], room["closes"]
    pair = WEEK[["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.weekday()]]
    return None if pair is None else (time.fromisoformat(pair[0]), time.fromisoformat(pair[1]))


def test_open_minutes_are_each_room_s_policy_s_days(api_as, admin, dataset, conn):
    """Reports took every room's own hours every day: a closed date of its area, its
    weekday hours (open longer, or closed at weekends) were not seen."""
    from policykit import area, put_in

    by_name = {room["name"]: room for room in dataset["rooms"]}
    put_in(conn, by_name["Spree"], area(conn, "Short Fridays", opening_hours=WEEK,
                                         closed_dates=CLOSED["Spree"]))
    put_in(conn, by_name["Hudson"], area(conn, "Holidays", closed_dates=CLOSED["Hudson"]))
    api = api_as(admin)
    body = report(api, **{"from": START.isoformat(), "to": END.isoformat()})
    expected = reference(dataset, START, END, hours_of=policy_hours)
    for row in body["rows"]:
        assert_row(row, expected[row["room_id"]])
    assert_row(body["total"], combine(expected.values()))
    spree = next(r for r in body["rows"] if r["room_name"] == "Spree")
    assert spree["open_minutes"] != reference(dataset, START, END)[by_name["Spree"]["id"]][
        "open_minutes"]
    # One closed day alone: nothing open, its bookings counted with no minutes.
    day = report(api, **{"from": "2027-03-17", "to": "2027-03-17"})
    closed = next(r for r in day["rows"] if r["room_name"] == "Spree")
    assert closed["open_minutes"] == 0 and closed["booked_minutes"] == 0
    # The heatmap: Spree's Friday afternoons are closed, its Monday 08:00 open.
    heat = {(r["weekday"], r["hour"]): r for r in report(api, **{
        "from": "2027-03-08", "to": "2027-03-14", "group": "weekday_hour"})["rows"]}
    expected_open = defaultdict(float)
    for room in dataset["rooms"]:
        if not room["active"]:
            continue
        for d in days(date(2027, 3, 8), date(2027, 3, 14)):
            hours = policy_hours(room, d)
            if hours is None:
                continue
            opens, closes = (local(d, h, room["tz"]) for h in hours)
            for hour in range(24):
                lo = max(local(d, time(hour), room["tz"]), opens)
                hi = min(local(d + timedelta(days=1), time(0), room["tz"]) if hour == 23
                         else local(d, time(hour + 1), room["tz"]), closes)
                expected_open[(d.isoweekday(), hour)] += max(0.0, (hi - lo).total_seconds() / 60)
    assert set(heat) == {k for k, v in expected_open.items() if v > 0}
    for key, row in heat.items():
        assert row["open_minutes"] == pytest.approx(expected_open[key]), key


@pytest.mark.parametrize("query, status, code", [
    ({"from": "2027-03-10", "to": "2027-03-01"}, 422, "bad_range"),
    ({"from": "2027-01-01", "to": "2028-01-02"}, 422, "range_too_long"),
    ({"from": "2027-01-01", "to": "2027-12-31", "building": "Atlantis"}, 422, "unknown_building"),
    ({"from": "2027-13-01"}, 400, "invalid"),
    ({"from": "yesterday"}, 400, "invalid"),
    ({"group": "floor"}, 400, "invalid"),
])
def test_bad_ranges_are_refused_in_the_documented_shape(api_as, admin, berlin, query, status, code):
    r = api_as(admin).get("/api/reports/utilisation", query_string=query)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code


def test_a_leap_year_of_366_days_is_allowed(api_as, admin, berlin):
    body = report(api_as(admin), **{"from": "2028-01-01", "to": "2028-12-31"})
    assert body["days"] == 366 and body["total"]["open_minutes"] == 366 * 540


def test_reports_are_for_admins(api_as, alice, browser_as):
    assert api_as(alice).get("/api/reports/utilisation").status_code == 403
    assert browser_as(alice).get("/reports").status_code == 403


def test_booking_rates_count_what_was_made_in_the_last_hour_and_day(api_as, admin, alice, berlin, conn):
    api = api_as(alice)
    for hour in (10, 11, 12):
        assert api.post("/api/bookings", json={"room_id": berlin["id"], "title": "x",
                                               "start_time": f"2027-03-02T{hour}:00",
                                               "end_time": f"2027-03-02T{hour}:30"}).status_code == 201
    # Made 30 minutes, 5 hours and 2 days before NOW (the outbox says when).
    for event_id, ago in zip((1, 2, 3), (timedelta(minutes=30), timedelta(hours=5), timedelta(days=2))):
        conn.execute("UPDATE outbox SET created_at = %s WHERE id = %s", (NOW - ago, event_id))
    row = report(api_as(admin), **{"from": "2027-03-01", "to": "2027-03-07"})["rows"][0]
    assert (row["made_last_hour"], row["made_last_24h"]) == (1, 2)


def test_bookings_made_after_their_start_do_not_count_as_negative_lead(api_as, admin, alice,
                                                                      berlin, conn):
    """Issue 15 #17: "Median lead (h)" was negative out of the box (demo data and
    backfills are made after they start)."""
    start = datetime(2027, 3, 2, 9, tzinfo=UTC)
    for hours, made_after in ((1, False), (2, True), (3, True), (4, True)):
        begins = start + timedelta(hours=hours)
        created = begins + timedelta(minutes=5) if made_after else start - timedelta(hours=hours)
        conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_at)"
                     " VALUES (%s, %s, 'x', %s, %s, %s)",
                     (berlin["id"], alice["id"], begins, begins + timedelta(minutes=30),
                      created))
    row = report(api_as(admin), **{"from": "2027-03-02", "to": "2027-03-02"})["rows"][0]
    assert row["bookings"] == 4
    assert row["median_lead_minutes"] == 2 * 60   # the one made ahead: 09:00 -> 10:00 + 1 h
    conn.execute("UPDATE bookings SET created_at = start_at")     # made at their start: 0
    row = report(api_as(admin), **{"from": "2027-03-02", "to": "2027-03-02"})["rows"][0]
    assert row["median_lead_minutes"] == 0


def test_csv_cells_a_spreadsheet_would_run_are_defused(browser_as, admin, make):
    """Issue 15 #8: CSV formula injection through a room's or building's name."""
    make.room("=cmd|' /C calc'!A0", building="@SUM(A1:A9)")
    make.room("+1 room", building="-HQ")
    make.room("\tTabbed", building="\rCR")
    make.room("Plain - room", building="HQ=1")
    page = browser_as(admin)
    download = page.get("/reports/utilisation.csv?group=room&from=2027-03-01&to=2027-03-07")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True), newline="")))
    names = {r["room_name"]: r["building"] for r in rows[:-1]}
    assert names == {"'=cmd|' /C calc'!A0": "'@SUM(A1:A9)", "'+1 room": "'-HQ",
                     "'\tTabbed": "'\rCR", "Plain - room": "HQ=1"}
    by_building = page.get("/reports/utilisation.csv?group=building&from=2027-03-01&to=2027-03-07")
    buildings = [r["building"] for r in csv.DictReader(io.StringIO(
        by_building.get_data(as_text=True), newline=""))][:-1]
    assert sorted(buildings) == sorted(["'@SUM(A1:A9)", "'-HQ", "'\rCR", "HQ=1"])


def test_a_csv_cell_with_a_semicolon_stays_one_cell_where_excel_splits_on_it(browser_as, admin,
                                                                            make):
    """QA, 2026-12-05: German Excel splits CSV on ";": a room named ";=8 r13" came out
    unquoted, and its second part a formula. Each part after a ";" is defused too."""
    make.room(";=8 r13", building="HQ;@x")
    text = browser_as(admin).get("/reports/utilisation.csv?group=room&from=2027-03-01"
                                 "&to=2027-03-07").get_data(as_text=True)
    assert ";'=8 r13,HQ;'@x," in text
    # Read as German Excel reads it (";" between cells, '"' around them): no cell
    # starts a formula.
    cells = [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=";")
             for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], cells


def test_the_page_draws_charts_with_tables_and_csv_in_three_statements(browser_as, admin, dataset):
    page = browser_as(admin)
    r = page.get(f"/reports?from={START}&to={END}")
    assert r.status_code == 200 and statements(r) <= 3
    text = r.get_data(as_text=True)
    assert text.count('<svg role="img"') == 2
    assert 'id="by-table"' in text and 'id="heat-table"' in text
    assert "<title>Spree: " in text
    csv_link = f"/reports/utilisation.csv?group=room&amp;from={START}&amp;to={END}&amp;building="
    assert csv_link in text
    download = page.get(csv_link.replace("&amp;", "&"))
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [r["room_name"] for r in rows[:-1]] == ["Ganges", "Night", "Spree", "Hudson"]
    assert rows[-1]["room_id"] == "total"
    heat = page.get(f"/reports/utilisation.csv?group=weekday_hour&from={START}&to={END}")
    assert heat.get_data(as_text=True).startswith("weekday,hour,open_minutes")
    by_building = page.get(f"/reports?from={START}&to={END}&group=building")
    assert by_building.status_code == 200 and "<title>NY: " in by_building.get_data(as_text=True)


def test_the_busiest_hours_count_both_passes_of_a_repeated_hour_in_it(api_as, admin, make,
                                                                      conn):
    """Found by testing from outside: on the night Berlin's clocks go back, the
    first pass of 02:00-03:00 was counted in hour 1 (its 60 open minutes and a
    booking in it). Hour 1 is open 60 minutes, hour 2 120, and both bookings
    between 02:00 and 03:00 are in hour 2."""
    from policykit import room_policy
    room = make.room("Night desk", opens="00:00", closes="23:59", building="Nights")
    room_policy(conn, room, max_days_ahead=400)
    for start, end in (("2027-10-31T02:15:00+02:00", "2027-10-31T02:45:00+02:00"),
                       ("2027-10-31T02:15:00+01:00", "2027-10-31T03:00:00+01:00")):
        r = api_as(admin).post("/api/bookings", json={"room_id": room["id"], "title": "Night",
                                                      "start_time": start, "end_time": end})
        assert r.status_code == 201, r.get_json()
    heat = {r["hour"]: r for r in report(api_as(admin), **{
        "from": "2027-10-31", "to": "2027-10-31", "group": "weekday_hour",
        "building": "Nights"})["rows"]}
    assert [(heat[h]["open_minutes"], heat[h]["booked_minutes"], heat[h]["bookings"])
            for h in (1, 2, 3)] == [(60, 0, 0), (120, 75, 2), (60, 0, 0)]


def test_a_series_changed_counts_no_cancellation(api_as, admin, alice, berlin):
    """Found by testing from outside: renaming a series re-made its occurrences,
    and the report counted the rows it replaced as cancelled (rate 0.5 for a
    rename). Cancelling one occurrence still counts, once."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "W", "start_time": "2027-03-02T17:00",
        "end_time": "2027-03-02T17:30", "recurrence": "FREQ=DAILY;COUNT=3",
        "skip_conflicts": True}).get_json()
    assert len(made["bookings"]) == 3
    series_id = made["series"]["id"]
    assert api.patch(f"/api/series/{series_id}?from=2027-03-02T17:00",
                     json={"title": "W2"}).status_code == 200
    assert api.patch(f"/api/series/{series_id}?from=2027-03-03T17:00",
                     json={"title": "W3"}).status_code == 200
    window = {"from": "2027-03-02", "to": "2027-03-06"}
    row = report(api_as(admin), **window)["rows"][0]
    assert (row["bookings"], row["cancelled"], row["cancellation_rate"]) == (3, 0, 0)
    first = api.get(f"/api/series/{series_id}").get_json()["bookings"][0]
    assert api.delete(f"/api/bookings/{first['id']}").status_code == 200
    row = report(api_as(admin), **window)["rows"][0]
    assert (row["bookings"], row["cancelled"], row["cancellation_rate"]) == (2, 1, 0.3333)


def test_rejected_and_expired_requests_are_not_cancellations(api_as, admin, alice, berlin,
                                                             make, conn):
    """Found by testing from outside: a request rejected, or expired undecided, has
    cancelled_at set, and counted in `cancelled` and the cancellation rate."""
    at = datetime(2027, 3, 2, 9, tzinfo=UTC)
    kept = make.booking(berlin, alice, at, at + timedelta(hours=1))
    rejected = make.booking(berlin, alice, at + timedelta(hours=2), at + timedelta(hours=3))
    expired = make.booking(berlin, alice, at + timedelta(hours=4), at + timedelta(hours=5))
    make.booking(berlin, alice, at + timedelta(hours=6), at + timedelta(hours=7), cancelled=True)
    conn.execute("UPDATE bookings SET status = 'rejected', cancelled_at = now(), "
                 "cancelled_by = %s, decided_at = now() WHERE id = %s",
                 (admin["id"], rejected["id"]))
    conn.execute("UPDATE bookings SET status = 'expired', cancelled_at = now(), "
                 "decided_at = now() WHERE id = %s", (expired["id"],))
    assert kept
    total = report(api_as(admin), **{"from": "2027-03-02", "to": "2027-03-02"})["total"]
    assert (total["bookings"], total["cancelled"], total["cancellation_rate"]) == (1, 1, 0.5)


@pytest.mark.parametrize("group", ["room", "building", "weekday_hour"])
def test_an_unknown_building_is_422_in_every_group(api_as, browser_as, admin, berlin, group):
    """Found by testing from outside: group=weekday_hour answered 200 {"rows": []}
    (and an empty CSV) for a building no room is in."""
    query = {"group": group, "building": "Nowhere"}
    r = api_as(admin).get("/api/reports/utilisation", query_string=query)
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, "unknown_building")
    assert r.get_json()["error"]["details"]["field"] == "building"
    csv_answer = browser_as(admin).get("/reports/utilisation.csv", query_string=query)
    assert csv_answer.status_code == 422


def test_a_building_with_a_nul_is_a_400_naming_the_field(api_as, admin, berlin):
    r = api_as(admin).get("/api/reports/utilisation?building=%00")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and error["details"]["field"] == "building"


def test_bookers_leave_out_the_door_panel_s_account(app, api_as, admin, alice, berlin, make):
    """Found by testing from outside: `bookers` (distinct people) counted a door
    panel's pseudo-account ("Panel · Spree") as a person."""
    from booking.panels import service as panels
    with app.app_context():
        panels.create_token(berlin["id"], admin["id"])
    at = datetime(2027, 3, 2, 9, tzinfo=UTC)
    make.booking(berlin, alice, at, at + timedelta(hours=1))
    # The panel's account owns the walk-ins it books.
    account = make.conn.execute("SELECT id FROM users WHERE email LIKE 'panel-%%'").fetchone()
    make.booking(berlin, account, at + timedelta(hours=2), at + timedelta(hours=3),
                 title="Walk-in")
    row = report(api_as(admin), **{"from": "2027-03-02", "to": "2027-03-02"})["rows"][0]
    assert (row["bookings"], row["bookers"]) == (2, 1)
