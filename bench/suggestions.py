"""room_suggestions() now and as sql/055 defined it, on the searches that need it.

`make bench`'s free_rooms_policies scenario searches all three areas at
random hours of the next 60 days; about one search in thirty finds no room
(the hour after closing, a closed day) and asks for suggestions. This
sends the same kind of searches through the app in process (a fixed seed),
records every suggestions statement as sent, then runs each one with the
current room_suggestions() and with sql/055's (loaded for this session as
pg_temp.room_suggestions_055), in turn, on one connection, and prints the
milliseconds each took: mean, median and the slowest. The answers must be
the same; a difference is printed and the exit status is 1.

    .venv/bin/python -m bench.suggestions [--searches 2000]

Run `make bench` once first: it builds the data and bench/out/data.lua.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPACITIES = [2, 4, 6, 8, 12]          # bench/lua/common.lua's
EQUIPMENT = ["", "&equipment=screen", "&equipment=video"]


def definition_055() -> str:
    text = (ROOT / "sql" / "055_faster_suggestions.sql").read_text()
    found = re.search(r"CREATE OR REPLACE FUNCTION room_suggestions\(.*?\n\$\$;", text, re.S)
    return found.group(0).replace("CREATE OR REPLACE FUNCTION room_suggestions(",
                                  "CREATE FUNCTION pg_temp.room_suggestions_055(", 1)


def searches(count: int) -> list[str]:
    rng = random.Random(11)
    paths = []
    for _ in range(count):
        day = date.today() + timedelta(days=rng.randint(1, 60))
        hour = rng.randint(7, 17)
        paths.append(f"/api/rooms/free?start_time={day}T{hour:02d}:00&end_time={day}T"
                     f"{hour + 1:02d}:30&capacity={rng.choice(CAPACITIES)}"
                     f"&timezone=Europe/Berlin&any_timezone=true{rng.choice(EQUIPMENT)}")
    return paths


def recorded(app, paths: list[str], token: str) -> list[tuple[str, dict]]:
    """The suggestions statements the searches sent, with their parameters."""
    from booking import db

    sent: list[tuple[str, dict]] = []
    original = db.CountingCursor.execute

    def recording(self, query, params=None, **kwargs):
        if "room_suggestions(" in str(query):
            sent.append((str(query), params))
        return original(self, query, params, **kwargs)

    db.CountingCursor.execute = recording
    try:
        client = app.test_client()
        for path in paths:
            answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code in (200, 422), (path, answer.status_code)
    finally:
        db.CountingCursor.execute = original
    return sent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--searches", type=int, default=2000)
    args = parser.parse_args()

    from bench.middle import _data
    from bench.run import SECRET_KEY, bench_cluster
    url = bench_cluster().url("bench_large")
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET_KEY, SLOW_REQUEST_MS="1000000")
    import logging

    import psycopg
    from psycopg.rows import dict_row

    from booking import create_app
    app = create_app()
    logging.getLogger("booking.request").setLevel(logging.WARNING)
    sent = recorded(app, searches(args.searches), _data()["token"])

    times: dict[str, list[float]] = {"sql/055": [], "now": []}
    differ = 0
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(definition_055())
        for query, params in sent:
            old_query = query.replace("room_suggestions(", "pg_temp.room_suggestions_055(")
            answers = []
            for name, text in (("sql/055", old_query), ("now", query)):
                started = time.perf_counter()
                answers.append(conn.execute(text, params, prepare=True).fetchone()["suggestions"])
                times[name].append(time.perf_counter() - started)
            if answers[0] != answers[1]:
                differ += 1
                print(f"different answers: {params}", file=sys.stderr)
    print(f"{args.searches} searches, {len(sent)} asked for suggestions")
    for name, spent in times.items():
        if spent:
            print(f"room_suggestions() {name:8s} mean {statistics.mean(spent) * 1000:6.1f} ms, "
                  f"median {statistics.median(spent) * 1000:6.1f} ms, "
                  f"slowest {max(spent) * 1000:6.1f} ms")
    print("the same answers" if not differ else f"{differ} answers differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
