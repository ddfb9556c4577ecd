"""What the outbox costs a booking: creation with the outbox trigger on vs off, same run.

    .venv/bin/python -m bench.outbox [--rounds 15] [--per-round 200]

Two identical databases in one throwaway cluster (same schema, rooms, users,
and the same bookings made in the same order), one with the outbox trigger
(`bookings_outbox_insert`) disabled. Bookings alternate between them one at
a time (on, off, off, on, ...), each timed on its own, so whatever else the
machine is doing hits both sides alike. Two measurements:

- request: POST /api/bookings through the whole application (Flask test
  client in-process, bearer token: auth, room, book() — three statements),
  one app per database;
- SQL: the book() statement alone, over one connection per database.

Every creation books a fresh slot (room x day x hour), so all succeed, and
every commit is durable (fsync and synchronous_commit on). Per round, the
cost is (time with outbox) / (time without) - 1; printed: the median over
rounds, the middle half of the rounds, and each side's throughput.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import time
from datetime import datetime, timedelta, timezone

from bench.throwaway import databases
from booking import create_app, db

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=timezone.utc)
ROOMS = 200


def slots():
    """(room, start) pairs, each free: 200 rooms x 170 days x 8 hours."""
    for day, hour, room in itertools.product(range(1, 171), range(9, 17), range(1, ROOMS + 1)):
        start = NOW.replace(hour=0) + timedelta(days=day, hours=hour)   # UTC rooms: 09-17 local
        yield room, start


def setup(url: str, outbox: bool):
    with db.connect(url) as conn:
        conn.execute("INSERT INTO users (email, name) SELECT 'u' || i || '@example.com', "
                     "'User ' || i FROM generate_series(1, 50) i")
        conn.execute("INSERT INTO rooms (name, capacity, timezone, opens, closes) "
                      "SELECT 'Room ' || i, 6, 'UTC', '08:00', '20:00' "
                      "FROM generate_series(1, %s) i", (ROOMS,))
        if not outbox:
            conn.execute("ALTER TABLE bookings DISABLE TRIGGER bookings_outbox_insert")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "POOL_MIN_SIZE": 1})
    app.extensions["booking.clock"] = lambda: NOW
    from booking.account.service import create_token
    with app.app_context():
        _, token = create_token(1, "bench")
    return app, {"Authorization": f"Bearer {token}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("booking.request").setLevel(logging.ERROR)
    with databases("bench_outbox_on", "bench_outbox_off") as (on_url, off_url):
        sides = {True: setup(on_url, True), False: setup(off_url, False)}
        clients = {on: (app.test_client(), headers) for on, (app, headers) in sides.items()}
        conns = {True: db.connect(on_url), False: db.connect(off_url)}

        def by_request(on: bool, room: int, start: datetime) -> None:
            client, headers = clients[on]
            r = client.post("/api/bookings", headers=headers, json={
                "room_id": room, "title": "Bench", "start_time": start.isoformat(),
                "end_time": (start + timedelta(minutes=45)).isoformat()})
            assert r.status_code == 201, r.get_json()

        def by_sql(on: bool, room: int, start: datetime) -> None:
            rows = conns[on].execute("SELECT kind FROM book(%s, 1, 'Bench', %s, %s)",
                                     (room, [start], [start + timedelta(minutes=45)])).fetchall()
            assert rows[0]["kind"] == "created"

        free = slots()
        for label, book in (("request (POST /api/bookings)", by_request),
                            ("SQL (book() alone)", by_sql)):
            for _ in range(25):                       # warm up both sides
                room, start = next(free)
                book(True, room, start)
                book(False, room, start)
            costs, totals = [], {True: 0.0, False: 0.0}
            for _ in range(args.rounds):
                spent = {True: 0.0, False: 0.0}
                for i in range(args.per_round):
                    room, start = next(free)
                    for on in ((True, False) if i % 2 == 0 else (False, True)):
                        started = time.perf_counter()
                        book(on, room, start)
                        spent[on] += time.perf_counter() - started
                costs.append((spent[True] / spent[False] - 1) * 100)
                totals[True] += spent[True]
                totals[False] += spent[False]
            costs.sort()
            made = args.rounds * args.per_round
            print(f"{label}: the outbox costs {statistics.median(costs):+.1f}% per booking "
                  f"(median of {args.rounds} rounds of {args.per_round} pairs; middle half "
                  f"{costs[len(costs) // 4]:+.1f}% to {costs[(3 * len(costs)) // 4]:+.1f}%); "
                  f"on {made / totals[True]:,.0f}/s, off {made / totals[False]:,.0f}/s",
                  flush=True)
        counts = {on: c.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"]
                  for on, c in conns.items()}
        print(f"(events written: {counts[True]:,} with the outbox on, {counts[False]:,} off)")
        for conn in conns.values():
            conn.close()
        for app, _ in sides.values():
            app.extensions["booking.pool"].close()


if __name__ == "__main__":
    main()
