"""What the release sweep costs: 10,000 due bookings released (issue 17: under a second).

    .venv/bin/python -m bench.release [--due 10000] [--rounds 3]

A throwaway cluster (bench/throwaway.py: fsync on, production-like settings),
`due` check-in rooms, each with a two-hour booking that began half an hour
ago and nobody checked in to (the sweep frees only time still to come, so
one per room is due at a time), and one that is over and was checked in
(passed over); and as many rooms without check-in, each with a booking
under way. Each round restores the bookings, checkpoints, and times
`release.sweep()` as the worker runs it (RELEASE_BATCH per statement, with
the audit and outbox triggers), and, for comparison, one statement for all.
Printed: each round's seconds and bookings released, and the median.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta, timezone

from bench.throwaway import databases
from booking import create_app, db
from booking.bookings import release

NOW = datetime(2027, 3, 1, 23, 0, tzinfo=timezone.utc)

SETUP_SQL = """
INSERT INTO users (email, name) VALUES ('bench@example.com', 'Bench');
INSERT INTO rooms (name, capacity, timezone, opens, closes, checkin_required)
SELECT 'Room ' || k, 6, 'UTC', '00:00', '23:59', k <= %(rooms)s
  FROM generate_series(1, %(rooms)s * 2) k;
-- Due: a booking under way in each check-in room, not checked in; passed over: one
-- over and checked in there, and one under way in each room without check-in.
INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_at, checked_in_at)
SELECT r.id, u.id, 'bench', x.t, x.t + interval '2 hours', x.t - interval '1 day',
       CASE WHEN k.checked THEN x.t END
  FROM rooms r CROSS JOIN users u
 CROSS JOIN (VALUES (false), (true)) k(checked)
 CROSS JOIN LATERAL (SELECT %(now)s::timestamptz
                            - CASE WHEN k.checked THEN interval '5 hours'
                                   ELSE interval '30 minutes' END AS t) x
 WHERE r.checkin_required OR NOT k.checked;
"""

RESET_SQL = """
UPDATE bookings SET released_at = NULL, status = 'confirmed', end_at = end_before_release,
                    end_before_release = NULL
 WHERE released_at IS NOT NULL;
DELETE FROM outbox; DELETE FROM release_sweeps;
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with databases("release") as (url,):
        with db.connect(url) as conn:
            conn.execute(SETUP_SQL.replace("%(rooms)s", str(args.due))
                         .replace("%(now)s", f"'{NOW.isoformat()}'"))
            conn.execute("VACUUM ANALYZE bookings")   # autocommit: outside a transaction
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "VAR_DIR": "/tmp"})
        configured = int(app.config["RELEASE_BATCH"])
        for label, batch in ((f"RELEASE_BATCH ({configured}) per statement", configured),
                             ("one statement", args.due * 2)):
            seconds, released = [], 0
            for _ in range(args.rounds):
                with db.connect(url) as conn:
                    conn.execute(RESET_SQL)
                    conn.execute("VACUUM ANALYZE bookings")
                    # The reset's own writes would otherwise set off a checkpoint
                    # during the next round, at a different moment in each.
                    conn.execute("CHECKPOINT")
                with app.app_context():
                    started = time.perf_counter()
                    released = release.sweep(NOW, batch)
                    seconds.append(time.perf_counter() - started)
            assert released == args.due, f"released {released}, not the {args.due} due"
            print(f"{label}: released {released} in {statistics.median(seconds):.3f} s "
                  f"(median of {args.rounds}: {', '.join(f'{s:.3f}' for s in seconds)}); "
                  f"target < 1 s: {'met' if statistics.median(seconds) < 1 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
