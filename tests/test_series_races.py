""""This and following" under concurrency, through the real server (found by testing
from outside): the occurrences a change books are planned from a read of the
series before edit_series() locks it, so a change that commits in between made
the plan stale. edit_series() now answers 'stale' and the change is planned again
(sql/084): every race ends as one order or the other would have."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta, timezone
from urllib.parse import quote

import pytest

from conftest import tomorrow_at
from test_edit_races import at_once, send

ROUNDS = 6


def days_held(conn, first_series_id, tz="Europe/Berlin"):
    """Each local day the series and the parts that continue it hold, with how many
    live bookings."""
    rows = conn.execute("""
        WITH RECURSIVE part(id) AS (
            SELECT %(id)s::bigint
            UNION
            SELECT s.continued_by FROM series s JOIN part ON s.id = part.id
             WHERE s.continued_by IS NOT NULL)
        SELECT (b.start_at AT TIME ZONE %(tz)s)::date AS day
          FROM part JOIN bookings b ON b.series_id = part.id
         WHERE b.cancelled_at IS NULL""", {"id": first_series_id, "tz": tz}).fetchall()
    return Counter(r["day"] for r in rows)


def a_series(url, token, room, first, count):
    status, body = send(f"{url}/api/bookings", token, "POST", {
        "room_id": room["id"], "title": "Daily", "start_time": first.isoformat(),
        "end_time": (first + timedelta(minutes=30)).isoformat(),
        "recurrence": f"FREQ=DAILY;COUNT={count}"})
    assert status == 201, body
    return body


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_split_racing_the_change_of_one_occurrence_never_books_its_day_twice(
        live_server, make, conn, round_):
    room = make.room(f"Daily {round_}", "Europe/Berlin", opens="00:00", closes="23:59")
    owner = make.user(f"Owner {round_}")
    token = make.token(owner)
    first = tomorrow_at("Europe/Berlin", 13)
    made = a_series(live_server.url, token, room, first, 4)
    series_id, occurrences = made["series"]["id"], made["bookings"]
    moved = occurrences[2]
    moved_start = (first + timedelta(days=2, minutes=40)).astimezone(timezone.utc)
    split, edit = at_once([
        (f"{live_server.url}/api/series/{series_id}?from={quote(occurrences[1]['start_time'])}",
         token, "PATCH", {"title": "Split"}),
        (f"{live_server.url}/api/bookings/{moved['id']}", token, "PATCH",
         {"title": "One-off", "start_time": moved_start.isoformat()}),
    ])
    assert split[0] == 200, split
    assert edit[0] in (200, 409), edit
    if edit[0] == 409:      # the split came first: that occurrence was the old part's
        assert edit[1]["error"]["code"] == "not_editable", edit
    held = days_held(conn, series_id)
    assert len(held) == 4 and set(held.values()) == {1}, held
    one_off = conn.execute("SELECT title, cancelled_at FROM bookings WHERE id = %s",
                           (moved["id"],)).fetchone()
    assert (one_off["cancelled_at"] is None) == (edit[0] == 200), (edit, one_off)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_splits_of_one_series_racing_leave_parts_that_do_not_overlap(
        live_server, make, conn, round_):
    room = make.room(f"Split twice {round_}", "Europe/Berlin", opens="00:00", closes="23:59")
    owner = make.user(f"Splitter {round_}")
    token = make.token(owner)
    first = tomorrow_at("Europe/Berlin", 10)
    made = a_series(live_server.url, token, room, first, 6)
    series_id, occurrences = made["series"]["id"], made["bookings"]
    later = first + timedelta(days=3, minutes=40)
    a, b = at_once([
        (f"{live_server.url}/api/series/{series_id}?from={quote(occurrences[1]['start_time'])}",
         token, "PATCH", {"title": "A"}),
        (f"{live_server.url}/api/series/{series_id}?from={quote(occurrences[3]['start_time'])}",
         token, "PATCH", {"title": "B", "start_time": later.isoformat(),
                          "end_time": (later + timedelta(minutes=30)).isoformat()}),
    ])
    assert a[0] == 200 or b[0] == 200, (a, b)
    for status, answer in (a, b):
        assert status in (200, 409), answer
    held = days_held(conn, series_id)
    assert len(held) == 6 and set(held.values()) == {1}, held
