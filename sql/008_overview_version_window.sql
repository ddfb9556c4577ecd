-- The rooms overview shows what is on now and later today: a booking made or
-- cancelled for next month does not change it. So a booking write bumps the
-- data version (006) only when a row it touched lies near today — within two
-- days either side of now, which covers "today" in every time zone. Writes
-- further ahead (most of them) leave every kept overview valid.
--
-- `booking.bump_everything = on` (a server setting) bumps on every write:
-- the test suite sets it, because it freezes the application's clock in 2027
-- while the database's now() keeps running.
DROP TRIGGER bookings_bump_version ON bookings;

CREATE FUNCTION bump_data_version_if_near() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_near boolean := coalesce(current_setting('booking.bump_everything', true), '') = 'on';
BEGIN
    -- Each branch names only the transition tables its event has.
    IF NOT v_near AND TG_OP IN ('INSERT', 'UPDATE') THEN
        v_near := EXISTS (SELECT 1 FROM new_rows
                           WHERE start_at < now() + interval '2 days'
                             AND end_at > now() - interval '2 days');
    END IF;
    IF NOT v_near AND TG_OP IN ('UPDATE', 'DELETE') THEN
        v_near := EXISTS (SELECT 1 FROM old_rows
                           WHERE start_at < now() + interval '2 days'
                             AND end_at > now() - interval '2 days');
    END IF;
    IF v_near THEN
        UPDATE data_versions SET n = n + 1 WHERE slot = pg_backend_pid() % 16;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_inserted_bump_version AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version_if_near();
CREATE TRIGGER bookings_updated_bump_version AFTER UPDATE ON bookings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version_if_near();
CREATE TRIGGER bookings_deleted_bump_version AFTER DELETE ON bookings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version_if_near();
