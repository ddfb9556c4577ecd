"""Notification mail: composed from templates, sent over SMTP or kept as .eml files.

Each mail has a plain-text and an HTML part and, for bookings and series, a
calendar (METHOD:REQUEST or CANCEL) both as the alternative part Outlook
reads and as an `invite.ics` attachment, so calendars add and remove the
meeting themselves. Without SMTP_URL, mail is written to VAR_DIR/mail/ as
.eml files: open them with any mail program to see what would have gone out.
"""

from __future__ import annotations

import os
import smtplib
import email.policy
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from flask import render_template

from booking.events import render
from booking.events.invitations import _pending, _taken_off, invitation
from booking.i18n import _, in_language


@dataclass
class Outgoing:
    delivery_id: int
    event_id: int
    to: str
    message: EmailMessage



# Headers are folded only past RFC 5322's 998 characters: Python 3.11 folding a
# Subject of encoded words at 78 could drop the space between two of them
# ("“expire me”" read "“expireme”"); our subjects stay far below 998.
MAIL_POLICY = email.policy.default.clone(max_line_length=998)

def compose(event: Mapping[str, Any], config: Mapping[str, Any]) -> Outgoing:
    """The mail for one claimed delivery (needs an app context for the templates), in
    its recipient's language (English when they chose none: a mail has no browser)."""
    with in_language(event.get("recipient_language")):
        return _compose(event, config)


def _compose(event: Mapping[str, Any], config: Mapping[str, Any]) -> Outgoing:
    summary = render.summary(event)
    data = render.data(event)
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = _("[Rooms] %(summary)s", summary=summary)
    message["From"] = config["MAIL_FROM"]
    message["To"] = formataddr((event["recipient_name"], event["recipient_email"]))
    message["Date"] = format_datetime(render._moment(event["created_at"]))
    message["Message-ID"] = make_msgid(f"event-{event['event_id']}.{event['id']}")
    message["Auto-Submitted"] = "auto-generated"
    context = {"event": event, "kind": event["kind"], "summary": summary, "data": data,
               "name": event["recipient_name"], "link": _link(event, data, config),
               "taken_off": _taken_off(event, event["recipient_email"]),
               "pending": _pending(event),
               "checkin_link": _checkin_link(event, data),
               "zone": _zone(event, data),
               **_tap_links(event, data, config)}
    message.set_content(render_template("mail/event.txt", **context))
    message.add_alternative(render_template("mail/event.html", **context), subtype="html")
    if event["kind"] in render.KINDS:
        ics, method = invitation(event, config["MAIL_FROM"],
                                 (event["recipient_email"], event["recipient_name"]))
        # Its bytes as icalendar wrote them (base64 keeps their CRLFs), UTF-8, and
        # named so, as the text and HTML parts are: without a charset a client may
        # read a title "Müller" as ASCII or Latin-1.
        message.add_alternative(ics, maintype="text", subtype="calendar",
                                params={"method": method, "charset": "utf-8"})
        message.make_mixed()
        message.add_attachment(ics, maintype="application", subtype="ics",
                               filename="invite.ics")
    return Outgoing(event["id"], event["event_id"], event["recipient_email"], message)


def _link(event: Mapping[str, Any], data: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    base = config["PUBLIC_URL"].rstrip("/")
    if event["kind"] == "approval.requested":
        return f"{base}/approvals"
    if "booking" in data and not data["booking"].get("series_id"):
        return f"{base}/bookings/{data['booking']['id']}"
    if "booking" in data:
        return f"{base}/series/{data['booking']['series_id']}"
    if event["kind"] == "series.release_streak":
        from booking.bookings.reminders import cancel_series_link
        return cancel_series_link(data["series"]["id"], data["series"]["user_id"])
    if "series" in data:
        return f"{base}/series/{data['series']['id']}"
    if event["kind"] == "endpoint.disabled":
        return f"{base}/admin/webhooks/{data.get('endpoint_id')}"
    return base + "/"


def _tap_links(event: Mapping[str, Any], data: Mapping[str, Any],
               config: Mapping[str, Any]) -> dict[str, str]:
    """For an approver told of a request: one-tap approve and reject links, signed
    for them and this request (booking/approvals/service.py)."""
    if event["kind"] != "approval.requested":
        return {}
    from booking.approvals.service import tap_token

    base = config["PUBLIC_URL"].rstrip("/")
    which = ({"series_id": data["series"]["id"]} if "series" in data
             else {"booking_id": data["booking"]["id"]})
    return {f"{action}_link": f"{base}/approvals/tap/"
            + tap_token(config, event["recipient_id"], action, **which)
            for action in ("approve", "reject")}


def _zone(event: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    """The room's time zone, which every time in a booking's or series' mail is in
    (an invitee may read it elsewhere); None for mail about no room."""
    if "booking" not in data and "series" not in data:
        return None
    return event.get("timezone")


def _checkin_link(event: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    """A reminder of a booking in a check-in room carries its one-tap check-in link."""
    if event["kind"] != "booking.reminder" or not data.get("checkin_required"):
        return None
    from booking.bookings.reminders import checkin_link
    return checkin_link(data["booking"]["id"], data["booking"]["user_id"])


# -- sending ------------------------------------------------------------------------

def send(batch: list[Outgoing], config: Mapping[str, Any]) -> list[str | None]:
    """Send every mail of a batch over one connection; per mail, None or the error."""
    if not batch:
        return []
    if not config.get("SMTP_URL"):
        return [_write_eml(item, Path(config["VAR_DIR"]) / "mail") for item in batch]
    try:
        client = _connect(config["SMTP_URL"], timeout=config["WEBHOOK_TIMEOUT_SECONDS"] * 2)
    except (OSError, smtplib.SMTPException) as exc:
        return [f"SMTP server unreachable: {exc}"] * len(batch)
    results: list[str | None] = []
    try:
        for item in batch:
            try:
                refused = client.send_message(item.message, to_addrs=[item.to])
                results.append(f"refused: {refused}" if refused else None)
            except (OSError, smtplib.SMTPException) as exc:
                results.append(f"SMTP error: {exc}")
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return results


def _connect(url: str, timeout: float) -> smtplib.SMTP:
    """smtp:// (STARTTLS when offered), smtp+starttls:// (required), smtps:// (TLS from the start)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtp+starttls", "smtps"):
        raise smtplib.SMTPException(f"SMTP_URL scheme must be smtp, smtp+starttls or smtps, "
                                    f"not {scheme!r}")
    context = ssl.create_default_context()
    host = parts.hostname or "localhost"
    if scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout,
                                                context=context)
    else:
        client = smtplib.SMTP(host, parts.port or (587 if scheme == "smtp+starttls" else 25),
                              timeout=timeout)
        client.ehlo()
        if scheme == "smtp+starttls" or client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
    if parts.username:
        client.login(unquote(parts.username), unquote(parts.password or ""))
    return client


def _write_eml(item: Outgoing, folder: Path) -> str | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{item.event_id:08d}-{item.delivery_id}.eml"
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_bytes(item.message.as_bytes())
        os.replace(tmp, path)   # whole files only, even if two workers race
        return None
    except OSError as exc:
        return f"could not write {folder}: {exc}"
