-- A statement that changes no booking writes nothing.
--
-- The board's version (sql/015) was bumped by every INSERT, UPDATE or DELETE
-- statement on bookings, even one that changed no row: book()'s INSERT ... ON
-- CONFLICT DO NOTHING that found the slot taken, a cancel of nothing. So each
-- refused booking (the 409) wrote a row, which made its transaction wait for a
-- WAL flush at commit like a booking, and threw away every process's kept
-- boards though no board had changed. Now the bump looks at the statement's
-- rows first; TRUNCATE keeps the unconditional one.

CREATE FUNCTION memo_board_rows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition table its event has.
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    UPDATE memo_versions SET n = n + 1 WHERE name = 'board' AND slot = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;

DROP TRIGGER bookings_board_memo ON bookings;
CREATE TRIGGER bookings_board_memo_insert AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_rows_changed();
CREATE TRIGGER bookings_board_memo_update AFTER UPDATE ON bookings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_rows_changed();
CREATE TRIGGER bookings_board_memo_delete AFTER DELETE ON bookings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_rows_changed();
CREATE TRIGGER bookings_board_memo_truncate AFTER TRUNCATE ON bookings
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_changed();
