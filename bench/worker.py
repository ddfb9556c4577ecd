"""The delivery worker: throughput to a local receiver, and exactly-once through failures.

    .venv/bin/python -m bench.worker [--events 10000]

1. Throughput: one `flask --app booking worker` process, already running and
   idle; 10,000 bookings are made in one statement (10,000 booking.created
   events, NOTIFY wakes the worker); timed until every webhook delivery to a
   local receiver (a separate process, always 200) is recorded as sent.
2. Exactly once: another 10,000 events, two worker processes side by side,
   a receiver that answers 500 to a random 20% of requests. When every
   delivery is sent, each event id must have exactly one 2xx at the
   receiver, and none may be missing.

Mail is turned off for the bench users (webhooks only).
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from booking import db
from bench.throwaway import database

ROOT = Path(__file__).resolve().parent.parent


def receive(port_queue, log_path: str, failure_rate: float) -> None:
    """A receiver process: log "webhook-id status" per request."""
    lock = threading.Lock()
    log = open(log_path, "a", buffering=1)
    rng = random.Random(8)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                status = 500 if rng.random() < failure_rate else 200
                log.write(f"{self.headers['webhook-id']} {status}\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def start_receiver(log_path: Path, failure_rate: float):
    ports = multiprocessing.Queue()
    process = multiprocessing.Process(target=receive, args=(ports, str(log_path), failure_rate),
                                      daemon=True)
    process.start()
    return process, ports.get(timeout=10)


def start_worker(url: str, var: Path, **settings) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "VAR_DIR": str(var),
           "WEBHOOKS_ALLOW_PRIVATE": "true", **{k: str(v) for k, v in settings.items()}}
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "booking", "worker"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if "worker started" in line:
            break
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process


def make_events(conn, count: int, day_offset: int) -> None:
    """`count` bookings (so `count` booking.created events) in one statement."""
    conn.execute("""
        INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
        SELECT 1 + i %% 100, 1 + i %% 20, 'Bench ' || i,
               '2027-01-01'::timestamptz + (%(offset)s + i / 100) * interval '1 hour',
               '2027-01-01'::timestamptz + (%(offset)s + i / 100) * interval '1 hour'
                                         + interval '30 minutes'
          FROM generate_series(0, %(count)s - 1) i""", {"count": count, "offset": day_offset})


def wait_all_sent(conn, endpoint: int, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = conn.execute("SELECT count(*) AS n FROM deliveries WHERE endpoint_id = %s "
                            "AND status = 'sent'", (endpoint,)).fetchone()["n"]
        if sent == count:
            return
        time.sleep(0.02)
    raise SystemExit(f"only {sent} of {count} delivered within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def add_endpoint(conn, url: str) -> int:
    """A webhook endpoint for booking.created at `url` (a fixed test secret); its id."""
    return conn.execute(
        "INSERT INTO webhook_endpoints (url, events, secret, created_by) VALUES "
        "(%s, '{booking.created}', 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==', 1) RETURNING id",
        (url,)).fetchone()["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="booking-bench-worker-"))
    with database("bench_worker") as url, db.connect(url) as conn:
        conn.execute("INSERT INTO users (email, name, mail_enabled) SELECT 'u' || i || "
                     "'@example.com', 'User ' || i, false FROM generate_series(1, 20) i")
        conn.execute("INSERT INTO rooms (name, capacity, timezone) SELECT 'Room ' || i, 6, 'UTC' "
                     "FROM generate_series(1, 100) i")

        # 1. throughput
        log1 = var / "receiver-ok.log"
        receiver, port = start_receiver(log1, 0.0)
        endpoint = add_endpoint(conn, f"http://127.0.0.1:{port}/ok")
        worker = start_worker(url, var)
        started = time.perf_counter()
        make_events(conn, args.events, 0)
        wait_all_sent(conn, endpoint, args.events)
        elapsed = time.perf_counter() - started
        stop(worker)
        conn.execute("UPDATE webhook_endpoints SET active = false WHERE id = %s", (endpoint,))
        receiver.terminate()
        print(f"1 worker: {args.events:,} events delivered in {elapsed:.1f} s = "
              f"{args.events / elapsed:,.0f} events/s (batch 50, 4 sender threads)", flush=True)

        # 2. exactly once, two workers, 20% failures
        log2 = var / "receiver-flaky.log"
        receiver, port = start_receiver(log2, 0.2)
        endpoint = add_endpoint(conn, f"http://127.0.0.1:{port}/flaky")
        fast_retries = {"WORKER_RETRY_BASE_SECONDS": 0.05, "WORKER_RETRY_MAX_SECONDS": 0.5,
                        "WORKER_MAX_ATTEMPTS": 50}
        workers = [start_worker(url, var, **fast_retries) for _ in range(2)]
        started = time.perf_counter()
        make_events(conn, args.events, 24 * 400)
        wait_all_sent(conn, endpoint, args.events)
        elapsed = time.perf_counter() - started
        for w in workers:
            stop(w)
        receiver.terminate()
        oks, fails = collections.Counter(), 0
        for line in log2.read_text().splitlines():
            msg_id, status = line.split()
            if status == "200":
                oks[msg_id] += 1
            else:
                fails += 1
        ids = {f"evt_{r['id']}" for r in conn.execute(
            "SELECT id FROM outbox WHERE kind = 'booking.created' ORDER BY id DESC LIMIT %s",
            (args.events,))}
        twice = [i for i, n in oks.items() if n > 1]
        missing = ids - set(oks)
        per_worker = conn.execute("SELECT count(*) AS n FROM webhook_attempts "
                                  "WHERE endpoint_id = %s", (endpoint,)).fetchone()["n"]
        print(f"2 workers, receiver failing 20%: {len(oks):,} events arrived "
              f"({fails:,} failed attempts retried, {per_worker:,} attempts logged) in "
              f"{elapsed:.1f} s; delivered twice: {len(twice)}, missing: {len(missing)}",
              flush=True)
        if twice or missing or len(oks) != args.events:
            raise SystemExit("NOT exactly once")
        print("exactly once: every event id arrived with one 2xx, none twice, none missing")


if __name__ == "__main__":
    main()
