-- The language a person reads the pages and their mail in (issue 19):
-- 'en', 'de' or 'fr'; NULL follows the browser's Accept-Language (and
-- English for mail). Chosen on /account and with PATCH /api/me {"language"}.
--
-- Additive: one nullable column, so existing rows read NULL (the browser's).
ALTER TABLE users
    ADD COLUMN language text
        CONSTRAINT users_language_check CHECK (language IN ('en', 'de', 'fr'));

-- Each process remembers the signed-in user's row (booking/memo/users.py), now
-- with the language: a change must be forgotten by every process, as a change
-- of theme is. 014 rebuilt this trigger from 009's column list and so lost
-- 012's home_building; it is back here, beside the new column.
DROP TRIGGER users_changed_notify ON users;
CREATE TRIGGER users_changed_notify AFTER UPDATE ON users
    FOR EACH ROW WHEN ((OLD.active, OLD.email, OLD.name, OLD.role, OLD.calendar_salt,
                        OLD.mail_enabled, OLD.theme, OLD.timezone, OLD.home_building,
                        OLD.language)
                       IS DISTINCT FROM (NEW.active, NEW.email, NEW.name, NEW.role,
                                         NEW.calendar_salt, NEW.mail_enabled, NEW.theme,
                                         NEW.timezone, NEW.home_building, NEW.language))
    EXECUTE FUNCTION memo_auth_changed();
