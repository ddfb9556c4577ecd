"""SIGTERM to gunicorn while bookings are in flight: the workers stop taking
new requests, finish the ones they have, and exit; every request in flight
gets its whole answer, and the table holds exactly the acknowledged bookings.

To have requests reliably in flight, the test holds a lock that makes their
INSERTs wait, sends SIGTERM, checks that nothing new is accepted, and only
then lets the INSERTs through.
"""

import signal
import threading
from datetime import timedelta

from booking import db
from conftest import LiveServer
from faultkit import Load, call, wait_until

IN_FLIGHT = 4

WAITING_ON_LOCKS = """
SELECT count(*) AS n FROM pg_stat_activity
 WHERE datname = current_database() AND application_name = 'booking'
   AND wait_event_type = 'Lock'"""


def test_sigterm_lets_requests_in_flight_finish(database_url, make, tmp_path):
    room = make.room("Drain", "UTC", opens="00:00", closes="23:59")
    token = make.token(make.user("Late"))
    server = LiveServer(database_url, tmp_path, workers=2, threads=4)
    slots = Load(server.url, [token], [room["id"]])   # only for its slot arithmetic
    answers = [None] * IN_FLIGHT

    def book(i):
        _, start = slots.slot(i)
        answers[i] = call(server.url + "/api/bookings", "POST", token,
                          {"room_id": room["id"], "title": f"In flight {i}",
                           "start_time": start.isoformat(),
                           "end_time": (start + timedelta(minutes=30)).isoformat()},
                          timeout=60)

    threads = [threading.Thread(target=book, args=(i,), daemon=True) for i in range(IN_FLIGHT)]
    try:
        with db.connect(database_url) as locker:
            with locker.transaction():
                # INSERTs take ROW EXCLUSIVE, which waits for this lock.
                locker.execute("LOCK TABLE bookings IN SHARE ROW EXCLUSIVE MODE")
                for thread in threads:
                    thread.start()
                with db.connect(database_url) as watcher:
                    wait_until(lambda: watcher.execute(WAITING_ON_LOCKS).fetchone()["n"]
                               == IN_FLIGHT, 30, "the bookings to wait on the lock")

                server.process.send_signal(signal.SIGTERM)
                log = tmp_path / "gunicorn.log"
                wait_until(lambda: "Handling signal: term" in log.read_text(), 30,
                           "gunicorn to take the signal")
                # New requests are no longer taken: a probe goes unanswered (a
                # worker that has not yet seen the signal may answer one more).
                wait_until(lambda: call(server.url + "/healthz", timeout=2)[0] is None, 60,
                           "the workers to stop accepting")
                # ... while the requests in flight are all still waiting.
                assert all(answer is None for answer in answers)
            # COMMIT: the lock goes, the INSERTs proceed.
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a request in flight never got an answer"
        wait_until(lambda: server.process.poll() is not None, 60, "gunicorn to exit")
    finally:
        server.stop()

    assert server.process.returncode == 0
    assert [status for status, _, _ in answers] == [201] * IN_FLIGHT, answers
    acknowledged = {body["booking"]["id"] for _, body, _ in answers}
    with db.connect(database_url) as conn:
        stored = {r["id"] for r in conn.execute("SELECT id FROM bookings")}
    assert stored == acknowledged   # all of them, and nothing unacknowledged
