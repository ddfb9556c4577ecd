"""Probes for load balancers and orchestrators: /healthz and /readyz.

- `/healthz`: the process is alive and answering. Touches nothing else, so a
  database outage never gets healthy workers restarted.
- `/readyz`: this worker can reach the database: one `SELECT 1` on a pooled
  connection (checked on borrow, so a dead server is noticed), waiting at most
  READY_TIMEOUT for it. Otherwise 503 `unavailable` with Retry-After, in the
  usual JSON error shape, so traffic goes elsewhere until it recovers.

No sign-in, no CSRF, never cached. Successful probes are logged at DEBUG
level (booking.request) so they do not drown the request log; a failing
one is logged like any other request.
"""

from __future__ import annotations

import logging

import psycopg
from flask import Blueprint, Response, current_app, jsonify
from psycopg_pool import PoolTimeout, TooManyRequests

from booking import db, errors

bp = Blueprint("health", __name__)
log = logging.getLogger("booking.health")

PROBE_PATHS = frozenset({"/healthz", "/readyz"})

# Seconds /readyz waits for a pooled connection: a probe should answer well
# within a load balancer's own timeout (commonly 2-5 s).
READY_TIMEOUT = 1.0


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz():
    timeout = min(READY_TIMEOUT, current_app.config["POOL_TIMEOUT"])
    try:
        with db.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except (PoolTimeout, TooManyRequests, psycopg.Error) as exc:
        log.warning("not ready: %s: %s", type(exc).__name__, str(exc).strip().replace("\n", " "))
        return _no_store(errors.render(errors.unavailable(), as_json=True))
    return _no_store(jsonify(status="ready"))
