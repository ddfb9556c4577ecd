-- People: signing in slows down instead of locking anyone out, at most 50
-- live API tokens each, deactivation ends sessions and tokens for good, and
-- a home building.

-- == Sign-in throttling, atomic =============================================
--
-- Before: one statement checked the limit, the password was checked, and a
-- second statement recorded the failure, so 30 simultaneous guesses got 8
-- passwords checked against a limit of 5; and five failures from anywhere
-- locked an account for 15 minutes, its owner too (anyone could lock anyone
-- out). Now:
--
--   * per client address (IPv6 by its /64: one machine has a whole /64),
--     a hard limit: SIGN_IN_MAX_FAILURES attempts in the window, then 429
--     until the oldest leaves it;
--   * per account (the email as typed, account or not), no lock but a growing
--     delay: from the SIGN_IN_MAX_FAILURES-th failure in the window on, the
--     next attempt waits 1 s, then 2 s, 4 s, ... up to SIGN_IN_MAX_DELAY_SECONDS
--     after the latest one; its owner gets in after that wait, however many
--     addresses guess;
--   * an attempt is claimed (a `pending` row, counted like a failure) in the
--     same statement that checks both, under a lock per address group and per
--     email, before the password is checked; the check's outcome then marks it
--     a failure, or the new session deletes it.
ALTER TABLE sign_in_failures ADD COLUMN address_group text;
ALTER TABLE sign_in_failures ADD COLUMN pending boolean NOT NULL DEFAULT false;
UPDATE sign_in_failures SET address_group = address;
ALTER TABLE sign_in_failures ALTER COLUMN address_group SET NOT NULL;
-- The address limit reads the newest attempts of one group.
CREATE INDEX sign_in_failures_group ON sign_in_failures (address_group, failed_at);
DROP INDEX sign_in_failures_address;

-- Claim an attempt, or say until when none may be made. Locks first (address
-- group, then email: one order for everyone), then reads with a new snapshot
-- (each statement of a plpgsql function takes one), so what an attempt that
-- held the lock before recorded is counted.
CREATE FUNCTION sign_in_claim(p_email text, p_address text, p_group text, p_now timestamptz,
                              p_window interval, p_most integer, p_longest interval)
RETURNS TABLE (attempt_id bigint, throttled_until timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_email text := lower(p_email);
    v_until timestamptz;
    v_failures integer;
    v_latest timestamptz;
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('sign_in address ' || p_group, 0));
    PERFORM pg_advisory_xact_lock(hashtextextended('sign_in email ' || v_email, 0));

    -- sign_in_failures_group: the p_most-th newest attempt from this group.
    SELECT f.failed_at + p_window INTO v_until
      FROM sign_in_failures f
     WHERE f.address_group = p_group AND f.failed_at > p_now - p_window
     ORDER BY f.failed_at DESC OFFSET greatest(p_most - 1, 0) LIMIT 1;

    -- sign_in_failures_email: this account's attempts in the window.
    SELECT count(*), max(f.failed_at) INTO v_failures, v_latest
      FROM sign_in_failures f
     WHERE f.email_key = v_email AND f.failed_at > p_now - p_window;
    IF v_failures >= p_most THEN
        v_until := greatest(v_until, v_latest + least(
            p_longest, interval '1 second' * power(2, least(v_failures - p_most, 30))));
    END IF;

    IF v_until > p_now THEN
        RETURN QUERY SELECT NULL::bigint, v_until;
        RETURN;
    END IF;
    INSERT INTO sign_in_failures (email_key, address, address_group, failed_at, pending)
    VALUES (v_email, p_address, p_group, p_now, true)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, NULL::timestamptz;
END
$$;

-- The audit log records a failure once it is one: a pending claim that turns
-- out wrong (or a row written as a failure outright), not a claim that ended
-- in a session.
CREATE FUNCTION audit_sign_in_failure() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor_id, action, user_id, target, after)
    VALUES (NULL, 'sign_in.failure',
            (SELECT u.id FROM users u WHERE lower(u.email) = NEW.email_key),
            'email ' || NEW.email_key,
            jsonb_build_object('email', NEW.email_key, 'address', NEW.address));
    RETURN NULL;
END
$$;
DROP TRIGGER sign_in_failures_audit ON sign_in_failures;
CREATE TRIGGER sign_in_failures_audit AFTER INSERT ON sign_in_failures
    FOR EACH ROW WHEN (NOT NEW.pending) EXECUTE FUNCTION audit_sign_in_failure();
CREATE TRIGGER sign_in_failures_audit_checked AFTER UPDATE OF pending ON sign_in_failures
    FOR EACH ROW WHEN (OLD.pending AND NOT NEW.pending)
    EXECUTE FUNCTION audit_sign_in_failure();

-- == API tokens: at most 50 live ones per person ============================
--
-- Checked by the row that would be the 51st, under a lock per person, so two
-- requests at once cannot both be the 50th (the count runs after the lock,
-- with a new snapshot). booking.errors maps the constraint name to 422
-- too_many_tokens.
CREATE FUNCTION api_tokens_most_live() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.revoked_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('api_tokens user ' || NEW.user_id, 0));
    -- api_tokens_user
    IF (SELECT count(*) FROM api_tokens t
         WHERE t.user_id = NEW.user_id AND t.revoked_at IS NULL) >= 50 THEN
        RAISE EXCEPTION 'at most 50 live API tokens per person'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'api_tokens_most_live';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER api_tokens_most_live BEFORE INSERT ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION api_tokens_most_live();

-- == Deactivation ends sessions and tokens ==================================
--
-- An inactive user could not sign in, but their sessions and tokens stayed,
-- only ignored, and came back with a reactivation. Now deactivating (from
-- any path: the admin page, the API, plain SQL) deletes the sessions and
-- revokes the tokens in the same transaction; reactivating brings back
-- neither. (Their deletion and revocation notify the auth caches, 009/011.)
CREATE FUNCTION users_deactivated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sessions WHERE user_id = NEW.id;
    UPDATE api_tokens SET revoked_at = now() WHERE user_id = NEW.id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_deactivated AFTER UPDATE OF active ON users
    FOR EACH ROW WHEN (OLD.active AND NOT NEW.active)
    EXECUTE FUNCTION users_deactivated();

-- The series extension (`series extend`) reads the owners too: a deactivated
-- person's series stop booking.

-- == Home building ===========================================================
--
-- Where a person usually is: the finder and auto-assignment prefer it and
-- offer rooms in its time zone only, unless asked. NULL: where they booked
-- most lately (booking/auth.py works that out at sign-in).
ALTER TABLE users ADD COLUMN home_building text CHECK (length(home_building) <= 100);

-- Who a session or token is now includes the home building: a change must
-- reach the auth caches (the same trigger as 009's, one column more).
DROP TRIGGER users_changed_notify ON users;
CREATE TRIGGER users_changed_notify AFTER UPDATE ON users
    FOR EACH ROW WHEN ((OLD.active, OLD.email, OLD.name, OLD.role, OLD.calendar_salt,
                        OLD.mail_enabled, OLD.home_building)
                       IS DISTINCT FROM (NEW.active, NEW.email, NEW.name, NEW.role,
                                         NEW.calendar_salt, NEW.mail_enabled,
                                         NEW.home_building))
    EXECUTE FUNCTION memo_auth_changed();
