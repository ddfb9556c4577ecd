"""The delivery worker: `flask --app booking worker`.

Each round, four short statements on a pooled connection and the network in
between, never both at once:

0. expiry: requests for approval nobody decided in time (APPROVAL_EXPIRES_HOURS,
   or their start) expire, which frees their slots and makes their events;
1. fan-out: events not yet dispatched become deliveries (the owner's mail if
   they want mail, the approvers' for a request, a POST per subscribed
   webhook endpoint);
2. claim: up to WORKER_BATCH due deliveries, `FOR UPDATE SKIP LOCKED`, leased
   by moving their next_attempt_at past the time sending can take, so a
   second worker process skips them and a crashed worker's lease runs out;
3. send (mail over one SMTP connection, webhooks in WORKER_THREADS threads),
   with no database connection held, then record every result in one
   statement: sent, or retried later with exponential backoff and jitter, or
   failed after WORKER_MAX_ATTEMPTS; webhook attempts go to the endpoint's
   log, and an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled
   and its owner told (an `endpoint.disabled` event, mailed like the others).

Idle, it sleeps on LISTEN booking_outbox (the outbox triggers NOTIFY at
commit) or until the next retry is due, at most WORKER_POLL_SECONDS. SIGTERM
and SIGINT finish the round in hand and stop.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

import psycopg
from flask import Flask

from booking import clock as booking_clock, db
from booking.bookings.release import SWEEP_EVERY_SECONDS
from booking.events import mail, render, webhook_sender

log = logging.getLogger("booking.worker")

# outbox_undispatched; the events are locked so two workers never fan out one twice.
# A request for approval is mailed to the approvers its event names (sql/043),
# everything else to the owner.
FANOUT_SQL = """
WITH ev AS (
    SELECT o.id, o.kind, o.user_id, o.series_id, o.payload, o.created_at FROM outbox o
     WHERE o.dispatched_at IS NULL
     ORDER BY o.id
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED),
mails AS (
    INSERT INTO deliveries (event_id, channel, user_id, next_attempt_at)
    SELECT ev.id, 'mail', u.id, %(now)s
      FROM ev JOIN users u ON u.id = ev.user_id
     WHERE u.mail_enabled AND u.active AND ev.kind = ANY (%(mail_kinds)s)
    UNION ALL
    SELECT ev.id, 'mail', u.id, %(now)s
      FROM ev
     CROSS JOIN LATERAL jsonb_array_elements_text(ev.payload->'approvers') a
      JOIN users u ON u.id = a.value::bigint
     WHERE ev.kind = 'approval.requested' AND u.mail_enabled AND u.active
       AND u.id <> ev.user_id
    RETURNING 1),
-- Invitees (staff or not) get the invitation, each change and the cancellation
-- at their address; an invitee taken off by a change gets its cancellation too.
-- Staff who turned mail off get none; the organiser is told as the organiser.
-- A series cancelled tells those invited to an occurrence it cancelled too (its
-- own invitees: they were sent that occurrence), the occurrences cancelled in the
-- same transaction as the event (bookings_series).
invited AS (
    INSERT INTO deliveries (event_id, channel, email, next_attempt_at)
    SELECT DISTINCT ON (ev.id, lower(a.address)) ev.id, 'mail', a.address, %(now)s
      FROM ev
     CROSS JOIN LATERAL (
           SELECT jsonb_array_elements_text(coalesce(
                      ev.payload->'booking'->'invitees', ev.payload->'series'->'invitees',
                      '[]')) AS address
           UNION ALL
           SELECT jsonb_array_elements_text(coalesce(ev.payload->'before'->'invitees', '[]'))
            WHERE ev.kind IN ('booking.updated', 'series.updated')
           UNION ALL
           SELECT unnest(b.invitees) FROM bookings b
            WHERE ev.kind = 'series.cancelled' AND b.series_id = ev.series_id
              AND b.cancelled_at = ev.created_at) a
     WHERE ev.kind = ANY (%(invitee_kinds)s)
       AND NOT EXISTS (SELECT 1 FROM users u
                        WHERE lower(u.email) = lower(a.address)
                          AND (NOT u.mail_enabled OR u.id = ev.user_id))
    RETURNING 1),
hooks AS (
    INSERT INTO deliveries (event_id, channel, endpoint_id, next_attempt_at)
    SELECT ev.id, 'webhook', e.id, %(now)s
      FROM ev JOIN webhook_endpoints e ON e.active AND ev.kind = ANY (e.events)
    RETURNING 1),
done AS (
    UPDATE outbox o SET dispatched_at = now() FROM ev WHERE o.id = ev.id RETURNING 1)
SELECT (SELECT count(*) FROM done)::int AS events,
       ((SELECT count(*) FROM mails) + (SELECT count(*) FROM invited))::int AS mails,
       (SELECT count(*) FROM hooks)::int AS hooks"""

# deliveries_due. A delivery to a disabled endpoint waits until it is enabled again.
CLAIM_SQL = """
WITH due AS (
    SELECT d.id FROM deliveries d
     WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
       AND (d.endpoint_id IS NULL
            OR EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.active))
     ORDER BY d.next_attempt_at, d.id
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED),
claimed AS (
    UPDATE deliveries d SET attempts = d.attempts + 1, next_attempt_at = %(lease_until)s
      FROM due WHERE d.id = due.id
    RETURNING d.id, d.event_id, d.channel, d.user_id, d.email, d.endpoint_id, d.attempts)
SELECT c.id, c.channel, c.attempts, c.endpoint_id, c.user_id AS recipient_id,
       o.id AS event_id, o.kind, o.payload, o.created_at, o.booking_id, o.series_id,
       coalesce(u.email, c.email) AS recipient_email,
       coalesce(u.name, c.email) AS recipient_name, u.language AS recipient_language,
       c.email AS invitee_email, o.actor_id,
       r.name AS room_name, r.timezone, r.building,
       owner.name AS owner_name, actor.name AS actor_name,
       e.url, e.secret,
       CASE WHEN o.series_id IS NOT NULL THEN
            (SELECT count(*) FROM outbox x WHERE x.series_id = o.series_id AND x.id < o.id)::int
       END AS sequence,
       -- The occurrences changed on their own, as they are now (bookings_series, and
       -- each one's room by rooms_pkey): a series sent again carries them, or a
       -- calendar would put them back.
       CASE WHEN o.kind IN ('series.created', 'series.updated', 'series.cancelled',
                            'series.approved') THEN
            (SELECT coalesce(json_agg(json_build_object(
                        'original_start', b.original_start, 'start_at', b.start_at,
                        'end_at', b.end_at, 'title', b.title, 'room_name', x.name,
                        'building', x.building) ORDER BY b.original_start), '[]')
               FROM bookings b JOIN rooms x ON x.id = b.room_id
              WHERE b.series_id = o.series_id AND b.cancelled_at IS NULL
                AND b.original_start IS NOT NULL)
       END AS overrides,
       -- Where the series' occurrences are held, each by the start the series gave
       -- it (bookings_series): every occurrence of its rule on a day none holds is
       -- sent as an EXDATE (skipped, cancelled on its own, left to one changed on
       -- its own when the series changed).
       CASE WHEN o.kind IN ('series.created', 'series.updated', 'series.cancelled',
                            'series.approved') THEN
            (SELECT coalesce(array_agg(coalesce(b.original_start, b.start_at)), '{}')
               FROM bookings b
              WHERE b.series_id = o.series_id AND b.cancelled_at IS NULL)
       END AS held,
       -- To an invitee of a series cancelled: the occurrences cancelled with it
       -- (in its transaction) and who each invited (bookings_series), so someone
       -- invited to some of them only gets the cancellation of those.
       CASE WHEN o.kind = 'series.cancelled' AND c.email IS NOT NULL THEN
            (SELECT coalesce(json_agg(json_build_object(
                        'original_start', b.original_start, 'start_at', b.start_at,
                        'end_at', b.end_at, 'title', b.title, 'invitees', b.invitees)
                        ORDER BY b.start_at), '[]')
               FROM bookings b
              WHERE b.series_id = o.series_id AND b.cancelled_at = o.created_at
                AND cardinality(b.invitees) > 0)
       END AS cut
  FROM claimed c
  JOIN outbox o ON o.id = c.event_id
  -- The recipient: the user it names, or the staff member an invitee's address is
  -- (users_email_key), whose name and language the mail takes.
  LEFT JOIN LATERAL (
       (SELECT x.email, x.name, x.language FROM users x WHERE x.id = c.user_id)
       UNION ALL
       (SELECT x.email, x.name, x.language FROM users x
         WHERE c.user_id IS NULL AND lower(x.email) = lower(c.email))
       LIMIT 1) u ON true
  LEFT JOIN users owner ON owner.id = o.user_id
  LEFT JOIN users actor ON actor.id = o.actor_id
  LEFT JOIN rooms r ON r.id = o.room_id
  LEFT JOIN webhook_endpoints e ON e.id = c.endpoint_id
 ORDER BY c.id"""

# Every result of a round in one statement.
RECORD_SQL = """
WITH r AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(retry_at)s::timestamptz[],
                         %(codes)s::int[], %(latency)s::int[], %(responses)s::text[])
           AS r(id, error, retry_at, code, latency, response)),
done AS (
    UPDATE deliveries d
       SET status = CASE WHEN r.error IS NULL THEN 'sent'
                         WHEN d.attempts >= %(max_attempts)s THEN 'failed'
                         ELSE 'pending' END,
           next_attempt_at = coalesce(r.retry_at, d.next_attempt_at),
           last_error = r.error,
           finished_at = CASE WHEN r.error IS NULL OR d.attempts >= %(max_attempts)s
                              THEN %(now)s END
      FROM r WHERE d.id = r.id
    RETURNING d.id, d.channel, d.endpoint_id, d.attempts, d.status, r.error, r.code,
              r.latency, r.response),
logged AS (
    INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, at, status_code,
                                  latency_ms, ok, response, error)
    SELECT id, endpoint_id, attempts, %(now)s, code, latency, error IS NULL, response, error
      FROM done WHERE channel = 'webhook'
    RETURNING 1),
health AS (
    SELECT endpoint_id, bool_or(error IS NULL) AS any_ok,
           (array_agg(error ORDER BY id DESC) FILTER (WHERE error IS NOT NULL))[1] AS last_error
      FROM done WHERE channel = 'webhook' GROUP BY endpoint_id),
endpoints AS (
    UPDATE webhook_endpoints e
       SET failing_since = CASE WHEN h.any_ok THEN NULL
                                ELSE coalesce(e.failing_since, %(now)s) END,
           active = h.any_ok OR coalesce(e.failing_since, %(now)s) > %(disable_before)s,
           disabled_at = CASE WHEN NOT h.any_ok
                               AND coalesce(e.failing_since, %(now)s) <= %(disable_before)s
                              THEN %(now)s END,
           disabled_reason = CASE WHEN NOT h.any_ok
                                   AND coalesce(e.failing_since, %(now)s) <= %(disable_before)s
                                  THEN 'failing since ' || coalesce(e.failing_since, %(now)s) || ': ' || h.last_error
                             END
      FROM health h
     WHERE e.id = h.endpoint_id AND e.active
    RETURNING e.id, e.url, e.created_by, e.active, e.failing_since, e.disabled_reason,
              h.last_error),
told AS (
    INSERT INTO outbox (kind, user_id, payload)
    SELECT 'endpoint.disabled', created_by,
           jsonb_build_object('endpoint_id', id, 'url', url, 'last_error', last_error,
                              'reason', disabled_reason)
      FROM endpoints WHERE NOT active
    RETURNING 1)
SELECT (SELECT count(*) FROM done WHERE status = 'sent')::int AS sent,
       (SELECT count(*) FROM done WHERE status = 'failed')::int AS failed,
       (SELECT count(*) FROM logged)::int AS logged,
       (SELECT count(*) FROM told)::int AS disabled"""

# deliveries_due: when the next delivery the claim would take is due, to sleep
# until then. The same filter as CLAIM_SQL: a delivery to a disabled endpoint
# waits for it to be enabled (which NOTIFYs), so it must not count as due, or
# the worker would never sleep while one is waiting (a round a millisecond).
NEXT_DUE_SQL = """
SELECT min(d.next_attempt_at) AS due FROM deliveries d
 WHERE d.status = 'pending'
   AND (d.endpoint_id IS NULL
        OR EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.active))"""

# Mailed to the owner: every kind but approval.requested (to the approvers).
MAIL_KINDS = [k for k in render.KINDS + render.INTERNAL_KINDS if k != "approval.requested"]
# Mailed to the invitees: every kind that changes their calendars, decisions,
# skipped occurrences and releases among them (a release ends the meeting at the
# release time, as ending it early does; it was the organiser's alone, and the
# invitees' calendars kept the old end).
INVITEE_KINDS = list(render.KINDS)

# The worker also keeps every series materialised a week past the booking
# window (booking/series/service.py): at start, and at least this often.
EXTEND_EVERY_SECONDS = 3600.0

# Requests nobody decided in time (sql/043 expire_requests(): bookings_pending):
# expired, their slots freed; the outbox tells the requesters (mailed this round).
EXPIRE_SQL = "SELECT expire_requests(%(now)s, %(after)s, %(batch)s) AS expired"


def backoff(attempt: int, base: float, most: float) -> float:
    """Seconds before retry `attempt` + 1: doubling from `base`, capped, with jitter.

    "Equal jitter": half the delay fixed, half random, so many deliveries that
    failed together (a receiver down) do not all come back at the same moment.
    """
    delay = min(most, base * 2 ** max(0, attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


class Worker:
    """One worker process; several can run side by side."""

    def __init__(self, app: Flask, clock: Callable[[], datetime] | None = None):
        self.app = app
        self.config = app.config
        self.clock = clock or (lambda: app.extensions[booking_clock.EXTENSION]())
        self.batch = int(self.config["WORKER_BATCH"])
        self.stopping = threading.Event()
        self._senders = ThreadPoolExecutor(max_workers=int(self.config["WORKER_THREADS"]),
                                           thread_name_prefix="booking-send")

    # -- one round ------------------------------------------------------------------

    def run_once(self) -> int:
        """Fan out new events, then claim, send and record one batch. Returns how
        many events and deliveries it handled (0: nothing to do)."""
        now = self.clock()
        with self.app.app_context():
            with db.connection() as conn:
                expired = conn.execute(EXPIRE_SQL, {
                    "now": now, "batch": self.batch * 4,
                    "after": timedelta(hours=float(self.config["APPROVAL_EXPIRES_HOURS"]))}
                                       ).fetchone()["expired"]
                fanned = conn.execute(FANOUT_SQL, {"batch": self.batch * 4, "now": now,
                                                   "mail_kinds": MAIL_KINDS,
                                                   "invitee_kinds": INVITEE_KINDS}).fetchone()
                claimed = conn.execute(CLAIM_SQL, {"now": now, "batch": self.batch,
                                                   "lease_until": now + self._lease()}).fetchall()
            if not claimed:
                return fanned["events"] + expired
            results = self._send(claimed)
            self._record(claimed, results)
        return fanned["events"] + len(claimed) + expired

    def _lease(self) -> timedelta:
        # Long enough to send the whole batch one by one at the timeout each.
        timeout = float(self.config["WEBHOOK_TIMEOUT_SECONDS"])
        return timedelta(seconds=60 + 2 * timeout * self.batch)

    def _send(self, claimed: list[Mapping[str, Any]]) -> dict[int, webhook_sender.Result]:
        """Send a claimed batch; no database connection is held meanwhile."""
        results: dict[int, webhook_sender.Result] = {}
        outgoing: list[mail.Outgoing] = []
        posts: list[tuple[int, webhook_sender.Request]] = []
        for row in claimed:
            try:
                if row["channel"] == "mail":
                    outgoing.append(mail.compose(row, self.config))
                else:
                    posts.append((row["id"], webhook_sender.request_for(row)))
            except Exception as exc:  # a bug in composing must not stop the others
                log.exception("could not compose delivery %s", row["id"])
                results[row["id"]] = webhook_sender.Result(None, 0, "", f"{type(exc).__name__}: {exc}")
        futures = {delivery_id: self._senders.submit(webhook_sender.post, request, self.config)
                   for delivery_id, request in posts}
        if outgoing:
            started = time.perf_counter()
            errors = mail.send(outgoing, self.config)
            took = int((time.perf_counter() - started) * 1000)
            for item, error in zip(outgoing, errors):
                results[item.delivery_id] = webhook_sender.Result(None, took, "", error)
        for delivery_id, future in futures.items():
            results[delivery_id] = future.result()
        return results

    def _record(self, claimed: list[Mapping[str, Any]], results: dict[int, webhook_sender.Result]) -> None:
        now = self.clock()
        base = float(self.config["WORKER_RETRY_BASE_SECONDS"])
        most = float(self.config["WORKER_RETRY_MAX_SECONDS"])
        ids, errors, retry_at, codes, latency, responses = [], [], [], [], [], []
        for row in claimed:
            result = results[row["id"]]
            ids.append(row["id"])
            errors.append(result.error)
            retry_at.append(None if result.error is None
                            else now + timedelta(seconds=backoff(row["attempts"], base, most)))
            codes.append(result.status)
            latency.append(result.latency_ms)
            responses.append(result.response)
            if result.error:
                log.warning("delivery %s (%s, attempt %s) failed: %s", row["id"], row["channel"],
                            row["attempts"], result.error)
        disable_before = now - timedelta(hours=float(self.config["WEBHOOK_DISABLE_AFTER_HOURS"]))
        with db.connection() as conn:
            outcome = conn.execute(RECORD_SQL, {
                "ids": ids, "errors": errors, "retry_at": retry_at, "codes": codes,
                "latency": latency, "responses": responses, "now": now,
                "max_attempts": int(self.config["WORKER_MAX_ATTEMPTS"]),
                "disable_before": disable_before}).fetchone()
        if outcome["failed"] or outcome["disabled"]:
            log.warning("%s deliveries failed for good; %s endpoints disabled",
                        outcome["failed"], outcome["disabled"])

    def extend_series(self) -> dict[str, int]:
        """Materialise every live series up to its horizon (a week past the booking
        window), as `flask series extend` does; what could not be placed is recorded
        and its organiser told (series.occurrence_skipped)."""
        from booking import rules
        from booking.series import service as series

        with self.app.app_context():
            totals = series.extend_all(self.clock(), self.config)
        if totals["series"]:
            log.info("series extended: %(series)s series, %(booked)s booked, "
                     "%(skipped)s skipped", totals)
        return totals

    def release_due(self) -> int:
        """Release the bookings nobody checked in to (booking/bookings/release.py), then
        announce the reminders that are due (booking/bookings/reminders.py): one
        statement per batch each; how many were released."""
        from booking.bookings import release, reminders

        with self.app.app_context():
            released = release.sweep(self.clock(), int(self.config["RELEASE_BATCH"]))
            reminded = reminders.send_due(self.clock())
        if released or reminded:
            log.info("released %s bookings nobody checked in to; %s reminders", released,
                     reminded)
        return released

    def run_until_idle(self, rounds: int = 1000) -> int:
        """Rounds until nothing is due (tests, and `worker --once`)."""
        total = 0
        for _ in range(rounds):
            handled = self.run_once()
            total += handled
            if not handled:
                break
        return total

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        """Work until stop() (or SIGTERM when installed): wake on NOTIFY, a due retry, or the poll."""
        poll = float(self.config["WORKER_POLL_SECONDS"])
        listener: psycopg.Connection | None = None
        log.info("worker started (batch %s, %s sender threads, poll %ss)", self.batch,
                 self.config["WORKER_THREADS"], poll)
        next_extend = time.monotonic()      # at start, then hourly
        next_sweep = time.monotonic()       # at start, then every SWEEP_EVERY_SECONDS
        while not self.stopping.is_set():
            try:
                if time.monotonic() >= next_extend:
                    self.extend_series()
                    next_extend = time.monotonic() + EXTEND_EVERY_SECONDS
                if time.monotonic() >= next_sweep:
                    self.release_due()
                    next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
                if listener is None or listener.closed:
                    listener = db.connect(self.config["LISTEN_DATABASE_URL"],
                                          application_name="booking-worker")
                    listener.execute("LISTEN booking_outbox")
                if self.run_once():
                    continue            # there may be more
                self._sleep(listener, min(self._seconds_to_next_due(poll),
                                          max(0.0, next_sweep - time.monotonic())))
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying in %ss", exc, poll)
                if listener is not None:
                    listener.close()
                listener = None
                self.stopping.wait(poll)
        if listener is not None:
            listener.close()
        self._senders.shutdown(wait=True)
        log.info("worker stopped")

    def _seconds_to_next_due(self, poll: float) -> float:
        with self.app.app_context(), db.connection() as conn:
            due = conn.execute(NEXT_DUE_SQL).fetchone()["due"]
        if due is None:
            return poll
        return max(0.0, min(poll, (due - self.clock()).total_seconds()))

    def _sleep(self, listener: psycopg.Connection, seconds: float) -> None:
        """Until a NOTIFY, `seconds`, or stop(); in short slices so a stop is prompt."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if list(listener.notifies(timeout=min(left, 0.5), stop_after=1)):
                list(listener.notifies(timeout=0))   # several commits wake us once
                return

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

