-- Who approves a room's requests, found without reading every person, and planned
-- once per session.
--
-- approver_ids() (the approvers a request is mailed to, in the outbox row of
-- 'approval.requested') cost 1.2-1.4 ms a call on the bench data: as an SQL
-- function that is not inlined, it was planned afresh in every statement that
-- called it (0.7 ms), and it read all 5,500 people to find the administrators
-- (0.8 ms). In PL/pgSQL its plan is kept for the session; the named groups'
-- members come from group_members_pkey and the administrators from a small
-- index of their own. Same people, same order.
CREATE INDEX users_admins ON users (id) WHERE role = 'admin';

CREATE OR REPLACE FUNCTION approver_ids(p_room integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN (
        WITH named AS (
            SELECT g.value::bigint AS group_id
              FROM jsonb_array_elements_text(
                       coalesce(room_policy(p_room)->'fields'->'approvers'->'value', '[]')) g),
        chosen AS (
            SELECT m.user_id AS id FROM group_members m JOIN named n ON n.group_id = m.group_id
            UNION
            SELECT u.id FROM users u WHERE u.role = 'admin' AND NOT EXISTS (SELECT 1 FROM named))
        SELECT coalesce(jsonb_agg(u.id ORDER BY u.id), '[]')
          FROM chosen c JOIN users u ON u.id = c.id
         WHERE u.active);
END
$$;
