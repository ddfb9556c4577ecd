-- The planning board's version: what each process's kept boards are checked
-- against (booking/memo/board.py).
--
-- A board shows every active room and its bookings on one day, for any day,
-- so any write to bookings or rooms, or to a user's name (on the bars), may
-- change one. Such a write bumps memo_versions('board') in its own
-- transaction; the board's one statement reads that version and sends the
-- board again only when it moved, so a kept board is never stale, whichever
-- process wrote.
--
-- Nobody needs to hear of it: the board reads its version in the statement
-- that serves it, so the bump sends no NOTIFY (unlike memo_changed()), and a
-- booking write costs one more row update, on one of sixteen rows picked by
-- backend pid so concurrent writers do not queue on one.

INSERT INTO memo_versions (name, slot)
SELECT 'board', slot FROM generate_series(0, 15) AS slot;

CREATE FUNCTION memo_board_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memo_versions SET n = n + 1 WHERE name = 'board' AND slot = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_board_memo AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bookings
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_changed();
CREATE TRIGGER rooms_board_memo AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_changed();
CREATE TRIGGER users_board_memo AFTER UPDATE OF name ON users
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_changed();
