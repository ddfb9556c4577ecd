"""What the outbox costs a booking: creation with the outbox trigger on vs off, same run.

    .venv/bin/python -m bench.outbox [--rounds 7] [--per-round 400]

Two measurements, each in alternating rounds (on, off, off, on, ...) on the
same database so drift and noise hit both sides alike:

- request: POST /api/bookings through the whole application (Flask test
  client in-process, bearer token: auth, room, book() — three statements);
- SQL: the book() statement alone, over one connection.

Every creation books a fresh slot (room x day x hour), so all succeed.
"Off" is `ALTER TABLE bookings DISABLE TRIGGER bookings_outbox_insert`.
Prints the median throughput of each side and the cost of the outbox.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import time
from datetime import datetime, timedelta, timezone

from booking import create_app, db
from bench.throwaway import database

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=timezone.utc)
ROOMS = 200


def slots():
    """(room, start) pairs, each free: 200 rooms x 170 days x 8 hours."""
    for day, hour, room in itertools.product(range(1, 171), range(9, 17), range(1, ROOMS + 1)):
        start = NOW.replace(hour=0) + timedelta(days=day, hours=hour)   # UTC rooms: 09-17 local
        yield room, start


def set_outbox(conn, on: bool) -> None:
    conn.execute(f"ALTER TABLE bookings {'ENABLE' if on else 'DISABLE'} TRIGGER bookings_outbox_insert")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=400)
    args = parser.parse_args()
    with database("bench_outbox") as url:
        with db.connect(url) as conn:
            conn.execute("INSERT INTO users (email, name) SELECT 'u' || i || '@example.com', "
                         "'User ' || i FROM generate_series(1, 50) i")
            conn.execute("INSERT INTO rooms (name, capacity, timezone, opens, closes) "
                         "SELECT 'Room ' || i, 6, 'UTC', '08:00', '20:00' "
                         "FROM generate_series(1, %s) i", (ROOMS,))
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "POOL_MIN_SIZE": 1})
        app.extensions["booking.clock"] = lambda: NOW
        logging.getLogger("booking.request").setLevel(logging.ERROR)
        from booking.account.service import create_token
        with app.app_context():
            _, token = create_token(1, "bench")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        free = slots()

        def by_request(n: int) -> None:
            for _ in range(n):
                room, start = next(free)
                r = client.post("/api/bookings", headers=headers, json={
                    "room_id": room, "title": "Bench", "start_time": start.isoformat(),
                    "end_time": (start + timedelta(minutes=45)).isoformat()})
                assert r.status_code == 201, r.get_json()

        def by_sql(conn, n: int) -> None:
            for _ in range(n):
                room, start = next(free)
                rows = conn.execute("SELECT kind FROM book(%s, 1, 'Bench', %s, %s)",
                                    (room, [start], [start + timedelta(minutes=45)])).fetchall()
                assert rows[0]["kind"] == "created"

        with db.connect(url) as admin, db.connect(url) as worker_conn:
            for label, run in (("request (POST /api/bookings)", by_request),
                               ("SQL (book() alone)", lambda n: by_sql(worker_conn, n))):
                run(50)   # warm up
                rates = {True: [], False: []}
                for i in range(args.rounds):
                    for on in ((True, False) if i % 2 == 0 else (False, True)):
                        set_outbox(admin, on)
                        started = time.perf_counter()
                        run(args.per_round)
                        rates[on].append(args.per_round / (time.perf_counter() - started))
                set_outbox(admin, True)
                with_outbox, without = statistics.median(rates[True]), statistics.median(rates[False])
                print(f"{label}: outbox on {with_outbox:,.0f}/s, off {without:,.0f}/s "
                      f"-> the outbox costs {(without / with_outbox - 1) * 100:+.1f}% per booking "
                      f"(median of {args.rounds} rounds of {args.per_round})", flush=True)
            events = admin.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"]
            print(f"({events:,} events written in the 'on' rounds and warm-ups)")
        app.extensions["booking.pool"].close()


if __name__ == "__main__":
    main()
