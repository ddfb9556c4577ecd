-- Three things the audit log got wrong (found by testing from outside).
--
-- 1. Group membership was not audited, yet it grants booking and approving (a
--    policy's bookers and approvers are groups). group.create carried the name
--    alone; PATCH /api/groups/<id> {"members"} wrote nothing, since only the
--    group's own row was audited and a change of members leaves it as it was.
--    Now a group's entries carry its `members` (id, email, name, as the API
--    shows them: group_members_json()): group.create with those it was made
--    with (the trigger runs at the end of the statement, after they joined),
--    group.update with them before and after. The statement that changes the
--    members (booking/areas/groups.py) names the members it found before in
--    booking.group_members_before ({"<group id>": [...]}) and updates the
--    group's row, so the row's trigger fires for a change of members alone;
--    it now fires for every update and writes nothing when the entry would
--    show no change (it had WHEN old.* IS DISTINCT FROM new.*).
-- 2. A token made from the command line was recorded as made by its owner:
--    audit_row() took the owner when no actor was named. README: actor is NULL
--    for changes made from the command line. The account page and its twin
--    now name the actor (booking/account/service.py), and the owner is no
--    longer assumed.
-- 3. A failed sign-in recorded the email lowercased (the throttling key);
--    README: the email as typed. sign_in_failures keeps it as typed in a new
--    column `email`, set when the attempt is recorded as failed
--    (booking/auth.py), and audit_sign_in_failure() writes that one.
--
-- audit_row() and audit_sign_in_failure() are restated; the rest of them is as
-- sql/086 and sql/012 left them.

CREATE FUNCTION group_members_json(p_group bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    -- group_members_pkey
    RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'email', u.email,
                                                         'name', u.name) ORDER BY u.name, u.id),
                            '[]')
              FROM group_members m JOIN users u ON u.id = m.user_id
             WHERE m.group_id = p_group);

ALTER TABLE sign_in_failures ADD COLUMN email text;

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
        -- Its members, now and, for a change, as the changing statement found them.
        v_new := v_new || jsonb_build_object('members', group_members_json(NEW.id));
        IF TG_OP = 'UPDATE' THEN
            v_old := v_old || jsonb_build_object('members', coalesce(
                         nullif(current_setting('booking.group_members_before', true),
                                '')::jsonb -> NEW.id::text,
                         v_new->'members'));
            IF v_old = v_new THEN
                RETURN NULL;   -- nothing changed: no entry
            END IF;
        END IF;
    ELSIF TG_TABLE_NAME = 'users' THEN
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'user.create' ELSE 'user.update' END;
        v_old := v_old - 'password_hash' - 'calendar_salt';
        v_new := v_new - 'password_hash' - 'calendar_salt';
        v_user := NEW.id; v_target := 'user ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'api_tokens' THEN
        -- The actor as named (NULL from the command line), not the owner assumed.
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'token.create' ELSE 'token.revoke' END;
        v_old := v_old - 'token_hash';
        v_new := v_new - 'token_hash';
        v_user := NEW.user_id; v_target := 'token ' || NEW.id;
    ELSIF TG_TABLE_NAME = 'sign_in_failures' THEN
        v_action := 'sign_in.failure';
        v_new := jsonb_build_object('email', coalesce(NEW.email, NEW.email_key),
                                    'address', NEW.address);
        v_user := (SELECT u.id FROM users u WHERE lower(u.email) = NEW.email_key);
        v_target := 'email ' || NEW.email_key;
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    VALUES (v_actor, v_action, v_user, v_room, v_target, v_old, v_new);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION audit_sign_in_failure() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- The email as typed (README); the lowercased key where none was kept.
    INSERT INTO audit_log (actor_id, action, user_id, target, after)
    VALUES (NULL, 'sign_in.failure',
            (SELECT u.id FROM users u WHERE lower(u.email) = NEW.email_key),
            'email ' || NEW.email_key,
            jsonb_build_object('email', coalesce(NEW.email, NEW.email_key),
                               'address', NEW.address));
    RETURN NULL;
END
$$;

DROP TRIGGER groups_audit_update ON groups;
CREATE TRIGGER groups_audit_update AFTER UPDATE ON groups
    FOR EACH ROW EXECUTE FUNCTION audit_row();
