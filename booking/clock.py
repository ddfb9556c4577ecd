"""The current instant, as the application sees it.

Everything that asks "what time is it?" asks `now()`, never `datetime.now()`:
the clock is the app's `booking.clock` extension (real time by default), so a
test can stand the whole application at an edge (17:59, the DST weekend)
by replacing one function.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from flask import Flask, current_app

EXTENSION = "booking.clock"


def real_time() -> datetime:
    return datetime.now(timezone.utc)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = real_time


def now() -> datetime:
    """The current instant (aware, UTC) by this app's clock."""
    clock: Callable[[], datetime] = current_app.extensions[EXTENSION]
    return clock()
