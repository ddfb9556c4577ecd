"""Accounts: users (created from the command line) and personal API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Mapping

import psycopg

from booking import db, inputs, pagination
from booking.auth import TOKEN_PREFIX, User, forget, hash_password, hash_token
from booking.errors import BookingError, from_database, invalid, not_found
from booking.i18n import LANGUAGES, _, field_name, refresh
from booking.times import zone

TOKEN_FIELDS = """t.id, t.name, t.prefix, rfc3339(t.created_at, 'UTC') AS created_at,
       rfc3339(t.last_used_at, 'UTC') AS last_used_at,
       rfc3339(t.revoked_at, 'UTC') AS revoked_at"""

CREATE_USER_SQL = """
INSERT INTO users (email, name, password_hash, role)
VALUES (%(email)s, %(name)s, %(password_hash)s, %(role)s)
RETURNING id, email, name, role"""

# users_email_key. panel_room: the room whose door panels sign in as this account
# (sql/052_panels.sql finds and makes it by this address), NULL for a person.
USER_BY_EMAIL_SQL = """
SELECT id, email, name, role, active,
       substring(lower(email) FROM '^panel-([0-9]+)@panels[.]invalid$') AS panel_room
  FROM users WHERE lower(email) = lower(%s)"""

# Who made it is the audit log's actor (sql/092): the owner on /account and its
# twin, nobody (NULL) from the command line.
CREATE_TOKEN_SQL = f"""
INSERT INTO api_tokens AS t (user_id, name, token_hash, prefix)
SELECT %(user)s, %(name)s, %(hash)s, %(prefix)s
  FROM (SELECT set_config('booking.actor', coalesce(%(actor)s::text, ''), true)) AS actor
RETURNING {TOKEN_FIELDS}"""

# api_tokens_user, read backward from the cursor: newest first, every token
# reachable page by page (a list cut at 200 could hide live tokens behind
# revoked ones). At most 50 are live (sql/012_people.sql).
LIST_TOKENS_SQL = f"""
SELECT {TOKEN_FIELDS}, t.created_at AS made_at FROM api_tokens t
 WHERE t.user_id = %(user)s AND t.id < %(after_id)s
 ORDER BY t.id DESC
 LIMIT %(limit)s"""

# The account page: a page of the user's tokens (api_tokens_user) and the
# buildings one may choose as home (rooms is small: a sequential scan), in one
# statement.
ACCOUNT_PAGE_SQL = f"""
SELECT coalesce((SELECT json_agg(x.building ORDER BY x.building)
                   FROM (SELECT DISTINCT building FROM rooms
                          WHERE active AND building <> '') x), '[]') AS buildings,
       coalesce((SELECT json_agg(t ORDER BY t.id DESC)
                   FROM ({LIST_TOKENS_SQL}) t), '[]') AS tokens"""

MOST_LIVE_TOKENS = 50      # sql/012_people.sql, api_tokens_most_live()
TOKENS_PAGE = 50

REVOKE_TOKEN_SQL = f"""
UPDATE api_tokens t SET revoked_at = coalesce(t.revoked_at, now())
  FROM (SELECT set_config('booking.actor', %(user)s::text, true)) AS actor
 WHERE t.id = %(id)s AND t.user_id = %(user)s
RETURNING {TOKEN_FIELDS}"""


def create_user(email: Any, name: Any, password: Any, admin: bool = False) -> dict[str, Any]:
    email = inputs.email(email, "email")    # as for booked_for, delegates and invitees
    name = inputs.text(name, "name", high=100)
    if not isinstance(password, str) or len(password) < 8:
        raise invalid("password", _("A password has at least 8 characters."))
    values = {"email": email, "name": name, "password_hash": hash_password(password),
              "role": "admin" if admin else "staff"}
    with db.connection() as conn:
        try:
            return conn.execute(CREATE_USER_SQL, values).fetchone()
        except psycopg.errors.UniqueViolation:
            raise BookingError("conflict", _("An account with this email already exists."),
                               field="email") from None


def user_by_email(email: str) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(USER_BY_EMAIL_SQL, (email.strip(),)).fetchone()
    if row is None:
        raise not_found(_("An account for %(email)s does not exist.", email=email))
    return row


def create_token(user_id: int, name: Any, actor: int | None = None
                 ) -> tuple[dict[str, Any], str]:
    """A new token: its row, and the plain token (shown once, never stored).
    `actor`: who made it, for the audit log (None from the command line)."""
    label = inputs.text(name if name is not None else "", "name", low=0, high=100)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with db.connection() as conn:
            row = conn.execute(CREATE_TOKEN_SQL, {"user": user_id, "name": label,
                                                  "actor": actor,
                                                  "hash": hash_token(plain),
                                                  "prefix": plain[:len(TOKEN_PREFIX) + 6]}
                               ).fetchone()
    except psycopg.errors.CheckViolation as exc:   # the 51st live token: 422 too_many_tokens
        raise from_database(exc) or exc from None
    return row, plain


def list_tokens(user: User, limit: Any = None, cursor: str | None = None) -> dict[str, Any]:
    """The user's tokens, newest first: {"tokens", "next_cursor"}."""
    page = pagination.Keyset(limit, cursor, default=TOKENS_PAGE, most=200,
                             start=pagination.LAST)
    with db.connection() as conn:
        rows = conn.execute(LIST_TOKENS_SQL, {"user": user.id, **page.params()}).fetchall()
    rows, next_cursor = page.cut(rows, lambda r: (r["made_at"], r["id"]))
    for row in rows:
        del row["made_at"]
    return {"tokens": rows, "next_cursor": next_cursor}


def account_page(user: User, cursor: str | None = None) -> dict[str, Any]:
    """What /account lists: {"tokens", "next_cursor", "buildings"}, in one statement."""
    page = pagination.Keyset(None, cursor, default=TOKENS_PAGE, most=200, start=pagination.LAST)
    with db.connection() as conn:
        row = conn.execute(ACCOUNT_PAGE_SQL, {"user": user.id, **page.params()}).fetchone()
    tokens, next_cursor = page.cut(row["tokens"], lambda r: (datetime.fromisoformat(r["made_at"]),
                                                             r["id"]))
    for token in tokens:
        del token["made_at"]
    return {"tokens": tokens, "next_cursor": next_cursor, "buildings": row["buildings"]}


def revoke_token(user: User, token_id: int) -> dict[str, Any]:
    """Revoke one of the user's own tokens (again: no change)."""
    with db.connection() as conn:
        row = conn.execute(REVOKE_TOKEN_SQL, {"id": token_id, "user": user.id}).fetchone()
    forget(user_id=user.id)
    if row is None:
        raise not_found(_("That token does not exist."))
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
       timezone = CASE WHEN %(set_zone)s THEN %(zone)s ELSE timezone END,
       language = CASE WHEN %(set_language)s THEN %(language)s ELSE language END
 WHERE id = %(user)s
RETURNING mail_enabled, theme, timezone, language"""


PREFERENCES = frozenset({"mail_enabled", "theme", "timezone", "language"})


def set_preferences(user: User, data: Mapping[str, Any]) -> User:
    """Change the settings in `data` (mail_enabled, theme, timezone, language) in one
    statement.

    theme: auto (follow the browser), light or dark. timezone: an IANA name, or
    empty/null for the zone most rooms are in. language: en, de or fr, or
    empty/null for the browser's. 400 naming the field otherwise; nothing
    changes then.
    """
    inputs.only(data, PREFERENCES)
    return save_preferences(user, checked_preferences(data))


def checked_preferences(data: Mapping[str, Any]) -> dict[str, Any]:
    """The preferences in `data`, checked (400 naming the field); nothing is written."""
    mail = inputs.boolean(data["mail_enabled"], "mail_enabled") if "mail_enabled" in data else None
    theme = data.get("theme")
    if "theme" in data and theme not in THEMES:
        raise invalid("theme", _("theme is auto, light or dark."))
    zone_name = data.get("timezone")
    if zone_name not in (None, ""):
        try:
            zone_name = zone(zone_name).key
        except ValueError:
            raise invalid("timezone", _("%(field)s must be an IANA zone like Europe/Berlin, "
                                        "or empty for the zone most rooms are in.",
                                        field=field_name("timezone"))) from None
    language = data.get("language")
    if language not in (None, "", *LANGUAGES):
        raise invalid("language", _("language is en, de or fr, or empty for the browser's."))
    return {"mail": mail, "theme": theme, "set_zone": "timezone" in data,
            "zone": zone_name or None, "set_language": "language" in data,
            "language": language or None, "any": bool(PREFERENCES & data.keys())}


def save_preferences(user: User, checked: Mapping[str, Any]) -> User:
    """Write what checked_preferences() let through, in one statement."""
    if not checked["any"]:
        return user
    with db.connection() as conn:
        row = conn.execute(SET_PREFERENCES_SQL, {**checked, "user": user.id}).fetchone()
    user.mail_enabled, user.theme, user.timezone, user.language = (
        row["mail_enabled"], row["theme"], row["timezone"], row["language"])
    forget(user_id=user.id)
    if checked["set_language"]:
        refresh()   # what this request says from now on, it says in the new language
    return user


# A building of an active room, spelt as the room has it, whatever the case
# typed; NULL clears the choice (the default is where they booked most).
SET_HOME_SQL = """
WITH chosen AS (
    SELECT min(r.building) AS building FROM rooms r
     WHERE r.active AND r.building <> '' AND lower(r.building) = lower(%(building)s))
UPDATE users u SET home_building = c.building
  FROM chosen c
 WHERE u.id = %(user)s AND (c.building IS NOT NULL OR %(building)s IS NULL)
RETURNING u.home_building"""


def set_home_building(user: User, value: Any) -> str | None:
    """Choose the home building (a building of an active room; 422 unknown_building
    otherwise), or clear it with None or "" (back to where they booked most)."""
    building = None if value in (None, "") else inputs.text(value, "home_building", high=100)
    with db.connection() as conn:
        row = conn.execute(SET_HOME_SQL, {"building": building, "user": user.id}).fetchone()
    if row is None:
        raise BookingError("unknown_building", _("No room that can be booked is in a building "
                                                 "called %(building)s.", building=building),
                           field="home_building")
    user.home_building = row["home_building"]
    forget(user_id=user.id)
    return user.home_building


# -- the whole account at once: PATCH /api/me -------------------------------------------

MOST_DELEGATES = 20

# Every setting PATCH /api/me may send, in one statement, all or nothing: the
# delegates named (users_email_key per address; the set is replaced), the
# home building (a building of an active room, spelt as the room has it) and
# the preferences. An address of no active account or an unknown building
# changes nothing (`ok` is false) and is named in the answer.
SET_ACCOUNT_SQL = """
WITH wanted AS (
    SELECT DISTINCT lower(e) AS email FROM unnest(%(delegates)s::text[]) e),
found AS (
    SELECT u.id, u.email, u.name FROM users u JOIN wanted w ON lower(u.email) = w.email
     WHERE u.active),
missing AS (
    SELECT w.email FROM wanted w
     WHERE NOT EXISTS (SELECT 1 FROM found f WHERE lower(f.email) = w.email)),
chosen AS (
    SELECT min(r.building) AS building FROM rooms r
     WHERE r.active AND r.building <> '' AND lower(r.building) = lower(%(building)s::text)),
ok AS (
    SELECT NOT EXISTS (SELECT 1 FROM missing)
           AND (NOT %(set_home)s OR %(building)s::text IS NULL
                OR (SELECT building FROM chosen) IS NOT NULL) AS ok),
gone AS (
    DELETE FROM delegates d USING ok
     WHERE ok.ok AND %(set_delegates)s AND d.user_id = %(user)s
       AND d.delegate_id NOT IN (SELECT id FROM found)),
added AS (
    INSERT INTO delegates (user_id, delegate_id)
    SELECT %(user)s, f.id FROM found f, ok WHERE ok.ok AND %(set_delegates)s
    ON CONFLICT DO NOTHING),
saved AS (
    UPDATE users u
       SET mail_enabled = coalesce(%(mail)s, u.mail_enabled),
           theme = coalesce(%(theme)s, u.theme),
           timezone = CASE WHEN %(set_zone)s THEN %(zone)s ELSE u.timezone END,
           language = CASE WHEN %(set_language)s THEN %(language)s ELSE u.language END,
           home_building = CASE WHEN %(set_home)s THEN (SELECT building FROM chosen)
                                ELSE u.home_building END
      FROM ok
     WHERE u.id = %(user)s AND ok.ok
    RETURNING u.mail_enabled, u.theme, u.timezone, u.language, u.home_building)
SELECT ok.ok,
       (SELECT coalesce(array_agg(email ORDER BY email), '{}') FROM missing) AS missing,
       (SELECT coalesce(json_agg(json_build_object('id', id, 'email', email, 'name', name)
                                 ORDER BY lower(email)), '[]') FROM found) AS delegates,
       s.mail_enabled, s.theme, s.timezone, s.language, s.home_building
  FROM ok LEFT JOIN saved s ON true"""

ACCOUNT_FIELDS = PREFERENCES | {"home_building", "delegates"}


def update_account(user: User, data: Mapping[str, Any]) -> User:
    """PATCH /api/me: any of mail_enabled, theme, timezone, language, home_building, delegates
    (the addresses of the staff who may book for this user, and change and cancel
    their bookings; the list replaces the one before, [] names none). Everything
    is checked, then written in one statement; a refusal changes nothing."""
    inputs.only(data, ACCOUNT_FIELDS)
    checked = checked_preferences(data)
    building = data.get("home_building")
    building = None if building in (None, "") else inputs.text(building, "home_building",
                                                                high=100)
    delegates = _delegate_addresses(user, data.get("delegates")) if "delegates" in data else []
    with db.connection() as conn:
        row = conn.execute(SET_ACCOUNT_SQL, {
            **checked, "user": user.id, "delegates": delegates,
            "set_delegates": "delegates" in data, "set_home": "home_building" in data,
            "building": building}).fetchone()
    if row["missing"]:
        raise BookingError("unknown_user", _("No active account has the address "
                                             "%(address)s.", address=", ".join(row["missing"])),
                           field="delegates",
                           details={"emails": row["missing"]})
    if not row["ok"]:
        raise BookingError("unknown_building", _("No room that can be booked is in a "
                                                 "building called %(building)s.",
                                                 building=building), field="home_building")
    user.mail_enabled, user.theme, user.timezone, user.language, user.home_building = (
        row["mail_enabled"], row["theme"], row["timezone"], row["language"],
        row["home_building"])
    if "delegates" in data:
        user.delegates = row["delegates"]
    forget(user_id=user.id)
    if checked["set_language"]:
        refresh()   # what this request says from now on, it says in the new language
    return user


def _delegate_addresses(user: User, value: Any) -> list[str]:
    """The delegates' addresses (400 for anything else, or for one's own)."""
    addresses = [] if value is None else inputs.emails(value, "delegates", most=MOST_DELEGATES)
    if any(a.lower() == user.email.lower() for a in addresses):
        raise invalid("delegates", _("You cannot be your own delegate."))
    return addresses
