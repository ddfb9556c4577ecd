"""Account pages: sign in, sign out, and personal API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user

from booking import auth
from booking.account import service
from booking.auth import login_required
from booking.errors import BookingError
from booking.feeds import service as feeds
from booking.http import local_path
from booking.times import COMMON_ZONES
from booking.i18n import NAMES, _

bp = Blueprint("account", __name__)

# A token just made, kept in the session until the account page has shown it once
# (like a flashed message): the form redirects (Post/Redirect/Get), so reloading
# the page makes no second token, and the secret is in no address. The session
# is a cookie Flask signs but does not encrypt: the secret goes in sealed
# (_seal), so a copy of the cookie does not carry a working token.
NEW_TOKEN = "new_token"


def _pad(nonce: bytes) -> bytes:
    """64 bytes only this server can make for `nonce`: HMAC-SHA512 under the
    app's secret key, with a label of its own (a pseudorandom function; a fresh
    random nonce each time, so no pad is used twice)."""
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"booking new token\0" + nonce, hashlib.sha512).digest()


def _seal(secret: str) -> dict[str, str]:
    """`secret` XOR a pad (_pad) of a fresh nonce: unreadable without the secret key."""
    data = secret.encode()
    nonce = secrets.token_bytes(16)
    pad = _pad(nonce)
    assert len(data) <= len(pad), "a token longer than its pad"
    return {"nonce": nonce.hex(), "sealed": bytes(a ^ b for a, b in zip(data, pad)).hex()}


def _unseal(kept: dict[str, str]) -> str | None:
    try:
        nonce, data = bytes.fromhex(kept["nonce"]), bytes.fromhex(kept["sealed"])
        return bytes(a ^ b for a, b in zip(data, _pad(nonce))).decode()
    except (KeyError, TypeError, ValueError):
        return None


def _safe_next(target: str | None) -> str:
    """Only same-site paths (booking.http.local_path): a sign-in link must not send
    people elsewhere."""
    return local_path(target) or url_for("rooms.overview")


@bp.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("account/login.html", email="", next=request.args.get("next", ""),
                           error=None)


@bp.post("/login")
def login_submit():
    email = request.form.get("email", "")
    try:
        auth.sign_in(email, request.form.get("password", ""))
    except BookingError as err:
        return render_template("account/login.html", email=email,
                               next=request.form.get("next", ""), error=err), err.status, \
            err.headers
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    auth.sign_out()
    flash(_("You are signed out."), "success")
    return redirect(url_for("account.login"))


def _page(status: int = 200, cursor: str | None = None, **shown):
    """The account page: tokens (a page of them), preferences, home building, and
    whatever this answer shows besides (a new token, an error by its form)."""
    values = {"new_secret": None, "error": None, "preferences": None, "delegates_error": None,
              "delegates_typed": None, "token_typed": None, **shown}
    return render_template("account/account.html",
                           **service.account_page(current_user, cursor), zones=COMMON_ZONES,
                           languages=NAMES, **values), status


@bp.get("/account")
@login_required
def account():
    new = session.pop(NEW_TOKEN, None)
    secret = _unseal(new) if isinstance(new, dict) else None
    if secret is None:
        return _page(cursor=request.args.get("cursor"))
    page, status = _page(cursor=request.args.get("cursor"), new_secret=secret,
                         new_token={"name": new.get("name")})
    # Shown this once: no cache (nor the browser's history) keeps the secret.
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/account/tokens")
@login_required
def create_token():
    typed = request.form.get("name", "")
    try:
        row, plain = service.create_token(current_user.id, typed, actor=current_user.id)
    except BookingError as err:
        return _page(err.status, error=err, token_typed=typed)
    # The plain token is stored nowhere else: the session keeps it, sealed, for the
    # one view of the account page that shows it (account() takes it out).
    session[NEW_TOKEN] = {"name": row["name"], **_seal(plain)}
    return redirect(url_for("account.account"))


@bp.post("/account/calendar")
@login_required
def reset_calendar():
    feeds.reset_calendar_url(current_user)
    flash(_("Your calendar link changed; the old one no longer works."), "success")
    return redirect(url_for("account.account"))


@bp.post("/account/mail")
@login_required
def set_mail():
    on = service.set_mail(current_user, "mail_enabled" in request.form)
    flash(_("You will get mail about your bookings.") if on
          else _("You will no longer get mail about your bookings."), "success")
    return redirect(url_for("account.account"))


@bp.post("/account/preferences")
@login_required
def set_preferences():
    """The language (the browser's, English, German, French), the theme (system, light,
    dark) and the time zone lists are grouped in."""
    form = request.form
    try:
        service.set_preferences(current_user, {"theme": form.get("theme", "auto"),
                                               "timezone": form.get("timezone", "").strip(),
                                               "language": form.get("language", "")})
    except BookingError as err:
        return _page(err.status, error=err, preferences=form)
    flash(_("Your preferences are saved."), "success")
    return redirect(url_for("account.account"))


@bp.post("/account/home")
@login_required
def set_home():
    """The home building: the finder and "Book the best" look there first."""
    try:
        building = service.set_home_building(current_user, request.form.get("home_building"))
    except BookingError as err:
        return _page(err.status, home_error=err)
    flash(_("Your home building is %(building)s.", building=building) if building else
          _("Your home building is where you booked most lately."), "success")
    return redirect(url_for("account.account"))


@bp.post("/account/delegates")
@login_required
def set_delegates():
    """Who may book for me, and change and cancel my bookings (the list replaces the
    one before; empty: nobody)."""
    typed = request.form.get("delegates", "")
    try:
        service.update_account(current_user, {"delegates": typed})
    except BookingError as err:
        return _page(err.status, delegates_error=err, delegates_typed=typed)
    names = ", ".join(d["name"] for d in current_user.delegates)
    flash(_("Your delegates: %(names)s.", names=names) if names else _("You have no delegates."),
          "success")
    return redirect(url_for("account.account"))


@bp.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = service.revoke_token(current_user, token_id)
    flash(_("Token %(name)s revoked.", name=token["name"] or token["prefix"]), "success")
    return redirect(url_for("account.account"))
