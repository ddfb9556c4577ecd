-- Issue 17: door panels. A panel token is bound to one room and signs in a
-- tablet beside its door; it can do only the panel's actions on that room
-- (booking/panels). Each room's panels act as one account of their own,
-- "Panel · <room>" (no password, no mail), which owns the walk-in bookings
-- they make and is the actor in the audit log.
CREATE TABLE panel_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id    integer NOT NULL REFERENCES rooms,
    user_id    bigint NOT NULL REFERENCES users,     -- the room's panel account
    token_hash bytea NOT NULL UNIQUE,                -- SHA-256 of the token, as API tokens
    prefix     text NOT NULL,                        -- shown in lists to recognise a token
    created_by bigint REFERENCES users,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
-- The room's admin page lists its panels.
CREATE INDEX panel_tokens_room ON panel_tokens (room_id, id);

-- A revoked panel is forgotten by every process's auth cache at once.
CREATE TRIGGER panel_tokens_revoked_notify AFTER UPDATE OF revoked_at ON panel_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION memo_auth_changed();
CREATE TRIGGER panel_tokens_deleted_notify AFTER DELETE ON panel_tokens
    FOR EACH ROW EXECUTE FUNCTION memo_auth_changed();

-- Make a panel token for a room (its account made on first use), audited.
CREATE FUNCTION create_panel_token(p_room integer, p_actor bigint, p_hash bytea,
                                   p_prefix text)
RETURNS panel_tokens
LANGUAGE plpgsql AS $$
DECLARE
    v_room rooms;
    v_user bigint;
    v_token panel_tokens;
BEGIN
    SELECT * INTO v_room FROM rooms WHERE id = p_room;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO users (email, name, role, password_hash, mail_enabled)
    VALUES ('panel-' || p_room || '@panels.invalid', left('Panel · ' || v_room.name, 100),
            'staff', NULL, false)
    ON CONFLICT ((lower(email))) DO UPDATE SET active = true
    RETURNING id INTO v_user;
    INSERT INTO panel_tokens (room_id, user_id, token_hash, prefix, created_by)
    VALUES (p_room, v_user, p_hash, p_prefix, p_actor)
    RETURNING * INTO v_token;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, after)
    VALUES (p_actor, 'panel.create', v_user, p_room, 'panel ' || v_token.id,
            to_jsonb(v_token) - 'token_hash');
    RETURN v_token;
END
$$;
