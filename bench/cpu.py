"""CPU time per request, by process kind, under wrk: where a scenario's cost goes.

Runs each named scenario (a Lua script in bench/lua) against gunicorn with the
production config on the bench database, like `make bench` (run that once
first: it builds the data and bench/out/data.lua), and reads the CPU time of
every process from /proc before and after a 10-second wrk run:

    .venv/bin/python -m bench.cpu floor day_json day_html free_rooms

prints, per scenario, req/s and milliseconds of CPU per request spent in the
gunicorn workers (Python) and in PostgreSQL. wrk's own CPU is not counted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from bench.run import APP_PORT, FLOOR_PORT, ROOT, Server, bench_cluster

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks() -> dict[str, tuple[str, int]]:
    """pid -> (kind, user + system ticks) for every process."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            command = open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        kind = ("gunicorn" if "gunicorn" in command
                else "postgres" if "postgres" in command or "postgres" in stat else "other")
        found[pid] = (kind, int(fields[11]) + int(fields[12]))
    return found


def measure(url: str, scenario: str, seconds: int = 10) -> str:
    floor = scenario == "floor"
    port = FLOOR_PORT if floor else APP_PORT
    server = Server(f"cpu-{scenario}", url, port, app="bench.floor:app" if floor else "wsgi:app")
    command = ["wrk", "-t2", "-c64", "-s", f"bench/lua/{scenario}.lua", f"http://127.0.0.1:{port}"]
    try:
        subprocess.run(command[:1] + ["-d4s"] + command[1:], capture_output=True, cwd=ROOT)
        before = cpu_ticks()
        out = subprocess.run(command[:1] + [f"-d{seconds}s"] + command[1:], capture_output=True,
                             text=True, cwd=ROOT).stdout
        after = cpu_ticks()
    finally:
        server.stop()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    spent: dict[str, int] = {}
    for pid, (kind, ticks) in after.items():
        spent[kind] = spent.get(kind, 0) + ticks - before.get(pid, (kind, 0))[1]
    per_request = {k: 1000 * v / TICKS / (rps * seconds) for k, v in spent.items()}
    return (f"{scenario:12s} {rps:7.0f} req/s   CPU ms per request: "
            f"gunicorn {per_request.get('gunicorn', 0):.3f}, "
            f"postgres {per_request.get('postgres', 0):.3f}")


def main() -> None:
    url = bench_cluster().url("bench_large")
    for scenario in sys.argv[1:] or ["floor", "day_json", "day_html"]:
        print(measure(url, scenario), flush=True)


if __name__ == "__main__":
    main()
