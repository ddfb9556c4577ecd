-- resolve_policy() (sql/040) at a third of the cost, with the same answers.
--
-- room_policy() is read by every booking, move, extension, availability and
-- auto-assignment (book(), edit_booking(), auto_book(), the availability
-- query), most of them twice. As a SQL function it walked the room's area
-- chain twice (once for the fields, once for the list of areas) and, not
-- being inlinable, was planned again at each call: 0.75 ms in PostgreSQL on
-- `make bench`'s data. Here the chain is walked once (a MATERIALIZED CTE)
-- and, in PL/pgSQL, the plan is kept for the session: 0.23 ms.
CREATE OR REPLACE FUNCTION resolve_policy(p_room integer, p_area integer) RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (
        WITH l AS MATERIALIZED (SELECT * FROM policy_levels(p_room, p_area))
        SELECT jsonb_build_object(
            'fields', coalesce((
                SELECT jsonb_object_agg(f.key, jsonb_build_object('value', f.value,
                                                                  'source', f.source))
                  FROM (SELECT DISTINCT ON (e.key) e.key, e.value, l.source
                          FROM l CROSS JOIN LATERAL jsonb_each(l.policy) e
                         ORDER BY e.key, l.depth) f), '{}'),
            'areas', coalesce((
                SELECT jsonb_agg((l.source->>'id')::integer ORDER BY l.depth)
                  FROM l WHERE l.depth > 0), '[]')));
END
$$;
