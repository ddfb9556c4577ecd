"""Who is asking: users, passwords, sessions, API tokens, access decorators.

Two ways in, each one SQL statement per request:
- a browser session: flask-login keeps a random session token in the signed
  session cookie; the `sessions` table holds its hash, so signing out deletes
  the row and the cookie is worthless afterwards;
- `Authorization: Bearer <token>` for integrations: the token's SHA-256 is
  looked up in `api_tokens` (and its last use recorded, at most once a minute).

A request that carries an Authorization header is judged by it alone.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import wraps

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from booking import db
from booking.errors import BookingError, invalid

TOKEN_PREFIX = "bk_"

login_manager = LoginManager()
login_manager.session_protection = None  # server-side sessions do this job


@dataclass
class User:
    """The signed-in user, as flask-login wants it."""
    id: int
    email: str
    name: str
    role: str
    calendar_salt: str | None = None  # personal calendar feed URL (booking.feeds)
    mail_enabled: bool = True         # notification mail (booking.events)
    session_token: str | None = None  # set for browser sessions
    token_id: int | None = None       # set for API token requests

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

    def to_dict(self) -> dict:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role,
                "mail_enabled": self.mail_enabled}


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# -- loading the user --------------------------------------------------------------

# sessions_pkey
USER_BY_SESSION = """
SELECT u.id, u.email, u.name, u.role, u.calendar_salt, u.mail_enabled
  FROM sessions s JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = %s AND s.expires_at > now() AND u.active"""

# api_tokens_token_hash_key; the UPDATE runs only when the last use is stale
USER_BY_TOKEN = """
WITH t AS (
    SELECT id, user_id, last_used_at FROM api_tokens
     WHERE token_hash = %s AND revoked_at IS NULL),
touch AS (
    UPDATE api_tokens a SET last_used_at = now()
      FROM t
     WHERE a.id = t.id
       AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'))
SELECT u.id, u.email, u.name, u.role, u.calendar_salt, u.mail_enabled, t.id AS token_id
  FROM t JOIN users u ON u.id = t.user_id
 WHERE u.active"""


@login_manager.user_loader
def _load_from_session(session_token: str) -> User | None:
    if "Authorization" in request.headers:
        return None  # the header decides; see _load_from_header
    with db.connection() as conn:
        row = conn.execute(USER_BY_SESSION, (hash_token(session_token),)).fetchone()
    if row is None:
        return None
    g.auth_method = "session"
    return User(**row, session_token=session_token)


@login_manager.request_loader
def _load_from_header(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip().startswith(TOKEN_PREFIX):
        return None
    with db.connection() as conn:
        row = conn.execute(USER_BY_TOKEN, (hash_token(token.strip()),)).fetchone()
    if row is None:
        return None
    g.auth_method = "token"
    return User(**row)


@login_manager.unauthorized_handler
def _unauthorized():
    from booking.errors import wants_json

    if wants_json():
        raise BookingError("unauthorized", "Sign in, or send an API token "
                           "(Authorization: Bearer ...).")
    return redirect(url_for("account.login", next=request.full_path.rstrip("?")))


def login_required(view):
    """Signed in (session or token); otherwise 401 for the API, sign-in page for pages."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)
    return wrapper


def admin_required(view):
    """Signed in as an admin; 403 for everyone else who is signed in."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            raise BookingError("forbidden", "Only administrators may do this.")
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


USER_FOR_SIGN_IN = """
SELECT id, email, name, role, calendar_salt, mail_enabled, password_hash FROM users
 WHERE lower(email) = lower(%s) AND active"""

# Also clears this user's expired sessions, so the table does not grow forever.
CREATE_SESSION = """
WITH expired AS (DELETE FROM sessions WHERE user_id = %(user)s AND expires_at < now())
INSERT INTO sessions (token_hash, user_id, expires_at)
VALUES (%(hash)s, %(user)s, now() + make_interval(days => %(days)s))"""

END_SESSION = "DELETE FROM sessions WHERE token_hash = %s"

SIGN_IN_FAILED = "That email and password do not match an account."


def sign_in(email: object, password: object) -> User:
    """Check the credentials and start a new session; BookingError when they are wrong."""
    if not isinstance(email, str) or not email.strip():
        raise invalid("email", "Enter your email address.")
    if not isinstance(password, str) or not password:
        raise invalid("password", "Enter your password.")
    with db.connection() as conn:
        row = conn.execute(USER_FOR_SIGN_IN, (email.strip(),)).fetchone()
    # The password check is slow on purpose; no connection is held meanwhile.
    if row is None or not row["password_hash"]:
        _spend_hash_time(password)
        raise BookingError("unauthorized", SIGN_IN_FAILED, field="password")
    if not check_password_hash(row.pop("password_hash"), password):
        raise BookingError("unauthorized", SIGN_IN_FAILED, field="password")
    token = secrets.token_urlsafe(32)
    with db.connection() as conn:
        conn.execute(CREATE_SESSION, {"hash": hash_token(token), "user": row["id"],
                                      "days": current_app.config["SESSION_DAYS"]})
    user = User(**row, session_token=token)
    session.clear()  # a fresh session: nothing from before sign-in carries over
    login_user(user)
    return user


def sign_out() -> None:
    token = getattr(current_user, "session_token", None)
    if token:
        with db.connection() as conn:
            conn.execute(END_SESSION, (hash_token(token),))
    logout_user()
    session.clear()


def give_up_on_user() -> None:
    """Treat this request as anonymous from here on, without asking the database.

    The error page for an unreachable database must not try to load the
    signed-in user from that database again.
    """
    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
