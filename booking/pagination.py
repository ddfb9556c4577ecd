"""Keyset pagination: a page size, and an opaque cursor naming the last row shown.

Lists that grow (my bookings, a series' occurrences, activity, deliveries,
a webhook's log, the audit log) are read as `WHERE (at, id) > (cursor)` (or
`<`, newest first) and never with OFFSET, so page 1,000 costs what page 1
costs. Every such list goes through `Keyset`:

    page = Keyset(limit, cursor, default=20, most=100, start=FIRST)
    rows = conn.execute(SQL, {..., **page.params()}).fetchall()   # LIMIT %(limit)s
    rows, next_cursor = page.cut(rows, lambda r: (r["start_at"], r["id"]))

The statement asks for one row more than the page holds: if it comes, there
is a next page, and the cursor names the page's last row.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Callable, Sequence, TypeVar

from booking import inputs
from booking.errors import invalid
from booking.times import UTC
from booking.i18n import _

FIRST = (datetime.min.replace(tzinfo=UTC), 0)            # before every row
LAST = (datetime.max.replace(tzinfo=UTC), 2**63 - 1)     # after every row

Row = TypeVar("Row")


class Keyset:
    """One page: its size (`limit`, within 1..most) and the row it starts after."""

    def __init__(self, limit: Any, cursor: str | None, *, default: int, most: int,
                 start: tuple[datetime, int]):
        self.size = default if limit in (None, "") else inputs.integer(limit, "limit", high=most)
        self.after_at, self.after_id = decode(cursor) if cursor else start

    def params(self) -> dict[str, Any]:
        """`after_at`, `after_id` and `limit` (one more row than the page holds)."""
        return {"after_at": self.after_at, "after_id": self.after_id, "limit": self.size + 1}

    def cut(self, rows: Sequence[Row], key: Callable[[Row], tuple[datetime, int]]
            ) -> tuple[list[Row], str | None]:
        """The page's rows, and the cursor of the next page (None on the last)."""
        if len(rows) <= self.size:
            return list(rows), None
        shown = list(rows[:self.size])
        return shown, encode(*key(shown[-1]))


def encode(start: datetime, row_id: int) -> str:
    raw = f"{start.astimezone(UTC).isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start_text, id_text = raw.split("|")
        start = datetime.fromisoformat(start_text)
        if start.tzinfo is None:
            raise ValueError
        return start, int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", _("cursor is not one this API gave out.")) from None
