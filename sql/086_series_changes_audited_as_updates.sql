-- A change of a series is audited as series.update (found by testing from
-- outside): audit_row() recorded every update of a series as series.cancel, a
-- change in place (an invitees-only one, say) and a split ("this and
-- following") alike, while the README promises series.update. A split moves
-- cancelled_from too, so a new continued_by says it is a change; cancelling,
-- whole or from one occurrence on, stays series.cancel.
--
-- The rest is as sql/040 left it.

CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_old jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END;
    v_new jsonb := to_jsonb(NEW);
    v_actor bigint := audit_actor();
    v_action text;
    v_user bigint;
    v_room integer;
    v_target text;
BEGIN
    IF TG_TABLE_NAME = 'series' THEN
        -- A split moves cancelled_from too, but is a change (edit_series()).
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'series.create'
                         WHEN NEW.cancelled_at IS NOT NULL AND OLD.cancelled_at IS NULL
                              THEN 'series.cancel'
                         WHEN NEW.continued_by IS DISTINCT FROM OLD.continued_by
                              THEN 'series.update'
                         WHEN NEW.cancelled_from IS DISTINCT FROM OLD.cancelled_from
                              THEN 'series.cancel'
                         ELSE 'series.update' END;
        v_actor := coalesce(v_actor, NEW.cancelled_by, NEW.user_id);
        v_user := NEW.user_id; v_room := NEW.room_id; v_target := 'series ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'rooms' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'room.create' ELSE 'room.update' END;
        v_room := NEW.id; v_target := 'room ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'areas' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'area.create' ELSE 'area.update' END;
        v_target := 'area ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'groups' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'group.create' ELSE 'group.update' END;
        v_target := 'group ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'users' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'user.create' ELSE 'user.update' END;
        v_old := v_old - 'password_hash' - 'calendar_salt';
        v_new := v_new - 'password_hash' - 'calendar_salt';
        v_user := NEW.id; v_target := 'user ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'api_tokens' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'token.create' ELSE 'token.revoke' END;
        v_old := v_old - 'token_hash';
        v_new := v_new - 'token_hash';
        v_actor := coalesce(v_actor, NEW.user_id);
        v_user := NEW.user_id; v_target := 'token ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'sign_in_failures' THEN
        v_action := 'sign_in.failure';
        v_new := jsonb_build_object('email', NEW.email_key, 'address', NEW.address);
        v_user := (SELECT u.id FROM users u WHERE lower(u.email) = NEW.email_key);
        v_target := 'email ' || NEW.email_key;
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    VALUES (v_actor, v_action, v_user, v_room, v_target, v_old, v_new);
    RETURN NULL;
END
$$;
