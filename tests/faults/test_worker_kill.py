"""A gunicorn worker killed with SIGKILL in the middle of a load of bookings:
the master starts a replacement, every booking a client saw acknowledged is
in the table, and no two live bookings of a room overlap.

The load asks for every slot twice, so the exclusion constraint is at work
while the worker dies.
"""

import os
import signal
import time

from conftest import LiveServer
from faultkit import Load, children, missing_acknowledged, overlaps, wait_until


def test_a_killed_worker_is_replaced_and_nothing_acknowledged_is_lost(database_url, make,
                                                                      tmp_path):
    rooms = [make.room(f"Load {i}", "UTC", opens="00:00", closes="23:59")["id"]
             for i in range(3)]
    tokens = [make.token(make.user(f"Loader {i}")) for i in range(4)]
    server = LiveServer(database_url, tmp_path, workers=2, threads=4)
    load = Load(server.url, tokens, rooms, threads=6, contention=True)
    master = server.process.pid
    try:
        workers = wait_until(lambda: len(w := children(master)) == 2 and w, 30, "two workers")
        load.start()
        wait_until(lambda: load.count(201) >= 20, 60, "bookings before the kill")

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        replaced = wait_until(
            lambda: len(now := children(master)) == 2 and victim not in now and now,
            60, "the master to replace the killed worker")
        assert replaced - workers, "no new worker"
        # The load goes on and is served after the kill.
        wait_until(lambda: load.count(201, after=killed) >= 20, 60, "bookings after the kill")
    finally:
        load.stop()
        server.stop()

    answers = load.snapshot()
    statuses = {a.status for a in answers}
    # 201 or 409 (the slot's other request won); None: the request was on the
    # killed worker and got no answer, which acknowledges nothing; 503 only if
    # a very busy machine keeps the new worker's first connection waiting
    # longer than the pool timeout. Never a 500.
    assert statuses <= {201, 409, 503, None}, sorted(statuses, key=str)
    assert all(a.body["error"]["code"] == "unavailable" for a in answers if a.status == 503)
    assert sum(a.status == 409 for a in answers) > 0, "the load had no contention"
    assert missing_acknowledged(database_url, answers) == []
    assert overlaps(database_url) == []
    print(f"{len(answers)} requests: {sum(a.status == 201 for a in answers)} booked, "
          f"{sum(a.status == 409 for a in answers)} refused, "
          f"{sum(a.status is None for a in answers)} lost with the worker")
