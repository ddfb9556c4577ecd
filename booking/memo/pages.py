"""What pages remember: checked session cookies, signed CSRF tokens, links alike on
every page, the door panels' QR codes, the OpenAPI document.

None of these depends on the database, so none needs the channel: each is
a bounded map, and what it holds stays true until it expires.
"""

from __future__ import annotations

from booking.memo.kept import Bounded, Kept

MOST_COOKIES = 10_000
MOST_TOKENS = 10_000
MOST_LINKS = 1_000
MOST_QR_CODES = 2_000     # a room's booking link changes daily: two days of 1,000 rooms


class Pages:
    def __init__(self) -> None:
        # A session cookie whose signature was checked -> (its session, when it
        # expires by the app's clock); kept until then.
        self.cookies: Bounded[str, tuple[dict, float]] = Bounded(MOST_COOKIES)
        # A session's raw CSRF token -> that token signed (tokens never expire).
        self.csrf_tokens: Bounded[str, str] = Bounded(MOST_TOKENS)
        # (script root, endpoint, filename) -> the URL: the menu's and static files' links.
        self.links: Bounded[tuple, str] = Bounded(MOST_LINKS)
        # (URL, title) -> the QR code as an SVG image (booking/panels/service.py):
        # encoding one takes 6 ms, and every panel of a room asks for it each day.
        self.qr_codes: Bounded[tuple[str, str], bytes] = Bounded(MOST_QR_CODES)
        # The OpenAPI document as JSON, with its gzip and ETag: made once.
        self.openapi: Kept = Kept()
