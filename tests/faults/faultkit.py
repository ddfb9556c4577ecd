"""Tools for the fault tests: a booking load that records every answer, waits
with deadlines, a dedicated PostgreSQL cluster, and gunicorn's worker pids.

Nothing here asserts on speed: each wait has a generous deadline so a slow,
shared machine only makes the tests slower, never red, and a hang fails the
test instead of stalling the run.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from booking import db
from booking.localpg import Cluster

UTC = timezone.utc

# Rooms for the load are open 00:00-23:59 UTC; bookings last 30 minutes, so a
# day has 47 slots (the last ends 23:30). The first day is the day after
# tomorrow, so a run that crosses midnight never books in the past.
SLOTS_PER_DAY = 47


def wait_until(condition: Callable[[], object], timeout: float, what: str,
               interval: float = 0.05):
    """Poll `condition` until it is truthy (and return that); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def call(url: str, method: str = "GET", token: str | None = None, body: dict | None = None,
         timeout: float = 20.0) -> tuple[int | None, dict | None, dict]:
    """(status, JSON body, headers); status None when no HTTP answer came at all."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    # An answer cut off mid-body (its worker killed) is no answer: it
    # acknowledged nothing (http.client.IncompleteRead, an HTTPException).
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, _json(response.read()), dict(response.headers)
        except urllib.error.HTTPError as err:
            return err.code, _json(err.read()), dict(err.headers)
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
            OSError):
        return None, None, {}


def _json(raw: bytes) -> dict | None:
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass
class Answer:
    """One booking request of the load, and what came back."""
    room_id: int
    start: datetime
    started: float                 # time.monotonic() when sent
    finished: float
    status: int | None             # None: no HTTP answer (connection reset, refused, timeout)
    body: dict | None
    headers: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def booking_id(self) -> int | None:
        return self.body["booking"]["id"] if self.status == 201 else None


class Load:
    """Threads that book 30-minute slots through the live server until stopped.

    Every slot is distinct, unless `contention` is set: then each slot is
    asked for by two requests (two threads, nearly at once), so the exclusion
    constraint has losers to refuse. Every answer is recorded.
    """

    def __init__(self, base_url: str, tokens: list[str], rooms: list[int], threads: int = 4,
                 contention: bool = False, timeout: float = 20.0):
        self.url = base_url + "/api/bookings"
        self.tokens, self.rooms, self.timeout = tokens, rooms, timeout
        self.contention = contention
        self.first_day = datetime.now(UTC).date() + timedelta(days=2)
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def slot(self, n: int) -> tuple[int, datetime]:
        room = self.rooms[n % len(self.rooms)]
        day, k = divmod(n // len(self.rooms), SLOTS_PER_DAY)
        start = datetime.combine(self.first_day + timedelta(days=day),
                                 datetime.min.time(), tzinfo=UTC) + timedelta(minutes=30 * k)
        return room, start

    def _run(self, i: int) -> None:
        token = self.tokens[i % len(self.tokens)]
        while not self._stop.is_set():
            n = next(self._counter)
            room, start = self.slot(n // 2 if self.contention else n)
            body = {"room_id": room, "title": f"Load {n}", "start_time": start.isoformat(),
                    "end_time": (start + timedelta(minutes=30)).isoformat()}
            started = time.monotonic()
            status, answer, headers = call(self.url, "POST", token, body, timeout=self.timeout)
            with self._lock:
                self.answers.append(Answer(room, start, started, time.monotonic(), status,
                                           answer, headers))
            if status is None or status >= 500:
                time.sleep(0.05)  # a client backs off a little; keeps the log readable

    def start(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 10)
            assert not thread.is_alive(), "a load thread hangs"

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def count(self, status: int | None, after: float = 0.0) -> int:
        """Answers with `status` to requests sent after `after` (a monotonic time)."""
        return sum(1 for a in self.snapshot() if a.status == status and a.started >= after)


# -- checks on the database ----------------------------------------------------------

def missing_acknowledged(url: str, answers: list[Answer]) -> list[Answer]:
    """The 201 answers whose booking is not in the table as acknowledged."""
    acked = [a for a in answers if a.status == 201]
    with db.connect(url) as conn:
        rows = conn.execute("SELECT id, room_id, start_at FROM bookings WHERE id = ANY(%s) "
                            "AND cancelled_at IS NULL",
                            ([a.booking_id for a in acked],)).fetchall()
    stored = {r["id"]: (r["room_id"], r["start_at"]) for r in rows}
    return [a for a in acked if stored.get(a.booking_id) != (a.room_id, a.start)]


OVERLAPS_SQL = """
SELECT a.id, b.id AS other FROM bookings a JOIN bookings b
  ON a.room_id = b.room_id AND a.id < b.id
 AND tstzrange(a.start_at, a.end_at, '[)') && tstzrange(b.start_at, b.end_at, '[)')
 WHERE a.cancelled_at IS NULL AND b.cancelled_at IS NULL"""


def overlaps(url: str) -> list[dict]:
    with db.connect(url) as conn:
        return conn.execute(OVERLAPS_SQL).fetchall()


# -- a PostgreSQL cluster of the test's own, to stop and start ------------------------

class OwnCluster:
    """A cluster that only this test uses, so stopping it harms no other test."""

    SETTINGS = ("fsync=off", "full_page_writes=off", "max_connections=100")

    def __init__(self):
        # /tmp, not pytest's tmp_path: the server user must reach it.
        self.cluster = Cluster(Path(tempfile.mkdtemp(prefix="booking-fault-pg-", dir="/tmp")))

    def start(self) -> None:
        # synchronous_commit stays on: an acknowledged commit is in the WAL,
        # so it survives the server being killed (-m immediate) as well.
        self.cluster.start(*self.SETTINGS)

    def stop(self, mode: str) -> None:
        self.cluster.stop(mode)

    def destroy(self) -> None:
        self.cluster.destroy()


# -- gunicorn's processes -------------------------------------------------------------

def children(pid: int) -> set[int]:
    """The live child processes of `pid` (gunicorn's workers, when pid is the master)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def worker_holding(client_port: int, server_port: int, workers: set[int]) -> int | None:
    """Which of `workers` holds the connection a client made from `client_port` to
    `server_port` (127.0.0.1): the process with the server end of it among its files."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port):
                inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


class Pinned(threading.Thread):
    """A booking request on a connection whose client port is known before it is
    sent (so the worker serving it can be found), and what came back."""

    def __init__(self, base_url: str, token: str, body: dict, timeout: float = 120.0):
        super().__init__(daemon=True)
        host, port = base_url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.connection.connect()
        self.port = self.connection.sock.getsockname()[1]
        self.token, self.body = token, body
        self.status: int | None = None
        self.answer: dict | None = None

    def run(self) -> None:
        try:
            self.connection.request("POST", "/api/bookings", body=json.dumps(self.body),
                                    headers={"Authorization": f"Bearer {self.token}",
                                             "Content-Type": "application/json"})
            response = self.connection.getresponse()
            self.status, self.answer = response.status, _json(response.read())
        except (http.client.HTTPException, OSError):
            self.status = None       # no answer: the worker died with the request
        finally:
            self.connection.close()


def day_after_tomorrow() -> date:
    return datetime.now(UTC).date() + timedelta(days=2)
