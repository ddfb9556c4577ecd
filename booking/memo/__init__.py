"""Everything a process remembers between requests, and how each is forgotten.

Nothing here is shared between processes or outlives one (no external
cache). What is kept, why (docs/performance.md has the measurements), and
what makes it go:

| kept (module)                       | saves                              | forgotten when                       |
|-------------------------------------|------------------------------------|--------------------------------------|
| who a session or token is (users)   | the sign-in statement per request  | `auth` heard on the channel; expiry  |
| the rooms overview (overview)       | 3 index probes per room            | `overview` version moves; new minute |
| every room and its policy (rooms)   | reading 500 rooms per search; the  | `rooms` version moves                |
|   (the finder, create, edit)        | room and policy of a booking       |                                      |
| checked session cookies (pages)     | an HMAC per request                | the cookie expires; bounded          |
| signed CSRF tokens (pages)          | two HMACs per page                 | bounded                              |
| links alike on every page (pages)   | url_for per menu link              | bounded                              |
| a door panel's QR code (pages)      | encoding it: 6 ms per room and day | bounded (the link changes daily)     |
| the OpenAPI document (pages)        | encoding, gzip and ETag of 100 KB  | never (it is code)                   |
| Prometheus series (metric_series)   | three label lookups per request    | bounded                              |
| planning boards (board)             | 500 index probes and the drawing   | `board` version moves; bounded       |

Two primitives (kept.py): `Kept`, a value valid at one version, and
`Bounded`, a map with a size limit and per-entry expiry. One invalidation
channel (channel.py): every change goes through the SQL function
memo_changed(name, detail) (sql/011_memo.sql), which bumps that name's
version in `memo_versions` and sends NOTIFY booking_memo. What must be exact
across processes reads its version in the statement that serves it
(overview, rooms, board); what runs no statement (users) trusts the
notifications. The board's version is bumped without a notification
(sql/015_board_memo.sql): nobody listens for it.

    memo.of(app).users, memo.current().rooms, ...
"""

from __future__ import annotations

from flask import Flask, current_app

from booking.memo.board import Board
from booking.memo.channel import Channel
from booking.memo.kept import Bounded
from booking.memo.overview import Overview
from booking.memo.pages import Pages
from booking.memo.rooms import Rooms
from booking.memo.users import Users

EXTENSION = "booking.memo"
MOST_METRIC_SERIES = 1_000


class Memo:
    """One process's remembered things."""

    def __init__(self, listen_url: str | None, auth_seconds: float):
        self.channel = Channel(listen_url)
        self.users = Users(self.channel, auth_seconds)
        self.overview = Overview()
        self.rooms = Rooms()
        self.pages = Pages()
        # Prometheus series per (method, route, status): booking/metrics.py.
        self.metric_series: Bounded[tuple, tuple] = Bounded(MOST_METRIC_SERIES)
        self.board = Board()
        self.channel.on("overview", self.overview.forget)
        self.channel.on("rooms", self.rooms.forget)

    def close(self) -> None:
        self.channel.close()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Memo(app.config["LISTEN_DATABASE_URL"],
                                     app.config["AUTH_CACHE_SECONDS"])


def of(app: Flask) -> Memo:
    return app.extensions[EXTENSION]


def current() -> Memo:
    """This app's memo (inside a request or app context)."""
    return current_app.extensions[EXTENSION]
