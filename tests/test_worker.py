"""The delivery worker: mail (a real SMTP server), webhooks (a real HTTP receiver).

Mail is read back with the standard `email` package and its calendar with
`icalendar`; webhook signatures are checked with the `standardwebhooks`
package, the way receivers check them.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
import standardwebhooks
from aiosmtpd.controller import Controller

from booking import close, create_app
from booking.events.worker import Worker, backoff
from conftest import NOW, UTC, free_port

ROOT = Path(__file__).resolve().parent.parent


# -- a real SMTP server ----------------------------------------------------------------

class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos,
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


class SmtpServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def messages(self):
        return self.inbox.messages


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
    yield server
    server.stop()


# -- a real HTTP receiver ---------------------------------------------------------------

class Receiver:
    """Records every POST; `answer(request_number)` decides the status (200 by default)."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.answer = lambda n: 200
        self.delay = 0.0
        self.during = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    n = len(receiver.requests)
                    receiver.requests.append((dict(self.headers), body))
                if receiver.during:
                    receiver.during()
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.answer(n)
                payload = json.dumps({"received": n}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True      # the receiver is on loopback
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def worker(app):
    w = Worker(app)
    yield w
    w._senders.shutdown(wait=True)


def book(api, room, start="2027-03-02T10:00", end="2027-03-02T11:00", **extra):
    r = api.post("/api/bookings", json={"room_id": room["id"], "title": "Planning",
                                        "start_time": start, "end_time": end, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def calendar_of(message):
    """The invite.ics attachment, parsed; and the alternative text/calendar part's method."""
    attachments = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    assert len(attachments) == 1
    inline = [p for p in message.walk()
              if p.get_content_type() == "text/calendar" and not p.get_filename()]
    assert len(inline) == 1
    calendar = icalendar.Calendar.from_ical(attachments[0].get_content())
    assert inline[0].get_param("method") == str(calendar["METHOD"])
    return calendar


def only_event(calendar):
    (event,) = calendar.walk("VEVENT")
    return event


# -- mail -----------------------------------------------------------------------------------

def test_a_booking_mails_its_owner_an_invitation(api_as, alice, berlin, smtp, worker):
    booking = book(api_as(alice), berlin)["booking"]
    assert worker.run_until_idle() > 0
    ((to, message),) = smtp.messages
    assert to == [alice["email"]]
    assert "Planning" in message["Subject"] and "Spree" in message["Subject"]
    assert message.get_body(("plain",)).get_content().startswith("Hello Alice")
    assert "<strong>Booked" in message.get_body(("html",)).get_content()
    calendar = calendar_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    event = only_event(calendar)
    assert str(event["UID"]) == f"booking-{booking['id']}@booking"
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].dt == datetime.fromisoformat(booking["start_time"])
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Berlin"
    assert str(event["ATTENDEE"]) == f"mailto:{alice['email']}"
    assert worker.run_until_idle() == 0                      # nothing twice
    assert len(smtp.messages) == 1


def test_the_calendar_part_names_its_charset_as_the_text_parts_do(api_as, alice, berlin, smtp,
                                                                   worker):
    """Found by testing: "Content-Type: text/calendar; method="REQUEST"", base64 of UTF-8
    with no charset, which a client may read as ASCII or Latin-1 ("MÃ¼ller")."""
    book(api_as(alice), berlin, title="Planung Müller", notes="Überblick")
    worker.run_until_idle()
    ((_to, message),) = smtp.messages
    parts = {p.get_content_type(): p for p in message.walk() if not p.get_filename()
             and p.get_content_maintype() == "text"}
    assert set(parts) == {"text/plain", "text/html", "text/calendar"}
    for part in parts.values():
        assert part.get_content_charset() == "utf-8", part["Content-Type"]
    calendar = parts["text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert "SUMMARY:Planung Müller" in calendar.get_content()
    assert icalendar.Calendar.from_ical(calendar.get_content())["METHOD"] == "REQUEST"


def test_a_mail_names_the_time_zone_its_times_are_in(api_as, alice, new_york, smtp, worker):
    """An invitee may read it in another zone: 10:00 is the room's 10:00, and says so."""
    book(api_as(alice), new_york)
    worker.run_until_idle()
    ((_to, message),) = smtp.messages
    said = "Times are the room's local time (America/New_York)."
    assert said in message.get_body(("plain",)).get_content()
    assert f"<p>{said}</p>" in message.get_body(("html",)).get_content()


def test_an_admin_cancelling_tells_the_owner_with_a_cancel(api_as, alice, admin, berlin, smtp, worker):
    booking = book(api_as(alice), berlin)["booking"]
    worker.run_until_idle()
    assert api_as(admin).delete(f"/api/bookings/{booking['id']}").status_code == 200
    worker.run_until_idle()
    to, message = smtp.messages[-1]
    assert to == [alice["email"]]                             # the owner, not the admin
    assert "Ada" in message["Subject"]
    assert "Ada (an administrator) cancelled" in message.get_body(("plain",)).get_content()
    calendar = calendar_of(message)
    assert str(calendar["METHOD"]) == "CANCEL"
    event = only_event(calendar)
    assert str(event["UID"]) == f"booking-{booking['id']}@booking"
    assert event["SEQUENCE"] == 1 and str(event["STATUS"]) == "CANCELLED"


def test_a_series_is_one_recurring_invitation_and_cancellations_follow_it(
        api_as, alice, bob, berlin, make, smtp, worker):
    make.booking(berlin, bob, datetime(2027, 3, 9, 9, tzinfo=UTC), datetime(2027, 3, 9, 10, tzinfo=UTC))
    worker.run_until_idle()
    smtp.messages.clear()
    api = api_as(alice)
    made = book(api, berlin, recurrence="FREQ=WEEKLY;BYDAY=TU;UNTIL=20270406", skip_conflicts=True)
    sid = made["series"]["id"]
    worker.run_until_idle()
    ((_, message),) = smtp.messages
    calendar = calendar_of(message)
    event = only_event(calendar)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"series-{sid}@booking" and event["SEQUENCE"] == 0
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Berlin"
    rule = event["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["TU"]
    assert rule["UNTIL"][0] == datetime(2027, 4, 6, 21, 59, 59, tzinfo=UTC)   # end of 6 April, Berlin
    assert [d.dt for d in event["EXDATE"].dts] == [datetime(2027, 3, 9, 10, tzinfo=berlin_tz())]

    # One occurrence cancelled: CANCEL naming it by RECURRENCE-ID.
    second = made["bookings"][1]
    api.delete(f"/api/bookings/{second['id']}")
    worker.run_until_idle()
    event = only_event(calendar_of(smtp.messages[-1][1]))
    assert str(event["UID"]) == f"series-{sid}@booking" and event["SEQUENCE"] == 1
    assert event["RECURRENCE-ID"].dt == datetime.fromisoformat(second["start_time"])
    assert "RANGE" not in event["RECURRENCE-ID"].params

    # This and following (issue 15 #20): not RANGE=THISANDFUTURE, which Outlook and Google
    # ignore, but the series again with its new UNTIL, a REQUEST with a higher SEQUENCE.
    api.delete(f"/api/series/{sid}?from=2027-03-29T00:00")
    worker.run_until_idle()
    calendar = calendar_of(smtp.messages[-1][1])
    event = only_event(calendar)
    assert str(calendar["METHOD"]) == "REQUEST" and event["SEQUENCE"] == 2
    assert str(event["UID"]) == f"series-{sid}@booking" and "RECURRENCE-ID" not in event
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["RRULE"]["UNTIL"][0] == datetime(2027, 3, 23, 9, tzinfo=UTC)  # 10:00 Berlin
    # Read back as a calendar client expands it: the skipped 9th and the 16th cancelled
    # on its own stay out, and nothing from the 29th on is left.
    held = recurring_ical_events.of(calendar).between(date(2027, 3, 1), date(2027, 5, 1))
    assert sorted(e["DTSTART"].dt for e in held) == [
        datetime(2027, 3, 2, 10, tzinfo=berlin_tz()), datetime(2027, 3, 23, 10, tzinfo=berlin_tz())]

    # The whole series: CANCEL without RECURRENCE-ID.
    api.delete(f"/api/series/{sid}")
    worker.run_until_idle()
    calendar = calendar_of(smtp.messages[-1][1])
    event = only_event(calendar)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert "RECURRENCE-ID" not in event and event["SEQUENCE"] == 3
    assert str(event["STATUS"]) == "CANCELLED"
    assert len(smtp.messages) == 4


def test_this_and_following_of_a_counted_series_ends_it_with_until_in_place_of_count(
        api_as, alice, berlin, smtp, worker):
    """COUNT and UNTIL cannot stand together (RFC 5545): the new end replaces COUNT. And
    cancelling from the first occurrence on leaves nothing: a CANCEL of the series."""
    api = api_as(alice)
    sid = book(api, berlin, recurrence="FREQ=DAILY;COUNT=10")["series"]["id"]
    worker.run_until_idle()
    first = only_event(calendar_of(smtp.messages[-1][1]))
    api.delete(f"/api/series/{sid}?from=2027-03-05T10:00")
    worker.run_until_idle()
    calendar = calendar_of(smtp.messages[-1][1])
    event = only_event(calendar)
    assert str(calendar["METHOD"]) == "REQUEST" and event["SEQUENCE"] > first["SEQUENCE"]
    assert "COUNT" not in event["RRULE"] and event["RRULE"]["FREQ"] == ["DAILY"]
    held = recurring_ical_events.of(calendar).between(date(2027, 3, 1), date(2027, 4, 1))
    assert [e["DTSTART"].dt.day for e in held] == [2, 3, 4]
    api.delete(f"/api/series/{sid}?from=2027-03-02T10:00")
    worker.run_until_idle()
    calendar = calendar_of(smtp.messages[-1][1])
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(only_event(calendar)["STATUS"]) == "CANCELLED"


def berlin_tz():
    from zoneinfo import ZoneInfo
    return ZoneInfo("Europe/Berlin")


def test_no_mail_for_who_turned_it_off(api_as, browser_as, alice, bob, berlin, smtp, worker):
    r = api_as(alice).patch("/api/me", json={"mail_enabled": False})
    assert r.status_code == 200 and r.get_json()["user"]["mail_enabled"] is False
    page = browser_as(bob)
    assert 'id="mail_enabled" name="mail_enabled" checked' in page.get("/account").get_data(as_text=True)
    assert page.post("/account/mail", data={}).status_code == 302     # unticked: off
    assert page.post("/account/mail", data={"mail_enabled": "on"}).status_code == 302
    book(api_as(alice), berlin)
    book(api_as(bob), berlin, "2027-03-02T12:00", "2027-03-02T13:00")
    worker.run_until_idle()
    assert [to for to, _ in smtp.messages] == [[bob["email"]]]


def test_without_smtp_mail_is_written_as_eml_files(api_as, alice, berlin, app, worker, tmp_path):
    assert not app.config["SMTP_URL"]
    book(api_as(alice), berlin)
    worker.run_until_idle()
    (path,) = (tmp_path / "mail").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == f"Alice <{alice['email']}>"
    assert str(calendar_of(message)["METHOD"]) == "REQUEST"


def test_with_the_smtp_server_down_mail_is_retried_and_arrives_once_it_is_back(
        api_as, alice, berlin, app, worker, conn):
    port = free_port()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    book(api_as(alice), berlin)
    worker.run_until_idle()
    row = conn.execute("SELECT status, attempts, next_attempt_at, last_error FROM deliveries").fetchone()
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "unreachable" in row["last_error"]
    assert NOW + timedelta(seconds=15) <= row["next_attempt_at"] <= NOW + timedelta(seconds=30)
    assert worker.run_until_idle() == 0                     # not due yet
    server = SmtpServer(port).start()
    try:
        app.config["NOW"] = NOW + timedelta(seconds=31)
        worker.run_until_idle()
        assert len(server.messages) == 1
        worker.run_until_idle()
        assert len(server.messages) == 1
    finally:
        server.stop()
    row = conn.execute("SELECT status, attempts FROM deliveries").fetchone()
    assert (row["status"], row["attempts"]) == ("sent", 2)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_auth_is_used_when_the_url_has_credentials(api_as, alice, berlin, app, worker):
    from aiosmtpd.smtp import AuthResult

    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"mailer" and auth_data.password == b"s3cret")

    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        app.config["SMTP_URL"] = f"smtp://mailer:s3cret@127.0.0.1:{port}"
        book(api_as(alice), berlin)
        worker.run_until_idle()
        assert seen == [(b"mailer", b"s3cret")] and len(inbox.messages) == 1
    finally:
        controller.stop()


def test_backoff_doubles_with_jitter_and_is_capped():
    for attempt in range(1, 12):
        delay = min(600, 30 * 2 ** (attempt - 1))
        samples = [backoff(attempt, 30, 600) for _ in range(50)]
        assert all(delay / 2 <= s <= delay for s in samples)
        assert len(set(samples)) > 1


def test_after_the_last_attempt_a_delivery_fails_is_shown_and_can_be_resent(
        api_as, browser_as, alice, admin, berlin, app, worker, conn):
    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{free_port()}", WORKER_MAX_ATTEMPTS=3)
    book(api_as(alice), berlin)
    for attempt in range(3):
        app.config["NOW"] += timedelta(hours=1)
        worker.run_until_idle()
    assert conn.execute("SELECT status, attempts FROM deliveries").fetchone() == \
        {"status": "failed", "attempts": 3}
    app.config["NOW"] += timedelta(days=1)
    assert worker.run_until_idle() == 0                      # failed stays failed

    admin_api = api_as(admin)
    listed = admin_api.get("/api/deliveries?status=failed").get_json()["deliveries"]
    (failed,) = listed
    assert failed["channel"] == "mail" and failed["attempts"] == 3
    assert "unreachable" in failed["last_error"]
    assert failed["event"]["type"] == "booking.created"
    assert api_as(alice).get("/api/deliveries").status_code == 403
    page = browser_as(admin).get("/admin/deliveries").get_data(as_text=True)
    assert "unreachable" in page and "Re-send" in page

    server = SmtpServer().start()
    try:
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
        r = admin_api.post(f"/api/deliveries/{failed['id']}/resend")
        assert r.status_code == 200 and r.get_json()["delivery"]["status"] == "pending"
        assert admin_api.post(f"/api/deliveries/{failed['id']}/resend").status_code == 409
        worker.run_until_idle()
        assert len(server.messages) == 1
    finally:
        server.stop()
    assert admin_api.get("/api/deliveries?status=failed").get_json()["deliveries"] == []


def test_a_failed_delivery_is_resent_from_the_page(browser_as, api_as, alice, admin, berlin, app,
                                                   worker, conn):
    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{free_port()}", WORKER_MAX_ATTEMPTS=1)
    book(api_as(alice), berlin)
    worker.run_until_idle()
    (failed,) = conn.execute("SELECT id, status FROM deliveries").fetchall()
    assert failed["status"] == "failed"
    page = browser_as(admin)
    assert f'/admin/deliveries/{failed["id"]}/resend' in page.get("/admin/deliveries?status=failed") \
        .get_data(as_text=True)
    server = SmtpServer().start()
    try:
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{server.port}"
        r = page.post(f"/admin/deliveries/{failed['id']}/resend", data={})
        assert r.status_code == 302 and r.headers["Location"].endswith("/admin/deliveries?status=failed")
        assert conn.execute("SELECT status FROM deliveries").fetchone()["status"] == "pending"
        assert page.post(f"/admin/deliveries/{failed['id']}/resend", data={}).status_code == 409
        worker.run_until_idle()
        assert len(server.messages) == 1
    finally:
        server.stop()
    assert conn.execute("SELECT status FROM deliveries").fetchone()["status"] == "sent"
    assert browser_as(alice).post(f"/admin/deliveries/{failed['id']}/resend", data={}).status_code == 403


# -- webhooks ----------------------------------------------------------------------------

def register(api, url, **extra):
    r = api.post("/api/webhooks", json={"url": url, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_webhooks_are_signed_per_standard_webhooks(api_as, alice, admin, berlin, receiver, worker):
    admin_api = api_as(admin)
    made = register(admin_api, receiver.url, description="chat bot")
    secret = made["secret"]
    assert secret.startswith("whsec_")
    shown = admin_api.get(f"/api/webhooks/{made['endpoint']['id']}").get_json()
    assert secret not in json.dumps(shown)                   # shown once only
    booking = book(api_as(alice), berlin)["booking"]
    worker.run_until_idle()
    ((headers, body),) = receiver.requests
    verified = standardwebhooks.Webhook(secret).verify(body, headers)
    assert verified["type"] == "booking.created"
    assert verified["data"]["booking"] == booking
    assert headers["webhook-id"] == f"evt_{verified['id']}"
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(body.replace(b"Planning", b"Plotting"), headers)


def test_an_endpoint_gets_only_the_events_it_chose(api_as, alice, admin, berlin, receiver, worker):
    register(api_as(admin), receiver.url, events=["booking.cancelled"])
    api = api_as(alice)
    booking = book(api, berlin)["booking"]
    api.delete(f"/api/bookings/{booking['id']}")
    worker.run_until_idle()
    assert [json.loads(body)["type"] for _, body in receiver.requests] == ["booking.cancelled"]
    data = json.loads(receiver.requests[0][1])["data"]
    assert data["cancelled_by"] == {"id": alice["id"], "name": "Alice"} and data["by_admin"] is False


def test_a_failing_receiver_is_retried_with_the_same_id_and_logged(
        api_as, browser_as, alice, admin, berlin, receiver, worker, app):
    receiver.answer = lambda n: 503 if n == 0 else 204
    made = register(api_as(admin), receiver.url)
    book(api_as(alice), berlin)
    worker.run_until_idle()
    assert len(receiver.requests) == 1
    app.config["NOW"] += timedelta(minutes=1)
    worker.run_until_idle()
    ids = [headers["webhook-id"] for headers, _ in receiver.requests]
    assert len(ids) == 2 and ids[0] == ids[1]
    log = api_as(admin).get(f"/api/webhooks/{made['endpoint']['id']}").get_json()
    newest, first = log["attempts"]
    assert (first["attempt"], first["status_code"], first["ok"]) == (1, 503, False)
    assert (newest["attempt"], newest["status_code"], newest["ok"]) == (2, 204, True)
    assert first["response"] == '{"received": 0}' and first["latency_ms"] >= 0
    assert log["endpoint"]["failing_since"] is None
    page = browser_as(admin).get(f"/admin/webhooks/{made['endpoint']['id']}").get_data(as_text=True)
    assert "HTTP 503" in page and "Delivery log" in page


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_told(
        api_as, alice, admin, berlin, receiver, worker, app, smtp):
    receiver.answer = lambda n: 500
    made = register(api_as(admin), receiver.url)
    eid = made["endpoint"]["id"]
    book(api_as(alice), berlin)
    worker.run_until_idle()
    assert api_as(admin).get(f"/api/webhooks/{eid}").get_json()["endpoint"]["failing_since"]
    app.config["NOW"] += timedelta(hours=23)
    worker.run_until_idle()
    assert api_as(admin).get(f"/api/webhooks/{eid}").get_json()["endpoint"]["active"] is True
    app.config["NOW"] += timedelta(hours=2)
    worker.run_until_idle()
    endpoint = api_as(admin).get(f"/api/webhooks/{eid}").get_json()["endpoint"]
    assert endpoint["active"] is False and "HTTP 500" in endpoint["disabled_reason"]
    told = [m for to, m in smtp.messages if to == [admin["email"]]]
    assert len(told) == 1 and "disabled" in told[0]["Subject"]
    # Disabled: nothing more goes out, until an admin enables it again.
    sent = len(receiver.requests)
    app.config["NOW"] += timedelta(days=1)
    worker.run_until_idle()
    assert len(receiver.requests) == sent
    receiver.answer = lambda n: 200
    assert api_as(admin).patch(f"/api/webhooks/{eid}", json={"active": True}).status_code == 200
    worker.run_until_idle()
    assert len(receiver.requests) == sent + 1


def test_the_deliveries_page_shows_failing_endpoints_first(
        api_as, alice, admin, berlin, receiver, worker, app, browser_as):
    """Issue 15 #18: "No failed deliveries" while the endpoint's page showed it failing
    (its deliveries wait as pending until the last attempt)."""
    admin_api = api_as(admin)
    receiver.answer = lambda n: 500
    failing = register(admin_api, receiver.url)["endpoint"]["id"]
    quiet = register(admin_api, receiver.url + "/quiet", events=["series.created"])
    book(api_as(alice), berlin)
    worker.run_until_idle()
    listed = admin_api.get("/api/deliveries").get_json()
    assert listed["deliveries"] == []                                  # nothing failed for good
    assert [e["id"] for e in listed["failing_endpoints"]] == [failing]
    assert listed["failing_endpoints"][0]["last_attempt"]["error"] == "HTTP 500"
    page = browser_as(admin).get("/admin/deliveries").get_data(as_text=True)
    assert page.index("Failing webhook endpoints") < page.index("No failed deliveries")
    assert receiver.url in page and "failing</strong> since" in page and "HTTP 500" in page
    # Disabled ones come first, and say so.
    assert admin_api.patch(f"/api/webhooks/{quiet['endpoint']['id']}",
                           json={"active": False}).status_code == 200
    listed = admin_api.get("/api/deliveries?status=pending").get_json()
    assert [e["id"] for e in listed["failing_endpoints"]] == [quiet["endpoint"]["id"], failing]
    assert len(listed["deliveries"]) == 1                               # the one retrying
    page = browser_as(admin).get("/admin/deliveries").get_data(as_text=True)
    assert "<strong>disabled</strong> (disabled by an administrator)" in page
    # Healthy again: the list is empty.
    receiver.answer = lambda n: 200
    app.config["NOW"] += timedelta(hours=1)
    worker.run_until_idle()
    assert [e["id"] for e in admin_api.get("/api/deliveries").get_json()["failing_endpoints"]] \
        == [quiet["endpoint"]["id"]]


def test_a_delivery_waiting_for_a_disabled_endpoint_lets_the_worker_sleep(
        api_as, alice, admin, berlin, receiver, worker, app, conn):
    """Issue 15 #1: the claim skips disabled endpoints, so "next due" must too, or the
    worker runs a round every millisecond while such a delivery waits."""
    admin_api = api_as(admin)
    receiver.answer = lambda n: 500
    eid = register(admin_api, receiver.url)["endpoint"]["id"]
    book(api_as(alice), berlin)
    worker.run_until_idle()                  # tried once, failed: retried later
    assert admin_api.patch(f"/api/webhooks/{eid}", json={"active": False}).status_code == 200
    app.config["NOW"] += timedelta(hours=1)  # the retry is due, the endpoint disabled
    waiting = conn.execute("SELECT count(*) AS n FROM deliveries WHERE status = 'pending' "
                           "AND endpoint_id = %s AND next_attempt_at <= %s",
                           (eid, app.config["NOW"])).fetchone()
    assert waiting["n"] == 1 and len(receiver.requests) == 1
    rounds, slept = [], []
    run_once = worker.run_once
    worker.run_once = lambda: rounds.append(1) or run_once()

    def sleep(listener, seconds):   # the loop's idle wait: record it and stop there
        slept.append(seconds)
        worker.stop()
    worker._sleep = sleep
    # (Under the release sweep's 30 s, which caps every sleep: test_a_worker_sleeps_at_most_
    # until_the_next_release_sweep.)
    app.config["WORKER_POLL_SECONDS"] = 20.0
    worker.run()
    assert (len(rounds), slept) == (1, [20.0])   # one round finds nothing, then a full poll
    # Enabled again, the waiting delivery goes out (and the change wakes sleeping workers).
    conn.execute("LISTEN booking_outbox")
    assert admin_api.patch(f"/api/webhooks/{eid}", json={"active": True}).status_code == 200
    assert len(list(conn.notifies(timeout=10, stop_after=1))) == 1
    receiver.answer = lambda n: 200
    again = Worker(app)                      # run() has shut its senders down
    again.run_until_idle()
    again._senders.shutdown(wait=True)
    assert len(receiver.requests) == 2


@pytest.mark.parametrize("url, code", [
    ("ftp://example.com/hook", "invalid_url"),
    ("http:///nohost", "invalid_url"),
    ("http://[::1", "invalid_url"),        # an unclosed IPv6 address: was a 500
    ("https://[/hook", "invalid_url"),
    ("http://127.0.0.1:8080/hook", "unsafe_url"),
    ("http://localhost/hook", "unsafe_url"),
    ("http://[::1]/hook", "unsafe_url"),
    ("http://169.254.169.254/latest/meta-data", "unsafe_url"),
    ("http://10.1.2.3/hook", "unsafe_url"),
    ("http://192.168.0.10/hook", "unsafe_url"),
    ("https://[::ffff:127.0.0.1]/hook", "unsafe_url"),
    # IPv6 forms with a private IPv4 address inside (issue 15 #3)
    ("http://[64:ff9b::7f00:1]/hook", "unsafe_url"),          # NAT64 -> 127.0.0.1
    ("http://[64:ff9b:1::a00:1]/hook", "unsafe_url"),         # NAT64, local use -> 10.0.0.1
    ("http://[2002:a9fe:a9fe::1]/hook", "unsafe_url"),        # 6to4 -> 169.254.169.254
    ("http://[::7f00:1]/hook", "unsafe_url"),                 # IPv4-compatible ::127.0.0.1
    ("http://[::ffff:0:c0a8:a]/hook", "unsafe_url"),          # IPv4-translated 192.168.0.10
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "unsafe_url"),   # Teredo
    # Reserved, but global to Python 3.11's ipaddress
    ("http://192.0.0.8/hook", "unsafe_url"),
    ("http://192.0.0.200/hook", "unsafe_url"),
    ("http://192.88.99.1/hook", "unsafe_url"),
    ("http://[3fff::1]/hook", "unsafe_url"),
    ("http://[5f00::1]/hook", "unsafe_url"),
    ("http://198.18.0.1/hook", "unsafe_url"),
    ("http://100.64.0.1/hook", "unsafe_url"),
])
def test_unsafe_targets_are_refused_at_registration(api_as, admin, url, code):
    r = api_as(admin).post("/api/webhooks", json={"url": url})
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == code and error["details"]["field"] == "url"


@pytest.mark.parametrize("url", ["http://[64:ff9b::5db8:d70e]/hook",      # NAT64 -> public
                                 "http://[2002:5db8:d70e::1]/hook"])       # 6to4 -> public
def test_ipv6_forms_of_a_public_address_are_fine(api_as, admin, url):
    assert api_as(admin).post("/api/webhooks", json={"url": url}).status_code == 201


class Resolver:
    """Stands in for DNS (there is no name server here): `answers` are handed out one
    per lookup, the last again and again; every lookup is recorded."""

    def __init__(self, *answers):
        self.answers, self.asked = list(answers), []
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        self.asked.append(host)
        if host in ("127.0.0.1", "::1") or host.replace(".", "").isdigit():
            return self.real(host, port, *args, **kwargs)
        address = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return self.real(address, port, *args, **kwargs)


def test_a_delivery_connects_to_the_address_it_checked(receiver, app, monkeypatch):
    """Issue 15 #3, DNS rebinding: the name answers a public address to the check and
    127.0.0.1 after; the HTTP client used to resolve it again and reach loopback."""
    from booking.events import webhook_sender

    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    port = receiver.server.server_address[1]
    resolver = Resolver("93.184.215.14", "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    connected = []
    real_connect = socket.create_connection

    def connect(address, *args, **kwargs):
        connected.append(address)
        if address[0] == "93.184.215.14":     # no traffic leaves the machine in a test
            raise ConnectionRefusedError("refused (test)")
        return real_connect(address, *args, **kwargs)
    monkeypatch.setattr(socket, "create_connection", connect)

    result = webhook_sender.post(webhook_sender.Request(
        f"http://rebind.example:{port}/hooks", b"{}", "evt_1", "whsec_" + "A" * 32), app.config)
    assert receiver.requests == []                       # loopback was never reached
    assert connected == [("93.184.215.14", port)]        # the checked address, and only it
    assert resolver.asked == ["rebind.example"]          # resolved once
    assert result.status is None and "ConnectionRefusedError" in result.error


def test_a_delivery_names_the_host_it_was_given(receiver, app, monkeypatch):
    from booking.events import webhook_sender

    port = receiver.server.server_address[1]
    monkeypatch.setattr(socket, "getaddrinfo", Resolver("127.0.0.1"))
    result = webhook_sender.post(webhook_sender.Request(
        f"http://hooks.example:{port}/hooks?x=1", b"{}", "evt_1", "whsec_" + "A" * 32),
        app.config)
    assert result.error is None
    ((headers, _),) = receiver.requests
    assert headers["Host"] == f"hooks.example:{port}"


class Trickler:
    """A receiver that answers its status line, then one header line every 0.2 s, up to
    `lines` of them (then the end of the answer), until the client goes away."""

    def __init__(self, lines=100):
        self.lines, self.sent = lines, 0
        self.client_left = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while self.sent < self.lines:
                    conn.sendall(f"X-Slow-{self.sent}: x\r\n".encode())
                    self.sent += 1
                    if self.client_left.wait(0.2):
                        return
                conn.sendall(b"Content-Length: 2\r\n\r\nok")
            except OSError:
                self.client_left.set()

    def stop(self):
        self.client_left.set()
        self.sock.close()


def test_a_receiver_trickling_headers_is_cut_off_at_the_deadline(app):
    """Issue 15 #3: WEBHOOK_TIMEOUT_SECONDS applied per socket read, so a receiver
    sending a header line every half second held a delivery (and its worker thread)
    for as long as it liked: past the lease, and then the delivery went out twice.
    The receiver here would trickle for 20 s; the deadline is 1 s."""
    from booking.events import webhook_sender

    app.config.update(WEBHOOKS_ALLOW_PRIVATE=True, WEBHOOK_TIMEOUT_SECONDS=1.0)
    trickler = Trickler(lines=100)
    try:
        result = webhook_sender.post(webhook_sender.Request(
            trickler.url, b"{}", "evt_1", "whsec_" + "A" * 32), app.config)
        assert (result.status, result.error) == (None, "timed out after 1 s")
        assert trickler.sent < trickler.lines            # it was still trickling: cut off
    finally:
        trickler.stop()


def test_registration_is_for_admins_and_checks_its_fields(api_as, alice, admin, browser_as, app):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    assert api_as(alice).post("/api/webhooks", json={"url": "http://127.0.0.1/x"}).status_code == 403
    r = api_as(admin).post("/api/webhooks", json={"url": "http://127.0.0.1/x", "events": ["nope"]})
    assert r.status_code == 400 and r.get_json()["error"]["details"]["field"] == "events"
    page = browser_as(admin)
    r = page.post("/admin/webhooks", data={"url": "http://127.0.0.1/x", "events": "booking.created"})
    assert r.status_code == 201
    text = r.get_data(as_text=True)
    assert 'id="new-secret">whsec_' in text
    assert "whsec_" not in page.get("/admin/webhooks").get_data(as_text=True).replace("whsec_…", "")


@pytest.mark.parametrize("description", [{}, [], 0, False, ["Chat"], 7])
def test_a_webhook_description_is_text_or_null(api_as, admin, app, description):
    """Not anything falsy: `{"description": {}}` was taken as empty."""
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    api = api_as(admin)
    r = api.post("/api/webhooks", json={"url": "http://127.0.0.1/x", "description": description})
    assert r.status_code == 400 and r.get_json()["error"]["details"]["field"] == "description"
    made = api.post("/api/webhooks", json={"url": "http://127.0.0.1/x", "description": None})
    assert made.status_code == 201 and made.get_json()["endpoint"]["description"] == ""
    url = f"/api/webhooks/{made.get_json()['endpoint']['id']}"
    r = api.patch(url, json={"description": description})
    assert r.status_code == 400 and r.get_json()["error"]["details"]["field"] == "description"
    assert api.patch(url, json={"description": "Chat"}).get_json()["endpoint"]["description"] \
        == "Chat"


def test_a_slow_receiver_times_out_and_no_connection_is_held_meanwhile(
        api_as, alice, admin, berlin, receiver, worker, app):
    from test_budgets import all_connections_idle

    assert app.config["WEBHOOK_TIMEOUT_SECONDS"] == 5.0                # the default
    # Shorter than the default, and longer than the check below may wait for
    # a connection the pool is still opening on a busy machine.
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 2.5
    pool = app.extensions["booking.pool"]
    idle_while_waiting = []
    release, answered = threading.Event(), threading.Event()

    def hold():
        """Keep the request until the test lets go: no answer comes in time."""
        idle_while_waiting.append(all_connections_idle(pool, within=1.5))
        # A generous deadline, for a failure only: a worker that waited for
        # the answer would be stuck this long, then find `answered` set.
        release.wait(timeout=60)
        answered.set()

    receiver.during = hold
    register(api_as(admin), receiver.url)
    book(api_as(alice), berlin)
    try:
        worker.run_until_idle()
        # The worker gave up and recorded it while the receiver still holds the request.
        assert not answered.is_set(), "the worker waited for the slow receiver's answer"
    finally:
        release.set()
    assert idle_while_waiting == [True]
    log = api_as(admin).get("/api/webhooks/1").get_json()["attempts"]
    assert log[0]["error"] == "timed out after 2.5 s" and log[0]["status_code"] is None


class SideBySide(Worker):
    """A worker that notes the deliveries it claims. Its first batch waits until
    the other worker holds a batch too, so the two are at work at the same
    moment (or notes that it never happened)."""

    def __init__(self, app, together: threading.Barrier, **kwargs):
        super().__init__(app, **kwargs)
        self.together = together
        self.batches: list[list[int]] = []
        self.alone = False

    def _send(self, claimed):
        self.batches.append([row["id"] for row in claimed])
        if len(self.batches) == 1:
            try:
                # A generous deadline for a failure: the other worker normally
                # claims its first batch within moments.
                self.together.wait(timeout=60)
            except threading.BrokenBarrierError:
                self.alone = True
        return super()._send(claimed)


def test_two_workers_deliver_every_event_exactly_once_through_failures(
        database_url, tmp_path, make, alice, admin, berlin, conn):
    """Two worker processes' worth (separate apps and pools), a receiver failing 20%:
    both workers claim and send (each holds a batch while the other claims its
    own, and the two are disjoint), and every event is delivered exactly once."""
    import random

    receiver = Receiver()
    flaky = random.Random(7)

    def answer(n):
        return 500 if flaky.random() < 0.2 else 200

    receiver.answer = answer
    settings = {"DATABASE_URL": database_url, "SECRET_KEY": "x", "VAR_DIR": str(tmp_path),
                "WEBHOOKS_ALLOW_PRIVATE": True, "WORKER_RETRY_BASE_SECONDS": 0.01,
                "WORKER_RETRY_MAX_SECONDS": 0.05, "WORKER_POLL_SECONDS": 0.2,
                "WORKER_MAX_ATTEMPTS": 50, "WORKER_BATCH": 20, "POOL_MIN_SIZE": 1}
    apps = [create_app(settings) for _ in range(2)]
    conn.execute("UPDATE users SET mail_enabled = false")
    conn.execute("INSERT INTO webhook_endpoints (url, events, secret, created_by) "
                 "VALUES (%s, %s, 'whsec_' || encode('0123456789abcdef', 'base64'), %s)",
                 (receiver.url, ["booking.created"], admin["id"]))
    count = 500
    conn.execute("""INSERT INTO bookings (room_id, user_id, title, start_at, end_at)
                    SELECT %s, %s, 'b' || i, %s + i * interval '1 hour', %s + i * interval '1 hour' + interval '30 minutes'
                      FROM generate_series(1, %s) i""",
                 (berlin["id"], alice["id"], NOW, NOW, count))
    together = threading.Barrier(2)
    workers = [SideBySide(a, together, clock=lambda: datetime.now(UTC)) for a in apps]
    threads = [threading.Thread(target=w.run) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120    # for a hang; the run takes seconds
    try:
        while time.monotonic() < deadline:
            done = conn.execute("SELECT count(*) AS n FROM deliveries WHERE status = 'sent'").fetchone()["n"]
            if done == count:
                break
            time.sleep(0.05)
    finally:
        together.abort()                  # a worker still waiting gives up
        for w in workers:
            w.stop()
        for t in threads:
            t.join(10)
        for a in apps:
            close(a)
        receiver.stop()
    # Both worked, at once, on different deliveries.
    assert [w.alone for w in workers] == [False, False]
    assert all(w.batches for w in workers)
    first_a, first_b = (set(w.batches[0]) for w in workers)
    assert first_a and first_b and not first_a & first_b
    claimed = [sum(len(b) for b in w.batches) for w in workers]
    ids = [headers["webhook-id"] for headers, _ in receiver.requests]
    attempts = conn.execute("SELECT count(*) FILTER (WHERE ok) AS ok, count(*) AS n "
                            "FROM webhook_attempts").fetchone()
    assert attempts["ok"] == count                          # each delivered once...
    assert len(ids) == attempts["n"] == sum(claimed)        # ...every attempt logged...
    assert len(set(ids)) == count                           # ...every event reached the receiver
    assert attempts["n"] > count                            # ...and failures were retried


def test_the_worker_command_stops_cleanly_on_sigterm(database_url, tmp_path, alice, berlin, conn):
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x", "VAR_DIR": str(tmp_path),
           "WORKER_POLL_SECONDS": "30"}
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "booking", "worker"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        while "worker started" not in line:
            assert line, "the worker exited before it started"
            line = process.stdout.readline()
        # A booking wakes it (NOTIFY) long before its 30 s poll: the .eml appears.
        conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) VALUES (%s, %s, 'x', %s, %s)",
                     (berlin["id"], alice["id"], NOW, NOW + timedelta(hours=1)))
        deadline = time.monotonic() + 10
        while not list((tmp_path / "mail").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list((tmp_path / "mail").glob("*.eml"))
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "worker stopped" in output


def test_a_worker_sleeps_at_most_until_the_next_release_sweep(worker, app):
    """Issue 17: the release sweep runs at least every 30 s, however long the poll."""
    from booking.bookings.release import SWEEP_EVERY_SECONDS

    sweeps, slept = [], []
    release_due = worker.release_due
    worker.release_due = lambda: sweeps.append(1) or release_due()

    def sleep(listener, seconds):
        slept.append(seconds)
        worker.stop()
    worker._sleep = sleep
    app.config["WORKER_POLL_SECONDS"] = 600.0
    worker.run()
    assert sweeps == [1]                                  # at start
    assert len(slept) == 1 and 0 < slept[0] <= SWEEP_EVERY_SECONDS == 30.0


def test_a_subject_keeps_every_space_however_long_the_title(api_as, alice, berlin, smtp, worker):
    """Found by testing from outside: folded at 78 characters, a subject of encoded
    words lost the space between two of them ("“expire me”" read "“expireme”"),
    at some lengths."""
    api = api_as(alice)
    titles = ["x" * j + " " + "y" * k + " expire me" for j in (1, 2, 5) for k in (25, 56, 57)]
    for n, title in enumerate(titles):
        book(api, berlin, start=f"2027-03-{2 + n // 8:02d}T{9 + n % 8:02d}:00",
             end=f"2027-03-{2 + n // 8:02d}T{9 + n % 8:02d}:30", title=title)
    worker.run_until_idle()
    subjects = [str(m["Subject"]) for _, m in smtp.messages]
    assert len(subjects) == len(titles)
    for title in titles:
        assert any(f"“{title}”" in s for s in subjects), title
