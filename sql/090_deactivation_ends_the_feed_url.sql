-- Deactivating someone ends their personal calendar feed's URL for good (found
-- by a security tester). The URL is its own credential (booking/feeds), signed
-- with the person's calendar_salt; a deactivated person's feed answered 404,
-- but only because they were inactive: reactivated, the old URL worked again,
-- where deactivation revokes sessions and tokens for good (sql/012).
--
-- Now deactivating, by any path (the admin page, the API, plain SQL), gives
-- them a new calendar_salt in the same row change, as "make a new one" on
-- /account does: the old URL never works again, and the person, once back, is
-- shown the new one on /account and in GET /api/me. A trigger of its own, BEFORE
-- the update (an AFTER trigger would have to update the row a second time);
-- users_deactivated() (sql/012) is unchanged. users_changed_notify tells the
-- auth caches, which keep calendar_salt, as it does for a new URL.

CREATE FUNCTION users_deactivated_new_feed_url() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.calendar_salt := gen_random_uuid()::text;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_deactivated_new_feed_url BEFORE UPDATE OF active ON users
    FOR EACH ROW WHEN (OLD.active AND NOT NEW.active)
    EXECUTE FUNCTION users_deactivated_new_feed_url();
