"""A quarter's utilisation report for all rooms on the large dataset (~1,000,000 bookings).

    .venv/bin/python -m bench.reports [--repeat 7] [--from 2026-07-01 --to 2026-09-30]

Uses `make bench`'s database: bench/run.py's cluster under var/bench-pg and
its `bench_large` database (`demo --scale large`: 500 rooms in three zones,
~1,000,000 bookings over two years), built on first use (about a minute and
a half) and kept. By default the report covers the last full calendar
quarter before today, all rooms, and is timed through the real request path
(Flask test client in-process, token auth): the JSON twin by room, by
building, by weekday x hour, and the /reports page (its two report
statements side by side). Prints the median and the slowest of each.
The cluster is stopped afterwards.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date

from bench.run import bench_cluster, ensure_database
from bench.throwaway import median_ms, timed
from booking import create_app, db, demo


def last_quarter(today: date) -> tuple[date, date]:
    first_month = (today.month - 1) // 3 * 3 + 1          # this quarter's first month
    this_quarter = date(today.year, first_month, 1)
    start = date(this_quarter.year - (first_month == 1), (first_month - 4) % 12 + 1, 1)
    return start, date.fromordinal(this_quarter.toordinal() - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--from", dest="start", type=date.fromisoformat)
    parser.add_argument("--to", dest="end", type=date.fromisoformat)
    args = parser.parse_args()
    start, end = last_quarter(date.today())
    start, end = args.start or start, args.end or end

    cluster = bench_cluster()
    try:
        url = ensure_database(cluster, "bench_large", demo.LARGE)
        with db.connect(url) as conn:
            counts = conn.execute("SELECT (SELECT count(*) FROM bookings) AS bookings, "
                                  "(SELECT count(*) FROM rooms WHERE active) AS rooms").fetchone()
            admin = conn.execute("SELECT id FROM users WHERE email = 'admin@example.com'").fetchone()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "POOL_MIN_SIZE": 2,
                          "STATEMENT_TIMEOUT_MS": 60000})
        logging.getLogger("booking.request").setLevel(logging.ERROR)   # SLOW lines are expected
        from booking.account.service import create_token
        with app.app_context():
            _, token = create_token(admin["id"], "bench reports")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        span = f"from={start.isoformat()}&to={end.isoformat()}"
        cases = [(f"/api/reports/utilisation?{span}&group=room", "JSON, by room"),
                 (f"/api/reports/utilisation?{span}&group=building", "JSON, by building"),
                 (f"/api/reports/utilisation?{span}&group=weekday_hour", "JSON, weekday x hour"),
                 (f"/reports?{span}", "page (rooms + heatmap)")]
        days = (end - start).days + 1
        print(f"{start} to {end} ({days} days), {counts['rooms']} rooms, "
              f"{counts['bookings']:,} bookings in the database; median (slowest) of {args.repeat}:")
        for path, label in cases:
            def call():
                r = client.get(path, headers=headers)
                assert r.status_code == 200, r.get_data(as_text=True)[:300]
            call()   # warm the cache, as a server that has been running would be
            seconds = timed(call, args.repeat)
            print(f"  {label:28} {median_ms(seconds):8.1f} ms  ({max(seconds) * 1000:.1f} ms)",
                  flush=True)
        with db.connect(url) as conn:
            conn.execute("DELETE FROM api_tokens WHERE name = 'bench reports'")
        app.extensions["booking.pool"].close()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
