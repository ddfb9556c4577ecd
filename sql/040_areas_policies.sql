-- The organisation's rules as data (issue 18): areas that nest, groups of people,
-- and policies on areas and rooms.
--
-- A policy is a JSON object of the fields a level sets (booking/policy.py checks
-- them before they are written; a field not in the object is not set there):
-- min_minutes, max_minutes, opening_hours, closed_dates, max_days_ahead,
-- min_notice_minutes, buffer_minutes, quota, approval_required, bookers,
-- approvers. A room's effective policy takes each field from the nearest level
-- that sets it: the room, then its area, that area's parent and so on; what no
-- level sets is the organisation's default (the settings, booking/config.py),
-- filled in by Python. room_policy() below resolves the levels in one
-- expression, so any statement that books or moves a booking can read it.

CREATE TABLE areas (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CONSTRAINT areas_name_check CHECK (length(name) BETWEEN 1 AND 100),
    parent_id  integer REFERENCES areas (id),
    policy     jsonb NOT NULL DEFAULT '{}'
               CONSTRAINT areas_policy_check CHECK (jsonb_typeof(policy) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX areas_name_key ON areas (lower(name));
CREATE INDEX areas_parent ON areas (parent_id) WHERE parent_id IS NOT NULL;

ALTER TABLE rooms ADD COLUMN area_id integer REFERENCES areas (id);
ALTER TABLE rooms ADD COLUMN policy jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT rooms_policy_check CHECK (jsonb_typeof(policy) = 'object');
CREATE INDEX rooms_area ON rooms (area_id) WHERE area_id IS NOT NULL;

-- An area's parent may not be the area itself or one of its descendants: the
-- walk up from the new parent must not reach the area. Areas are few and
-- shallow (site -> building -> wing), so the walk is short; 32 levels at most.
CREATE FUNCTION areas_no_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NOT NULL AND (
        NEW.parent_id = NEW.id OR EXISTS (
            WITH RECURSIVE up AS (
                SELECT a.id, a.parent_id, 1 AS depth FROM areas a WHERE a.id = NEW.parent_id
                UNION ALL
                SELECT a.id, a.parent_id, up.depth + 1
                  FROM areas a JOIN up ON a.id = up.parent_id
                 WHERE up.depth < 32)
            SELECT 1 FROM up WHERE up.id = NEW.id OR up.depth >= 32)) THEN
        RAISE EXCEPTION 'an area cannot be inside itself'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'areas_no_cycle';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER areas_no_cycle BEFORE INSERT OR UPDATE OF parent_id ON areas
    FOR EACH ROW EXECUTE FUNCTION areas_no_cycle();

CREATE TABLE groups (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CONSTRAINT groups_name_check CHECK (length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

CREATE TABLE group_members (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
-- Who is in which group is read with the user on every request (auth.USER_COLUMNS).
CREATE INDEX group_members_user ON group_members (user_id, group_id);

-- The areas above an area, nearest first (depth 1 is the area itself).
CREATE FUNCTION area_chain(p_area integer)
RETURNS TABLE (id integer, name text, policy jsonb, depth integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE up AS (
        SELECT a.id, a.name, a.policy, a.parent_id, 1 AS depth FROM areas a WHERE a.id = p_area
        UNION ALL
        SELECT a.id, a.name, a.policy, a.parent_id, up.depth + 1
          FROM areas a JOIN up ON a.id = up.parent_id
         WHERE up.depth < 32)
    SELECT up.id, up.name, up.policy, up.depth FROM up
$$;

-- The levels of a room (its own policy at depth 0, then its areas) or of an
-- area (its own policy and its ancestors'), each with its policy and the
-- source it names: {"level": "room" | "area", "id", "name"}.
CREATE FUNCTION policy_levels(p_room integer, p_area integer)
RETURNS TABLE (depth integer, policy jsonb, source jsonb)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT 0, r.policy, jsonb_build_object('level', 'room', 'id', r.id, 'name', r.name)
      FROM rooms r WHERE r.id = p_room
    UNION ALL
    SELECT c.depth, c.policy, jsonb_build_object('level', 'area', 'id', c.id, 'name', c.name)
      FROM area_chain(coalesce((SELECT r.area_id FROM rooms r WHERE r.id = p_room), p_area)) c
$$;

-- What the levels set: {"fields": {field: {"value", "source"}}, "areas": [ids,
-- nearest first]}. Each field from the nearest level that sets it; fields no
-- level sets are left out (the organisation's defaults, from the settings,
-- are Python's: booking/policy.py effective()). rooms_pkey, areas_pkey.
CREATE FUNCTION resolve_policy(p_room integer, p_area integer) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'fields', coalesce((
            SELECT jsonb_object_agg(f.key, jsonb_build_object('value', f.value,
                                                              'source', f.source))
              FROM (SELECT DISTINCT ON (e.key) e.key, e.value, l.source
                      FROM policy_levels(p_room, p_area) l
                     CROSS JOIN LATERAL jsonb_each(l.policy) e
                     ORDER BY e.key, l.depth) f), '{}'),
        'areas', coalesce((
            SELECT jsonb_agg((l.source->>'id')::integer ORDER BY l.depth)
              FROM policy_levels(p_room, p_area) l WHERE l.depth > 0), '[]'))
$$;

CREATE FUNCTION room_policy(p_room integer) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN resolve_policy(p_room, NULL);

CREATE FUNCTION area_policy(p_area integer) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN resolve_policy(NULL, p_area);

-- The rooms an area holds, its sub-areas' included: a quota set on an area
-- counts bookings in all of them; the board's area filter shows all of them.
CREATE FUNCTION area_rooms(p_area integer) RETURNS SETOF integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE down AS (
        SELECT a.id, 1 AS depth FROM areas a WHERE a.id = p_area
        UNION ALL
        SELECT a.id, down.depth + 1 FROM areas a JOIN down ON a.parent_id = down.id
         WHERE down.depth < 32)
    SELECT r.id FROM rooms r JOIN down ON r.area_id = down.id
$$;

-- The room's JSON shape gains its area.
CREATE OR REPLACE FUNCTION room_json(r rooms) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', r.id, 'name', r.name, 'building', r.building, 'floor', r.floor,
    'capacity', r.capacity, 'equipment', r.equipment, 'timezone', r.timezone,
    'opens', to_char(r.opens::interval, 'HH24:MI'), 'closes', to_char(r.closes::interval, 'HH24:MI'),
    'active', r.active, 'area_id', r.area_id);

-- What each process remembers (sql/011_memo.sql): the finder's copy of the
-- rooms carries each room's effective policy, so a change to an area (its
-- policy, name or parent) is a change to the rooms; the board filters by area.
CREATE TRIGGER areas_memo AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON areas
    FOR EACH STATEMENT EXECUTE FUNCTION memo_rooms_changed();
CREATE TRIGGER areas_board_memo AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON areas
    FOR EACH STATEMENT EXECUTE FUNCTION memo_board_changed();
-- Group names are shown on policies (bookers, approvers).
CREATE TRIGGER groups_memo AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION memo_rooms_changed();

-- Who is in which group travels with the user row (auth.USER_COLUMNS), which each
-- process remembers: a membership change forgets that user everywhere.
CREATE FUNCTION memo_members_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM memo_changed('auth', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM memo_changed('auth', 'user:' || OLD.user_id);
    ELSE
        PERFORM memo_changed('auth', 'user:' || NEW.user_id);
        IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
            PERFORM memo_changed('auth', 'user:' || OLD.user_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER group_members_memo AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION memo_members_changed();
CREATE TRIGGER group_members_truncated_memo AFTER TRUNCATE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION memo_members_changed();

-- The audit log (sql/007) records areas and groups like rooms: made and changed,
-- with the row before and after (a policy change is an area.update or room.update).
CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger
LANGUAGE plpgsql AS $$
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
        v_action := CASE WHEN TG_OP = 'INSERT' THEN 'series.create' ELSE 'series.cancel' END;
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
CREATE TRIGGER areas_audit AFTER INSERT ON areas FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER areas_audit_update AFTER UPDATE ON areas
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION audit_row();
CREATE TRIGGER groups_audit AFTER INSERT ON groups FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER groups_audit_update AFTER UPDATE ON groups
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION audit_row();
