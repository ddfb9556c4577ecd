-- Each app process remembers who a session or token belongs to for a short
-- while (booking/auth_cache.py), so a request need not look its user up
-- again. These triggers tell every process, through NOTIFY booking_auth,
-- when what it remembers stops being true:
--
--   a session ends (signed out, or cut short)   payload: the token hash, hex
--   a token is revoked or deleted               payload: the token hash, hex
--   a user is deactivated, renamed, changes role, mail or calendar key, or
--   is deleted                                   payload: user:<id>
--   any of the three tables is truncated        payload: *
--
-- NOTIFY is sent when the transaction commits, and not at all when it rolls
-- back. Routine writes send nothing: sign-in inserts a new session, the
-- token's last_used_at touch changes no column listed here, and deleting an
-- already expired session (sign-in tidies those) changes nothing remembered.
CREATE FUNCTION notify_auth_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('booking_auth', '*');
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('booking_auth', 'user:' || OLD.id);
    ELSE
        PERFORM pg_notify('booking_auth', encode(OLD.token_hash, 'hex'));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_ended_notify AFTER DELETE ON sessions
    FOR EACH ROW WHEN (OLD.expires_at > now())
    EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER sessions_changed_notify AFTER UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_auth_change();

CREATE TRIGGER api_tokens_revoked_notify AFTER UPDATE OF revoked_at, user_id, token_hash
    ON api_tokens
    FOR EACH ROW WHEN ((OLD.revoked_at, OLD.user_id, OLD.token_hash)
                       IS DISTINCT FROM (NEW.revoked_at, NEW.user_id, NEW.token_hash))
    EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER api_tokens_deleted_notify AFTER DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION notify_auth_change();

CREATE TRIGGER users_changed_notify AFTER UPDATE ON users
    FOR EACH ROW WHEN ((OLD.active, OLD.email, OLD.name, OLD.role, OLD.calendar_salt,
                        OLD.mail_enabled)
                       IS DISTINCT FROM (NEW.active, NEW.email, NEW.name, NEW.role,
                                         NEW.calendar_salt, NEW.mail_enabled))
    EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER users_deleted_notify AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_auth_change();

CREATE TRIGGER sessions_truncated_notify AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER api_tokens_truncated_notify AFTER TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER users_truncated_notify AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
