"""Shared by the benchmarks: a throwaway PostgreSQL cluster and a migrated database.

Each benchmark starts its own private cluster in a temporary directory (the
machine's PostgreSQL binaries, as `make test` does), with the settings of a
laptop-sized production server, and removes it afterwards. Run from the
project root: `.venv/bin/python -m bench.reports` (and .outbox, .worker).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from booking import db
from booking.localpg import Cluster


@contextmanager
def databases(*names: str) -> Iterator[list[str]]:
    """Migrated databases `names`, all in one throwaway cluster (so they share its
    disk, WAL and CPU: what slows one down slows the others alike)."""
    root = Path(tempfile.mkdtemp(prefix="booking-bench-pg-", dir="/tmp"))
    cluster = Cluster(root)
    cluster.start("shared_buffers=512MB", "work_mem=64MB", "maintenance_work_mem=512MB",
                  "max_wal_size=4GB", "synchronous_commit=on", "fsync=on")
    try:
        urls = [cluster.create_database(name) for name in names]
        for url in urls:
            db.upgrade(url)
        yield urls
    finally:
        cluster.destroy()


@contextmanager
def database(name: str = "bench") -> Iterator[str]:
    with databases(name) as (url,):
        yield url


def timed(fn, repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return seconds


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000
