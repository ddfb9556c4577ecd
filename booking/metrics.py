"""Prometheus metrics at `/metrics`: requests, latency, SQL statements, the pool.

Under gunicorn every worker is its own process, so the figures are kept in
prometheus-client's multiprocess mode: `gunicorn.conf.py` points
`PROMETHEUS_MULTIPROC_DIR` at a fresh directory before any worker starts,
each worker writes its figures there, and whichever worker answers a scrape
adds them all up. Without that variable (tests, `flask run`) the figures are
this process's own.

Routes are labelled by their URL rule (`/api/rooms/<id:room_id>/bookings`),
never by the path itself, so the number of series stays fixed. `/metrics` is
answered only to addresses in METRICS_ALLOWED; anyone else gets a 404.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest, multiprocess)

from booking.memo.kept import Bounded


bp = Blueprint("metrics", __name__)

REQUESTS = Counter("booking_requests", "Requests answered, by route and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("booking_request_duration_seconds", "Time to answer a request.",
                    ["method", "route", "status"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5))
STATEMENTS = Histogram("booking_sql_statements_per_request", "SQL statements a request sent.",
                       ["route"], buckets=(0, 1, 2, 3, 4, 5, 8))
POOL_TIMEOUTS = Counter("booking_pool_timeouts",
                        "Requests answered 503 because no connection came in time "
                        "(or too many were already waiting).")
# Summed over live workers: the whole server's connections.
POOL_SIZE = Gauge("booking_pool_connections", "Connections open.", multiprocess_mode="livesum")
POOL_IDLE = Gauge("booking_pool_connections_idle", "Connections open and not in use.",
                  multiprocess_mode="livesum")
POOL_WAITING = Gauge("booking_pool_requests_waiting", "Requests waiting for a connection.",
                     multiprocess_mode="livesum")

POOL_EVERY_SECONDS = 1.0
_pool_seen = threading.local()


# The series of each (method, route, status) seen, so a request skips looking
# its labels up three times (3% of the day view's Python): kept in booking/memo,
# handed over by init_app.
_series: Bounded[tuple[str, str, int], tuple] = Bounded(1)


def init_app(series: Bounded[tuple[str, str, int], tuple]) -> None:
    global _series
    _series = series


def observe(method: str, route: str, status: int, seconds: float, statements: int) -> None:
    """Count one answered request (called by booking/http.py for every response)."""
    key = (method, route, status)
    series = _series.get(key)
    if series is None:
        series = _series.put(key, (REQUESTS.labels(method, route, str(status)),
                                   LATENCY.labels(method, route, str(status)),
                                   STATEMENTS.labels(route)))
    series[0].inc()
    series[1].observe(seconds)
    series[2].observe(statements)
    now = time.monotonic()
    if now - getattr(_pool_seen, "at", 0.0) >= POOL_EVERY_SECONDS:
        _pool_seen.at = now
        _record_pool()


def _record_pool() -> None:
    the_pool = current_app.extensions["booking.pool"]
    if the_pool.closed:
        return
    stats = the_pool.get_stats()
    POOL_SIZE.set(stats.get("pool_size", 0))
    POOL_IDLE.set(stats.get("pool_available", 0))
    POOL_WAITING.set(stats.get("requests_waiting", 0))


def _allowed(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net.strip(), strict=False)
               for net in current_app.config["METRICS_ALLOWED"].split(",") if net.strip())


@bp.get("/metrics")
def metrics():
    if not _allowed(request.remote_addr):
        abort(404)
    _record_pool()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry) + generate_latest(_sweep_registry()),
                    mimetype=CONTENT_TYPE_LATEST)


def _sweep_registry() -> CollectorRegistry:
    """The worker's release sweep as the database records it (the worker is another
    process, perhaps on another machine): when the last one succeeded, and how many
    bookings the sweeps released. Alert when the first is old (README, Monitoring)."""
    from booking.bookings import release

    state = release.state()
    registry = CollectorRegistry()

    class Sweeps:
        def collect(self):
            last = GaugeMetricFamily(
                "booking_release_sweep_last_success_timestamp_seconds",
                "When the worker's last release sweep succeeded (Unix time; 0: never).")
            last.add_metric([], state["last_at"].timestamp() if state else 0.0)
            released = CounterMetricFamily(
                "booking_bookings_released", "Bookings released because nobody checked in.")
            released.add_metric([], float(state["released"]) if state else 0.0)
            return [last, released]

    registry.register(Sweeps())
    return registry
