-- Events: an outbox written by triggers in the same transaction as the change,
-- the deliveries a worker makes from it (mail, webhooks), and what those need.
--
-- Every write path (book(), book_series(), the cancel statements, and any
-- added later) emits its events through the AFTER triggers below, so no
-- request runs an extra statement and a rolled-back change leaves no event.
-- The triggers are statement-level with transition tables: they run once
-- after the whole statement and see all of its changes, which tells an
-- occurrence cancelled on its own from one cancelled with its series by the
-- same statement (booking/series/service.py: CANCEL_SQL).

-- One row per event. `payload` is a snapshot of the changed row(s) as
-- to_jsonb() gives them (cheap in the trigger); the worker renders it.
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,         -- booking.created, booking.cancelled, series.created,
                                         -- series.cancelled, occurrence.cancelled,
                                         -- endpoint.disabled
    user_id       bigint,                -- whose booking or series it is (who is told)
    actor_id      bigint,                -- who did it
    room_id       integer,
    booking_id    bigint,
    series_id     bigint,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz            -- deliveries made from it (booking/events/worker.py)
);
-- The worker's fan-out: events not dispatched yet, oldest first.
CREATE INDEX outbox_undispatched ON outbox (id) WHERE dispatched_at IS NULL;
-- Activity, staff view: their own events, newest first (keyset on id).
CREATE INDEX outbox_user ON outbox (user_id, id);
-- A series' SEQUENCE in calendar mail: how many events it had before this one.
CREATE INDEX outbox_series ON outbox (series_id, id) WHERE series_id IS NOT NULL;
-- Booking rates over the last hour and day: BRIN, nearly free to keep up on
-- an append-only table.
CREATE INDEX outbox_created ON outbox USING brin (created_at);

-- Tell sleeping workers (LISTEN booking_outbox). NOTIFY is transactional:
-- it is delivered at commit, and never for a rolled-back change.
CREATE FUNCTION outbox_notify() RETURNS void
LANGUAGE sql AS $$ SELECT pg_notify('booking_outbox', '') $$;

CREATE FUNCTION outbox_bookings_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Occurrences (series_id set) are announced by their series.created.
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, payload)
    SELECT 'booking.created', n.user_id, n.user_id, n.room_id, n.id,
           jsonb_build_object('booking', to_jsonb(n))
      FROM new_rows n
     WHERE n.series_id IS NULL
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION outbox_bookings_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, series_id, payload)
    SELECT CASE WHEN n.series_id IS NULL THEN 'booking.cancelled' ELSE 'occurrence.cancelled' END,
           n.user_id, n.cancelled_by, n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n),
                              'cancelled_by', n.cancelled_by,
                              'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id)
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
       -- An occurrence cancelled together with its series is told by series.cancelled.
       AND NOT EXISTS (SELECT 1 FROM series s
                        WHERE s.id = n.series_id AND s.cancelled_from IS NOT NULL
                          AND n.start_at >= s.cancelled_from)
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION outbox_series_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, series_id, payload)
    SELECT 'series.created', n.user_id, n.user_id, n.room_id, n.id,
           jsonb_build_object('series', to_jsonb(n))
      FROM new_rows n
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION outbox_series_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Cancelled from a moment on (set, or moved earlier), or cancelled whole.
    INSERT INTO outbox (kind, user_id, actor_id, room_id, series_id, payload)
    SELECT 'series.cancelled', n.user_id, n.cancelled_by, n.room_id, n.id,
           jsonb_build_object('series', to_jsonb(n),
                              'from', n.cancelled_from,
                              'whole', n.cancelled_at IS NOT NULL,
                              'cancelled_by', n.cancelled_by,
                              'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id)
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE (n.cancelled_from IS NOT NULL
            AND (o.cancelled_from IS NULL OR n.cancelled_from < o.cancelled_from))
        OR (n.cancelled_at IS NOT NULL AND o.cancelled_at IS NULL)
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_outbox_insert AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_bookings_inserted();
CREATE TRIGGER bookings_outbox_update AFTER UPDATE ON bookings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_bookings_updated();
CREATE TRIGGER series_outbox_insert AFTER INSERT ON series
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_series_inserted();
CREATE TRIGGER series_outbox_update AFTER UPDATE ON series
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_series_updated();

-- A user may turn mail off on the account page.
ALTER TABLE users ADD COLUMN mail_enabled boolean NOT NULL DEFAULT true;

-- Webhook endpoints, registered by admins. The secret signs deliveries
-- (Standard Webhooks), so it is kept as it is; it is shown once, on creation.
CREATE TABLE webhook_endpoints (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url           text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    events        text[] NOT NULL,      -- the event kinds it wants
    secret        text NOT NULL,
    created_by    bigint NOT NULL REFERENCES users,
    created_at    timestamptz NOT NULL DEFAULT now(),
    active        boolean NOT NULL DEFAULT true,
    failing_since timestamptz,          -- first failure since the last success
    disabled_at   timestamptz,
    disabled_reason text
);

-- What the worker sends: one row per (event, recipient): the owner's mail,
-- each subscribed endpoint's POST.
CREATE TABLE deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES outbox,
    channel         text NOT NULL CHECK (channel IN ('mail', 'webhook')),
    user_id         bigint REFERENCES users,               -- mail: to whom
    endpoint_id     bigint REFERENCES webhook_endpoints,   -- webhook: where
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),    -- due, or leased until
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
-- The worker's claim: due pending deliveries, soonest first.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
-- The admins' list of failed deliveries, newest first.
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 'failed';

-- Every webhook attempt, for the endpoint's delivery log.
CREATE TABLE webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   bigint NOT NULL REFERENCES deliveries,
    endpoint_id   bigint NOT NULL REFERENCES webhook_endpoints,
    attempt       integer NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    status_code   integer,              -- NULL: no answer (refused, timed out)
    latency_ms    integer NOT NULL,
    ok            boolean NOT NULL,
    response      text NOT NULL DEFAULT '',   -- the first 500 characters
    error         text
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
