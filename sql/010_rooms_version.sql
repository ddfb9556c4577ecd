-- A version number for the rooms table alone.
--
-- Each process keeps a copy of every room (booking/rooms/catalogue.py), so the
-- free-room search need not read 500 rooms to rank the few that fit. Every
-- statement that writes rooms adds one here, in its own transaction; the
-- search's statement reads the number in the same snapshot as the bookings
-- it probes, and when it is not the copy's, sends the rooms again. Bookings
-- do not touch it (they bump data_versions, sql/006), so the copy outlives
-- them. One row: room changes are an administrator's, and rare.
CREATE TABLE rooms_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    n        bigint NOT NULL DEFAULT 0
);
INSERT INTO rooms_version DEFAULT VALUES;

CREATE FUNCTION bump_rooms_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rooms_version SET n = n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER rooms_bump_rooms_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION bump_rooms_version();
