"""Accounts: users (created from the command line) and personal API tokens."""

from __future__ import annotations

import secrets
from typing import Any, Mapping

import psycopg

from booking import db, inputs
from booking.auth import TOKEN_PREFIX, User, forget, hash_password, hash_token
from booking.errors import BookingError, invalid, not_found
from booking.times import zone

TOKEN_FIELDS = """t.id, t.name, t.prefix, rfc3339(t.created_at, 'UTC') AS created_at,
       rfc3339(t.last_used_at, 'UTC') AS last_used_at,
       rfc3339(t.revoked_at, 'UTC') AS revoked_at"""

CREATE_USER_SQL = """
INSERT INTO users (email, name, password_hash, role)
VALUES (%(email)s, %(name)s, %(password_hash)s, %(role)s)
RETURNING id, email, name, role"""

USER_BY_EMAIL_SQL = "SELECT id, email, name, role FROM users WHERE lower(email) = lower(%s)"

CREATE_TOKEN_SQL = f"""
INSERT INTO api_tokens AS t (user_id, name, token_hash, prefix)
VALUES (%(user)s, %(name)s, %(hash)s, %(prefix)s)
RETURNING {TOKEN_FIELDS}"""

# api_tokens_user
LIST_TOKENS_SQL = f"""
SELECT {TOKEN_FIELDS} FROM api_tokens t
 WHERE t.user_id = %s
 ORDER BY t.revoked_at IS NOT NULL, t.id DESC
 LIMIT 200"""

REVOKE_TOKEN_SQL = f"""
UPDATE api_tokens t SET revoked_at = coalesce(t.revoked_at, now())
 WHERE t.id = %(id)s AND t.user_id = %(user)s
RETURNING {TOKEN_FIELDS}"""


def create_user(email: Any, name: Any, password: Any, admin: bool = False) -> dict[str, Any]:
    email = inputs.text(email, "email", low=3, high=254)
    if "@" not in email.strip("@") or " " in email:
        raise invalid("email", "That does not look like an email address.")
    name = inputs.text(name, "name", high=100)
    if not isinstance(password, str) or len(password) < 8:
        raise invalid("password", "A password has at least 8 characters.")
    values = {"email": email, "name": name, "password_hash": hash_password(password),
              "role": "admin" if admin else "staff"}
    with db.connection() as conn:
        try:
            return conn.execute(CREATE_USER_SQL, values).fetchone()
        except psycopg.errors.UniqueViolation:
            raise BookingError("conflict", "An account with this email already exists.",
                               field="email") from None


def user_by_email(email: str) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(USER_BY_EMAIL_SQL, (email.strip(),)).fetchone()
    if row is None:
        raise not_found(f"An account for {email}")
    return row


def create_token(user_id: int, name: Any) -> tuple[dict[str, Any], str]:
    """A new token: its row, and the plain token (shown once, never stored)."""
    label = inputs.text(name if name is not None else "", "name", low=0, high=100)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.connection() as conn:
        row = conn.execute(CREATE_TOKEN_SQL, {"user": user_id, "name": label,
                                              "hash": hash_token(plain),
                                              "prefix": plain[:len(TOKEN_PREFIX) + 6]}).fetchone()
    return row, plain


def list_tokens(user: User) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return conn.execute(LIST_TOKENS_SQL, (user.id,)).fetchall()


def revoke_token(user: User, token_id: int) -> dict[str, Any]:
    """Revoke one of the user's own tokens (again: no change)."""
    with db.connection() as conn:
        row = conn.execute(REVOKE_TOKEN_SQL, {"id": token_id, "user": user.id}).fetchone()
    forget(user_id=user.id)
    if row is None:
        raise not_found("That token")
    return row


SET_MAIL_SQL = "UPDATE users SET mail_enabled = %(on)s WHERE id = %(user)s RETURNING mail_enabled"


def set_mail(user: User, value: Any) -> bool:
    """Turn notification mail on or off for this user."""
    on = inputs.boolean(value, "mail_enabled")
    with db.connection() as conn:
        user.mail_enabled = conn.execute(SET_MAIL_SQL, {"on": on, "user": user.id}
                                         ).fetchone()["mail_enabled"]
    forget(user_id=user.id)
    return user.mail_enabled


THEMES = ("auto", "light", "dark")

# One statement for every setting sent: what is not sent stays as it is.
SET_PREFERENCES_SQL = """
UPDATE users
   SET mail_enabled = coalesce(%(mail)s, mail_enabled),
       theme = coalesce(%(theme)s, theme),
       timezone = CASE WHEN %(set_zone)s THEN %(zone)s ELSE timezone END
 WHERE id = %(user)s
RETURNING mail_enabled, theme, timezone"""


def set_preferences(user: User, data: Mapping[str, Any]) -> User:
    """Change the settings in `data` (mail_enabled, theme, timezone) in one statement.

    theme: auto (follow the browser), light or dark. timezone: an IANA name, or
    empty/null for the zone most rooms are in. 400 naming the field otherwise;
    nothing changes then.
    """
    inputs.only(data, {"mail_enabled", "theme", "timezone"})
    mail = inputs.boolean(data["mail_enabled"], "mail_enabled") if "mail_enabled" in data else None
    theme = data.get("theme")
    if "theme" in data and theme not in THEMES:
        raise invalid("theme", "theme is auto, light or dark.")
    zone_name = data.get("timezone")
    if zone_name not in (None, ""):
        try:
            zone_name = zone(zone_name).key
        except ValueError:
            raise invalid("timezone", "timezone must be an IANA zone like Europe/Berlin, "
                                      "or empty for the zone most rooms are in.") from None
    if not {"mail_enabled", "theme", "timezone"} & data.keys():
        return user
    with db.connection() as conn:
        row = conn.execute(SET_PREFERENCES_SQL, {
            "mail": mail, "theme": theme, "set_zone": "timezone" in data,
            "zone": zone_name or None, "user": user.id}).fetchone()
    user.mail_enabled, user.theme, user.timezone = (row["mail_enabled"], row["theme"],
                                                    row["timezone"])
    forget(user_id=user.id)
    return user
