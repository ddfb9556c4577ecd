-- One invalidation channel for everything a process remembers (booking/memo/).
--
-- Replaces three schemes: data_versions (006, 008) for the rooms overview,
-- NOTIFY booking_auth (009) for who a session or token is, rooms_version
-- (010) for the finder's copy of the rooms. Now every change that can make
-- something remembered untrue calls memo_changed(name, detail), which
--
--   * bumps `name`'s version in memo_versions, in the changing transaction,
--     so a reader that reads memo_version(name) in its own statement knows
--     exactly whether what it kept is still true (overview, rooms), and
--   * sends NOTIFY booking_memo, '<name>:<detail>', delivered when the
--     transaction commits and never when it rolls back, which is how a
--     process that runs no statement learns of it (who a session is).
--
-- Names: 'rooms' (any write to rooms), 'overview' (what the rooms overview
-- shows: rooms, user names, bookings near today), 'auth' (detail: a session's
-- or token's hash in hex, 'user:<id>', or '*').

CREATE TABLE memo_versions (
    name text NOT NULL,
    slot integer NOT NULL,    -- sixteen per name, picked by backend pid: concurrent
    n    bigint NOT NULL DEFAULT 0,   -- writers do not queue on one row
    PRIMARY KEY (name, slot)
);
INSERT INTO memo_versions (name, slot)
SELECT name, slot FROM unnest(ARRAY['rooms', 'overview', 'auth']) AS name
 CROSS JOIN generate_series(0, 15) AS slot;

CREATE FUNCTION memo_version(p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT sum(n)::bigint FROM memo_versions WHERE name = p_name
$$;

CREATE FUNCTION memo_changed(p_name text, p_detail text DEFAULT '') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memo_versions SET n = n + 1 WHERE name = p_name AND slot = pg_backend_pid() % 16;
    PERFORM pg_notify('booking_memo', p_name || ':' || p_detail);
END
$$;

-- Rooms: the finder's copy and the overview.
CREATE FUNCTION memo_rooms_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM memo_changed('rooms');
    PERFORM memo_changed('overview');
    RETURN NULL;
END
$$;

-- A user's name is on the overview's bookings.
CREATE FUNCTION memo_overview_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM memo_changed('overview');
    RETURN NULL;
END
$$;

-- The rooms overview shows what is on now and later today: a booking made or
-- cancelled for next month does not change it. So a booking write changes
-- 'overview' only when a row it touched lies within two days either side of
-- now(), which covers "today" in every time zone; most writes are further
-- ahead and leave every kept overview valid.
--
-- `booking.bump_everything = on` (a server setting) counts every write as
-- near: the test suite sets it, because it stands the application's clock
-- in 2027 while the database's now() is the real one.
CREATE FUNCTION memo_bookings_changed() RETURNS trigger
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
        PERFORM memo_changed('overview');
    END IF;
    RETURN NULL;
END
$$;

-- Sessions, tokens and users: who a session or token is. Routine writes say
-- nothing: sign-in inserts a new session, a token's last_used_at touch
-- changes no column watched here, and deleting an already expired session
-- (sign-in tidies those) changes nothing remembered.
CREATE OR REPLACE FUNCTION notify_auth_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM memo_changed('auth', '*');
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM memo_changed('auth', 'user:' || OLD.id);
    ELSE
        PERFORM memo_changed('auth', encode(OLD.token_hash, 'hex'));
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION notify_auth_change() RENAME TO memo_auth_changed;

-- The old schemes go.
DROP TRIGGER bookings_inserted_bump_version ON bookings;
DROP TRIGGER bookings_updated_bump_version ON bookings;
DROP TRIGGER bookings_deleted_bump_version ON bookings;
DROP TRIGGER rooms_bump_version ON rooms;
DROP TRIGGER users_bump_version ON users;
DROP TRIGGER rooms_bump_rooms_version ON rooms;
DROP FUNCTION bump_data_version_if_near();
DROP FUNCTION bump_data_version();
DROP FUNCTION bump_rooms_version();
DROP TABLE data_versions;
DROP TABLE rooms_version;

CREATE TRIGGER rooms_memo AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION memo_rooms_changed();
CREATE TRIGGER users_memo_overview AFTER UPDATE OF name ON users
    FOR EACH STATEMENT EXECUTE FUNCTION memo_overview_changed();
CREATE TRIGGER bookings_inserted_memo AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memo_bookings_changed();
CREATE TRIGGER bookings_updated_memo AFTER UPDATE ON bookings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memo_bookings_changed();
CREATE TRIGGER bookings_deleted_memo AFTER DELETE ON bookings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memo_bookings_changed();
