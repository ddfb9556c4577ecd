"""Settings from the environment, with their types and defaults, in one place.

Nothing else in the application reads `os.environ`. Each setting becomes an
upper-case key of `app.config`; the README's configuration table lists the
same names, defaults and meanings (a test keeps the two in step).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    doc: str
    parse: Callable[[str], Any] = str


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _conninfo(text: str) -> str:
    """A PostgreSQL URL libpq can read. Its parser's own message is not repeated:
    it may quote the URL, password and all."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(text)
    except psycopg.ProgrammingError:
        raise ValueError("not a PostgreSQL URL (postgresql://user:password@host:port/database)"
                         ) from None
    return text


def _threshold(text: str) -> int | None:
    if text.strip().lower() in ("none", "off", "never"):
        return None
    value = int(text)
    if value < 0:
        raise ValueError(f"not a count: {text!r}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None,
            "PostgreSQL connection URL. Unset: the private cluster under `var/pg` "
            "(started by `make run`).", _conninfo),
    Setting("SECRET_KEY", None,
            "Signs session cookies and CSRF tokens. Unset: generated once and kept in "
            "`var/secret_key`."),
    Setting("VAR_DIR", str(PROJECT_ROOT / "var"),
            "Where development state lives: the private cluster, the generated secret key."),
    Setting("POOL_MIN_SIZE", 2, "Connections each worker process keeps open.", int),
    Setting("POOL_MAX_SIZE", 8, "Most connections a worker process opens.", int),
    Setting("POOL_TIMEOUT", 2.0,
            "Seconds a request waits for a free connection before it is answered 503.", float),
    Setting("POOL_MAX_WAITING", 64,
            "Requests allowed to queue for a connection; beyond that, an immediate 503.", int),
    Setting("POOL_CHECK_IDLE_SECONDS", 1.0,
            "A pooled connection idle this long is pinged before use (0: always).", float),
    Setting("DB_PREPARE_THRESHOLD", 5,
            "psycopg prepares a statement on the server after this many uses on one "
            "connection; `none` never prepares (PgBouncer in transaction mode before 1.21).",
            _threshold),
    Setting("LISTEN_DATABASE_URL", None,
            "Where the processes that LISTEN connect (the auth cache in each app process, "
            "the delivery worker): PostgreSQL itself, not a transaction-mode pooler. "
            "Unset: DATABASE_URL.", _conninfo),
    Setting("AUTH_CACHE_SECONDS", 30.0,
            "How long an app process may remember who a session or token belongs to; a "
            "sign-out, revocation or user change is forgotten at once, through NOTIFY "
            "(booking/memo/users.py). 0: look the user up on every request.", float),
    Setting("STATEMENT_TIMEOUT_MS", 5000, "PostgreSQL statement_timeout for app queries.", int),
    Setting("MIN_BOOKING_MINUTES", 15,
            "Shortest booking: the organisation's `min_minutes`, where no area or room "
            "policy sets one.", int),
    Setting("MAX_BOOKING_MINUTES", 240,
            "Longest booking: the organisation's `max_minutes`, where no area or room "
            "policy sets one.", int),
    Setting("BOOKING_WINDOW_DAYS", 180,
            "How far ahead a booking may start: the organisation's `max_days_ahead`, where "
            "no area or room policy sets one.", int),
    Setting("APPROVAL_EXPIRES_HOURS", 48.0,
            "A booking waiting for approval that nobody decides expires after this many "
            "hours (or at its start, if sooner): the delivery worker frees its slot and tells "
            "the requester.", float),
    Setting("ASSIGN_BALANCE_WEIGHT", 5.0,
            "Points of a room's score for being unused this week (that weight x (1 - the "
            "week's utilisation)): among rooms otherwise equally good, the finder and "
            "automatic assignment prefer the less used one. The other weights are fixed: "
            "50 for the building, 30 for the floor, up to 20 for fit. 0: no balancing.",
            float),
    Setting("DEFAULT_OPENS", "09:00", "Opening time of a new room (room-local).", str),
    Setting("DEFAULT_CLOSES", "18:00", "Closing time of a new room (room-local).", str),
    Setting("SESSION_DAYS", 14, "How long a sign-in lasts.", int),
    Setting("SLOW_REQUEST_MS", 200, "Requests slower than this are flagged in the log.", int),
    Setting("SERVER_TIMING", False,
            "Send every response's SQL statements and times in a `Server-Timing` header. "
            "Unset, only admins' responses carry it (to others it says how much work a "
            "request caused).", _bool),
    Setting("METRICS_ALLOWED", "127.0.0.0/8,::1/128",
            "Addresses (comma-separated networks) that may read `/metrics`; others get 404."),
    Setting("SECURE_COOKIES", False,
            "Always mark cookies Secure. Unset, they are Secure on requests that came over "
            "HTTPS (as seen through TRUSTED_PROXIES).", _bool),
    Setting("TRUSTED_PROXIES", 0,
            "How many reverse proxies stand in front of the app; their `X-Forwarded-For` "
            "and `X-Forwarded-Proto` are believed (werkzeug's ProxyFix). 0: those headers "
            "are ignored.", int),
    Setting("SIGN_IN_MAX_FAILURES", 5,
            "Sign-in attempts from one address (an IPv6 client by its /64) within the "
            "window, after which it gets 429 until the oldest leaves the window; and failed "
            "sign-ins for one email after which each further attempt waits (1 s, then "
            "doubling).", int),
    Setting("SIGN_IN_MAX_DELAY_SECONDS", 60.0,
            "The longest an account's next sign-in waits after failures: accounts slow "
            "down, they are never locked.", float),
    Setting("SIGN_IN_WINDOW_MINUTES", 15, "The window in which failed sign-ins count.", int),
    Setting("PUBLIC_URL", None,
            "The site's address as people reach it, for links in mail. Unset: "
            "`http://127.0.0.1:$PORT` (the port gunicorn serves, 8000 unless `PORT` says "
            "otherwise)."),
    Setting("SMTP_URL", None,
            "Mail server: `smtp://user:password@host:25` (STARTTLS when offered), "
            "`smtp+starttls://...:587` (STARTTLS required) or `smtps://...:465` (TLS). "
            "Unset: mail is written as `.eml` files under `var/mail/`."),
    Setting("MAIL_FROM", "Rooms <rooms@localhost>", "Sender of notification mail."),
    Setting("WEBHOOKS_ALLOW_PRIVATE", False,
            "Allow webhook endpoints on loopback, link-local and private addresses "
            "(refused otherwise: server-side request forgery).", _bool),
    Setting("WEBHOOK_TIMEOUT_SECONDS", 5.0,
            "How long a webhook delivery may take in all, connecting and answering included "
            "(the SMTP server gets twice this per step).", float),
    Setting("WEBHOOK_DISABLE_AFTER_HOURS", 24.0,
            "An endpoint failing this long is disabled and its owner told.", float),
    Setting("WORKER_POLL_SECONDS", 10.0,
            "The worker looks for due work at least this often (NOTIFY wakes it sooner).",
            float),
    Setting("WORKER_BATCH", 50, "Deliveries the worker claims at a time.", int),
    Setting("WORKER_THREADS", 4, "Webhook deliveries the worker sends at once.", int),
    Setting("WORKER_MAX_ATTEMPTS", 10,
            "Attempts before a delivery is marked failed (admins can re-send it).", int),
    Setting("WORKER_RETRY_BASE_SECONDS", 30.0,
            "Wait before the first retry; it doubles each time (with jitter).", float),
    Setting("WORKER_RETRY_MAX_SECONDS", 21600.0, "Longest wait between two attempts.", float),
    Setting("CHECKIN_OPENS_MINUTES", 10,
            "How long before a booking's start check-in opens (it closes at the release "
            "time).", int),
    Setting("PANEL_SHOW_TITLES", True,
            "Whether door panels show bookings' titles and who booked (false: just "
            "\"Booked\").", _bool),
    Setting("REMINDER_MINUTES", 15,
            "How long before a booking's start its organiser is reminded by mail (0: no "
            "reminders).", int),
    Setting("RELEASE_BATCH", 2500,
            "Bookings the worker's release sweep releases in one statement (it runs again "
            "at once while there are more).", int),
)

def load(environ: dict[str, str] | None = None, overrides: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    """Read every setting from `environ`, then apply `overrides` (tests use these)."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None or raw == "":
            config[setting.name] = setting.default
        else:
            try:
                config[setting.name] = setting.parse(raw)
            except ValueError as exc:
                raise SystemExit(f"Bad value for {setting.name}: {exc}") from None
    config.update(overrides or {})
    var_dir = Path(config["VAR_DIR"])
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = local_database_url(var_dir)
    if not config["LISTEN_DATABASE_URL"]:
        config["LISTEN_DATABASE_URL"] = config["DATABASE_URL"]
    if not config["PUBLIC_URL"]:
        # Where `make run` serves: PORT=9000 make run must not mail links to :8000.
        config["PUBLIC_URL"] = f"http://127.0.0.1:{_port(environ.get('PORT'))}"
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _stored_secret(var_dir / "secret_key")
    return config


def _port(text: str | None) -> int:
    """gunicorn's PORT (gunicorn.conf.py), which the default PUBLIC_URL follows."""
    if text is None or text.strip() == "":
        return 8000
    try:
        port = int(text)
    except ValueError:
        raise SystemExit(f"Bad value for PORT: {text!r}") from None
    if not 0 < port < 65536:
        raise SystemExit(f"Bad value for PORT: {text!r}")
    return port


def local_database_url(var_dir: Path) -> str:
    """The URL of the private development cluster (see booking.localpg)."""
    from booking.localpg import Cluster

    return Cluster(var_dir / "pg").url("booking")


def _stored_secret(path: Path) -> str:
    """A secret generated on first use and kept, so sessions survive restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)  # atomic: when workers race, the first one wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
