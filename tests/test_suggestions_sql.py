"""room_suggestions() as sql/055 and sql/063 rewrote it answers exactly as sql/042's did.

sql/055 changed how the suggestions are worked out (opening instants once per
zone, one range of bookings per room, one window), and sql/063 when (the
request's day first, later days only while times are missing), not what they
are. Here sql/042's definition is loaded beside it under another name and both
are asked the same random questions over random rooms and bookings: buffers, weekly
hours with closed days, the clocks changing (Europe on 2027-03-28, the US on
2027-03-14), cancelled bookings, rooms in three zones. The only new thing,
`zones` in p_rules, answers as the old function did with the other zones'
rooms made inactive.
"""

from __future__ import annotations

import json
import random
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

SQL = Path(__file__).resolve().parent.parent / "sql"
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo"]
FIRST_DAY = date(2027, 3, 10)
DAYS = 24                       # to 2027-04-02: both changes of the clocks
EQUIPMENT = ["screen", "video", "phone"]


def old_definition() -> str:
    text = (SQL / "042_book_with_policies.sql").read_text()
    found = re.search(r"CREATE FUNCTION room_suggestions\(.*?\n\$\$;", text, re.S)
    assert found, "sql/042 defines room_suggestions()"
    return found.group(0).replace("CREATE FUNCTION room_suggestions(",
                                  "CREATE FUNCTION room_suggestions_042(", 1)


def suggestions(conn, name: str, ask: dict) -> dict:
    return conn.execute(
        f"SELECT {name}(%(start)s, %(end)s, %(people)s, %(equipment)s::text[], %(building)s,"
        " %(floor)s, %(not_before)s, %(until)s, %(rules)s::jsonb) AS s", ask).fetchone()["s"]


@pytest.fixture
def world(conn, make):
    """Twelve rooms in three zones, their rules, and about 600 bookings."""
    conn.execute(old_definition())
    rng = random.Random(20270328)
    owner = make.user("Olga")
    rules: dict[str, dict] = {}
    rooms = []
    for i in range(12):
        zone = ZONES[i % 3]
        opens, closes = rng.choice([("09:00", "18:00"), ("07:30", "19:00"), ("01:00", "23:00"),
                                    ("02:30", "20:00")])
        room = make.room(f"Room {i}", zone, capacity=rng.choice([2, 4, 6, 10]), opens=opens,
                         closes=closes, building=rng.choice(["HQ", "Annex"]),
                         floor=rng.choice([1, 2]),
                         equipment=rng.sample(EQUIPMENT, rng.randint(0, 3)))
        entry: dict = {}
        buffer = rng.choice([0, 0, 5, 10, 15])
        if buffer:
            entry["buffer"] = buffer
        if rng.random() < 0.4:   # weekly hours: closing at :07 never meets a booking's start
            entry["hours"] = [None if rng.random() < 0.2 else ["08:00", "16:07"]
                              for _ in range(7)]
        if entry:
            rules[str(room["id"])] = entry
        rooms.append(room)
        zone_info = ZoneInfo(zone)
        for d in range(DAYS):
            at = datetime.combine(FIRST_DAY + timedelta(days=d), time(7, 0), zone_info)
            for _ in range(rng.randint(0, 4)):
                at += timedelta(minutes=5 * rng.randint(buffer // 5, 30))
                end = at + timedelta(minutes=rng.choice([15, 30, 60, 90]))
                conn.execute(
                    "INSERT INTO bookings (room_id, user_id, title, start_at, end_at,"
                    " buffer_minutes, cancelled_at) VALUES (%s, %s, 'x', %s, %s, %s,"
                    " CASE WHEN %s THEN now() END)",
                    (room["id"], owner["id"], at, end, buffer, rng.random() < 0.1))
                at = end
    return rng, rooms, rules


def question(rng: random.Random, rules: dict) -> dict:
    zone = ZoneInfo(rng.choice(ZONES))
    day = FIRST_DAY + timedelta(days=rng.randint(0, DAYS - 9))
    start = datetime.combine(day, time(rng.randint(0, 23), rng.choice([0, 15, 30, 45])), zone)
    end = start + timedelta(minutes=rng.choice([30, 60, 90, 120]))
    return {"start": start, "end": end, "people": rng.choice([1, 2, 4, 6, 8]),
            "equipment": rng.sample(EQUIPMENT, rng.choice([0, 0, 1, 2])),
            "building": rng.choice([None, "HQ", "annex"]), "floor": rng.choice([None, 1, 2]),
            "not_before": start - timedelta(days=rng.choice([0, 1, 3])) + timedelta(hours=1),
            "until": start + timedelta(days=rng.choice([2, 5, 30])),
            "rules": json.dumps(rules)}


def test_the_same_suggestions_as_before(world, conn):
    rng, _, rules = world
    differ = []
    offered = 0
    for _ in range(150):
        ask = question(rng, rules)
        new, old = suggestions(conn, "room_suggestions", ask), suggestions(conn, "room_suggestions_042", ask)
        offered += len(new["times"]) + len(new["rooms"])
        if new != old:
            differ.append((ask, new, old))
    assert not differ, f"{len(differ)} of 150 differ; first: {differ[0]}"
    assert offered > 300   # the questions are answered, not all empty


def test_zones_search_only_those_rooms(world, conn):
    rng, _, rules = world
    checked = 0
    for _ in range(40):
        ask = question(rng, rules)
        zones = rng.sample(ZONES, rng.choice([1, 2]))
        new = suggestions(conn, "room_suggestions", {**ask, "rules": json.dumps(
            {**rules, "zones": zones})})
        with conn.transaction(force_rollback=True):
            conn.execute("UPDATE rooms SET active = false WHERE NOT timezone = ANY(%s)", (zones,))
            old = suggestions(conn, "room_suggestions_042", ask)
        assert new == old
        assert all(t["room"]["timezone"] in zones for t in new["times"])
        checked += len(new["times"])
    assert checked > 100


def without_whole_week_fallback() -> str:
    """sql/063's room_suggestions() that never falls back to all the days at once,
    as room_suggestions_063_steps_only."""
    text = (SQL / "063_suggestions_day_by_day.sql").read_text()
    text = text.replace("CREATE OR REPLACE FUNCTION room_suggestions(",
                        "CREATE FUNCTION room_suggestions_063_steps_only(", 1)
    guard = "IF v_last - v_first < p_days AND v_zone_count > 1 AND EXISTS ("
    assert text.count(guard) == 1, "sql/063 falls back when a time is on two local days"
    return text.replace(guard, "IF false AND EXISTS (")


def test_a_time_on_two_local_days_is_offered_as_before(conn, make):
    """sql/063 searches the request's day, then the next two, then the rest. Rooms in
    zones far apart can offer the same instant on different local days: here 16:30
    in Berlin on the request's day is 00:30 the next day in Tokyo. The Tokyo room is
    in the building asked for, so it offers that time, on its day, as sql/042 had
    it; the steps alone would give it to the Berlin room on the first day."""
    conn.execute(old_definition())
    conn.execute(without_whole_week_fallback())
    owner = make.user("Olga")
    make.room("Spree", "Europe/Berlin", opens="09:00", closes="18:00", building="HQ")
    fuji = make.room("Fuji", "Asia/Tokyo", opens="00:00", closes="23:59", building="Annex")
    tokyo = ZoneInfo("Asia/Tokyo")
    conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at)"
                 " VALUES (%s, %s, 'x', %s, %s)",
                 (fuji["id"], owner["id"], datetime(2027, 3, 11, 1, 30, tzinfo=tokyo),
                  datetime(2027, 3, 11, 23, 0, tzinfo=tokyo)))
    start = datetime(2027, 3, 10, 15, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    ask = {"start": start, "end": start + timedelta(hours=1), "people": 1, "equipment": [],
           "building": "Annex", "floor": None, "not_before": start + timedelta(hours=1),
           "until": start + timedelta(days=30), "rules": "{}"}

    new = suggestions(conn, "room_suggestions", ask)
    assert new == suggestions(conn, "room_suggestions_042", ask)
    at_half_past_four = [t["room"]["name"] for t in new["times"]
                         if t["start_time"] == "2027-03-11T00:30:00+09:00"]
    assert at_half_past_four == ["Fuji"]
    assert suggestions(conn, "room_suggestions_063_steps_only", ask) != new
