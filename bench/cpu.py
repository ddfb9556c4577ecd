"""CPU time per request, by process kind, under wrk: where a scenario's cost goes.

Only the server's own gunicorn processes and the bench cluster's PostgreSQL
processes count, so the figures hold even while the machine does other work
(req/s then does not).

Runs each named scenario (a Lua script in bench/lua) against gunicorn with the
production config on the bench database, like `make bench` (run that once
first: it builds the data and bench/out/data.lua), and reads the CPU time of
every process from /proc before and after a 10-second wrk run (after a
4-second warm-up; a scenario that writes is re-armed in between, as `make
bench` does, so that its writes are bookings and not 409s):

    .venv/bin/python -m bench.cpu floor day_json day_html free_rooms

prints, per scenario, req/s and milliseconds of CPU per request spent in the
gunicorn workers (Python) and in PostgreSQL. wrk's own CPU is not counted.
"""

from __future__ import annotations

import os
import sys

from bench.run import APP_PORT, FLOOR_PORT, PLAIN_PORT, Server, bench_cluster, rearm, wrk

TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def cpu_ticks(server_pid: int, postmaster_pid: int) -> dict[int, tuple[str, int]]:
    """pid -> (kind, user + system ticks) for this server's gunicorn processes and
    the bench cluster's PostgreSQL processes only: the machine may be running
    other work (tests, other clusters), which must not count."""
    found = {}
    for kind, root in (("gunicorn", server_pid), ("postgres", postmaster_pid)):
        for pid in [root, *_children(root)]:
            found[pid] = (kind, _ticks(pid))
    return found


def postmaster_pid() -> int:
    cluster = bench_cluster()
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


FLOORS = {"floor": (FLOOR_PORT, "bench.floor:app"),
          "floor_plain": (PLAIN_PORT, "bench.floor_plain:app")}


def measure(url: str, scenario: str, seconds: int = 10) -> str:
    port, app = FLOORS.get(scenario, (APP_PORT, "wsgi:app"))
    server = Server(f"cpu-{scenario}", url, port, app=app)
    pg = postmaster_pid()
    try:
        # bench.run's wrk(): a run that writes starts from re-armed data (freed slots,
        # cancellable bookings live again), and the warm-up and the measured run take
        # different slots, so the writes measured are bookings, not 409s.
        # The clean-up's own work is not counted.
        wrk(server, scenario, 64, 4)
        rearm(server, scenario)
        before = cpu_ticks(server.process.pid, pg)
        figures = wrk(server, scenario, 64, seconds, rearmed=True)
        after = cpu_ticks(server.process.pid, pg)
    finally:
        server.stop()
    rps = figures["rps"]
    if figures["non_2xx"]:
        print(f"{scenario}: {figures['non_2xx']} unexpected answers", file=sys.stderr)
    spent: dict[str, int] = {}
    for pid, (kind, ticks) in after.items():
        spent[kind] = spent.get(kind, 0) + ticks - before.get(pid, (kind, 0))[1]
    per_request = {k: 1000 * v / TICKS / (rps * seconds) for k, v in spent.items()}
    return (f"{scenario:12s} {rps:7.0f} req/s   CPU ms per request: "
            f"gunicorn {per_request.get('gunicorn', 0):.3f}, "
            f"postgres {per_request.get('postgres', 0):.3f}")


def main() -> None:
    url = bench_cluster().url("bench_large")
    for scenario in sys.argv[1:] or ["floor_plain", "floor", "day_json", "day_html"]:
        print(measure(url, scenario), flush=True)


if __name__ == "__main__":
    main()
