"""Creates in process: Python and PostgreSQL CPU per `POST /api/bookings`.

Like bench/middle.py for the day view, this drives the WSGI app directly (no
gunicorn, no sockets, one request after another) against `make bench`'s
database, and reads the CPU of this process and of every process of the
bench cluster before and after. The same requests every run (a fixed seed):
weekday slots in March and April 2027 of every bench room, some refused by
the rooms' policies and quotas as they would be anyway. The bookings it
made are deleted afterwards.

    .venv/bin/python -m bench.creates [--requests 600] [--profile]

Run `make bench` once first: it builds the data and bench/out/data.lua.
Compare code by running this on each in turn, a few times: the figures move
by a few per cent from run to run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from collections import Counter
from datetime import date, timedelta

from bench.cpu import _children, _ticks, postmaster_pid
from bench.middle import _data

TITLE = "bench.creates"


def _environ(room: int, k: int, rng: random.Random, token: str) -> dict:
    from werkzeug.test import EnvironBuilder
    day = date(2027, 3, 1) + timedelta(days=k % 60)
    while day.weekday() >= 5:
        day += timedelta(days=2)
    minute = 9 * 60 + rng.randint(0, 15) * 30 + rng.randint(0, 14)
    end = minute + 15
    body = json.dumps({"room_id": room, "title": TITLE,
                       "start_time": f"{day}T{minute // 60:02d}:{minute % 60:02d}",
                       "end_time": f"{day}T{end // 60:02d}:{end % 60:02d}"})
    return EnvironBuilder(path="/api/bookings", method="POST", data=body,
                          content_type="application/json",
                          headers={"Authorization": f"Bearer {token}"}).get_environ()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from bench.run import SECRET_KEY, bench_cluster
    url = bench_cluster().url("bench_large")
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET_KEY, SLOW_REQUEST_MS="1000000")
    data = _data()
    sys.stderr = open(os.devnull, "w")     # the log line, written as gunicorn's stderr is
    from wsgi import app

    rooms = list(range(data["lo"], data["hi"] + 1))
    rng = random.Random(7)
    environs = [_environ(rooms[i % len(rooms)], i // len(rooms), rng, data["token"])
                for i in range(50 + args.requests)]
    statuses: Counter[str] = Counter()

    def drive(batch: list[dict]) -> None:
        def start_response(status, _headers, exc_info=None):
            statuses[status[:3]] += 1
        for environ in batch:
            body = app(environ, start_response)
            b"".join(body)
            if hasattr(body, "close"):
                body.close()

    postmaster = postmaster_pid()

    def postgres_ticks() -> int:
        return sum(_ticks(pid) for pid in [postmaster, *_children(postmaster)])

    try:
        drive(environs[:50])                 # warm up: the pool, the copy of the rooms, plans
        statuses.clear()
        measured = environs[50:]
        python, postgres = time.process_time(), postgres_ticks()
        if args.profile:
            import cProfile
            import pstats
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            drive(measured)
            profile.disable()
        else:
            drive(measured)
        python = (time.process_time() - python) / len(measured)
        postgres = (postgres_ticks() - postgres) / os.sysconf("SC_CLK_TCK") / len(measured)
    finally:
        import psycopg
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM bookings WHERE title = %s", (TITLE,))
    print(f"creates: Python {python * 1000:.3f} ms, PostgreSQL {postgres * 1000:.3f} ms "
          f"of CPU per request; answers {dict(sorted(statuses.items()))}")
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(os.environ.get("SORT", "cumulative")) \
            .print_stats(int(os.environ.get("LINES", "60")))
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
