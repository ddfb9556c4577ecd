"""Keyset pagination cursors: an opaque token naming the last row shown.

Lists that grow (my bookings, a series' occurrences) are read as
`WHERE (start_at, id) > (cursor)` and never with OFFSET, so page 1,000 costs
what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from booking.errors import invalid
from booking.times import UTC

FIRST = (datetime.min.replace(tzinfo=UTC), 0)            # before every row
LAST = (datetime.max.replace(tzinfo=UTC), 2**63 - 1)     # after every row


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
        raise invalid("cursor", "cursor is not one this API gave out.") from None
