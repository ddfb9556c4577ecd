-- A request nobody is asked to decide (found by testing from outside): a room's
-- approvers named a group with no active member, so the request was mailed to
-- nobody and expired unseen. With no approver groups, administrators are asked;
-- now also when the groups named have nobody active in them. (Administrators
-- may decide any request either way.)
--
-- The rest is as sql/062 left it.

CREATE OR REPLACE FUNCTION approver_ids(p_room integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN (
        WITH named AS (
            SELECT g.value::bigint AS group_id
              FROM jsonb_array_elements_text(
                       coalesce(room_policy(p_room)->'fields'->'approvers'->'value', '[]')) g),
        members AS (
            SELECT m.user_id AS id
              FROM group_members m JOIN named n ON n.group_id = m.group_id
              JOIN users u ON u.id = m.user_id
             WHERE u.active),
        chosen AS (
            SELECT id FROM members
            UNION
            SELECT u.id FROM users u
             WHERE u.role = 'admin' AND u.active AND NOT EXISTS (SELECT 1 FROM members))
        SELECT coalesce(jsonb_agg(c.id ORDER BY c.id), '[]') FROM chosen c);
END
$$;
