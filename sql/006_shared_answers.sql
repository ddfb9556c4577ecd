-- A version number for "what every user sees alike" (the rooms overview).
--
-- Each statement that writes bookings or rooms adds one to a counter, in
-- its own transaction, so the change and the new version become visible
-- together. A process that kept an answer built at version v can serve it as
-- long as the sum is still v (booking/shared.py). Sixteen slots, picked by
-- the backend's pid, so concurrent writers do not queue on one row.
CREATE TABLE data_versions (
    slot integer PRIMARY KEY,
    n    bigint NOT NULL DEFAULT 0
);
INSERT INTO data_versions (slot) SELECT generate_series(0, 15);

CREATE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_versions SET n = n + 1 WHERE slot = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_bump_version AFTER INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER rooms_bump_version AFTER INSERT OR UPDATE OR DELETE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER users_bump_version AFTER UPDATE OF name ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
