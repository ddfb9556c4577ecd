"""The per-request middle: Python CPU per request of the day view's JSON, in-process.

wrk's req/s moves with whatever else the machine runs; the CPU a process
spends per request does not move much. This drives the WSGI apps directly
(no gunicorn, no sockets) against `make bench`'s database, in a process set
up as gunicorn's workers are (prometheus-client in multiprocess mode, the
log line written to a file), and prints the process CPU per request of

- the plainest floor (bench/floor_plain.py), and
- the day view's twin, `GET /api/rooms/<id>/bookings?date=` with a bearer
  token, remembered as after its first request,

and, with `--profile`, the day view's top functions by cumulative time
(SORT=tottime, LINES=60 in the environment change the listing).

`--without PART` (log, gzip, metrics, csrf) measures what one part of the
middle costs: rounds of the day view with the part and without it, taken in
turn (a round each, twelve times), and the medians' difference. A part's
cost inside a request is several times what it costs alone in a loop (the
log line: 6 µs in a loop, ~50 µs in the request), so this is the figure to
go by.

    .venv/bin/python -m bench.middle [--requests 3000] [--profile] [--without log]

Run `make bench` (or `python -m bench.run --only floor_plain`) once first:
it builds the data and bench/out/data.lua.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="booking-middle-"))

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.test import EnvironBuilder  # noqa: E402


def _data() -> dict:
    text = (ROOT / "bench" / "out" / "data.lua").read_text()
    rooms = re.search(r"room_min = (\d+).*?room_max = (\d+)", text, re.S) or \
        re.search(r"room_max = (\d+).*?room_min = (\d+)", text, re.S)
    lo, hi = sorted(int(x) for x in rooms.groups())
    token = re.search(r'"(bk_bench-user[^"]+)"', text).group(1)
    return {"lo": lo, "hi": hi, "token": token}


def _drive(app, paths: list[str], headers: dict[str, str]) -> float:
    """Process CPU seconds per request over `paths`; every answer must be a 200."""
    def start_response(status, _headers, exc_info=None):
        start_response.status = status
    # One environ built by werkzeug, copied with each path: building costs next to nothing,
    # so what is counted is the app's work.
    base = EnvironBuilder(path="/", headers=headers).get_environ()
    environs = []
    for p in paths:
        path, _, query = p.partition("?")
        environs.append({**base, "PATH_INFO": path, "QUERY_STRING": query,
                         "REQUEST_URI": p, "RAW_URI": p})
    started = time.process_time()
    for environ in environs:
        body = app(dict(environ), start_response)
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
        assert start_response.status.startswith("200"), start_response.status
    return (time.process_time() - started) / len(paths)


def _switch(app, part: str):
    """A function that turns `part` of the day view's middle off (True) or back on."""
    import logging

    import booking.http as http
    import booking.metrics as metrics

    hooks = list(app.before_request_funcs[None])
    if part == "log":
        logger = logging.getLogger("booking.request")
        return lambda off: logger.setLevel(logging.ERROR if off else logging.NOTSET)
    if part == "gzip":
        kept = http._gzip
        return lambda off: setattr(http, "_gzip", (lambda *a: None) if off else kept)
    if part == "metrics":
        kept_observe = metrics.observe
        return lambda off: setattr(metrics, "observe",
                                   (lambda *a, **k: None) if off else kept_observe)
    if part == "csrf":
        def switch(off):
            app.before_request_funcs[None] = [
                f for f in hooks if not off or f.__name__ not in ("_csrf", "_panel_fence")]
        return switch
    raise SystemExit(f"--without: log, gzip, metrics or csrf, not {part!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", choices=("floor", "day"),
                        help="drive one app once, nothing printed: for counting instructions "
                             "under valgrind (see docs/performance.md)")
    parser.add_argument("--without", metavar="PART",
                        help="what PART (log, gzip, metrics, csrf) costs the day view")
    args = parser.parse_args()

    from bench.run import SECRET_KEY, bench_cluster
    url = bench_cluster().url("bench_large")
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET_KEY, SLOW_REQUEST_MS="1000000")
    data = _data()
    # The log line goes to a file, as gunicorn's stderr does: written, not dropped
    # (the app's own log handler writes to sys.stderr).
    sys.stderr = open(os.devnull, "w")
    rng = random.Random(1)
    today = date.today()

    def paths(prefix: str) -> list[str]:
        return [f"{prefix}/rooms/{rng.randint(data['lo'], data['hi'])}/bookings?date="
                f"{today + timedelta(days=rng.randint(-300, 70))}" for _ in range(args.requests)]

    from bench import floor_plain
    from wsgi import app
    headers = {"Authorization": f"Bearer {data['token']}", "Accept-Encoding": "gzip"}
    if args.only:
        target, prefix, with_headers = ((floor_plain.app, "/plain", {}) if args.only == "floor"
                                        else (app, "/api", headers))
        _drive(target, paths(prefix), with_headers)
        return 0
    if args.without:
        import statistics
        switch = _switch(app, args.without)
        _drive(app, paths("/api")[:500], headers)
        rounds = {False: [], True: []}
        for _ in range(12):
            for off in (False, True):
                switch(off)
                rounds[off].append(_drive(app, paths("/api")[:600], headers))
        switch(False)
        with_it, without = (statistics.median(rounds[k]) * 1000 for k in (False, True))
        print(f"day view JSON with {args.without} {with_it:.3f} ms, without {without:.3f} ms "
              f"CPU per request: {args.without} costs {with_it - without:.3f} ms")
        return 0
    _drive(floor_plain.app, paths("/plain")[:300], {})        # warm up: pools, prepared plans
    _drive(app, paths("/api")[:300], headers)
    plain = min(_drive(floor_plain.app, paths("/plain"), {}) for _ in range(3))
    day = min(_drive(app, paths("/api"), headers) for _ in range(3))
    print(f"plainest floor  {plain * 1000:.3f} ms CPU per request")
    print(f"day view JSON   {day * 1000:.3f} ms CPU per request ({plain / day:.0%} of the floor's rate)")
    if args.profile:
        import cProfile
        import pstats
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        _drive(app, paths("/api"), headers)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(os.environ.get("SORT", "cumulative")) \
            .print_stats(int(os.environ.get("LINES", "60")))
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
