"""Answers every user shares, kept in each process while their data is unchanged.

The rooms overview is the same for everyone and costs a probe of three
indexes per room; with 500 rooms it is the heaviest read there is. So a
process builds it once per data version and minute and hands the same answer
to everyone until either moves on:

- the version is the sum of `data_versions` (sql/006), which every write to
  bookings or rooms bumps in its own transaction: one cheap statement tells a
  reader whether anything it shows may have changed;
- the minute: what is "on now" and "next" changes only on whole minutes,
  because bookings start and end on them.

An answer also keeps its encoded JSON, its gzip and its ETag, so serving it
again costs neither encoding nor hashing. Nothing here is shared between
processes or outlives one (no external cache).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from typing import Any, Callable, Hashable

import orjson
from flask import Response, current_app, request

from booking import http

VERSION_SQL = "SELECT sum(n)::bigint AS version FROM data_versions"


class Shared:
    """One answer: the data, and its JSON body, gzip and ETag made at most once."""

    def __init__(self, data: Any):
        self.data = data
        self._body: bytes | None = None
        self._gzip: bytes | None = None
        self._etag: str | None = None

    def body(self, wrap: Callable[[Any], Any] = lambda data: data) -> bytes:
        if self._body is None:
            self._body = orjson.dumps(wrap(self.data))
            self._etag = hashlib.sha1(self._body).hexdigest()
        return self._body

    @property
    def etag(self) -> str:
        """The identity body's hash, made with the body (call body() first)."""
        assert self._etag is not None, "body() makes the ETag"
        return self._etag

    def response(self, wrap: Callable[[Any], Any]) -> Response:
        """A 200 with this answer as JSON (gzip when the client takes it), ETag set."""
        body = self.body(wrap)
        response = Response(mimetype="application/json")
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "") \
            and len(body) >= http.GZIP_MIN_BYTES
        if gzipped:
            if self._gzip is None:
                self._gzip = gzip.compress(body, compresslevel=http.GZIP_LEVEL, mtime=0)
            response.set_data(self._gzip)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response.set_data(body)
        response.vary.add("Accept-Encoding")
        response.set_etag(self.etag, weak=gzipped)   # as booking/http.py does
        return response


_lock = threading.Lock()


def get(name: str, key: Hashable, build: Callable[[], Any]) -> Shared:
    """The answer `name` for `key` (data version, minute, ...), built if this app has
    no answer for that key yet. Only the latest key per name is kept."""
    kept: dict[str, tuple[Hashable, Shared]] = current_app.extensions["booking.shared"]
    latest = kept.get(name)
    if latest is not None and latest[0] == key:
        return latest[1]
    answer = Shared(build())
    with _lock:
        kept[name] = (key, answer)
    return answer
