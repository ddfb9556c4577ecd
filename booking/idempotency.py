"""Idempotency keys: a retried booking books once (sql/007_idempotency_audit.sql).

A booking request may carry `Idempotency-Key` (the booking pages send one
from a hidden field). The booking services then book through `book_once()`,
which claims the key, books and keeps the booking function's answer in the
same statement; a repeat of the request by the same user within 24 hours
gets the first answer again, rebuilt from what was kept, marked with
`Idempotent-Replayed: true`. The same key with a different request is a 422
`idempotency_mismatch`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask import Response, request
from psycopg.types.json import Jsonb

from booking.errors import BookingError, invalid
from booking.i18n import _

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"

BOOK_ONCE_SQL = """
SELECT replayed, same_request, result
  FROM book_once(%(user)s, %(key)s, %(fingerprint)s, %(now)s, %(kind)s, %(args)s)"""

# The same, and when the booking was refused (its room taken: 'busy' rows, and
# no series made), the other rooms the finder offers (booking/finder/service.py
# Alternatives), in the same statement.
REFUSED = ("o.same_request AND NOT o.replayed"
           " AND jsonb_path_exists(o.result, '$[*] ? (@.kind == \"busy\")')"
           " AND NOT jsonb_path_exists(o.result, '$[*] ? (@.kind == \"series\")')")


def _with_alternatives(alternatives) -> str:
    return (f"WITH o AS MATERIALIZED ({BOOK_ONCE_SQL})\n"
            f"SELECT o.replayed, o.same_request, o.result, {alternatives.sql(REFUSED)} "
            "AS alternatives FROM o")


@dataclass
class Key:
    value: str
    replayed: bool = False


def new_key() -> str:
    """A fresh key for a booking form (templates: new_idempotency_key())."""
    return secrets.token_urlsafe(24)


def _checked(value: str, field: str) -> Key:
    if not 1 <= len(value) <= 255 or not all(" " <= ch <= "~" for ch in value):
        raise invalid(field, _("%(header)s is 1 to 255 printable ASCII characters.",
                               header=HEADER))
    return Key(value)


def from_header() -> Key | None:
    """The request's Idempotency-Key, or None; 400 when it is malformed."""
    value = request.headers.get(HEADER)
    return None if value is None else _checked(value, HEADER)


def from_form(form) -> Key | None:
    """The hidden key of a booking form (reported under the header's name)."""
    value = form.get(FORM_FIELD)
    return None if not value else _checked(value, HEADER)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def fingerprint(kind: str, data: Any) -> str:
    """What the request asked for, as a hash: the kind of booking and its body."""
    text = json.dumps([kind, data], sort_keys=True, default=_plain, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def book_once(conn, key: Key, user_id: int, now: datetime, kind: str, request_data: Any,
              args: dict[str, Any], alternatives: Any = None) -> Any:
    """Book through book_once(): the booking function's answer, fresh or kept.

    Sets key.replayed when the answer is the kept one; raises 422
    idempotency_mismatch when the key was used for another request. With
    `alternatives` (a finder.service.Alternatives), a refused booking's answer
    ends with an 'alternatives' row: the finder's answer for other rooms.
    """
    params = {"user": user_id, "key": key.value, "fingerprint": fingerprint(kind, request_data),
              "now": now, "kind": kind,
              "args": Jsonb(args, dumps=lambda v: json.dumps(v, default=_plain))}
    if alternatives is None:
        row = conn.execute(BOOK_ONCE_SQL, params).fetchone()
    else:
        row = conn.execute(_with_alternatives(alternatives),
                           {**params, **alternatives.params()}).fetchone()
    if not row["same_request"]:
        raise BookingError("idempotency_mismatch",
                           _("This Idempotency-Key was already used for a different request."),
                           field=HEADER)
    key.replayed = row["replayed"]
    if row.get("alternatives") is not None and isinstance(row["result"], list):
        return row["result"] + [{"kind": "alternatives", "requested_start": None,
                                 "data": row["alternatives"]}]
    return row["result"]


def rows(result: list[dict] | None) -> list[dict]:
    """book()/book_series() rows back from JSON: requested_start as a datetime again."""
    return [{**r, "requested_start": datetime.fromisoformat(r["requested_start"])
             if r.get("requested_start") else None} for r in result or []]


def mark(response: Response, key: Key | None) -> Response:
    if key is not None and key.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
