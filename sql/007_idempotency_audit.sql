-- Idempotency keys: a retried booking request books once.
--
-- A client sends `Idempotency-Key: <1-255 printable ASCII>` with a booking
-- (POST /api/bookings, its series variant, POST /api/bookings/auto; the
-- booking pages send a hidden one). book_once() claims the key for the user,
-- books, and keeps what the booking function answered, all inside the one
-- statement that books: the key and the booking commit or vanish together.
--
-- * The key is claimed first, with INSERT ... ON CONFLICT DO NOTHING on the
--   primary key. A second request with the same key waits there until the
--   first commits, then finds the key taken and replays the kept answer: two
--   simultaneous requests book once.
-- * Only a request that booked keeps its key. When nothing was booked (a 409,
--   say) the claim is deleted in the same transaction, so a retry is tried
--   afresh; it booked nothing, so there is nothing to double.
-- * A key is good for 24 hours from its first use (by the app clock): an
--   older one is deleted when its key comes again, and each booking with a
--   key deletes up to 10 expired ones, so the table holds about a day's worth.
-- * `fingerprint` is a hash of the request (route kind and body): the same
--   key with another request is refused (422 idempotency_mismatch).
CREATE TABLE idempotency_keys (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL,
    answer      jsonb,                      -- what the booking function returned
    PRIMARY KEY (user_id, key)
);
-- Expired keys, oldest first, for the clean-up that rides along with each use.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE FUNCTION json_timestamps(a jsonb) RETURNS timestamptz[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(t.v::timestamptz ORDER BY t.n), '{}')
      FROM jsonb_array_elements_text(a) WITH ORDINALITY AS t(v, n)
$$;

-- p_kind says which booking function runs, p_args its arguments (from the
-- app's own code, never the client's JSON as such):
--   'book'   book(room, user, title, starts, ends)       -> its rows
--   'series' book_series(room, user, title, rrule, tz, first, minutes,
--                        horizon, starts, ends, skip)   -> its rows
--   'auto'   auto_book(rooms, user, title, start, end, people, equipment,
--                      building, floor, not_before, until) -> its json,
--            with the chosen room's JSON picked out of p_args->'room_json'
-- Returns one row: replayed (the key was used before), same_request (the
-- fingerprints match; false only when replayed), result (the kept or fresh
-- answer; NULL for a mismatch).
CREATE FUNCTION book_once(p_user bigint, p_key text, p_fingerprint text, p_now timestamptz,
                          p_kind text, p_args jsonb)
RETURNS TABLE (replayed boolean, same_request boolean, result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_earlier idempotency_keys;
    v_result jsonb;
    v_booked boolean;
BEGIN
    DELETE FROM idempotency_keys k
     WHERE k.user_id = p_user AND k.key = p_key AND k.created_at <= p_now - interval '24 hours';
    DELETE FROM idempotency_keys k WHERE (k.user_id, k.key) IN (
        SELECT o.user_id, o.key FROM idempotency_keys o
         WHERE o.created_at <= p_now - interval '24 hours'
         ORDER BY o.created_at LIMIT 10 FOR UPDATE SKIP LOCKED);

    INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        -- Used before (and committed: the INSERT waited for that). A new
        -- statement, so a new snapshot that sees it.
        SELECT * INTO v_earlier FROM idempotency_keys k
         WHERE k.user_id = p_user AND k.key = p_key;
        IF NOT FOUND THEN  -- deleted as expired in between: let the client retry
            RAISE EXCEPTION 'idempotency key vanished' USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN QUERY SELECT true, v_earlier.fingerprint = p_fingerprint,
                            CASE WHEN v_earlier.fingerprint = p_fingerprint
                                 THEN v_earlier.answer END;
        RETURN;
    END IF;

    IF p_kind = 'book' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book((p_args->>'room')::integer, p_user, p_args->>'title',
                    json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends')) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "created")');
    ELSIF p_kind = 'series' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book_series((p_args->>'room')::integer, p_user, p_args->>'title',
                           p_args->>'rrule', p_args->>'tz', (p_args->>'first')::timestamptz,
                           (p_args->>'minutes')::integer, (p_args->>'horizon')::timestamptz,
                           json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                           (p_args->>'skip')::boolean) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "series")');
    ELSIF p_kind = 'auto' THEN
        v_result := to_jsonb(auto_book(
            ARRAY(SELECT jsonb_array_elements_text(p_args->'rooms')::integer), p_user,
            p_args->>'title', (p_args->>'start')::timestamptz, (p_args->>'end')::timestamptz,
            (p_args->>'people')::integer,
            ARRAY(SELECT jsonb_array_elements_text(p_args->'equipment')),
            p_args->>'building', (p_args->>'floor')::integer,
            (p_args->>'not_before')::timestamptz, (p_args->>'until')::timestamptz));
        v_booked := v_result->>'room_id' IS NOT NULL;
        IF v_booked THEN
            v_result := v_result || jsonb_build_object(
                'room', p_args->'room_json'->(v_result->>'room_id'));
        END IF;
    ELSE
        RAISE EXCEPTION 'book_once: unknown kind %', p_kind;
    END IF;

    IF coalesce(v_booked, false) THEN
        UPDATE idempotency_keys k SET answer = v_result
         WHERE k.user_id = p_user AND k.key = p_key;
    ELSE
        DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
    END IF;
    RETURN QUERY SELECT false, true, v_result;
END
$$;


-- The audit log: who did what, when, with the row before and after.
--
-- Written by triggers, so each entry commits or rolls back with the change it
-- records, and costs the request no statement of its own. Recorded: bookings
-- made, cancelled or changed; series made or cancelled (wholly or from a
-- date); rooms made or changed; accounts made or changed (role, name, email,
-- active; never the password hash); API tokens made or revoked (never the
-- hash); failed sign-ins (the email as typed and the address).
--
-- The actor: a change made on someone's behalf names them in the same
-- statement with set_config('booking.actor', <user id>, true), which lasts
-- until the transaction ends; without it the row says who (a booking's
-- cancelled_by or owner, a token's owner). NULL: nobody signed in (a failed
-- sign-in) or the command line.
--
-- Append-only: UPDATE, DELETE and TRUNCATE are refused by a trigger, which
-- binds the table's owner too (REVOKE alone would not).
CREATE TABLE audit_log (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),  -- the changing transaction's start
    actor_id bigint,                              -- who (users.id; no FK: entries outlive users)
    action   text NOT NULL,                       -- booking.create, room.update, sign_in.failure, ...
    user_id  bigint,                              -- whose: the booking's owner, the account changed
    room_id  integer,                             -- the room concerned, if any
    target   text NOT NULL,                       -- 'booking 17', 'room 3', 'email x@y'
    before   jsonb,
    after    jsonb
);
-- Keyset pagination, newest first: all entries, or one user's (as actor or
-- owner), or one room's.
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at, id);
CREATE INDEX audit_log_user ON audit_log (user_id, at, id);
CREATE INDEX audit_log_room ON audit_log (room_id, at, id);

CREATE FUNCTION audit_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

CREATE FUNCTION audit_actor() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('booking.actor', true), '')::bigint
$$;

-- Bookings: statement-level with transition tables, so a series of 200
-- occurrences (or a bulk load) writes its entries in one INSERT.
CREATE FUNCTION audit_bookings_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, after)
    SELECT coalesce(audit_actor(), n.user_id), 'booking.create', n.user_id, n.room_id,
           'booking ' || n.id, to_jsonb(n)
      FROM new_rows n ORDER BY n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER bookings_audit_insert AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_bookings_insert();

CREATE FUNCTION audit_bookings_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    SELECT CASE WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                THEN coalesce(n.cancelled_by, audit_actor()) ELSE audit_actor() END,
           CASE WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                THEN 'booking.cancel' ELSE 'booking.update' END,
           n.user_id, n.room_id, 'booking ' || n.id, to_jsonb(o), to_jsonb(n)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
     ORDER BY n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER bookings_audit_update AFTER UPDATE ON bookings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_bookings_update();

-- Everything else changes a row at a time.
CREATE FUNCTION audit_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_old jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END;
    v_new jsonb := to_jsonb(NEW);
    v_actor bigint := audit_actor();
    v_action text;
    v_user bigint;
    v_room integer;
    v_target text;
BEGIN
    IF TG_TABLE_NAME = 'series' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'series.create' ELSE 'series.cancel' END;
        v_actor := coalesce(v_actor, NEW.cancelled_by, NEW.user_id);
        v_user := NEW.user_id; v_room := NEW.room_id; v_target := 'series ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'rooms' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'room.create' ELSE 'room.update' END;
        v_room := NEW.id; v_target := 'room ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'users' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'user.create' ELSE 'user.update' END;
        v_old := v_old - 'password_hash' - 'calendar_salt';
        v_new := v_new - 'password_hash' - 'calendar_salt';
        v_user := NEW.id; v_target := 'user ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'api_tokens' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'token.create' ELSE 'token.revoke' END;
        v_old := v_old - 'token_hash';
        v_new := v_new - 'token_hash';
        v_actor := coalesce(v_actor, NEW.user_id);
        v_user := NEW.user_id; v_target := 'token ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'sign_in_failures' THEN
        v_action := 'sign_in.failure';
        v_new := jsonb_build_object('email', NEW.email_key, 'address', NEW.address);
        v_user := (SELECT u.id FROM users u WHERE lower(u.email) = NEW.email_key);
        v_target := 'email ' || NEW.email_key;
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    VALUES (v_actor, v_action, v_user, v_room, v_target, v_old, v_new);
    RETURN NULL;
END
$$;
CREATE TRIGGER series_audit AFTER INSERT ON series
    FOR EACH ROW EXECUTE FUNCTION audit_row();
-- Not materialized_until: the daily extension is no one's decision.
CREATE TRIGGER series_audit_cancel AFTER UPDATE ON series
    FOR EACH ROW WHEN (OLD.cancelled_at IS DISTINCT FROM NEW.cancelled_at
                       OR OLD.cancelled_from IS DISTINCT FROM NEW.cancelled_from)
    EXECUTE FUNCTION audit_row();
CREATE TRIGGER rooms_audit AFTER INSERT ON rooms
    FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER rooms_audit_update AFTER UPDATE ON rooms
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION audit_row();
CREATE TRIGGER users_audit AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION audit_row();
-- Not calendar_salt (a new feed address) nor a new password.
CREATE TRIGGER users_audit_update AFTER UPDATE OF email, name, role, active ON users
    FOR EACH ROW WHEN ((OLD.email, OLD.name, OLD.role, OLD.active)
                       IS DISTINCT FROM (NEW.email, NEW.name, NEW.role, NEW.active))
    EXECUTE FUNCTION audit_row();
CREATE TRIGGER api_tokens_audit AFTER INSERT ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION audit_row();
-- Not last_used_at: use is not a change.
CREATE TRIGGER api_tokens_audit_revoke AFTER UPDATE OF revoked_at ON api_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION audit_row();
CREATE TRIGGER sign_in_failures_audit AFTER INSERT ON sign_in_failures
    FOR EACH ROW EXECUTE FUNCTION audit_row();
