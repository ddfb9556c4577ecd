"""PostgreSQL goes away under load and comes back: the app answers 503 fast
instead of hanging or failing with 500, /readyz says so, and once the server
is back the same gunicorn serves again within seconds, having lost none of
the bookings it acknowledged.

The cluster is this test's own, so stopping it harms no other test.
"""

import time

import pytest

from booking import db
from conftest import Factory, LiveServer
from faultkit import Load, OwnCluster, call, missing_acknowledged, overlaps, wait_until

# The deadlines below are about behaviour, not speed: each sits far above what
# the app takes (so a busy shared machine only makes the test slower, never
# red) and far below what the failure it guards against would take.
POOL_TIMEOUT = 1.0
# How long PostgreSQL stays down, at least.
OUTAGE = 16.0
# A 503 instead of a hang: a request is answered within POOL_TIMEOUT (1 s);
# one that waited for the database instead would wait the whole outage.
# Half the outage is 8 times the pool timeout.
FAST_503 = OUTAGE / 2
# Serving again soon after PostgreSQL is back, because reconnection attempts
# never back off beyond RECONNECT_TIMEOUT (2 s, booking/db.py): about 2 s.
# With backoff doubling without a cap (psycopg's 5-minute reconnect_timeout),
# the next attempt after a 16 s outage comes up to ~15 s after the restart.
RECOVERY = OUTAGE / 2


@pytest.fixture
def own_cluster():
    cluster = OwnCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def world(own_cluster):
    url = own_cluster.cluster.create_database("booking")
    db.upgrade(url)
    with db.connect(url) as conn:
        make = Factory(conn)
        rooms = [make.room(f"Load {i}", "UTC", opens="00:00", closes="23:59")["id"]
                 for i in range(4)]
        tokens = [make.token(make.user(f"Loader {i}")) for i in range(4)]
    return url, rooms, tokens


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_outage_is_503_then_recovers_with_nothing_lost(own_cluster, world, tmp_path,
                                                                mode):
    url, rooms, tokens = world
    server = LiveServer(url, tmp_path, workers=2, threads=4,
                        extra_env={"POOL_TIMEOUT": str(POOL_TIMEOUT)})
    load = Load(server.url, tokens, rooms, threads=4)
    try:
        load.start()
        wait_until(lambda: load.count(201) >= 20, 60, "bookings before the outage")

        # -- PostgreSQL goes away ------------------------------------------------
        own_cluster.stop(mode)
        down = time.monotonic()
        wait_until(lambda: load.count(503, after=down) >= 10, 60, "503s during the outage")
        status, body, headers = wait_until(
            lambda: (r := call(server.url + "/readyz", timeout=20))[0] == 503 and r,
            30, "/readyz to say 503")
        assert body["error"]["code"] == "unavailable" and headers["Retry-After"] == "1"
        assert call(server.url + "/healthz")[0] == 200   # the process itself is fine
        # Stay down long enough for the pool's reconnection delays to grow
        # (1, 2, 4, 8 s ...): with them unbounded, the next attempt would
        # come long after RECOVERY. (The outage's length, not a limit.)
        time.sleep(max(0.0, down + OUTAGE - time.monotonic()))

        # -- and comes back ----------------------------------------------------------
        own_cluster.start()
        up = time.monotonic()
        first = wait_until(
            lambda: next((a for a in load.snapshot() if a.status == 201 and a.started >= up),
                         None), 60, "a booking after the restart")
        recovered_in = first.finished - up
        # Both workers: every readiness probe and booking from now on succeeds.
        wait_until(lambda: load.count(201, after=first.finished) >= 20, 60,
                   "bookings after the restart")
        assert [call(server.url + "/readyz")[0] for _ in range(10)] == [200] * 10
    finally:
        load.stop()
        server.stop()

    answers = load.snapshot()
    log = (tmp_path / "gunicorn.log").read_text()
    statuses = {a.status for a in answers}
    assert statuses <= {201, 503}, sorted(statuses, key=str)   # never 500, never silence
    outage = [a for a in answers if a.status == 503]
    for answer in outage:
        assert answer.body["error"]["code"] == "unavailable"
        assert answer.headers.get("Retry-After") == "1"
    slowest = max(a.seconds for a in outage)
    assert slowest < FAST_503, f"a 503 took {slowest:.1f} s"
    assert recovered_in < RECOVERY, f"served again only {recovered_in:.1f} s after the restart"
    assert missing_acknowledged(url, answers) == []
    assert overlaps(url) == []
    assert "Traceback" not in log and "unhandled error" not in log
    print(f"{mode}: {len(answers)} requests, {len(outage)} answered 503 "
          f"(slowest {slowest:.2f} s), served again {recovered_in:.2f} s after the restart")
