"""Who is asking: users, passwords, sessions, API tokens, access decorators.

Two ways in, each one SQL statement per request, or none when this process
remembers the user (booking/memo/users.py):
- a browser session: flask-login keeps a random session token in the signed
  session cookie; the `sessions` table holds its hash, so signing out deletes
  the row and the cookie is worthless afterwards;
- `Authorization: Bearer <token>` for integrations: the token's SHA-256 is
  looked up in `api_tokens` (and its last use recorded, at most once a minute;
  with the auth cache, only when the token is looked up, which a process does
  at least every AUTH_CACHE_SECONDS).

A request that carries an Authorization header is judged by it alone.

Signing in is throttled in PostgreSQL (sql/012_people.sql): from one address
(an IPv6 client by its /64) at most SIGN_IN_MAX_FAILURES attempts within
SIGN_IN_WINDOW_MINUTES, then 429 with Retry-After; for one account no lock
but a growing delay (1 s, 2 s, ... up to SIGN_IN_MAX_DELAY_SECONDS) from its
SIGN_IN_MAX_FAILURES-th failure on, so nobody can lock its owner out. The
POST costs two statements: one claims the attempt (checks both, counts it,
fetches the account) before the password is checked, so simultaneous
guesses cannot all pass the check; one marks it failed or starts the session.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from booking import clock, db, rules
from booking import memo
from booking.errors import BookingError, invalid, render, wants_json
from booking.i18n import _, lazy, ngettext

TOKEN_PREFIX = "bk_"

class _LoginManager(LoginManager):
    # Session protection is off: server-side sessions do its job (a session
    # ends by deleting its row). flask-login would still hash the client's
    # address and user agent on every request before finding it off.
    def _session_protection_failed(self) -> bool:
        return False

    # No "remember me" cookie is ever set (sign-in makes a server-side session,
    # login_user without remember): nothing to refresh or clear after each request.
    def _update_remember_cookie(self, response):
        return response


login_manager = _LoginManager()
login_manager.session_protection = None


@dataclass
class User:
    """The signed-in user, as flask-login wants it."""
    id: int
    email: str
    name: str
    role: str
    calendar_salt: str | None = None  # personal calendar feed URL (booking.feeds)
    mail_enabled: bool = True         # notification mail (booking.events)
    theme: str = "auto"               # auto (the browser's), light or dark (base.html)
    timezone: str | None = None       # where their lists group days; None: the usual zone
    home_building: str | None = None  # chosen on /account (or PATCH /api/me)
    language: str | None = None       # en, de or fr; None: the browser's (booking/i18n.py)
    usual_building: str | None = None # where they booked most lately: the default
    delegates: list = field(default_factory=list)     # [{id, email, name}] they named
    delegate_for: list = field(default_factory=list)  # ids of those who named them
    groups: list[int] | None = None   # the groups they are in (policies' bookers, approvers)
    session_token: str | None = None  # set for browser sessions
    token_id: int | None = None       # set for API token requests
    panel_room: int | None = None     # set for a door panel: the one room it serves

    is_authenticated = True
    is_active = True
    is_anonymous = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str | None:
        # What flask-login stores in the session cookie: not the user id but
        # the session token, so the session can be ended server-side.
        return self.session_token

    @property
    def booker(self) -> rules.Booker:
        """Who books, as the rules see them: an admin books past every policy limit."""
        return rules.Booker(admin=self.is_admin, groups=frozenset(self.groups or ()))

    @property
    def building(self) -> str | None:
        """Where the finder looks first: the home building chosen, or else the
        building of most of their latest bookings (None for a newcomer)."""
        return self.home_building or self.usual_building

    def acts_for(self, owner_id: int) -> bool:
        """Whether they may change and cancel `owner_id`'s bookings: their own, as a
        delegate the owner named, or as an admin. (The statements that write decide
        it again on the row; this only spares a refused request a statement.)"""
        return owner_id == self.id or self.is_admin or owner_id in self.delegate_for

    def to_dict(self) -> dict:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role,
                "delegates": [d["email"] for d in self.delegates],
                "mail_enabled": self.mail_enabled, "theme": self.theme,
                "timezone": self.timezone, "language": self.language,
                "home_building": self.building,
                "home_building_source": "chosen" if self.home_building
                else "most_booked" if self.usual_building else None}


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# -- loading the user --------------------------------------------------------------

# The user's columns, and where they booked most among their latest 50 live
# bookings (bookings_user_start, read backward; rooms_pkey each), the home
# building when none was chosen; and the groups they are in (group_members_user),
# which the rules check against a room's bookers and approvers. Read only when
# this process does not remember the user (memo/users.py), so at most every
# AUTH_CACHE_SECONDS; a change of membership is forgotten at once (sql/040).
USER_COLUMNS = """u.id, u.email, u.name, u.role, u.calendar_salt, u.mail_enabled,
       u.theme, u.timezone, u.home_building, u.language,
       ARRAY(SELECT m.group_id FROM group_members m WHERE m.user_id = u.id
              ORDER BY m.group_id) AS groups,
       (SELECT m.building
          FROM (SELECT r.building FROM bookings b JOIN rooms r ON r.id = b.room_id
                 WHERE b.user_id = u.id AND b.cancelled_at IS NULL
                 ORDER BY b.start_at DESC LIMIT 50) m
         WHERE m.building <> ''
         GROUP BY m.building ORDER BY count(*) DESC, m.building LIMIT 1) AS usual_building,
       -- delegates_pkey: whom they named; delegates_delegate: who named them
       (SELECT coalesce(json_agg(json_build_object('id', x.id, 'email', x.email, 'name', x.name)
                                 ORDER BY lower(x.email)), '[]')
          FROM delegates d JOIN users x ON x.id = d.delegate_id
         WHERE d.user_id = u.id) AS delegates,
       ARRAY(SELECT d.user_id FROM delegates d WHERE d.delegate_id = u.id
              ORDER BY d.user_id) AS delegate_for"""

# sessions_pkey. `seconds_left` bounds how long the auth cache may keep it.
USER_BY_SESSION = f"""
SELECT {USER_COLUMNS},
       extract(epoch FROM s.expires_at - now())::float8 AS seconds_left
  FROM sessions s JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = %s AND s.expires_at > now() AND u.active"""

# api_tokens_token_hash_key. The UPDATE runs only when the last use is a
# minute old, and then commits without waiting for the WAL flush
# (synchronous_commit off, for this transaction only): a read must not wait
# for the disk, and a crash can cost at most the last instant of
# last_used_at. Waiting, requests with the same token would queue behind
# each other's WAL flush on its row lock at every minute's turn. The auth
# cache keeps the token only until the next touch is due (`seconds_left`), so
# a token in use is still looked up, and its use recorded, once a minute.
USER_BY_TOKEN = f"""
WITH t AS (
    SELECT id, user_id, last_used_at FROM api_tokens
     WHERE token_hash = %s AND revoked_at IS NULL),
touch AS (
    UPDATE api_tokens a SET last_used_at = now()
      FROM t
     WHERE a.id = t.id
       AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
       AND set_config('synchronous_commit', 'off', true) = 'off')
SELECT {USER_COLUMNS}, t.id AS token_id,
       CASE WHEN t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'
            THEN 60
            ELSE extract(epoch FROM t.last_used_at + interval '1 minute' - now())::float8
       END AS seconds_left
  FROM t JOIN users u ON u.id = t.user_id
 WHERE u.active"""


# panel_tokens_token_hash_key: a door panel's token, as its room's panel account
# (sql/052_panels.sql), remembered like an API token.
USER_BY_PANEL = f"""
SELECT {USER_COLUMNS}, p.room_id AS panel_room, 60.0::float8 AS seconds_left
  FROM panel_tokens p JOIN users u ON u.id = p.user_id
 WHERE p.token_hash = %s AND p.revoked_at IS NULL AND u.active"""

PANEL_PREFIX = "bkp_"
PANEL_COOKIE = "booking_panel"


def panel_credential(req) -> str | None:
    """A door panel's token in this request (bearer header, or the panel's cookie when
    no header is sent), or None."""
    header = req.headers.get("Authorization")
    if header is not None:
        scheme, _space, token = header.partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token.startswith(PANEL_PREFIX) else None
    token = req.cookies.get(PANEL_COOKIE, "")
    return token if token.startswith(PANEL_PREFIX) else None


def _cache() -> memo.users.Users:
    return memo.current().users


def _user_row(sql: str, token: str) -> dict | None:
    """The user row for a session or API token: remembered, or from the database.

    None once the database was found unreachable in this request (booking.errors
    sets the flag): the error page must not ask it again.
    """
    if g.get("database_unavailable"):
        return None
    key = hash_token(token)
    cache = _cache()
    generation = cache.generation()
    if generation is not None and (row := cache.get(key)) is not None:
        return row
    with db.connection() as conn:
        row = conn.execute(sql, (key,)).fetchone()
    if row is not None:
        cache.keep(key, row, generation, row.pop("seconds_left", None))
    return row


@login_manager.user_loader
def _load_from_session(session_token: str) -> User | None:
    if "Authorization" in request.headers:
        return None  # the header decides; see _load_from_header
    row = _user_row(USER_BY_SESSION, session_token)
    if row is None:
        return None
    g.auth_method = "session"
    return User(**row, session_token=session_token)


@login_manager.request_loader
def _load_from_header(req) -> User | None:
    panel = panel_credential(req)
    if panel is not None:
        row = _user_row(USER_BY_PANEL, panel)
        if row is None:
            return None
        g.auth_method = "panel"
        return User(**row)
    header = req.headers.get("Authorization", "")
    scheme, _space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip().startswith(TOKEN_PREFIX):
        return None
    row = _user_row(USER_BY_TOKEN, token.strip())
    if row is None:
        return None
    g.auth_method = "token"
    return User(**row)


def forget(token: str | None = None, user_id: int | None = None) -> None:
    """Make this process forget a session or token, or a user's every one, at once
    after changing it, without waiting for the change's notification."""
    _cache().forget(hash_token(token) if token else None, user_id)


@login_manager.unauthorized_handler
def _unauthorized():
    if wants_json():
        raise BookingError("unauthorized", _("Sign in, or send an API token "
                                             "(Authorization: Bearer ...)."))
    if "Authorization" in request.headers and _for_clients(request.endpoint):
        # A client's credential that failed (wrong, revoked): the API's answer, which
        # it reports as a failed sign-in; the sign-in page is for browsers.
        return render(BookingError("unauthorized", _("Sign in, or send an API token "
                                                     "(Authorization: Bearer ...).")),
                      as_json=True)
    return redirect(url_for("account.login", next=request.full_path.rstrip("?")))


def for_clients(view):
    """A page that programs ask with a token as well as browsers with a session (a
    room's calendar feed): a token that fails is 401 unauthorized in the API's
    JSON shape, not a redirect to the sign-in page, which a calendar client
    would take for a feed gone wrong. Without an Authorization header it is
    sent to sign in as any page. Put it above login_required."""
    view.for_clients = True
    return view


def _for_clients(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "for_clients", False)


def login_required(view):
    """Signed in (session or token); otherwise 401 for the API, sign-in page for pages."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)
    wrapper.needs_sign_in = True   # (admin_required's wrapper keeps it: functools.wraps)
    return wrapper


def needs_sign_in(endpoint: str | None) -> bool:
    """Whether the route `endpoint` asks who is calling (login_required or
    admin_required); False for the ones open to anyone (the probes, the API's
    document, signing in, a link that is its own credential) and for no route."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "needs_sign_in", False)


def admin_required(view):
    """Signed in as an admin; 403 for everyone else who is signed in."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            raise BookingError("forbidden", _("Only administrators may do this."))
        return view(*args, **kwargs)
    return wrapper


# -- passwords and sessions --------------------------------------------------------

def hash_password(password: str) -> str:
    return generate_password_hash(password)


_dummy_hash: str | None = None


def _spend_hash_time(password: str) -> None:
    """Check against a throwaway hash, so an unknown email costs as long as a known one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_hex(8))
    check_password_hash(_dummy_hash, password)


# Claim the attempt and fetch the account, in one statement: sign_in_claim()
# (sql/012_people.sql) checks the address group's limit and the account's
# delay under a lock each and, if neither holds the attempt back, counts it
# (a pending row) before the password is checked. `throttled_until` is set
# when it was held back. Failures are keyed by the email as typed, account
# or not, so the answer never tells whether an account exists.
# users_email_key for the account.
SIGN_IN_CLAIM = f"""
SELECT c.attempt_id, c.throttled_until, u.password_hash, {USER_COLUMNS}
  FROM sign_in_claim(%(email)s, %(address)s, %(group)s, %(now)s, %(window)s, %(most)s,
                     %(longest)s) c
  LEFT JOIN users u ON lower(u.email) = lower(%(email)s) AND u.active"""

# The claimed attempt was a failure (the audit log records it now, with the
# email as typed: sql/092), and a few expired rows go
# (sign_in_failures_failed_at), so the table holds about one window's worth.
RECORD_FAILURE = """
WITH expired AS (
    DELETE FROM sign_in_failures WHERE id IN (
        SELECT id FROM sign_in_failures WHERE failed_at <= %(now)s - %(window)s
         ORDER BY failed_at LIMIT 10 FOR UPDATE SKIP LOCKED))
UPDATE sign_in_failures SET pending = false, email = %(email)s WHERE id = %(attempt)s"""

# Start the session. Also forgets this account's attempts from this address
# group, the claimed one with them (the owner's own typos; attempts from
# elsewhere still count), and clears the user's expired sessions, so neither
# table grows forever.
CREATE_SESSION = """
WITH expired AS (DELETE FROM sessions WHERE user_id = %(user)s AND expires_at < now()),
forgiven AS (
    DELETE FROM sign_in_failures
     WHERE email_key = lower(%(email)s) AND address_group = %(group)s)
INSERT INTO sessions (token_hash, user_id, expires_at)
VALUES (%(hash)s, %(user)s, now() + make_interval(days => %(days)s))"""

END_SESSION = "DELETE FROM sessions WHERE token_hash = %s"

SIGN_IN_FAILED = lazy("That email and password do not match an account.")


def client_address() -> str:
    """Who is asking, for throttling: the peer, or what TRUSTED_PROXIES say it is."""
    return (request.remote_addr or "unknown")[:100].replace("\x00", "")


def address_group(address: str) -> str:
    """The addresses one client may use, throttled together: an IPv4 address (also
    as ::ffff:a.b.c.d), or an IPv6 address's /64, which one machine gets whole
    (a new address per guess would otherwise be free)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _email_as_typed(email: object) -> str:
    """The email to look up; 400 when it cannot be one (empty, too long, control characters)."""
    if isinstance(email, str):
        email = email.strip()
        if 0 < len(email) <= 254 and not any(
                unicodedata.category(ch) in ("Cc", "Cs") for ch in email):
            return email
    raise invalid("email", _("Enter your email address."))


def sign_in(email: object, password: object) -> User:
    """Check the credentials and start a new session; BookingError when they are wrong
    (401, the same for an unknown email and a wrong password) or when too many
    sign-ins failed lately (429 with Retry-After)."""
    email = _email_as_typed(email)
    if not isinstance(password, str) or not password:
        raise invalid("password", _("Enter your password."))
    config = current_app.config
    now = clock.now()
    address = client_address()
    params = {"email": email, "address": address, "group": address_group(address),
              "now": now, "window": timedelta(minutes=config["SIGN_IN_WINDOW_MINUTES"]),
              "most": max(int(config["SIGN_IN_MAX_FAILURES"]), 1),
              "longest": timedelta(seconds=float(config["SIGN_IN_MAX_DELAY_SECONDS"]))}
    with db.connection() as conn:
        row = conn.execute(SIGN_IN_CLAIM, params).fetchone()
    if row["throttled_until"] is not None:
        raise _throttled(row["throttled_until"] - now)
    # The password check is slow on purpose; no connection is held meanwhile.
    # The attempt already counts, so guesses sent at once are held back by it.
    password_hash = row.pop("password_hash")
    if row["id"] is None or not password_hash:
        _spend_hash_time(password)
        matches = False
    else:
        matches = check_password_hash(password_hash, password)
    if not matches:
        with db.connection() as conn:
            conn.execute(RECORD_FAILURE, {**params, "attempt": row["attempt_id"]})
        raise BookingError("unauthorized", SIGN_IN_FAILED, field="password")
    token = secrets.token_urlsafe(32)
    with db.connection() as conn:
        conn.execute(CREATE_SESSION, {**params, "hash": hash_token(token), "user": row["id"],
                                      "days": config["SESSION_DAYS"]})
    user = User(**{k: row[k] for k in ("id", "email", "name", "role", "calendar_salt",
                                       "mail_enabled", "theme", "timezone", "home_building",
                                       "language", "usual_building", "delegates",
                                       "delegate_for", "groups")},
                session_token=token)
    session.clear()  # a fresh session: nothing from before sign-in carries over
    login_user(user)
    return user


def _throttled(wait: timedelta) -> BookingError:
    """429 with Retry-After: how long until an attempt will be taken again."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 60:
        message = ngettext("Too many failed sign-ins. Please wait %(num)d second and try again.",
                           "Too many failed sign-ins. Please wait %(num)d seconds and try again.",
                           seconds)
    else:
        message = ngettext("Too many failed sign-ins. Please wait %(num)d minute and try again.",
                           "Too many failed sign-ins. Please wait %(num)d minutes and try again.",
                           math.ceil(seconds / 60))
    return BookingError("too_many_requests", message, retry_after=seconds)


def sign_out() -> None:
    token = getattr(current_user, "session_token", None)
    if token:
        with db.connection() as conn:
            conn.execute(END_SESSION, (hash_token(token),))
        forget(token=token)
    logout_user()
    session.clear()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
