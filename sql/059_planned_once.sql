-- What the booking path runs is planned once per session, not once per call.
--
-- 1. Helpers keep their plans.
--
-- PostgreSQL 15 plans a LANGUAGE sql function that it cannot inline each time
-- a statement calls it (the plan lives only as long as that statement), while
-- a PL/pgSQL function keeps its plans for the session. These are called from
-- every create, move, conflict and approval, several of them twice, with a
-- subquery argument or an aggregate that rules inlining out: planning them
-- was 0.1-0.25 ms a call, most of what the policy lookup cost (sql/042).
-- The same answers; only the language changes.

-- An area and the areas above it (areas_pkey at each step).
CREATE OR REPLACE FUNCTION area_chain(p_area integer)
RETURNS TABLE (id integer, name text, policy jsonb, depth integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE up AS (
        SELECT a.id, a.name, a.policy, a.parent_id, 1 AS depth FROM areas a WHERE a.id = p_area
        UNION ALL
        SELECT a.id, a.name, a.policy, a.parent_id, up.depth + 1
          FROM areas a JOIN up ON a.id = up.parent_id
         WHERE up.depth < 32)
    SELECT up.id, up.name, up.policy, up.depth FROM up;
END
$$;

-- The rooms of an area and of the areas in it (areas_parent, rooms_area).
CREATE OR REPLACE FUNCTION area_rooms(p_area integer) RETURNS SETOF integer
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE down AS (
        SELECT a.id, 1 AS depth FROM areas a WHERE a.id = p_area
        UNION ALL
        SELECT a.id, down.depth + 1 FROM areas a JOIN down ON a.parent_id = down.id
         WHERE down.depth < 32)
    SELECT r.id FROM rooms r JOIN down ON r.area_id = down.id;
END
$$;

-- The rooms a quota counts in: its area's when an area set it, else the room.
CREATE OR REPLACE FUNCTION quota_rooms(p_room integer, p_policy jsonb) RETURNS integer[]
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF p_policy->'fields'->'quota'->'source'->>'level' = 'area' THEN
        RETURN ARRAY(SELECT area_rooms((p_policy->'fields'->'quota'->'source'->>'id')::integer));
    END IF;
    RETURN ARRAY[p_room];
END
$$;

-- A new booking's status: its series' while that is pending or confirmed,
-- else pending where approval is required (not for an admin). The last line is
-- a plain expression, planned once with policy_approval() inlined.
CREATE OR REPLACE FUNCTION new_booking_status(p_policy jsonb, p_series bigint, p_admin boolean)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_status text;
BEGIN
    IF p_series IS NOT NULL THEN
        SELECT s.status INTO v_status FROM series s
         WHERE s.id = p_series AND s.status IN ('pending', 'confirmed');
        IF FOUND THEN
            RETURN v_status;
        END IF;
    END IF;
    RETURN CASE WHEN NOT p_admin AND policy_approval(p_policy) THEN 'pending' ELSE 'confirmed' END;
END
$$;

-- A remembered thing's version (memo_versions_pkey).
CREATE OR REPLACE FUNCTION memo_version(p_name text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT sum(n)::bigint FROM memo_versions WHERE name = p_name);
END
$$;

-- 2. The quota count and the policy levels use their generic plans.
--
-- PL/pgSQL runs each statement through the plan cache, which plans a
-- statement with parameters afresh (a "custom plan") for its first five runs
-- and keeps doing so while the generic plan is estimated dearer. The quota
-- count (quota_refusals() inlined: four CTEs, two counts) was planned afresh
-- on every booking, 1.2 ms of a call's 1.5 ms; the policy levels on every
-- read of a room's policy. Their generic plans are the same index ranges
-- (bookings_user_start, rooms_pkey, areas_pkey) with the values supplied at
-- run time. Not for book() and edit_booking() as a whole: there a generic
-- plan joins every user by hash to list the bookings in the way.
ALTER FUNCTION quota_locked_refusals SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION resolve_policy SET plan_cache_mode = force_generic_plan;
