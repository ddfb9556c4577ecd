"""How the finder's queries run on a big table: plans and timings.

    .venv/bin/python bench/finder_plan.py [--rooms 50] [--runs 200]

Starts a throwaway PostgreSQL cluster (as the tests do), loads three one-hour
bookings a day per room for 700 days (105,000 bookings with 50 rooms), then
prints EXPLAIN (ANALYZE, BUFFERS) of the free-room query and the median and
95th percentile of each finder statement over --runs runs. Nothing here is a
test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booking import db, rules  # noqa: E402
from booking.finder import service as finder  # noqa: E402
from booking.localpg import Cluster  # noqa: E402

UTC = timezone.utc
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
DAYS, SLOTS, USERS = 700, 3, 200


def load(url: str, rooms: int) -> int:
    with db.connect(url) as conn:
        conn.execute("INSERT INTO users (email, name) SELECT 'u' || i || '@example.com', "
                     "'User ' || i FROM generate_series(1, %s) i", (USERS,))
        conn.execute("""
            INSERT INTO rooms (name, capacity, timezone, building, floor, equipment)
            SELECT 'Room ' || i, 4 + i %% 20,
                   (ARRAY['Europe/Berlin', 'America/New_York'])[1 + i %% 2],
                   'B' || i %% 3, i %% 5,
                   CASE i %% 3 WHEN 0 THEN '{screen}' WHEN 1 THEN '{screen,video}'
                               ELSE '{}' END::text[]
              FROM generate_series(1, %s) i""", (rooms,))
        # Build the exclusion constraint's index after the load: much faster.
        conn.execute("ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap")
        conn.execute("""
            INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
            SELECT r, 1 + (r * 7 + d * 13 + s) %% %(users)s, 'Meeting', t, t + interval '1 hour'
              FROM generate_series(1, %(rooms)s) r, generate_series(0, %(days)s - 1) d,
                   generate_series(0, %(slots)s - 1) s,
                   LATERAL (SELECT %(start)s::timestamptz + d * interval '1 day'
                                   + interval '2 hours' + s * interval '3 hours' AS t) x""",
                     {"users": USERS, "rooms": rooms, "days": DAYS, "slots": SLOTS,
                      "start": NOW - timedelta(days=DAYS // 2)})
        conn.execute("""ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
                            room_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)
                        WHERE (cancelled_at IS NULL)""")
        conn.execute("VACUUM ANALYZE")
        return conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"]


def timed(conn, sql, params, runs, rollback=False) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        if rollback:
            with conn.transaction(force_rollback=True):
                conn.execute(sql, params).fetchall()
        else:
            conn.execute(sql, params).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="booking-bench-pg-", dir="/tmp")))
    try:
        cluster.start("fsync=off", "synchronous_commit=off")
        url = cluster.create_database("bench")
        db.upgrade(url)
        started = time.perf_counter()
        count = load(url, args.rooms)
        print(f"{count:,} bookings in {args.rooms} rooms, loaded in "
              f"{time.perf_counter() - started:.1f} s\n")

        # The load books 10:00, 13:00 and 16:00 UTC. 11:00-12:00 UTC on 2 March 2027 is
        # free: 12:00 in Berlin, 06:00 in New York (closed there).
        start = datetime(2027, 3, 2, 11, tzinfo=UTC)
        params = {"start": start, "end": start + timedelta(hours=1), "people": 6,
                  "equipment": ["screen"], "building": "B1", "floor": 2, "not_before": NOW,
                  "until": NOW + timedelta(days=180)}
        # 13:00-14:00 UTC: every room is booked then.
        busy = {**params, "start": start + timedelta(hours=2), "end": start + timedelta(hours=3)}
        need = finder.Need(start=start, end=start + timedelta(hours=1), people=6,
                           equipment=("screen",), building="B1", floor=2)
        with db.connect(url) as conn:
            # The search's statement with this process's copy of the rooms current
            # (as nearly always), after a first run that sent the rooms.
            stale = finder.free_params(need, finder.Search(need, NOW, {}))
            row = conn.execute(finder.FREE_SQL, stale).fetchone()
            by_id = {r["room"]["id"]: r["room"] for r in row["rooms"]}
            search = finder.free_params(need, finder.Search(need, NOW, by_id),
                                        row["rooms_version"], by_id)
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + finder.FREE_SQL, search)
            print("EXPLAIN (ANALYZE, BUFFERS) free-room query:")
            print("\n".join(row["QUERY PLAN"] for row in plan))
            found = conn.execute(finder.FREE_SQL, search).fetchone()["ids"]
            print(f"\n{len(found)} rooms found.\n")

            checks = {"rooms": [1 + i % args.rooms for i in range(500)],
                      "starts": [start + timedelta(minutes=30 * (i % 16)) for i in range(500)],
                      "ends": [start + timedelta(minutes=30 * (i % 16) + 30) for i in range(500)],
                      "local_starts": [None] * 500, "local_ends": [None] * 500}
            rooms = [r["id"] for r in conn.execute("SELECT id FROM rooms ORDER BY id")]
            print(f"{'statement':<52} {'median ms':>10} {'p95 ms':>8}")
            for label, sql, values, rollback in [
                    ("free rooms (FREE_SQL)", finder.FREE_SQL, search, False),
                    ("free rooms, sending the rooms (FREE_SQL)", finder.FREE_SQL, stale, False),
                    ("suggestions, 8 days (SUGGEST_SQL)", finder.SUGGEST_SQL, params, False),
                    ("batch of 500 checks (AVAILABILITY_SQL)", finder.AVAILABILITY_SQL, checks,
                     False),
                    ("auto_book, first candidate free", finder.AUTO_BOOK_SQL,
                     {**params, "rooms": found[:1] or rooms[:1], "user": 1,
                      "title": "x"}, True),
                    (f"auto_book, all {len(rooms)} taken, then suggestions",
                     finder.AUTO_BOOK_SQL, {**busy, "rooms": rooms, "user": 1, "title": "x"},
                     True)]:
                median, p95 = timed(conn, sql, values, args.runs, rollback)
                print(f"{label:<52} {median:>10.2f} {p95:>8.2f}")
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
