-- What a person chooses for their own pages: the colour theme and the time
-- zone their lists are grouped in (both on /account and PATCH /api/me).
--
--   theme     'auto' follows the browser's prefers-color-scheme; 'light' and
--             'dark' override it.
--   timezone  an IANA name (checked by the application, like rooms.timezone);
--             NULL: the zone most rooms are in. "My bookings" groups days in
--             it and names a room's zone only where it differs.
--
-- Additive: two columns, the first with a default, so existing rows read
-- 'auto' and NULL.
ALTER TABLE users
    ADD COLUMN theme text NOT NULL DEFAULT 'auto'
        CONSTRAINT users_theme_check CHECK (theme IN ('auto', 'light', 'dark')),
    ADD COLUMN timezone text
        CONSTRAINT users_timezone_check CHECK (length(timezone) BETWEEN 1 AND 64);

-- Each process remembers the signed-in user's row (booking/memo/users.py),
-- now with these two columns: a change to either must be forgotten by every
-- process, as a change of name or mail setting is.
DROP TRIGGER users_changed_notify ON users;
CREATE TRIGGER users_changed_notify AFTER UPDATE ON users
    FOR EACH ROW WHEN ((OLD.active, OLD.email, OLD.name, OLD.role, OLD.calendar_salt,
                        OLD.mail_enabled, OLD.theme, OLD.timezone)
                       IS DISTINCT FROM (NEW.active, NEW.email, NEW.name, NEW.role,
                                         NEW.calendar_salt, NEW.mail_enabled, NEW.theme,
                                         NEW.timezone))
    EXECUTE FUNCTION memo_auth_changed();
