"""Approvals: requests in rooms whose policy has approval_required.

A request is a booking (or a series, asked once) with status `pending`: it
holds its slot until an approver decides it or it expires (sql/043). The
room's approvers are the members of its policy's `approvers` groups, and
administrators. `pending()` lists what the caller may decide; `decide()`
approves or rejects one in one statement (decide_request(), race-free: of two
simultaneous decisions one wins, the other is 409 not_pending).

Approvers are mailed when a request arrives, with one-tap links: each link
carries a token signed with SECRET_KEY naming the request, the approver and
the decision (`tap_token`). Opening it shows the request and one button; the
decision is the POST of that button, not the GET, because mail scanners
fetch every link in a mail to look at it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from booking import db, inputs, pagination
from booking.auth import User
from booking.errors import BookingError, invalid, not_found
from booking.i18n import _
from booking.finder import service as finder

DEFAULT_PAGE, MOST = 50, 200
DECISIONS = {"approve": "confirmed", "reject": "rejected"}
REASON_MOST = 500

# bookings_pending, read forward from the cursor (oldest first: those expire
# first): one row per single request and one per series (its first pending
# occurrence; bookings_series), for rooms the caller may decide (the policy of
# each, resolved per request: pending requests are few).
PENDING_SQL = """
SELECT booking_json(v) AS booking, v.created_at, v.id,
       (SELECT series_json(s) FROM series s WHERE s.id = v.series_id) AS series,
       CASE WHEN v.series_id IS NULL THEN 1 ELSE
            (SELECT count(*) FROM bookings o
              WHERE o.series_id = v.series_id AND o.status = 'pending'
                AND o.cancelled_at IS NULL)::int END AS occurrences,
       rfc3339(least(coalesce(v.updated_at, v.created_at) + %(after)s, v.start_at),
               v.timezone) AS expires_at
  FROM booking_api v
 WHERE v.status = 'pending' AND v.cancelled_at IS NULL
   AND (v.created_at, v.id) > (%(after_at)s, %(after_id)s)
   AND (v.series_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM bookings o
         WHERE o.series_id = v.series_id AND o.status = 'pending' AND o.cancelled_at IS NULL
           AND o.start_at < v.start_at))
   AND may_approve(room_policy(v.room_id), %(admin)s, %(groups)s::bigint[])
 ORDER BY v.created_at, v.id
 LIMIT %(limit)s"""

DECIDE_SQL = """
SELECT outcome, booking
  FROM decide_request(%(booking)s, %(series)s, %(actor)s, %(decision)s, %(reason)s)"""

# What a one-tap link shows: the request (bookings_pkey, or the series' first
# occurrence by bookings_series) and whether it still waits.
TAP_SQL = """
SELECT booking_json(v) AS booking, v.status = 'pending' AND v.live AS waiting,
       (SELECT series_json(s) FROM series s WHERE s.id = v.series_id) AS series,
       (SELECT u.name FROM users u WHERE u.id = %(approver)s AND u.active) AS approver
  FROM booking_api v
 WHERE (v.id = %(booking)s OR (v.series_id = %(series)s))
 ORDER BY v.status = 'pending' AND v.live DESC, v.start_at
 LIMIT 1"""


def pending(user: User, limit: Any = None, cursor: str | None = None) -> dict[str, Any]:
    """{"requests": [{booking, series, occurrences, expires_at}], "next_cursor"}: the
    requests waiting for a decision that `user` may decide, oldest first."""
    page = pagination.Keyset(limit, cursor, default=DEFAULT_PAGE, most=MOST,
                             start=pagination.FIRST)
    with db.connection() as conn:
        rows = conn.execute(PENDING_SQL, {
            "admin": user.is_admin, "groups": list(user.groups or ()),
            "after": timedelta(hours=current_app.config["APPROVAL_EXPIRES_HOURS"]),
            **page.params()}).fetchall()
    rows, next_cursor = page.cut(rows, lambda r: (r["created_at"], r["id"]))
    return {"requests": [{"booking": r["booking"], "series": r["series"],
                          "occurrences": r["occurrences"], "expires_at": r["expires_at"]}
                         for r in rows], "next_cursor": next_cursor}


def reason_of(data: Mapping[str, Any] | None) -> str | None:
    """The optional {"reason"} of a decision: up to 500 characters."""
    data = data or {}
    inputs.only(data, {"reason"})
    reason = data.get("reason")
    if reason in (None, ""):
        return None
    return inputs.text(reason, "reason", low=0, high=REASON_MOST) or None


def decide(user_id: int, action: str, booking_id: int | None = None,
           series_id: int | None = None, reason: str | None = None) -> dict[str, Any]:
    """Approve or reject a request (`action`: approve | reject): the booking as it is
    now. 404, 403 (not an approver of the room), 409 not_pending."""
    with db.connection() as conn:
        row = conn.execute(DECIDE_SQL, {"booking": booking_id, "series": series_id,
                                        "actor": user_id, "decision": DECISIONS[action],
                                        "reason": reason}).fetchone()
    if row["outcome"] == "not_found":
        raise not_found(_("That booking does not exist."))
    if row["outcome"] == "forbidden":
        raise BookingError("forbidden", _("Only the room's approvers (and administrators) can "
                                          "decide this request."))
    if row["outcome"] == "not_pending":
        status = row["booking"]["status"]
        raise BookingError("not_pending", _("This booking is not waiting for a decision: it "
                                            "is %(status)s.", status=status),
                           details={"status": status})
    return row["booking"]


# -- one-tap links -------------------------------------------------------------------

SALT = "booking.approval-tap"


def _signer(config: Mapping[str, Any]) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config["SECRET_KEY"], salt=SALT)


def tap_token(config: Mapping[str, Any], approver_id: int, action: str,
              booking_id: int | None = None, series_id: int | None = None) -> str:
    """A token for one approver's one decision on one request (a booking, or a
    series as a whole)."""
    return _signer(config).dumps({"u": approver_id, "a": action, "b": booking_id,
                                  "s": series_id})


def read_token(token: str) -> dict[str, Any]:
    """What a token says; 404 when it is not one we signed, or is older than a
    request can wait (APPROVAL_EXPIRES_HOURS, and a day's grace)."""
    config = current_app.config
    most = timedelta(hours=config["APPROVAL_EXPIRES_HOURS"]) + timedelta(days=1)
    try:
        data = _signer(config).loads(token, max_age=most.total_seconds())
    except BadSignature:
        raise not_found(_("That link is not valid (any more).")) from None
    if not isinstance(data, dict) or data.get("a") not in DECISIONS:
        raise not_found(_("That link is not valid (any more)."))
    return data


def tap_view(token: str) -> dict[str, Any]:
    """What a one-tap link shows: the request, whether it still waits, the decision
    the link makes and for whom."""
    data = read_token(token)
    with db.connection() as conn:
        row = conn.execute(TAP_SQL, {"booking": data["b"], "series": data["s"],
                                     "approver": data["u"]}).fetchone()
    if row is None or row["approver"] is None:
        raise not_found(_("That link is not valid (any more)."))
    return {"booking": row["booking"], "series": row["series"], "waiting": row["waiting"],
            "action": data["a"], "approver": row["approver"]}


def tap_decide(token: str, reason: str | None) -> dict[str, Any]:
    """The decision a one-tap link makes, as the approver it was sent to."""
    data = read_token(token)
    return decide(data["u"], data["a"], booking_id=data["b"], series_id=data["s"],
                  reason=reason)


def may_decide(user: User, booking: Mapping[str, Any]) -> bool:
    """Whether a pending booking's page offers `user` its approve and reject buttons:
    administrators, and members of the room's approvers groups, from this process's
    copy of the rooms (read once if it has none). The decision itself is checked
    in its own statement (DECIDE_SQL)."""
    if booking["status"] != "pending":
        return False
    if user.is_admin:
        return True
    policy = finder.policy_of(booking["room_id"])
    return policy is not None and bool(policy.approvers & frozenset(user.groups or ()))


def may_decide_anything(user: User) -> bool:
    """Whether to show the approvals page in the menu: administrators, and people
    in a group (an approvers group is a group; which rooms it approves for is
    the page's to say)."""
    return user.is_admin or bool(user.groups)


__all__ = ["pending", "decide", "may_decide", "reason_of", "tap_token", "tap_view",
           "tap_decide", "invalid"]
