-- The schema as `flask --app booking db upgrade` leaves it (pg_dump --schema-only,
-- normalised by booking/schema.py). Generated: do not edit; change a migration in
-- sql/NNN_*.sql and run `.venv/bin/python -m booking.schema`.
-- tests/test_schema.py fails when this file and the migrations disagree.

CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

COMMENT ON EXTENSION btree_gist IS 'support for indexing common datatypes in GiST';

CREATE TYPE public.booking_result AS (
	kind text,
	requested_start timestamp with time zone,
	data json
);

CREATE FUNCTION public.api_tokens_most_live() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.revoked_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('api_tokens user ' || NEW.user_id, 0));
    -- api_tokens_user
    IF (SELECT count(*) FROM api_tokens t
         WHERE t.user_id = NEW.user_id AND t.revoked_at IS NULL) >= 50 THEN
        RAISE EXCEPTION 'at most 50 live API tokens per person'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'api_tokens_most_live';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION public.approver_ids(p_room integer) RETURNS jsonb
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

CREATE FUNCTION public.area_chain(p_area integer) RETURNS TABLE(id integer, name text, policy jsonb, depth integer)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
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

CREATE FUNCTION public.resolve_policy(p_room integer, p_area integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
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

CREATE FUNCTION public.area_policy(p_area integer) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN public.resolve_policy(NULL::integer, p_area);

CREATE FUNCTION public.area_rooms(p_area integer) RETURNS SETOF integer
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
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

CREATE FUNCTION public.areas_no_cycle() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.audit_actor() RETURNS bigint
    LANGUAGE sql STABLE
    AS $$
    SELECT nullif(current_setting('booking.actor', true), '')::bigint
$$;

CREATE FUNCTION public.audit_bookings_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
    v_parts bigint[] := '{}';
BEGIN
    -- A series change books its new rule in itself, or, split, in the part that
    -- continues it (made in this transaction).
    IF v_quiet IS NOT NULL AND series_changed_at(v_quiet, now()) THEN
        v_parts := ARRAY[v_quiet] || ARRAY(SELECT s.continued_by FROM series s
                                            WHERE s.id = v_quiet AND s.continued_by IS NOT NULL);
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, after)
    SELECT coalesce(audit_actor(), n.created_by, n.user_id), 'booking.create', n.user_id,
           n.room_id, 'booking ' || n.id, to_jsonb(n)
      FROM new_rows n
     WHERE NOT coalesce(n.series_id = ANY (v_parts), false)
     ORDER BY n.id;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.audit_bookings_update() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
    v_replacing bigint;
BEGIN
    -- The occurrences a change of this series replaces (edit_series()).
    IF v_quiet IS NOT NULL AND series_changed_at(v_quiet, now()) THEN
        v_replacing := v_quiet;
    END IF;
    INSERT INTO audit_log (actor_id, action, user_id, room_id, target, before, after)
    SELECT CASE WHEN e.decided THEN n.decided_by
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                THEN coalesce(n.cancelled_by, audit_actor())
                WHEN o.released_at IS NULL AND n.released_at IS NOT NULL THEN NULL
                ELSE audit_actor() END,
           CASE WHEN e.decided AND n.status = 'confirmed' THEN 'booking.approve'
                WHEN e.decided AND n.status = 'rejected' THEN 'booking.reject'
                WHEN e.decided AND n.status = 'expired' THEN 'booking.expire'
                WHEN o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL THEN 'booking.cancel'
                WHEN o.released_at IS NULL AND n.released_at IS NOT NULL THEN 'booking.release'
                WHEN o.checked_in_at IS NULL AND n.checked_in_at IS NOT NULL
                     THEN 'booking.checkin'
                ELSE 'booking.update' END,
           n.user_id, n.room_id, 'booking ' || n.id, to_jsonb(o), to_jsonb(n)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     -- A decision, not a move out of a room that needs approval (sql/044).
     CROSS JOIN LATERAL (SELECT o.status = 'pending' AND n.status <> 'pending'
                                AND n.decided_at IS DISTINCT FROM o.decided_at AS decided) e
     WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
       AND NOT coalesce(o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL
                        AND n.series_id = v_replacing, false)
     ORDER BY n.id;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.audit_refuse() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION public.audit_row() RETURNS trigger
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

CREATE FUNCTION public.audit_sign_in_failure() RETURNS trigger
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

CREATE FUNCTION public.auto_book(p_rooms integer[], p_user bigint, p_title text, p_start timestamp with time zone, p_end timestamp with time zone, p_capacity integer, p_equipment text[], p_building text, p_floor integer, p_not_before timestamp with time zone, p_until timestamp with time zone, p_rules jsonb DEFAULT '{}'::jsonb, p_admin boolean DEFAULT false) RETURNS json
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_room integer;
    v_new bookings;
    v_policy jsonb;
    v_overrides text[];
BEGIN
    FOREACH v_room IN ARRAY p_rooms LOOP
        v_policy := room_policy(v_room);
        v_overrides := NULL;
        IF EXISTS (SELECT 1 FROM quota_locked_refusals(v_room, p_user, v_policy,
                                                       ARRAY[p_start], ARRAY[p_end])) THEN
            IF NOT p_admin THEN
                CONTINUE;
            END IF;
            v_overrides := '{quota_exceeded}';
        END IF;
        FOR attempt IN 1..2 LOOP
            BEGIN
                -- No row inserted (taken) leaves v_new NULL.
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_by,
                                      attendees, status, buffer_minutes, overrides)
                VALUES (v_room, p_user, p_title, p_start, p_end, p_user, p_capacity,
                        new_booking_status(v_policy, NULL, p_admin), policy_buffer(v_policy),
                        v_overrides)
                ON CONFLICT DO NOTHING
                RETURNING * INTO v_new;
                EXIT;
            EXCEPTION WHEN deadlock_detected THEN
                v_new := NULL;
            END;
        END LOOP;
        IF v_new.id IS NOT NULL THEN
            PERFORM owner_still_active(p_user, true);
            RETURN json_build_object('room_id', v_room, 'booking', booking_detail_of(v_new));
        END IF;
    END LOOP;
    RETURN json_build_object(
        'room_id', NULL,
        'suggestions', room_suggestions(p_start, p_end, p_capacity, p_equipment, p_building,
                                        p_floor, p_not_before, p_until, p_rules));
END
$$;

CREATE FUNCTION public.book(p_room integer, p_user bigint, p_title text, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_series bigint DEFAULT NULL::bigint, p_skip_conflicts boolean DEFAULT false, p_created_by bigint DEFAULT NULL::bigint, p_attendees integer DEFAULT NULL::integer, p_invitees text[] DEFAULT '{}'::text[], p_notes text DEFAULT NULL::text, p_admin boolean DEFAULT false, p_overrides text[] DEFAULT NULL::text[], p_skip_over_quota boolean DEFAULT false, p_checked_in timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF public.booking_result
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_policy jsonb := room_policy(p_room);
    v_buffer integer := policy_buffer(v_policy);
    v_status text := new_booking_status(v_policy, p_series, p_admin);
    v_overrides text[] := p_overrides;
    v_starts timestamptz[] := p_starts;
    v_ends timestamptz[] := p_ends;
    v_refused timestamptz[];
    v_first jsonb;
    v_ids bigint[] := '{}';
BEGIN
    SELECT coalesce(array_agg(q.requested_start ORDER BY q.requested_start), '{}'),
           (array_agg(q.details ORDER BY q.requested_start))[1]
      INTO v_refused, v_first
      FROM quota_locked_refusals(p_room, p_user, v_policy, p_starts, p_ends) q;
    IF cardinality(v_refused) > 0 THEN
        IF p_admin THEN
            v_overrides := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(v_overrides, '{}')
                                                               || 'quota_exceeded'::text) x
                                  ORDER BY x);
        ELSIF p_skip_over_quota THEN
            RETURN QUERY SELECT 'over_quota', r, NULL::json FROM unnest(v_refused) r;
            SELECT coalesce(array_agg(o.s ORDER BY o.s), '{}'),
                   coalesce(array_agg(o.e ORDER BY o.s), '{}')
              INTO v_starts, v_ends
              FROM unnest(p_starts, p_ends) AS o(s, e) WHERE o.s <> ALL (v_refused);
        ELSE
            RETURN QUERY SELECT 'refused', v_refused[1], v_first::json;
            RETURN;
        END IF;
    END IF;

    FOR attempt IN 1..3 LOOP
        BEGIN
            WITH ins AS (
                INSERT INTO bookings (room_id, user_id, title, start_at, end_at, series_id,
                                      created_by, attendees, invitees, notes,
                                      status, buffer_minutes, overrides, checked_in_at)
                SELECT p_room, p_user, p_title, o.s, o.e, p_series,
                       coalesce(p_created_by, p_user), p_attendees, coalesce(p_invitees, '{}'),
                       p_notes, v_status, v_buffer, nullif(v_overrides, '{}'), p_checked_in
                  FROM unnest(v_starts, v_ends) AS o(s, e)
                 ORDER BY o.s           -- one order for everyone: fewer lock waits
                ON CONFLICT DO NOTHING
                RETURNING id)
            SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM ins;
            IF cardinality(v_ids) < cardinality(v_starts) AND NOT p_skip_conflicts THEN
                RAISE EXCEPTION USING ERRCODE = 'BK409';   -- undo what went in
            END IF;
            EXIT;
        EXCEPTION
            WHEN SQLSTATE 'BK409' THEN
                v_ids := '{}';
                EXIT;
            WHEN deadlock_detected THEN
                IF attempt = 3 THEN RAISE; END IF;
        END;
    END LOOP;
    PERFORM owner_still_active(p_user, cardinality(v_ids) > 0);

    -- bookings_pkey
    RETURN QUERY
    SELECT 'created', b.start_at, booking_detail_of(b)   -- as GET /api/bookings/<id> shows it
      FROM bookings b
     WHERE b.id = ANY (v_ids)
     ORDER BY b.start_at;

    IF cardinality(v_ids) < cardinality(v_starts) THEN
        RETURN QUERY SELECT * FROM book_refusal(p_room, p_user, v_starts, v_ends, v_ids,
                                                v_buffer, v_policy, p_admin);
    END IF;
END
$$;

CREATE FUNCTION public.book_once(p_user bigint, p_key text, p_fingerprint text, p_now timestamp with time zone, p_kind text, p_args jsonb) RETURNS TABLE(replayed boolean, same_request boolean, result jsonb)
    LANGUAGE plpgsql
    AS $_$
DECLARE
    v_earlier idempotency_keys;
    v_result jsonb;
    v_booked boolean;
    v_admin boolean := coalesce((p_args->>'admin')::boolean, false);
    v_overrides text[] := ARRAY(SELECT jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(p_args->'overrides') = 'array' THEN p_args->'overrides'
             ELSE '[]' END));
    v_owner bigint := coalesce((p_args->>'owner')::bigint, p_user);
    v_invitees text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_args->'invitees',
                                                                          '[]')));
BEGIN
    DELETE FROM idempotency_keys k
     WHERE k.user_id = p_user AND k.key = p_key AND k.created_at <= p_now - interval '24 hours';
    DELETE FROM idempotency_keys k WHERE (k.user_id, k.key) IN (
        SELECT o.user_id, o.key FROM idempotency_keys o
         WHERE o.created_at <= p_now - interval '24 hours'
         ORDER BY o.created_at LIMIT 10 FOR UPDATE SKIP LOCKED);

    INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at)
    VALUES (p_user, p_key, p_fingerprint, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        -- Used before (and committed: the INSERT waited for that). A new
        -- statement, so a new snapshot that sees it.
        SELECT * INTO v_earlier FROM idempotency_keys k
         WHERE k.user_id = p_user AND k.key = p_key;
        IF NOT FOUND THEN  -- deleted as expired in between: let the client retry
            RAISE EXCEPTION 'idempotency key vanished' USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN QUERY SELECT true, v_earlier.fingerprint = p_fingerprint,
                            CASE WHEN v_earlier.fingerprint = p_fingerprint
                                 THEN v_earlier.answer END;
        RETURN;
    END IF;

    IF p_kind = 'book' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book((p_args->>'room')::integer, v_owner, p_args->>'title',
                    json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                    NULL, false, p_user, (p_args->>'attendees')::integer, v_invitees,
                    p_args->>'notes', v_admin, nullif(v_overrides, '{}')) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "created")');
    ELSIF p_kind = 'series' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book_series((p_args->>'room')::integer, v_owner, p_args->>'title',
                           p_args->>'rrule', p_args->>'tz', (p_args->>'first')::timestamptz,
                           (p_args->>'minutes')::integer, (p_args->>'horizon')::timestamptz,
                           json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                           (p_args->>'skip')::boolean, p_user,
                           (p_args->>'attendees')::integer, v_invitees, p_args->>'notes',
                           v_admin, nullif(v_overrides, '{}'),
                           json_timestamps(coalesce(p_args->'rule_starts', '[]')),
                           json_timestamps(coalesce(p_args->'rule_ends', '[]')),
                           ARRAY(SELECT jsonb_array_elements_text(
                                 coalesce(p_args->'rule_reasons', '[]')))) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "series")');
    ELSIF p_kind = 'auto' THEN
        v_result := to_jsonb(auto_book(
            ARRAY(SELECT jsonb_array_elements_text(p_args->'rooms')::integer), p_user,
            p_args->>'title', (p_args->>'start')::timestamptz, (p_args->>'end')::timestamptz,
            (p_args->>'people')::integer,
            ARRAY(SELECT jsonb_array_elements_text(p_args->'equipment')),
            p_args->>'building', (p_args->>'floor')::integer,
            (p_args->>'not_before')::timestamptz, (p_args->>'until')::timestamptz,
            coalesce(p_args->'rules', '{}'), v_admin));
        v_booked := v_result->>'room_id' IS NOT NULL;
        IF v_booked THEN
            v_result := v_result || jsonb_build_object(
                'room', p_args->'room_json'->(v_result->>'room_id'));
        END IF;
    ELSE
        RAISE EXCEPTION 'book_once: unknown kind %', p_kind;
    END IF;

    IF coalesce(v_booked, false) THEN
        UPDATE idempotency_keys k SET answer = v_result
         WHERE k.user_id = p_user AND k.key = p_key;
    ELSE
        DELETE FROM idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
    END IF;
    RETURN QUERY SELECT false, true, v_result;
END
$_$;

CREATE FUNCTION public.book_refusal(p_room integer, p_user bigint, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_ids bigint[], p_buffer integer, p_policy jsonb, p_admin boolean) RETURNS SETOF public.booking_result
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_room rooms;
    v_start timestamptz;
BEGIN
    SELECT * INTO v_room FROM rooms r WHERE r.id = p_room;   -- rooms_pkey

    -- In the way: a live booking whose [start, end + its buffer) meets
    -- [s, e + this room's buffer). No booking spans a day and buffers are at
    -- most 4 hours, so start_at > s - 28 hours bounds the index range
    -- (bookings_room_start); each one's owner by users_pkey. As booking_json()
    -- of booking_api's row, written out so that its generic plan is those probes.
    RETURN QUERY
    SELECT 'conflict', o.s,
           booking_json_of(b.id, b.room_id, v_room.name, b.user_id,
                           (SELECT u.name FROM users u WHERE u.id = b.user_id), b.title,
                           b.start_at, b.end_at, b.series_id, b.cancelled_at, b.created_at,
                           v_room.timezone, b.attendees, coalesce(b.created_by, b.user_id),
                           b.status, b.checked_in_at, b.released_at)
      FROM unnest(p_starts, p_ends) AS o(s, e)
      JOIN bookings b
        ON b.room_id = p_room AND b.cancelled_at IS NULL
       AND b.start_at < plus_minutes(o.e, p_buffer)
       AND plus_minutes(b.end_at, b.buffer_minutes) > o.s
       AND b.start_at > o.s - interval '28 hours'
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (p_ids) AND c.start_at = o.s)
     ORDER BY o.s, b.start_at;

    SELECT o.s INTO v_start
      FROM unnest(p_starts, p_ends) AS o(s, e)
     WHERE NOT EXISTS (SELECT 1 FROM bookings c WHERE c.id = ANY (p_ids) AND c.start_at = o.s)
     ORDER BY o.s LIMIT 1;

    -- bookings_room_start: what holds the room in the 15 days from the first
    -- taken interval, each booking with the buffer after it (its next free
    -- slots are found in Python, by the rules and the room's policy).
    RETURN QUERY
    SELECT 'busy', v_start, json_build_object('start_at', b.start_at,
                                              'end_at', plus_minutes(b.end_at, b.buffer_minutes))
      FROM bookings b
     WHERE b.room_id = p_room AND b.cancelled_at IS NULL
       AND b.start_at > v_start - interval '28 hours' AND b.start_at < v_start + interval '15 days'
       AND plus_minutes(b.end_at, b.buffer_minutes) > v_start
     ORDER BY b.start_at;

    -- bookings_user_start: the owner's bookings that count against this room's
    -- quota, from the week before on.
    IF p_policy->'fields' ? 'quota' AND NOT p_admin THEN
        RETURN QUERY
        SELECT 'mine', v_start, json_build_object('room_id', b.room_id, 'start_at', b.start_at,
                                                  'end_at', b.end_at)
          FROM bookings b
         WHERE b.user_id = p_user AND b.cancelled_at IS NULL AND b.status <> 'released'
           AND b.room_id = ANY (quota_rooms(p_room, p_policy))
           AND b.start_at > v_start - interval '8 days' AND b.start_at < v_start + interval '22 days'
         ORDER BY b.start_at;
    END IF;
END
$$;

CREATE FUNCTION public.book_series(p_room integer, p_user bigint, p_title text, p_rrule text, p_timezone text, p_first_start timestamp with time zone, p_duration_minutes integer, p_materialized_until timestamp with time zone, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_skip_conflicts boolean, p_created_by bigint DEFAULT NULL::bigint, p_attendees integer DEFAULT NULL::integer, p_invitees text[] DEFAULT '{}'::text[], p_notes text DEFAULT NULL::text, p_admin boolean DEFAULT false, p_overrides text[] DEFAULT NULL::text[], p_rule_starts timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_ends timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_reasons text[] DEFAULT '{}'::text[]) RETURNS SETOF public.booking_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_series series;
    v_rows booking_result[] := '{}';
BEGIN
    BEGIN
        INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                            timezone, materialized_until, created_by, attendees, invitees,
                            notes, status)
        VALUES (p_room, p_user, p_title, p_rrule, p_first_start, p_duration_minutes,
                p_timezone, p_materialized_until, coalesce(p_created_by, p_user), p_attendees,
                coalesce(p_invitees, '{}'), p_notes,
                new_booking_status(room_policy(p_room), NULL, p_admin))
        RETURNING * INTO v_series;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, p_user, p_title, p_starts, p_ends, v_series.id, p_skip_conflicts,
                    p_created_by, p_attendees, p_invitees, p_notes, p_admin, p_overrides) b;

        -- A taken occurrence refuses the series, unless skip_conflicts; with it,
        -- one is still needed free: every occurrence taken (the rest, if any,
        -- skipped for their day) refuses it as without it (sql/087).
        IF EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'refused')
           OR (EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict')
               AND (NOT p_skip_conflicts
                    OR NOT EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'created')))
        THEN
            RAISE EXCEPTION USING ERRCODE = 'BK409';   -- no series without its occurrences
        END IF;

        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_series.id, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT r.requested_start FROM unnest(v_rows) r WHERE r.kind = 'conflict');
        -- What the room's calendar refuses on its own day (skip_conflicts: a closed
        -- date or weekday, that day's hours, a time the clocks skip), as the
        -- series' extension records it (sql/079).
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_series.id, o.s, o.e, o.r
          FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)
        ON CONFLICT DO NOTHING;
    EXCEPTION
        WHEN SQLSTATE 'BK409' THEN
            v_series := NULL;
    END;

    IF v_series.id IS NOT NULL THEN
        RETURN QUERY SELECT 'series', v_series.first_start, series_json(v_series);
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_rows);
    IF v_series.id IS NOT NULL THEN
        RETURN QUERY
        SELECT 'skipped', k.start_at,
               json_build_object('start_time', rfc3339(k.start_at, p_timezone),
                                 'end_time', rfc3339(k.end_at, p_timezone),
                                 'reason', k.reason)
          FROM series_skips k
         WHERE k.series_id = v_series.id
         ORDER BY k.start_at;
    END IF;
END
$$;

CREATE FUNCTION public.booking_status(p_status text, p_cancelled timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN ((p_cancelled IS NOT NULL) AND (p_status = ANY (ARRAY['confirmed'::text, 'pending'::text]))) THEN 'cancelled'::text ELSE p_status END;

CREATE FUNCTION public.rfc3339(ts timestamp with time zone, tz text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ((to_char((ts AT TIME ZONE tz), 'YYYY-MM-DD"T"HH24:MI:SS'::text) || CASE WHEN ((ts AT TIME ZONE tz) < (ts AT TIME ZONE 'UTC'::text)) THEN '-'::text ELSE '+'::text END) || to_char(((abs(EXTRACT(epoch FROM ((ts AT TIME ZONE tz) - (ts AT TIME ZONE 'UTC'::text)))))::double precision * '00:00:01'::interval), 'HH24:MI'::text));

CREATE FUNCTION public.booking_json_of(p_id bigint, p_room_id integer, p_room_name text, p_user_id bigint, p_user_name text, p_title text, p_start timestamp with time zone, p_end timestamp with time zone, p_series bigint, p_cancelled timestamp with time zone, p_created timestamp with time zone, p_tz text, p_attendees integer, p_created_by bigint, p_status text, p_checked_in timestamp with time zone, p_released timestamp with time zone) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', p_id, 'room_id', p_room_id, 'room_name', p_room_name, 'user_id', p_user_id, 'user_name', p_user_name, 'title', p_title, 'start_time', public.rfc3339(p_start, p_tz), 'end_time', public.rfc3339(p_end, p_tz), 'series_id', p_series, 'cancelled_at', public.rfc3339(p_cancelled, p_tz), 'created_at', public.rfc3339(p_created, p_tz), 'attendees', p_attendees, 'created_by', p_created_by, 'status', public.booking_status(p_status, p_cancelled), 'checked_in_at', public.rfc3339(p_checked_in, p_tz), 'released_at', public.rfc3339(p_released, p_tz));

CREATE TABLE public.bookings (
    id bigint NOT NULL,
    room_id integer NOT NULL,
    user_id bigint NOT NULL,
    title text NOT NULL,
    start_at timestamp with time zone NOT NULL,
    end_at timestamp with time zone NOT NULL,
    series_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    cancelled_at timestamp with time zone,
    cancelled_by bigint,
    attendees integer,
    invitees text[] DEFAULT '{}'::text[] NOT NULL,
    notes text,
    created_by bigint,
    sequence integer DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone,
    original_start timestamp with time zone,
    status text DEFAULT 'confirmed'::text NOT NULL,
    buffer_minutes integer DEFAULT 0 NOT NULL,
    overrides text[],
    decided_by bigint,
    decided_at timestamp with time zone,
    decision_reason text,
    checked_in_at timestamp with time zone,
    released_at timestamp with time zone,
    end_before_release timestamp with time zone,
    CONSTRAINT bookings_attendees_check CHECK (((attendees >= 1) AND (attendees <= 10000))),
    CONSTRAINT bookings_buffer_minutes_check CHECK (((buffer_minutes >= 0) AND (buffer_minutes <= 240))),
    CONSTRAINT bookings_decision_reason_check CHECK ((length(decision_reason) <= 500)),
    CONSTRAINT bookings_invitees_check CHECK ((cardinality(invitees) <= 50)),
    CONSTRAINT bookings_notes_check CHECK (((length(notes) >= 1) AND (length(notes) <= 2000))),
    CONSTRAINT bookings_positive_length CHECK ((end_at > start_at)),
    CONSTRAINT bookings_status_check CHECK ((status = ANY (ARRAY['confirmed'::text, 'pending'::text, 'rejected'::text, 'expired'::text, 'released'::text]))),
    CONSTRAINT bookings_title_check CHECK (((length(title) >= 1) AND (length(title) <= 200)))
);

CREATE TABLE public.rooms (
    id integer NOT NULL,
    name text NOT NULL,
    building text DEFAULT ''::text NOT NULL,
    floor integer DEFAULT 0 NOT NULL,
    capacity integer NOT NULL,
    equipment text[] DEFAULT '{}'::text[] NOT NULL,
    timezone text NOT NULL,
    opens time without time zone DEFAULT '09:00:00'::time without time zone NOT NULL,
    closes time without time zone DEFAULT '18:00:00'::time without time zone NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    area_id integer,
    policy jsonb DEFAULT '{}'::jsonb NOT NULL,
    checkin_required boolean DEFAULT false NOT NULL,
    release_after_minutes integer DEFAULT 15 NOT NULL,
    checkin_since timestamp with time zone,
    CONSTRAINT rooms_building_check CHECK ((length(building) <= 100)),
    CONSTRAINT rooms_capacity_check CHECK (((capacity >= 1) AND (capacity <= 10000))),
    CONSTRAINT rooms_floor_check CHECK (((floor >= '-50'::integer) AND (floor <= 500))),
    CONSTRAINT rooms_hours_check CHECK ((opens < closes)),
    CONSTRAINT rooms_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT rooms_policy_check CHECK ((jsonb_typeof(policy) = 'object'::text)),
    CONSTRAINT rooms_release_after_check CHECK (((release_after_minutes >= 1) AND (release_after_minutes <= 60)))
);

CREATE TABLE public.users (
    id bigint NOT NULL,
    email text NOT NULL,
    name text NOT NULL,
    password_hash text,
    role text DEFAULT 'staff'::text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    calendar_salt text DEFAULT (gen_random_uuid())::text NOT NULL,
    mail_enabled boolean DEFAULT true NOT NULL,
    home_building text,
    theme text DEFAULT 'auto'::text NOT NULL,
    timezone text,
    language text,
    CONSTRAINT users_email_check CHECK ((((length(email) >= 3) AND (length(email) <= 254)) AND (email ~~ '%_@_%'::text))),
    CONSTRAINT users_home_building_check CHECK ((length(home_building) <= 100)),
    CONSTRAINT users_language_check CHECK ((language = ANY (ARRAY['en'::text, 'de'::text, 'fr'::text]))),
    CONSTRAINT users_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['staff'::text, 'admin'::text]))),
    CONSTRAINT users_theme_check CHECK ((theme = ANY (ARRAY['auto'::text, 'light'::text, 'dark'::text]))),
    CONSTRAINT users_timezone_check CHECK (((length(timezone) >= 1) AND (length(timezone) <= 64)))
);

CREATE VIEW public.booking_api AS
 SELECT b.id,
    b.room_id,
    r.name AS room_name,
    b.user_id,
    u.name AS user_name,
    b.title,
    b.series_id,
    b.start_at,
    b.end_at,
    b.cancelled_at,
    b.created_at,
    (b.cancelled_at IS NULL) AS live,
    r.timezone,
    b.attendees,
    COALESCE(b.created_by, b.user_id) AS created_by,
    c.name AS created_by_name,
    b.invitees,
    b.notes,
    b.sequence,
    b.updated_at,
    b.original_start,
    b.status,
    b.buffer_minutes,
    b.checked_in_at,
    b.released_at
   FROM (((public.bookings b
     JOIN public.rooms r ON ((r.id = b.room_id)))
     JOIN public.users u ON ((u.id = b.user_id)))
     LEFT JOIN public.users c ON ((c.id = b.created_by)));

CREATE FUNCTION public.booking_json(v public.booking_api) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN public.booking_json_of((v).id, (v).room_id, (v).room_name, (v).user_id, (v).user_name, (v).title, (v).start_at, (v).end_at, (v).series_id, (v).cancelled_at, (v).created_at, (v).timezone, (v).attendees, (v).created_by, (v).status, (v).checked_in_at, (v).released_at);

CREATE FUNCTION public.booking_detail_json(v public.booking_api) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (((public.booking_json(v))::jsonb || jsonb_build_object('invitees', to_jsonb((v).invitees), 'notes', (v).notes, 'created_by_name', COALESCE((v).created_by_name, (v).user_name), 'updated_at', public.rfc3339((v).updated_at, (v).timezone), 'original_start_time', public.rfc3339((v).original_start, (v).timezone))))::json;

CREATE FUNCTION public.booking_detail_of(b public.bookings) RETURNS json
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v_room rooms;
    v_user_name text;
    v_creator_name text;
BEGIN
    SELECT * INTO v_room FROM rooms r WHERE r.id = b.room_id;
    SELECT u.name INTO v_user_name FROM users u WHERE u.id = b.user_id;
    SELECT u.name INTO v_creator_name FROM users u WHERE u.id = b.created_by;
    RETURN booking_detail_json(ROW(
        b.id, b.room_id, v_room.name, b.user_id, v_user_name, b.title, b.series_id,
        b.start_at, b.end_at, b.cancelled_at, b.created_at, b.cancelled_at IS NULL,
        v_room.timezone, b.attendees, coalesce(b.created_by, b.user_id), v_creator_name,
        b.invitees, b.notes, b.sequence, b.updated_at, b.original_start, b.status,
        b.buffer_minutes, b.checked_in_at, b.released_at)::booking_api);
END
$$;

CREATE FUNCTION public.checkin_booking(p_id bigint, p_actor bigint, p_actor_email text, p_admin boolean, p_panel_room integer, p_now timestamp with time zone, p_opens interval) RETURNS json
    LANGUAGE plpgsql
    AS $$
DECLARE
    v bookings;
    v_room rooms;
    v_release timestamptz;
BEGIN
    -- bookings_pkey, rooms_pkey
    SELECT * INTO v FROM bookings WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN json_build_object('kind', 'not_found');
    END IF;
    SELECT * INTO v_room FROM rooms WHERE id = v.room_id;
    -- coalesce: a NULL (no panel, no address) must refuse, not slip through IF NOT NULL.
    IF NOT coalesce(
            v.room_id = p_panel_room
            OR (p_panel_room IS NULL
                AND (v.user_id = p_actor OR p_admin
                     OR EXISTS (SELECT 1 FROM delegates d
                                 WHERE d.user_id = v.user_id AND d.delegate_id = p_actor)
                     OR lower(p_actor_email) = ANY (SELECT lower(a) FROM unnest(v.invitees) a))),
            false)
    THEN
        RETURN json_build_object('kind', 'forbidden');
    END IF;
    IF v.cancelled_at IS NOT NULL THEN
        RETURN json_build_object('kind', 'cancelled');
    END IF;
    IF v.released_at IS NOT NULL THEN
        RETURN json_build_object('kind', 'released');
    END IF;
    IF v.status = 'pending' THEN
        -- Waiting for approval: not held for certain, so nobody is in it yet.
        RETURN json_build_object('kind', 'pending');
    END IF;
    IF v.checked_in_at IS NULL THEN
        IF p_now < v.start_at - p_opens THEN
            RETURN json_build_object('kind', 'not_open',
                                     'opens_at', rfc3339(v.start_at - p_opens, v_room.timezone));
        END IF;
        v_release := release_time(v.start_at, greatest(v.created_at, v_room.checkin_since),
                              v_room.release_after_minutes);
        IF v_room.checkin_required AND p_now >= v_release THEN
            RETURN json_build_object('kind', 'released');
        END IF;
        IF p_now >= v.end_at THEN
            RETURN json_build_object('kind', 'ended');
        END IF;
        PERFORM set_config('booking.actor', p_actor::text, true);   -- the audit log's actor
        UPDATE bookings SET checked_in_at = p_now WHERE id = p_id;
    END IF;
    RETURN json_build_object(
        'kind', 'checked_in', 'changed', v.checked_in_at IS NULL,
        'booking', (SELECT booking_detail_json(a) FROM booking_api a WHERE a.id = p_id));
END
$$;

CREATE TABLE public.panel_tokens (
    id bigint NOT NULL,
    room_id integer NOT NULL,
    user_id bigint NOT NULL,
    token_hash bytea NOT NULL,
    prefix text NOT NULL,
    created_by bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone
);

CREATE FUNCTION public.create_panel_token(p_room integer, p_actor bigint, p_hash bytea, p_prefix text) RETURNS public.panel_tokens
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.decide_request(p_booking bigint, p_series bigint, p_actor bigint, p_decision text, p_reason text) RETURNS TABLE(outcome text, booking json)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_target bookings;
    v_admin boolean;
    v_groups bigint[];
    v_done integer;
BEGIN
    IF p_series IS NOT NULL THEN
        SELECT * INTO v_target FROM bookings b
         WHERE b.series_id = p_series
         ORDER BY b.status = 'pending' AND b.cancelled_at IS NULL DESC, b.start_at
         LIMIT 1;
    ELSE
        SELECT * INTO v_target FROM bookings b WHERE b.id = p_booking;
    END IF;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    SELECT u.role = 'admin',
           ARRAY(SELECT m.group_id FROM group_members m WHERE m.user_id = u.id)
      INTO v_admin, v_groups
      FROM users u WHERE u.id = p_actor AND u.active;
    -- Whoever decides a series decides every occurrence still asking, so they must
    -- approve for each room those are in (one may have been moved elsewhere).
    IF NOT coalesce(may_approve(room_policy(v_target.room_id), v_admin, v_groups), false)
       OR (v_target.series_id IS NOT NULL AND EXISTS (
               SELECT 1
                 FROM (SELECT DISTINCT b.room_id FROM bookings b
                        WHERE b.series_id = v_target.series_id AND b.status = 'pending'
                          AND b.cancelled_at IS NULL) r
                WHERE NOT coalesce(may_approve(room_policy(r.room_id), v_admin, v_groups),
                                   false))) THEN
        RETURN QUERY SELECT 'forbidden', NULL::json;
        RETURN;
    END IF;
    PERFORM set_config('booking.actor', p_actor::text, true);   -- the audit log's actor
    WITH done AS (
        UPDATE bookings b
           SET status = p_decision, decided_by = p_actor, decided_at = now(),
               decision_reason = p_reason,
               -- Approved: a change calendars must take (TENTATIVE to CONFIRMED), so
               -- the feeds say it as the approval's invitation does.
               sequence = b.sequence + CASE WHEN p_decision = 'confirmed' THEN 1 ELSE 0 END,
               updated_at = CASE WHEN p_decision = 'confirmed' THEN now() ELSE b.updated_at END,
               cancelled_at = CASE WHEN p_decision = 'rejected' THEN now() END,
               cancelled_by = CASE WHEN p_decision = 'rejected' THEN p_actor END
         WHERE (b.id = v_target.id
                OR (v_target.series_id IS NOT NULL AND b.series_id = v_target.series_id))
           AND b.status = 'pending' AND b.cancelled_at IS NULL
        RETURNING 1)
    SELECT count(*) INTO v_done FROM done;
    IF v_done = 0 THEN
        RETURN QUERY SELECT 'not_pending', (SELECT booking_json(v) FROM booking_api v
                                             WHERE v.id = v_target.id);
        RETURN;
    END IF;
    UPDATE series s SET status = p_decision
     WHERE s.id = v_target.series_id AND s.status = 'pending';
    -- A new statement: its snapshot sees the update above.
    RETURN QUERY SELECT 'done', (SELECT booking_json(v) FROM booking_api v
                                  WHERE v.id = v_target.id);
END
$$;

CREATE FUNCTION public.edit_booking(p_id bigint, p_actor bigint, p_admin boolean, p_now timestamp with time zone, p_sequence integer, p_room integer, p_start timestamp with time zone, p_end timestamp with time zone, p_title text, p_set_attendees boolean, p_attendees integer, p_invitees text[], p_set_notes boolean, p_notes text, p_overrides text[] DEFAULT NULL::text[], p_panel_room integer DEFAULT NULL::integer, p_fingerprint text DEFAULT NULL::text) RETURNS json
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_old bookings;
    v_owner bigint;
    v_moved boolean := p_start IS NOT NULL OR p_end IS NOT NULL OR p_room IS NOT NULL;
    v_policy jsonb;
    v_quota jsonb;
    v_room integer;
    v_start timestamptz;
    v_end timestamptz;
    v_status text;
    v_overrides text[] := nullif(p_overrides, '{}');
    v_new bookings;
    v_owner_active boolean := true;
BEGIN
    IF v_moved THEN
        -- bookings_pkey, unlocked: the owner never changes. Their quota lock
        -- first, then the row, as book() does (lock, then insert).
        SELECT b.user_id, room_policy(coalesce(p_room, b.room_id)) INTO v_owner, v_policy
          FROM bookings b WHERE b.id = p_id;
        IF v_policy->'fields' ? 'quota' THEN
            PERFORM quota_lock(v_owner);
        END IF;
        -- users_pkey: the owner's row, held to commit as an insert's foreign key
        -- holds it, so a deactivation waits for this move, or this move for it
        -- (and then reads it committed: FOR KEY SHARE reads the latest row).
        SELECT u.active INTO v_owner_active FROM users u WHERE u.id = v_owner FOR KEY SHARE;
    END IF;

    -- bookings_pkey
    SELECT * INTO v_old FROM bookings WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN json_build_object('kind', 'not_found');
    END IF;
    IF NOT (v_old.user_id = p_actor OR p_admin OR v_old.room_id = p_panel_room
            OR EXISTS (SELECT 1 FROM delegates d
                        WHERE d.user_id = v_old.user_id AND d.delegate_id = p_actor)) THEN
        RETURN json_build_object('kind', 'forbidden');
    END IF;
    IF v_old.cancelled_at IS NOT NULL OR v_old.end_at <= p_now THEN
        RETURN json_build_object('kind', 'not_editable',
                                 'cancelled', v_old.cancelled_at IS NOT NULL);
    END IF;
    -- If-Match, judged on the locked row: the sequence counts the changes of the
    -- booking itself; the fingerprint (md5 of the booking's JSON as the request
    -- read it) also sees a check-in or an approval, which change what GET shows
    -- without being changes of the meeting.
    IF (p_sequence IS NOT NULL AND v_old.sequence <> p_sequence)
       OR (p_fingerprint IS NOT NULL
           AND md5(booking_detail_of(v_old)::text) <> p_fingerprint) THEN
        RETURN json_build_object('kind', 'precondition_failed');
    END IF;

    v_room := coalesce(p_room, v_old.room_id);
    v_start := coalesce(p_start, v_old.start_at);
    v_end := coalesce(p_end, v_old.end_at);
    v_status := v_old.status;
    IF v_room = v_old.room_id AND v_start = v_old.start_at AND v_end = v_old.end_at
       AND coalesce(p_title, v_old.title) = v_old.title
       AND (NOT p_set_attendees OR p_attendees IS NOT DISTINCT FROM v_old.attendees)
       AND coalesce(p_invitees, v_old.invitees) IS NOT DISTINCT FROM v_old.invitees
       AND (NOT p_set_notes OR p_notes IS NOT DISTINCT FROM v_old.notes) THEN
        -- A change to what it already is: nothing written, told or audited, as
        -- end_booking() (sql/070); the answer is the booking as it is.
        RETURN json_build_object('kind', 'updated', 'booking', booking_detail_of(v_old));
    END IF;
    IF v_moved AND NOT coalesce(v_owner_active, false)
       AND (v_room <> v_old.room_id OR v_start <> v_old.start_at OR v_end <> v_old.end_at) THEN
        -- A new time or room for someone deactivated: refused as book() refuses
        -- a booking for them (owner_still_active(), sql/073).
        RAISE EXCEPTION 'user % is not active', v_old.user_id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_owner_active';
    END IF;
    IF v_moved THEN
        -- The quota, counted without this booking (it moves, it does not add).
        SELECT q.details INTO v_quota
          FROM quota_refusals(v_room, v_old.user_id, v_policy, ARRAY[v_start], ARRAY[v_end],
                              p_id) q
         LIMIT 1;
        IF v_quota IS NOT NULL THEN
            IF NOT p_admin THEN
                RETURN json_build_object('kind', 'refused', 'quota', v_quota);
            END IF;
            v_overrides := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(v_overrides, '{}')
                                                               || 'quota_exceeded'::text) x
                                  ORDER BY x);
        END IF;
        IF v_room <> v_old.room_id THEN
            v_status := new_booking_status(v_policy, NULL, p_admin);
        ELSIF v_old.status = 'confirmed' AND policy_approval(v_policy) AND NOT p_admin
              AND (v_start < v_old.start_at OR v_end > v_old.end_at)
              AND v_old.start_at > p_now AND v_old.series_id IS NULL
              AND p_panel_room IS NULL
              AND NOT approver_ids(v_room) @> to_jsonb(p_actor) THEN
            -- Approved for its old times: moved, or made longer, it asks again
            -- (the outbox trigger asks the approvers: approval.requested).
            v_status := 'pending';
        END IF;
    END IF;

    IF v_moved THEN
        -- Moves into one room one at a time (below): the mover's new row then
        -- meets only committed rows and new bookings' speculative inserts.
        PERFORM pg_advisory_xact_lock(hashtextextended('room ' || v_room, 0));
    END IF;
    PERFORM set_config('booking.actor', p_actor::text, true);   -- the audit log's actor
    FOR attempt IN 1..5 LOOP
        BEGIN
            UPDATE bookings
               SET room_id = v_room, start_at = v_start, end_at = v_end,
                   title = coalesce(p_title, title),
                   attendees = CASE WHEN p_set_attendees THEN p_attendees ELSE attendees END,
                   invitees = coalesce(p_invitees, invitees),
                   notes = CASE WHEN p_set_notes THEN p_notes ELSE notes END,
                   sequence = sequence + 1,
                   updated_at = now(),
                   -- a series occurrence changed on its own: the series leaves it alone
                   original_start = CASE WHEN series_id IS NOT NULL
                                         THEN coalesce(original_start, start_at) END,
                   status = v_status,
                   buffer_minutes = CASE WHEN v_moved THEN policy_buffer(v_policy)
                                         ELSE buffer_minutes END,
                   overrides = CASE WHEN v_moved THEN v_overrides ELSE overrides END
             WHERE id = p_id
            RETURNING * INTO v_new;
            RETURN json_build_object('kind', 'updated', 'booking', booking_detail_of(v_new));
        EXCEPTION
            WHEN exclusion_violation THEN
                EXIT;
            WHEN deadlock_detected THEN
                IF attempt = 5 THEN RAISE; END IF;
        END;
    END LOOP;

    RETURN edit_refusal(p_id, v_old.user_id, v_room, v_start, v_end, v_policy, p_admin);
END
$$;

CREATE FUNCTION public.edit_refusal(p_id bigint, p_owner bigint, p_room integer, p_start timestamp with time zone, p_end timestamp with time zone, p_policy jsonb, p_admin boolean) RETURNS json
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_room rooms;
BEGIN
    SELECT * INTO v_room FROM rooms r WHERE r.id = p_room;   -- rooms_pkey
    RETURN json_build_object(
        'kind', 'conflict',
        -- bookings_room_start: in the way, buffers included; each one's owner by
        -- users_pkey (booking_json() of booking_api's row, written out as in
        -- book_refusal())
        'conflicts', (SELECT coalesce(json_agg(booking_json_of(
                                 b.id, b.room_id, v_room.name, b.user_id,
                                 (SELECT u.name FROM users u WHERE u.id = b.user_id), b.title,
                                 b.start_at, b.end_at, b.series_id, b.cancelled_at,
                                 b.created_at, v_room.timezone, b.attendees,
                                 coalesce(b.created_by, b.user_id), b.status, b.checked_in_at,
                                 b.released_at) ORDER BY b.start_at), '[]')
                        FROM bookings b
                       WHERE b.room_id = p_room AND b.cancelled_at IS NULL AND b.id <> p_id
                         AND b.start_at < plus_minutes(p_end, policy_buffer(p_policy))
                         AND plus_minutes(b.end_at, b.buffer_minutes) > p_start
                         AND b.start_at > p_start - interval '28 hours'),
        'busy', (SELECT coalesce(json_agg(json_build_object(
                                     'start_at', b.start_at,
                                     'end_at', plus_minutes(b.end_at, b.buffer_minutes))
                                 ORDER BY b.start_at), '[]')
                   FROM bookings b
                  WHERE b.room_id = p_room AND b.cancelled_at IS NULL AND b.id <> p_id
                    AND b.start_at > p_start - interval '28 hours'
                    AND b.start_at < p_start + interval '15 days'
                    AND plus_minutes(b.end_at, b.buffer_minutes) > p_start),
        -- bookings_user_start: what counts against the target's quota
        'mine', (SELECT coalesce(json_agg(json_build_object(
                                     'room_id', b.room_id, 'start_at', b.start_at,
                                     'end_at', b.end_at) ORDER BY b.start_at), '[]')
                   FROM bookings b
                  WHERE p_policy->'fields' ? 'quota' AND NOT p_admin
                    AND b.user_id = p_owner AND b.cancelled_at IS NULL
                    AND b.status <> 'released' AND b.id <> p_id
                    AND b.room_id = ANY (quota_rooms(p_room, p_policy))
                    AND b.start_at > p_start - interval '8 days'
                    AND b.start_at < p_start + interval '22 days'));
END
$$;

CREATE FUNCTION public.edit_series(p_series bigint, p_actor bigint, p_admin boolean, p_now timestamp with time zone, p_from timestamp with time zone, p_split boolean, p_room integer, p_title text, p_rrule text, p_timezone text, p_first_start timestamp with time zone, p_duration_minutes integer, p_materialized_until timestamp with time zone, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_skip_conflicts boolean, p_attendees integer, p_invitees text[], p_notes text, p_overrides text[] DEFAULT NULL::text[], p_rule_starts timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_ends timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[], p_rule_reasons text[] DEFAULT '{}'::text[], p_sequence integer DEFAULT NULL::integer) RETURNS SETOF public.booking_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_old series;
    v_new series;
    v_owner bigint;
    v_policy jsonb := room_policy(p_room);
    v_status text;
    v_rows booking_result[] := '{}';
    v_held_nothing_before boolean := false;
BEGIN
    -- series_pkey, unlocked: the owner never changes. Their quota lock first.
    IF v_policy->'fields' ? 'quota' THEN
        SELECT s.user_id INTO v_owner FROM series s WHERE s.id = p_series;
        IF v_owner IS NOT NULL THEN
            PERFORM quota_lock(v_owner);
        END IF;
    END IF;

    -- series_pkey
    SELECT * INTO v_old FROM series WHERE id = p_series FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    IF NOT (v_old.user_id = p_actor OR p_admin
            OR EXISTS (SELECT 1 FROM delegates d
                        WHERE d.user_id = v_old.user_id AND d.delegate_id = p_actor)) THEN
        RETURN QUERY SELECT 'forbidden', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    IF v_old.cancelled_at IS NOT NULL OR v_old.cancelled_from <= p_from OR p_from < p_now
       OR v_old.status IN ('rejected', 'expired') THEN
        RETURN QUERY SELECT 'not_editable', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    -- Planned from the series as it was read: another change of it committed since
    -- (a split, say) makes the plan stale; the caller plans again (sql/084).
    IF p_sequence IS NOT NULL AND v_old.sequence <> p_sequence THEN
        RETURN QUERY SELECT 'stale', NULL::timestamptz, NULL::json;
        RETURN;
    END IF;
    v_status := CASE WHEN p_room <> v_old.room_id
                     THEN new_booking_status(v_policy, NULL, p_admin)
                     ELSE v_old.status END;
    -- Approved for its old times: moved, made longer or on other days, it asks
    -- again, as a booking does (sql/064); each occurrence within a time the
    -- series holds approved keeps it. bookings_series.
    IF v_status = 'confirmed' AND p_room = v_old.room_id AND policy_approval(v_policy)
       AND NOT p_admin AND NOT approver_ids(p_room) @> to_jsonb(p_actor)
       AND EXISTS (SELECT 1 FROM unnest(p_starts, p_ends) AS o(s, e)
                    WHERE NOT EXISTS (
                          SELECT 1 FROM bookings b
                           WHERE b.series_id = p_series AND b.cancelled_at IS NULL
                             AND b.status = 'confirmed' AND b.start_at >= p_from
                             AND b.start_at <= o.s AND b.end_at >= o.e)) THEN
        v_status := 'pending';
    END IF;

    -- Nothing held before the cut (its first dates skipped, or cancelled one by
    -- one): a split would leave an empty part (waiting for approval, in a room
    -- that asks, that nobody can decide). The series changes in place.
    IF p_split AND NOT EXISTS (SELECT 1 FROM bookings b      -- bookings_series
                                WHERE b.series_id = p_series AND b.cancelled_at IS NULL
                                  AND b.start_at < p_from) THEN
        p_split := false;
        v_held_nothing_before := true;
    END IF;

    PERFORM set_config('booking.actor', p_actor::text, true);
    PERFORM set_config('booking.quiet_series', p_series::text, true);
    BEGIN
        IF p_split THEN
            -- Split before an earlier split: the new part ends where the old one
            -- did, and the series that continued it continues this one.
            INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes,
                                timezone, materialized_until, created_by, attendees,
                                invitees, notes, status, cancelled_from, continued_by)
            VALUES (p_room, v_old.user_id, p_title, p_rrule, p_first_start,
                    p_duration_minutes, p_timezone, p_materialized_until, p_actor,
                    p_attendees, coalesce(p_invitees, '{}'), p_notes, v_status,
                    v_old.cancelled_from, v_old.continued_by)
            RETURNING * INTO v_new;
            UPDATE series
               SET cancelled_from = p_from, continued_by = v_new.id, sequence = sequence + 1
             WHERE id = p_series;
            -- The occurrences cancelled one by one from the cut on stay cancelled:
            -- the new part's now. What the old part could not place from there on is
            -- no longer its (the new part records its own).
            UPDATE series_skips SET series_id = v_new.id
             WHERE series_id = p_series AND start_at >= p_from AND reason = 'cancelled';
            DELETE FROM series_skips
             WHERE series_id = p_series AND start_at >= p_from AND reason <> 'cancelled';
        ELSE
            UPDATE series
               SET room_id = p_room, title = p_title, rrule = p_rrule,
                   first_start = p_first_start, duration_minutes = p_duration_minutes,
                   timezone = p_timezone, materialized_until = p_materialized_until,
                   attendees = p_attendees, invitees = coalesce(p_invitees, '{}'),
                   notes = p_notes, sequence = sequence + 1, status = v_status
             WHERE id = p_series
            RETURNING * INTO v_new;
            -- What the new rule could not book is found again; what was cancelled
            -- one by one stays cancelled.
            DELETE FROM series_skips
             WHERE series_id = p_series AND start_at >= p_from AND reason <> 'cancelled';
            IF v_held_nothing_before THEN
                -- What it could not place before the cut lies before its new first date.
                DELETE FROM series_skips WHERE series_id = p_series AND start_at < p_from;
            END IF;
        END IF;

        -- bookings_series
        UPDATE bookings SET cancelled_at = now(), cancelled_by = p_actor
         WHERE series_id = p_series AND cancelled_at IS NULL AND start_at >= p_from
           AND original_start IS NULL;

        -- An occurrence changed or cancelled on its own since the plan was made (its
        -- change committed before the rows above were locked, which waited for it)
        -- keeps its day, which the plan would book again: stale, planned again.
        -- The parts this one continues: series_continued_by (sql/080).
        IF EXISTS (
               WITH RECURSIVE part(id) AS (
                   SELECT p_series
                   UNION
                   SELECT x.id FROM series x JOIN part ON x.continued_by = part.id),
               kept AS (
                   SELECT b.original_start AS at FROM part JOIN bookings b ON b.series_id = part.id
                    WHERE b.cancelled_at IS NULL AND b.original_start >= p_from
                   UNION ALL
                   SELECT k.start_at FROM part JOIN series_skips k ON k.series_id = part.id
                    WHERE k.reason = 'cancelled' AND k.start_at >= p_from)
               SELECT 1 FROM kept
                WHERE (kept.at AT TIME ZONE v_old.timezone)::date
                      IN (SELECT (o.s AT TIME ZONE v_old.timezone)::date
                            FROM unnest(p_starts) AS o(s))) THEN
            RAISE EXCEPTION USING ERRCODE = 'BK412';   -- undo it all: stale
        END IF;

        SELECT coalesce(array_agg(b), '{}') INTO v_rows
          FROM book(p_room, v_old.user_id, p_title, p_starts, p_ends, v_new.id,
                    p_skip_conflicts, p_actor, p_attendees, p_invitees, p_notes, p_admin,
                    nullif(p_overrides, '{}')) b;

        -- A taken occurrence refuses the change, unless skip_conflicts; with it,
        -- one is still needed free: every occurrence taken (the rest, if any,
        -- skipped for their day) refuses it as without it (sql/087).
        IF EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'refused')
           OR (EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'conflict')
               AND (NOT p_skip_conflicts
                    OR NOT EXISTS (SELECT 1 FROM unnest(v_rows) r WHERE r.kind = 'created')))
        THEN
            RAISE EXCEPTION USING ERRCODE = 'BK409';   -- undo it all
        END IF;

        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_new.id, o.s, o.e, 'conflict'
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT r.requested_start FROM unnest(v_rows) r WHERE r.kind = 'conflict')
        ON CONFLICT DO NOTHING;
        -- What the room's calendar refuses on its own day, as book_series() records it.
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT v_new.id, o.s, o.e, o.r
          FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)
        ON CONFLICT DO NOTHING;
    EXCEPTION
        WHEN SQLSTATE 'BK409' THEN
            v_new := NULL;
        WHEN SQLSTATE 'BK412' THEN
            RETURN QUERY SELECT 'stale', NULL::timestamptz, NULL::json;
            RETURN;
    END;

    IF v_new.id IS NOT NULL THEN
        RETURN QUERY SELECT 'series', v_new.first_start, series_json(v_new);
    END IF;
    RETURN QUERY SELECT * FROM unnest(v_rows);
    IF v_new.id IS NOT NULL THEN
        RETURN QUERY
        SELECT 'skipped', k.start_at,
               json_build_object('start_time', rfc3339(k.start_at, p_timezone),
                                 'end_time', rfc3339(k.end_at, p_timezone),
                                 'reason', k.reason)
          FROM series_skips k
         WHERE k.series_id = v_new.id AND k.start_at >= p_from AND k.reason <> 'cancelled'
         ORDER BY k.start_at;
    END IF;
END
$$;

CREATE FUNCTION public.end_booking(p_id bigint, p_actor bigint, p_admin boolean, p_panel_room integer, p_now timestamp with time zone, p_end timestamp with time zone) RETURNS json
    LANGUAGE plpgsql
    AS $$
DECLARE
    v bookings;
BEGIN
    -- bookings_pkey
    SELECT * INTO v FROM bookings WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN json_build_object('kind', 'not_found');
    END IF;
    IF NOT coalesce(
            v.room_id = p_panel_room
            OR (p_panel_room IS NULL
                AND (v.user_id = p_actor OR p_admin
                     OR EXISTS (SELECT 1 FROM delegates d
                                 WHERE d.user_id = v.user_id AND d.delegate_id = p_actor))),
            false)
    THEN
        RETURN json_build_object('kind', 'forbidden');
    END IF;
    IF v.cancelled_at IS NOT NULL OR v.end_at <= p_now THEN
        RETURN json_build_object('kind', 'not_editable', 'cancelled', v.cancelled_at IS NOT NULL);
    END IF;
    IF p_now < v.start_at THEN
        RETURN json_build_object('kind', 'not_started');
    END IF;
    IF least(v.end_at, greatest(p_end, v.start_at + interval '1 minute')) = v.end_at THEN
        -- Ended already (twice in one minute): nothing changes, nothing is told again.
        RETURN json_build_object(
            'kind', 'updated',
            'booking', (SELECT booking_detail_json(a) FROM booking_api a WHERE a.id = p_id));
    END IF;
    PERFORM set_config('booking.actor', p_actor::text, true);
    UPDATE bookings
       SET end_at = least(end_at, greatest(p_end, start_at + interval '1 minute')),
           sequence = sequence + 1, updated_at = now(),
           original_start = CASE WHEN series_id IS NOT NULL
                                 THEN coalesce(original_start, start_at) END
     WHERE id = p_id;
    RETURN json_build_object(
        'kind', 'updated',
        'booking', (SELECT booking_detail_json(a) FROM booking_api a WHERE a.id = p_id));
END
$$;

CREATE FUNCTION public.expire_requests(p_now timestamp with time zone, p_after interval, p_batch integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_count integer;
BEGIN
    WITH due AS (
        SELECT b.id, b.series_id FROM bookings b
         WHERE b.status = 'pending' AND b.cancelled_at IS NULL
           -- Asking since it was made, or since it last changed (a move that asks
           -- again: sql/064): updated_at.
           AND (coalesce(b.updated_at, b.created_at) <= p_now - p_after
                OR b.start_at <= p_now)
         ORDER BY b.created_at, b.id
         LIMIT p_batch
           FOR UPDATE SKIP LOCKED),
    expired AS (
        UPDATE bookings b
           SET status = 'expired', cancelled_at = now(), decided_at = now()
         WHERE (b.id IN (SELECT d.id FROM due d)
                OR b.series_id IN (SELECT d.series_id FROM due d WHERE d.series_id IS NOT NULL))
           AND b.status = 'pending' AND b.cancelled_at IS NULL
        RETURNING b.id, b.series_id),
    series_expired AS (
        UPDATE series s SET status = 'expired'
         WHERE s.id IN (SELECT e.series_id FROM expired e) AND s.status = 'pending'
        RETURNING 1)
    SELECT (SELECT count(*) FROM expired) + 0 * (SELECT count(*) FROM series_expired)
      INTO v_count;
    RETURN v_count;
END
$$;

CREATE FUNCTION public.extend_series(p_series bigint, p_from timestamp with time zone, p_until timestamp with time zone, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_rule_starts timestamp with time zone[], p_rule_ends timestamp with time zone[], p_rule_reasons text[]) RETURNS TABLE(booked integer, skipped integer)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_series series;
    v_booked integer;
    v_skipped integer;
BEGIN
    UPDATE series SET materialized_until = p_until
     WHERE id = p_series AND materialized_until = p_from AND cancelled_at IS NULL
       AND status IN ('confirmed', 'pending')
    RETURNING * INTO v_series;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 0, 0;
        RETURN;
    END IF;

    WITH rows AS (
        SELECT * FROM book(v_series.room_id, v_series.user_id, v_series.title,
                           p_starts, p_ends, p_series, true, v_series.created_by,
                           v_series.attendees, v_series.invitees, v_series.notes,
                           false, NULL, true)),
    missed AS (
        SELECT o.s, o.e,
               CASE WHEN o.s IN (SELECT requested_start FROM rows WHERE kind = 'over_quota')
                    THEN 'quota_exceeded' ELSE 'conflict' END AS reason
          FROM unnest(p_starts, p_ends) AS o(s, e)
         WHERE o.s IN (SELECT requested_start FROM rows WHERE kind IN ('conflict', 'over_quota'))
        UNION ALL
        SELECT o.s, o.e, o.r FROM unnest(p_rule_starts, p_rule_ends, p_rule_reasons) AS o(s, e, r)),
    recorded AS (
        INSERT INTO series_skips (series_id, start_at, end_at, reason)
        SELECT p_series, m.s, m.e, m.reason FROM missed m
        ON CONFLICT DO NOTHING
        RETURNING start_at, end_at, reason),
    told AS (
        INSERT INTO outbox (kind, user_id, room_id, series_id, payload)
        SELECT 'series.occurrence_skipped', v_series.user_id, v_series.room_id, p_series,
               jsonb_build_object('series', to_jsonb(v_series), 'start_at', k.start_at,
                                  'end_at', k.end_at, 'reason', k.reason)
          FROM recorded k
         ORDER BY k.start_at
        RETURNING 1)
    SELECT (SELECT count(*) FROM rows WHERE kind = 'created'), (SELECT count(*) FROM told)
      INTO v_booked, v_skipped;
    IF v_skipped > 0 THEN
        PERFORM outbox_notify();
    END IF;
    RETURN QUERY SELECT v_booked, v_skipped;
END
$$;

CREATE TABLE public.group_members (
    group_id bigint NOT NULL,
    user_id bigint NOT NULL
);

CREATE FUNCTION public.group_members_json(p_group bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN (SELECT COALESCE(jsonb_agg(jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name) ORDER BY u.name, u.id), '[]'::jsonb) AS "coalesce" FROM (public.group_members m JOIN public.users u ON ((u.id = m.user_id))) WHERE (m.group_id = group_members_json.p_group));

CREATE FUNCTION public.invitations_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO booking_invitations (booking_id, user_id, start_at, end_at)
    SELECT n.id, u.id, n.start_at, n.end_at
      FROM new_rows n
     CROSS JOIN LATERAL unnest(n.invitees) AS e(address)
      JOIN users u ON lower(u.email) = lower(e.address) AND u.active AND u.id <> n.user_id
     WHERE n.cancelled_at IS NULL AND cardinality(n.invitees) > 0
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.invitations_updated() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
BEGIN
    DELETE FROM booking_invitations i
     WHERE i.booking_id = ANY (ARRAY(
           SELECT n.id
             FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.invitees, o.start_at, o.end_at, o.cancelled_at IS NULL)
                  IS DISTINCT FROM (n.invitees, n.start_at, n.end_at, n.cancelled_at IS NULL)));
    INSERT INTO booking_invitations (booking_id, user_id, start_at, end_at)
    SELECT x.booking_id, x.user_id, x.start_at, x.end_at
      FROM (SELECT n.id AS booking_id, n.start_at, n.end_at,
                   (SELECT u.id FROM users u
                     WHERE lower(u.email) = lower(e.address) AND u.active
                       AND u.id <> n.user_id) AS user_id
              FROM old_rows o JOIN new_rows n ON n.id = o.id
             CROSS JOIN LATERAL unnest(n.invitees) AS e(address)
             WHERE n.cancelled_at IS NULL AND cardinality(n.invitees) > 0
               AND (o.invitees, o.start_at, o.end_at, o.cancelled_at IS NULL)
                   IS DISTINCT FROM (n.invitees, n.start_at, n.end_at, n.cancelled_at IS NULL)
           ) x
     WHERE x.user_id IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.json_timestamps(a jsonb) RETURNS timestamp with time zone[]
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT coalesce(array_agg(t.v::timestamptz ORDER BY t.n), '{}')
      FROM jsonb_array_elements_text(a) WITH ORDINALITY AS t(v, n)
$$;

CREATE FUNCTION public.local_hour_start(p_day timestamp without time zone, p_hour integer, p_tz text) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN LEAST(((p_day + make_interval(hours => p_hour)) AT TIME ZONE p_tz), (((p_day + make_interval(hours => (p_hour - 1))) AT TIME ZONE p_tz) + '01:00:00'::interval));

CREATE FUNCTION public.may_approve(p_policy jsonb, p_admin boolean, p_groups bigint[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (p_admin OR (EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE((((may_approve.p_policy -> 'fields'::text) -> 'approvers'::text) -> 'value'::text), '[]'::jsonb)) g(value) WHERE ((g.value)::bigint = ANY (may_approve.p_groups)))));

CREATE FUNCTION public.memo_auth_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.memo_board_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE memo_versions SET n = n + 1 WHERE name = 'board' AND slot = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.memo_board_rows_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Each branch names only the transition table its event has.
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    UPDATE memo_versions SET n = n + 1 WHERE name = 'board' AND slot = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.memo_bookings_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.memo_changed(p_name text, p_detail text DEFAULT ''::text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE memo_versions SET n = n + 1 WHERE name = p_name AND slot = pg_backend_pid() % 16;
    PERFORM pg_notify('booking_memo', p_name || ':' || p_detail);
END
$$;

CREATE FUNCTION public.memo_delegates_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_row delegates := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
    PERFORM memo_changed('auth', 'user:' || v_row.user_id);
    PERFORM memo_changed('auth', 'user:' || v_row.delegate_id);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.memo_members_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.memo_overview_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM memo_changed('overview');
    RETURN NULL;
END
$$;

CREATE FUNCTION public.memo_rooms_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM memo_changed('rooms');
    PERFORM memo_changed('overview');
    RETURN NULL;
END
$$;

CREATE FUNCTION public.memo_version(p_name text) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN (SELECT sum(n)::bigint FROM memo_versions WHERE name = p_name);
END
$$;

CREATE FUNCTION public.new_booking_status(p_policy jsonb, p_series bigint, p_admin boolean) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
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

CREATE FUNCTION public.outbox_bookings_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Occurrences (series_id set) are announced by their series.created. The
    -- actor is who made it (sql/020: the owner, a delegate or an admin).
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, payload)
    SELECT e.kind, n.user_id, coalesce(n.created_by, n.user_id), n.room_id, n.id,
           CASE WHEN e.kind = 'approval.requested'
                THEN jsonb_build_object('booking', to_jsonb(n), 'approvers', approver_ids(n.room_id))
                ELSE jsonb_build_object('booking', to_jsonb(n)) END
      FROM new_rows n
     CROSS JOIN LATERAL (VALUES ('booking.created', 1), ('approval.requested', 2)) AS e(kind, k)
     WHERE n.series_id IS NULL AND (e.kind = 'booking.created' OR n.status = 'pending')
     ORDER BY n.id, e.k;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.outbox_bookings_released() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, room_id, booking_id, series_id, payload)
    SELECT 'booking.released', n.user_id, n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n), 'before', to_jsonb(o))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE o.released_at IS NULL AND n.released_at IS NOT NULL
     ORDER BY n.id;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;

    -- bookings_series: each released occurrence's series, its latest occurrences up
    -- to this one; a streak of exactly three released ones ending here is told.
    INSERT INTO outbox (kind, user_id, room_id, series_id, payload)
    SELECT 'series.release_streak', s.user_id, s.room_id, s.id,
           jsonb_build_object('series', to_jsonb(s), 'released', 3,
                              'last_start', n.start_at)
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
      JOIN series s ON s.id = n.series_id AND s.cancelled_at IS NULL
     WHERE o.released_at IS NULL AND n.released_at IS NOT NULL
       AND (SELECT count(*) FILTER (WHERE x.released_at IS NOT NULL)
                   || '/' || count(*)
              FROM (SELECT b.released_at FROM bookings b
                     WHERE b.series_id = n.series_id AND b.cancelled_at IS NULL
                       AND b.start_at <= n.start_at
                     ORDER BY b.start_at DESC LIMIT 4) x)
           IN ('3/3', '3/4')
       AND (SELECT bool_and(y.released_at IS NOT NULL)
              FROM (SELECT b.released_at FROM bookings b
                     WHERE b.series_id = n.series_id AND b.cancelled_at IS NULL
                       AND b.start_at <= n.start_at
                     ORDER BY b.start_at DESC LIMIT 3) y)
     ORDER BY s.id;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.outbox_bookings_updated() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
DECLARE
    v_quiet bigint := nullif(current_setting('booking.quiet_series', true), '')::bigint;
    v_told boolean := false;
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, series_id, payload)
    SELECT CASE WHEN n.series_id IS NULL THEN 'booking.cancelled' ELSE 'occurrence.cancelled' END,
           n.user_id, n.cancelled_by, n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n),
                              'cancelled_by', n.cancelled_by,
                              'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id
                                     AND EXISTS (SELECT 1 FROM users a   -- users_admins
                                                  WHERE a.id = n.cancelled_by
                                                    AND a.role = 'admin'))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL AND n.status = o.status
       -- Cancelled by a change or a cut of its series (booking.quiet_series), or
       -- with the whole series in this transaction: told by the series' own event.
       -- One the old part of a split kept past the cut is told on its own.
       AND (v_quiet IS NULL OR n.series_id IS DISTINCT FROM v_quiet)
       AND NOT coalesce((SELECT n.start_at >= s.cancelled_from
                                AND n.cancelled_at = s.cancelled_at
                           FROM series s WHERE s.id = n.series_id), false)
    UNION ALL
    SELECT 'booking.updated', n.user_id, audit_actor(), n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n), 'before', to_jsonb(o),
                              'updated_by', audit_actor())
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE n.cancelled_at IS NULL AND n.sequence > o.sequence
       -- A decision and a release count as changes (sql/083) but are told as
       -- themselves: booking.approved below, booking.released by the sweep.
       AND NOT (o.status = 'pending' AND n.decided_at IS DISTINCT FROM o.decided_at)
       AND NOT (o.released_at IS NULL AND n.released_at IS NOT NULL)
    UNION ALL
    SELECT 'approval.requested', n.user_id, audit_actor(), n.room_id, n.id, n.series_id,
           jsonb_build_object('booking', to_jsonb(n), 'approvers', approver_ids(n.room_id))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE n.cancelled_at IS NULL AND n.status = 'pending' AND o.status <> 'pending'
       AND n.series_id IS NULL
     ORDER BY 5, 1 DESC;
    v_told := FOUND;

    -- Decided or expired: once per booking, or once per series for its occurrences.
    INSERT INTO outbox (kind, user_id, actor_id, room_id, booking_id, series_id, payload)
    SELECT d.kind, d.user_id, d.decided_by, d.room_id, d.booking_id, d.series_id, d.payload
      FROM (SELECT DISTINCT ON (coalesce(n.series_id, -n.id))
                   CASE WHEN n.series_id IS NULL THEN 'booking.' ELSE 'series.' END
                   || CASE n.status WHEN 'confirmed' THEN 'approved' ELSE n.status END AS kind,
                   n.user_id, n.decided_by, n.room_id,
                   CASE WHEN n.series_id IS NULL THEN n.id END AS booking_id, n.series_id,
                   CASE WHEN n.series_id IS NULL THEN jsonb_build_object('booking', to_jsonb(n))
                        ELSE jsonb_build_object('series', (SELECT to_jsonb(s) FROM series s
                                                            WHERE s.id = n.series_id))
                   END || jsonb_build_object('reason', n.decision_reason,
                                             'decided_by', n.decided_by) AS payload,
                   n.start_at
              FROM new_rows n
              JOIN old_rows o ON o.id = n.id
             WHERE o.status = 'pending' AND n.status IN ('confirmed', 'rejected', 'expired')
               AND n.decided_at IS DISTINCT FROM o.decided_at
             ORDER BY coalesce(n.series_id, -n.id), n.start_at) d
     ORDER BY d.start_at;
    IF FOUND OR v_told THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.outbox_notify() RETURNS void
    LANGUAGE sql
    AS $$ SELECT pg_notify('booking_outbox', '') $$;

CREATE FUNCTION public.outbox_series_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, series_id, payload)
    SELECT e.kind, n.user_id, coalesce(n.created_by, n.user_id), n.room_id, n.id,
           CASE WHEN e.kind = 'approval.requested'
                THEN jsonb_build_object('series', to_jsonb(n), 'approvers', approver_ids(n.room_id))
                ELSE jsonb_build_object('series', to_jsonb(n)) END
      FROM new_rows n
     CROSS JOIN LATERAL (VALUES ('series.created', 1), ('approval.requested', 2)) AS e(kind, k)
     WHERE e.kind = 'series.created' OR n.status = 'pending'
     ORDER BY n.id, e.k;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.outbox_series_updated() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$
BEGIN
    INSERT INTO outbox (kind, user_id, actor_id, room_id, series_id, payload)
    SELECT e.kind, n.user_id, coalesce(audit_actor(), n.cancelled_by), n.room_id, n.id,
           CASE WHEN e.kind = 'series.updated' THEN
                jsonb_build_object('series', to_jsonb(n), 'before', to_jsonb(o),
                                   'from', CASE WHEN n.continued_by IS NOT NULL
                                                THEN n.cancelled_from END,
                                   'continued_by', n.continued_by,
                                   'updated_by', audit_actor())
           ELSE jsonb_build_object('series', to_jsonb(n),
                                   'from', n.cancelled_from,
                                   'whole', n.cancelled_at IS NOT NULL,
                                   'cancelled_by', n.cancelled_by,
                                   'by_admin', n.cancelled_by IS DISTINCT FROM n.user_id
                                     AND EXISTS (SELECT 1 FROM users a   -- users_admins
                                                  WHERE a.id = n.cancelled_by
                                                    AND a.role = 'admin'))
           END
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     CROSS JOIN LATERAL (
           SELECT CASE
                  -- A split, the first or one before an earlier split (which moves
                  -- cancelled_from earlier too): a change.
                  WHEN n.continued_by IS DISTINCT FROM o.continued_by
                       AND n.continued_by IS NOT NULL THEN 'series.updated'
                  WHEN (n.cancelled_from IS NOT NULL
                        AND (o.cancelled_from IS NULL OR n.cancelled_from < o.cancelled_from))
                    OR (n.cancelled_at IS NOT NULL AND o.cancelled_at IS NULL)
                       THEN 'series.cancelled'
                  WHEN n.sequence > o.sequence THEN 'series.updated'
                  END AS kind) e
     WHERE e.kind IS NOT NULL
    UNION ALL
    SELECT 'approval.requested', n.user_id, audit_actor(), n.room_id, n.id,
           jsonb_build_object('series', to_jsonb(n), 'approvers', approver_ids(n.room_id))
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
     WHERE n.status = 'pending' AND o.status <> 'pending' AND n.cancelled_at IS NULL
     ORDER BY 5;
    IF FOUND THEN
        PERFORM outbox_notify();
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.owner_still_active(p_user bigint, p_booked boolean) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Asked after the insert, whose foreign key holds the owner's row FOR KEY SHARE
    -- to commit: a deactivation (set_person_active(), FOR UPDATE) either waited
    -- for that and sees this booking, or committed first, and a new statement
    -- sees them inactive here. users_pkey. Nothing booked, nothing to ask.
    IF p_booked AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p_user AND u.active) THEN
        RAISE EXCEPTION 'user % is not active', p_user
              USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_owner_active';
    END IF;
END
$$;

CREATE FUNCTION public.plus_minutes(t timestamp with time zone, m integer) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (t + make_interval(mins => m));

CREATE FUNCTION public.policy_approval(p_policy jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN COALESCE(((((p_policy -> 'fields'::text) -> 'approval_required'::text) ->> 'value'::text))::boolean, false);

CREATE FUNCTION public.policy_buffer(p_policy jsonb) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN COALESCE(((((p_policy -> 'fields'::text) -> 'buffer_minutes'::text) ->> 'value'::text))::integer, 0);

CREATE FUNCTION public.policy_levels(p_room integer, p_area integer) RETURNS TABLE(depth integer, policy jsonb, source jsonb)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT 0, r.policy, jsonb_build_object('level', 'room', 'id', r.id, 'name', r.name)
      FROM rooms r WHERE r.id = p_room
    UNION ALL
    SELECT c.depth, c.policy, jsonb_build_object('level', 'area', 'id', c.id, 'name', c.name)
      FROM area_chain(coalesce((SELECT r.area_id FROM rooms r WHERE r.id = p_room), p_area)) c
$$;

CREATE FUNCTION public.quota_lock(p_user bigint) RETURNS void
    LANGUAGE sql
    AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('quota ' || p_user, 0))
$$;

CREATE FUNCTION public.quota_locked_refusals(p_room integer, p_user bigint, p_policy jsonb, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_exclude bigint DEFAULT NULL::bigint) RETURNS TABLE(requested_start timestamp with time zone, details jsonb)
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
BEGIN
    IF NOT (p_policy->'fields' ? 'quota') THEN
        RETURN;
    END IF;
    -- One person's bookings under a quota are decided one request at a time:
    -- the count (a new statement, so a new snapshot) sees every booking of
    -- theirs that committed before this lock was granted.
    PERFORM quota_lock(p_user);
    RETURN QUERY SELECT * FROM quota_refusals(p_room, p_user, p_policy, p_starts, p_ends,
                                              p_exclude);
END
$$;

CREATE FUNCTION public.quota_refusals(p_room integer, p_user bigint, p_policy jsonb, p_starts timestamp with time zone[], p_ends timestamp with time zone[], p_exclude bigint DEFAULT NULL::bigint) RETURNS TABLE(requested_start timestamp with time zone, details jsonb)
    LANGUAGE sql STABLE
    AS $$
WITH q AS (
    SELECT p_policy->'fields'->'quota'->'value' AS quota,
           p_policy->'fields'->'quota'->'source' AS source,
           quota_rooms(p_room, p_policy) AS rooms,
           (SELECT r.timezone FROM rooms r WHERE r.id = p_room) AS tz),
o AS (
    SELECT o.s, o.e, o.n, d.day, d.day - (extract(isodow FROM d.day)::integer - 1) AS monday
      FROM q, unnest(p_starts, p_ends) WITH ORDINALITY AS o(s, e, n)
     CROSS JOIN LATERAL (SELECT (o.s AT TIME ZONE q.tz)::date AS day) d
     WHERE q.quota IS NOT NULL
       -- A door panel's walk-ins: its account stands for whoever walks in.
       AND NOT EXISTS (SELECT 1 FROM panel_tokens t WHERE t.user_id = p_user)),
held AS (
    SELECT o.*,
           (SELECT count(*) FROM bookings b
             WHERE b.user_id = p_user AND b.cancelled_at IS NULL AND b.status <> 'released'
               AND b.room_id = ANY (q.rooms) AND b.id IS DISTINCT FROM p_exclude
               AND b.start_at >= o.day::timestamp AT TIME ZONE q.tz
               AND b.start_at < (o.day + 1)::timestamp AT TIME ZONE q.tz) AS day_held,
           w.week_held, w.week_minutes
      FROM o CROSS JOIN q
     CROSS JOIN LATERAL (
           SELECT count(*) AS week_held,
                  coalesce(sum(extract(epoch FROM b.end_at - b.start_at) / 60), 0) AS week_minutes
             FROM bookings b
            WHERE b.user_id = p_user AND b.cancelled_at IS NULL AND b.status <> 'released'
              AND b.room_id = ANY (q.rooms) AND b.id IS DISTINCT FROM p_exclude
              AND b.start_at >= o.monday::timestamp AT TIME ZONE q.tz
              AND b.start_at < (o.monday + 7)::timestamp AT TIME ZONE q.tz) w),
counted AS (
    -- Before this occurrence: what is held, and the earlier ones of this request.
    SELECT h.*,
           h.day_held + count(*) OVER (PARTITION BY h.day ORDER BY h.n
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS day_used,
           h.week_held + count(*) OVER (PARTITION BY h.monday ORDER BY h.n
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS week_used,
           h.week_minutes + coalesce(sum(extract(epoch FROM h.e - h.s) / 60)
                                     OVER (PARTITION BY h.monday ORDER BY h.n
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS minutes_used
      FROM held h),
verdict AS (
    SELECT c.s, c.e,
           CASE WHEN c.day_used + 1 > (q.quota->>'bookings_per_day')::integer
                THEN jsonb_build_object('quota', 'bookings_per_day', 'used', c.day_used,
                                        'limit', (q.quota->>'bookings_per_day')::integer)
                WHEN c.week_used + 1 > (q.quota->>'bookings_per_week')::integer
                THEN jsonb_build_object('quota', 'bookings_per_week', 'used', c.week_used,
                                        'limit', (q.quota->>'bookings_per_week')::integer)
                WHEN c.minutes_used + extract(epoch FROM c.e - c.s) / 60
                     > (q.quota->>'hours_per_week')::integer * 60
                THEN jsonb_build_object('quota', 'hours_per_week',
                                        'used', round(c.minutes_used / 60.0, 2),
                                        'limit', (q.quota->>'hours_per_week')::integer)
           END AS over
      FROM counted c CROSS JOIN q)
SELECT v.s, v.over || jsonb_build_object('code', 'quota_exceeded', 'source', q.source,
                                         'start_time', rfc3339(v.s, q.tz),
                                         'end_time', rfc3339(v.e, q.tz))
  FROM verdict v CROSS JOIN q
 WHERE v.over IS NOT NULL
 ORDER BY v.s
$$;

CREATE FUNCTION public.quota_rooms(p_room integer, p_policy jsonb) RETURNS integer[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
BEGIN
    IF p_policy->'fields'->'quota'->'source'->>'level' = 'area' THEN
        RETURN ARRAY(SELECT area_rooms((p_policy->'fields'->'quota'->'source'->>'id')::integer));
    END IF;
    RETURN ARRAY[p_room];
END
$$;

CREATE FUNCTION public.release_time(p_start timestamp with time zone, p_created timestamp with time zone, p_minutes integer) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN (p_created <= p_start) THEN (p_start + ((p_minutes)::double precision * '00:01:00'::interval)) ELSE date_trunc('minute'::text, ((p_created + ((p_minutes)::double precision * '00:01:00'::interval)) + '00:00:59.999999'::interval)) END;

CREATE FUNCTION public.room_json(r public.rooms) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', (r).id, 'name', (r).name, 'building', (r).building, 'floor', (r).floor, 'capacity', (r).capacity, 'equipment', (r).equipment, 'timezone', (r).timezone, 'opens', to_char(((r).opens)::interval, 'HH24:MI'::text), 'closes', to_char(((r).closes)::interval, 'HH24:MI'::text), 'active', (r).active, 'area_id', (r).area_id, 'checkin_required', (r).checkin_required, 'release_after_minutes', (r).release_after_minutes);

CREATE FUNCTION public.wall_instant_near_change(p_local timestamp without time zone, p_tz text) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
DECLARE
    v_moment timestamptz := date_trunc('minute', (p_local AT TIME ZONE p_tz) - interval '3 hours');
BEGIN
    WHILE (v_moment AT TIME ZONE p_tz) < p_local LOOP
        v_moment := v_moment + interval '1 minute';
    END LOOP;
    RETURN v_moment;
END
$$;

CREATE FUNCTION public.wall_instant(p_day date, p_clock time without time zone, p_tz text) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN (((((p_day + p_clock) AT TIME ZONE p_tz) AT TIME ZONE p_tz) = (p_day + p_clock)) AND (((((p_day + p_clock) AT TIME ZONE p_tz) AT TIME ZONE p_tz) - (((p_day + p_clock) AT TIME ZONE p_tz) AT TIME ZONE 'UTC'::text)) = (((((p_day + p_clock) AT TIME ZONE p_tz) - '1 day'::interval) AT TIME ZONE p_tz) - ((((p_day + p_clock) AT TIME ZONE p_tz) - '1 day'::interval) AT TIME ZONE 'UTC'::text)))) THEN ((p_day + p_clock) AT TIME ZONE p_tz) ELSE public.wall_instant_near_change((p_day + p_clock), p_tz) END;

CREATE FUNCTION public.room_open(tz text, opens time without time zone, closes time without time zone, s timestamp with time zone, e timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ((e > s) AND (s >= public.wall_instant(((s AT TIME ZONE tz))::date, opens, tz)) AND (e <= public.wall_instant(((s AT TIME ZONE tz))::date, closes, tz)));

CREATE FUNCTION public.room_policy(p_room integer) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN public.resolve_policy(p_room, NULL::integer);

CREATE FUNCTION public.room_suggestions(p_start timestamp with time zone, p_end timestamp with time zone, p_capacity integer, p_equipment text[], p_building text, p_floor integer, p_not_before timestamp with time zone, p_until timestamp with time zone, p_rules jsonb DEFAULT '{}'::jsonb, p_days integer DEFAULT 7, p_limit integer DEFAULT 5) RETURNS json
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v_wanted integer := p_limit * 4;
    v_times json[] := '{}';
    v_step_times json[];
    v_step_starts timestamptz[];
    v_firsts integer[] := ARRAY[0, 1, 3];
    v_lasts integer[] := ARRAY[0, 2, p_days];
    v_first integer;
    v_last integer;
    v_hours jsonb;            -- the fitting rooms' zones and hours, each kind once
    v_zone_count integer;
    i integer := 1;
BEGIN
    SELECT jsonb_agg(DISTINCT jsonb_build_object(
               'timezone', r.timezone, 'opens', r.opens, 'closes', r.closes,
               'week_hours', p_rules->(r.id::text)->'hours')),
           count(DISTINCT r.timezone)
      INTO v_hours, v_zone_count
      FROM rooms r
     WHERE r.active AND r.capacity >= p_capacity AND r.equipment @> p_equipment
       AND (p_rules->'zones' IS NULL OR p_rules->'zones' ? r.timezone);
    WHILE i <= cardinality(v_firsts) AND cardinality(v_times) < v_wanted
          AND v_firsts[i] <= p_days LOOP
        v_first := v_firsts[i];
        v_last := least(v_lasts[i], p_days);
        i := i + 1;
        WITH fit AS (
            SELECT r.*,
                   (p_building IS NULL OR lower(r.building) = lower(p_building)) AS in_building,
                   (p_floor IS NULL OR r.floor = p_floor) AS on_floor,
                   coalesce((p_rules->(r.id::text)->>'buffer')::integer, 0) AS buffer,
                   coalesce((p_rules->(r.id::text)->>'notice')::integer, 0) AS notice,
                   p_rules->(r.id::text)->'hours' AS week_hours
              FROM rooms r
             WHERE r.active AND r.capacity >= p_capacity AND r.equipment @> p_equipment
               AND (p_rules->'zones' IS NULL OR p_rules->'zones' ? r.timezone)),
        zone_day AS MATERIALIZED (
            -- The opening and closing instants of each day asked about, once per
            -- time zone and opening hours that fitting rooms have (a handful).
            SELECT h.timezone, h.opens, h.closes, h.week_hours, g.d,
                   wall_instant(l.local_start::date + g.d, w.opens, h.timezone) AS open_at,
                   wall_instant(l.local_start::date + g.d, w.closes, h.timezone) AS close_at,
                   (l.local_start + make_interval(days => g.d)) AT TIME ZONE h.timezone AS target
              FROM (SELECT DISTINCT f.timezone, f.opens, f.closes, f.week_hours FROM fit f) h
             CROSS JOIN generate_series(v_first, v_last) AS g(d)
             CROSS JOIN LATERAL (SELECT p_start AT TIME ZONE h.timezone AS local_start) l
             CROSS JOIN LATERAL (
                   SELECT CASE WHEN h.week_hours IS NULL THEN h.opens
                               ELSE (h.week_hours->(extract(isodow FROM l.local_start::date + g.d)::integer - 1)->>0)::time
                          END AS opens,
                          CASE WHEN h.week_hours IS NULL THEN h.closes
                               ELSE (h.week_hours->(extract(isodow FROM l.local_start::date + g.d)::integer - 1)->>1)::time
                          END AS closes) w
             WHERE w.opens IS NOT NULL),
        day AS MATERIALIZED (
            -- Each fitting room's opening hours on those days, in its zone, and
            -- the same time of day as asked.
            SELECT f.id, f.buffer, f.notice, z.d, z.open_at, z.close_at, z.target,
                   z.close_at + make_interval(mins => f.buffer) AS held_until
              FROM fit f
              JOIN zone_day z ON z.timezone = f.timezone AND z.opens = f.opens AND z.closes = f.closes
                             AND z.week_hours IS NOT DISTINCT FROM f.week_hours),
        held AS MATERIALIZED (
            -- The live bookings of each room open on those days, each held to its
            -- end plus its buffer: one short range of bookings_room_start per room.
            SELECT span.id, k.start_at AS s, k.end_at + make_interval(mins => k.buffer_minutes) AS e
              FROM (SELECT day.id, min(day.open_at) AS first_open,
                           max(day.held_until) AS last_held
                      FROM day GROUP BY day.id) span
              JOIN bookings k
                ON k.room_id = span.id AND k.cancelled_at IS NULL
               AND k.start_at < span.last_held
               AND k.start_at > span.first_open - interval '28 hours'),
        gap AS (
            -- The free stretches between live bookings inside the opening hours:
            -- each booking (and a zero-length sentinel at closing time) ends the
            -- gap that began when everything before it had ended, its buffer
            -- included; a gap ends the room's own buffer before the next booking.
            SELECT b.id, b.d, b.target, b.notice,
                   greatest(b.open_at, max(b.e) OVER (PARTITION BY b.id, b.d ORDER BY b.s
                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
                       AS gap_start,
                   CASE WHEN b.sentinel THEN b.s ELSE b.s - make_interval(mins => b.buffer) END AS gap_end
              FROM (SELECT day.id, day.d, day.target, day.open_at, day.buffer, day.notice,
                           k.s, k.e, false AS sentinel
                      FROM day
                      JOIN held k
                        ON k.id = day.id AND k.s < day.held_until AND k.e > day.open_at
                    UNION ALL
                    SELECT day.id, day.d, day.target, day.open_at, day.buffer, day.notice,
                           day.close_at, day.close_at, true
                      FROM day) b),
        slot AS (
            -- In each gap long enough, the start nearest the target time.
            SELECT gap.id, gap.d, c.start_at, abs(extract(epoch FROM c.start_at - gap.target)) AS distance
              FROM gap
             CROSS JOIN LATERAL (
                   SELECT greatest(gap.gap_start,
                                   p_not_before + make_interval(mins => gap.notice)) AS lo,
                          gap.gap_end - (p_end - p_start) AS hi) bounds
             CROSS JOIN LATERAL (
                   SELECT least(greatest(gap.target, bounds.lo), bounds.hi) AS start_at) c
             WHERE bounds.lo <= bounds.hi AND c.start_at <= p_until),
        best AS (
            -- One room per distinct interval: the best one by the finder's order.
            SELECT DISTINCT ON (s.start_at) s.start_at, s.d, s.distance, s.id
              FROM slot s JOIN fit f ON f.id = s.id
             ORDER BY s.start_at, f.in_building DESC, f.on_floor DESC, f.capacity, f.name, f.id),
        times AS (
            SELECT json_build_object(
                       'start_time', rfc3339(b.start_at, r.timezone),
                       'end_time', rfc3339(b.start_at + (p_end - p_start), r.timezone),
                       'room', room_json(r)) AS j,
                   b.d, b.distance, b.start_at
              FROM best b JOIN rooms r ON r.id = b.id
             ORDER BY b.d, b.distance, b.start_at
             LIMIT v_wanted - cardinality(v_times))
        SELECT coalesce(array_agg(t.j ORDER BY t.d, t.distance, t.start_at), '{}'),
               coalesce(array_agg(t.start_at), '{}')
          INTO v_step_times, v_step_starts
          FROM times t;
        IF v_last - v_first < p_days AND v_zone_count > 1 AND EXISTS (
               -- Fitting rooms open at a time chosen here on a day of another step.
               SELECT 1
                 FROM unnest(v_step_starts) AS t(s)
                CROSS JOIN jsonb_to_recordset(v_hours)
                      AS h(timezone text, opens time, closes time, week_hours jsonb)
                CROSS JOIN LATERAL (
                      SELECT (t.s AT TIME ZONE h.timezone)::date AS local_day,
                             (t.s AT TIME ZONE h.timezone)::date
                                 - (p_start AT TIME ZONE h.timezone)::date AS d) l
                CROSS JOIN LATERAL (
                      SELECT CASE WHEN h.week_hours IS NULL THEN h.opens
                                  ELSE (h.week_hours->(extract(isodow FROM l.local_day)::integer - 1)->>0)::time
                             END AS opens,
                             CASE WHEN h.week_hours IS NULL THEN h.closes
                                  ELSE (h.week_hours->(extract(isodow FROM l.local_day)::integer - 1)->>1)::time
                             END AS closes) w
                WHERE l.d BETWEEN 0 AND p_days AND l.d NOT BETWEEN v_first AND v_last
                  AND w.opens IS NOT NULL
                  AND t.s >= wall_instant(l.local_day, w.opens, h.timezone)
                  AND t.s < wall_instant(l.local_day, w.closes, h.timezone)) THEN
            -- A better room may offer that time on a later day of its own zone:
            -- all the days at once.
            v_firsts := ARRAY[0];
            v_lasts := ARRAY[p_days];
            v_times := '{}';
            i := 1;
        ELSE
            v_times := v_times || v_step_times;
        END IF;
    END LOOP;

    RETURN json_build_object(
        'times', to_json(v_times),
        'rooms', coalesce((
            SELECT json_agg(json_build_object('room', a.room, 'missing', a.missing))
              FROM (SELECT room_json(r) AS room, m.missing[1] AS missing
                      FROM rooms r
                     CROSS JOIN LATERAL (
                           SELECT array_agg(t) AS missing FROM unnest(p_equipment) AS t
                            WHERE NOT t = ANY (r.equipment)) m
                     WHERE cardinality(p_equipment) > 0
                       AND r.active AND r.capacity >= p_capacity AND cardinality(m.missing) = 1
                       AND (p_rules->'zones' IS NULL OR p_rules->'zones' ? r.timezone)
                       AND (p_rules->(r.id::text)->'hours' IS NOT NULL
                            OR room_open(r.timezone, r.opens, r.closes, p_start, p_end))
                       AND NOT EXISTS (
                           SELECT 1 FROM bookings b
                            WHERE b.room_id = r.id AND b.cancelled_at IS NULL
                              AND b.start_at < p_end + make_interval(mins => coalesce(
                                      (p_rules->(r.id::text)->>'buffer')::integer, 0))
                              AND b.end_at + make_interval(mins => b.buffer_minutes) > p_start
                              AND b.start_at > p_start - interval '28 hours')
                     ORDER BY (p_building IS NULL OR lower(r.building) = lower(p_building)) DESC,
                              (p_floor IS NULL OR r.floor = p_floor) DESC, r.capacity, r.name, r.id
                     LIMIT p_limit * 4) a), '[]'));
END
$$;

CREATE TABLE public.outbox (
    id bigint NOT NULL,
    kind text NOT NULL,
    user_id bigint,
    actor_id bigint,
    room_id integer,
    booking_id bigint,
    series_id bigint,
    payload jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    dispatched_at timestamp with time zone
);

CREATE FUNCTION public.series_changed_at(p_series bigint, p_at timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN (EXISTS (SELECT 1 FROM public.outbox o WHERE ((o.series_id = series_changed_at.p_series) AND (o.kind = 'series.updated'::text) AND (o.created_at = series_changed_at.p_at))));

CREATE TABLE public.series (
    id bigint NOT NULL,
    room_id integer NOT NULL,
    user_id bigint NOT NULL,
    title text NOT NULL,
    rrule text NOT NULL,
    first_start timestamp with time zone NOT NULL,
    duration_minutes integer NOT NULL,
    timezone text NOT NULL,
    materialized_until timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    cancelled_at timestamp with time zone,
    cancelled_by bigint,
    cancelled_from timestamp with time zone,
    attendees integer,
    invitees text[] DEFAULT '{}'::text[] NOT NULL,
    notes text,
    created_by bigint,
    sequence integer DEFAULT 0 NOT NULL,
    continued_by bigint,
    status text DEFAULT 'confirmed'::text NOT NULL,
    CONSTRAINT series_attendees_check CHECK (((attendees >= 1) AND (attendees <= 10000))),
    CONSTRAINT series_duration_minutes_check CHECK ((duration_minutes > 0)),
    CONSTRAINT series_invitees_check CHECK ((cardinality(invitees) <= 50)),
    CONSTRAINT series_notes_check CHECK (((length(notes) >= 1) AND (length(notes) <= 2000))),
    CONSTRAINT series_status_check CHECK ((status = ANY (ARRAY['confirmed'::text, 'pending'::text, 'rejected'::text, 'expired'::text]))),
    CONSTRAINT series_title_check CHECK (((length(title) >= 1) AND (length(title) <= 200)))
);

CREATE FUNCTION public.series_json(s public.series) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', (s).id, 'room_id', (s).room_id, 'user_id', (s).user_id, 'title', (s).title, 'recurrence', (s).rrule, 'timezone', (s).timezone, 'first_start', public.rfc3339((s).first_start, (s).timezone), 'duration_minutes', (s).duration_minutes, 'materialized_until', public.rfc3339((s).materialized_until, (s).timezone), 'cancelled_at', public.rfc3339((s).cancelled_at, (s).timezone), 'cancelled_from', public.rfc3339((s).cancelled_from, (s).timezone), 'attendees', (s).attendees, 'invitees', to_jsonb((s).invitees), 'notes', (s).notes, 'created_by', COALESCE((s).created_by, (s).user_id), 'continued_by', (s).continued_by, 'status', public.booking_status((s).status, (s).cancelled_at));

CREATE FUNCTION public.set_person_active(p_id bigint, p_active boolean, p_cancel boolean, p_actor bigint, p_now timestamp with time zone) RETURNS TABLE(id bigint, email text, name text, role text, active boolean, home_building text, created_at text, cancelled bigint[], series_cancelled integer)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_cancelled bigint[] := '{}';
    v_series integer := 0;
BEGIN
    PERFORM set_config('booking.actor', p_actor::text, true);   -- for the audit log
    -- users_pkey. Waits for every booking being made for them (the insert's
    -- foreign key holds their row FOR KEY SHARE to commit).
    PERFORM 1 FROM users u WHERE u.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE users u SET active = coalesce(p_active, u.active) WHERE u.id = p_id;
    IF p_cancel THEN
        -- series_user
        UPDATE series s
           SET cancelled_from = least(coalesce(s.cancelled_from, 'infinity'), p_now),
               cancelled_at = coalesce(s.cancelled_at, now()),
               cancelled_by = p_actor
         WHERE s.user_id = p_id AND s.cancelled_at IS NULL;
        GET DIAGNOSTICS v_series = ROW_COUNT;
        -- bookings_user_start: their live bookings from now on.
        WITH done AS (
            UPDATE bookings b SET cancelled_at = now(), cancelled_by = p_actor
             WHERE b.user_id = p_id AND b.cancelled_at IS NULL AND b.start_at >= p_now
            RETURNING b.id)
        SELECT coalesce(array_agg(d.id ORDER BY d.id), '{}') INTO v_cancelled FROM done d;
    END IF;
    RETURN QUERY
    SELECT u.id, u.email, u.name, u.role, u.active, u.home_building,
           rfc3339(u.created_at, 'UTC'), v_cancelled, v_series
      FROM users u WHERE u.id = p_id;
END
$$;

CREATE FUNCTION public.sign_in_claim(p_email text, p_address text, p_group text, p_now timestamp with time zone, p_window interval, p_most integer, p_longest interval) RETURNS TABLE(attempt_id bigint, throttled_until timestamp with time zone)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_email text := lower(p_email);
    v_until timestamptz;
    v_failures integer;
    v_latest timestamptz;
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('sign_in address ' || p_group, 0));
    PERFORM pg_advisory_xact_lock(hashtextextended('sign_in email ' || v_email, 0));

    -- sign_in_failures_group: the p_most-th newest attempt from this group.
    SELECT f.failed_at + p_window INTO v_until
      FROM sign_in_failures f
     WHERE f.address_group = p_group AND f.failed_at > p_now - p_window
     ORDER BY f.failed_at DESC OFFSET greatest(p_most - 1, 0) LIMIT 1;

    -- sign_in_failures_email: this account's attempts in the window.
    SELECT count(*), max(f.failed_at) INTO v_failures, v_latest
      FROM sign_in_failures f
     WHERE f.email_key = v_email AND f.failed_at > p_now - p_window;
    IF v_failures >= p_most THEN
        v_until := greatest(v_until, v_latest + least(
            p_longest, interval '1 second' * power(2, least(v_failures - p_most, 30))));
    END IF;

    IF v_until > p_now THEN
        RETURN QUERY SELECT NULL::bigint, v_until;
        RETURN;
    END IF;
    INSERT INTO sign_in_failures (email_key, address, address_group, failed_at, pending)
    VALUES (v_email, p_address, p_group, p_now, true)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, NULL::timestamptz;
END
$$;

CREATE FUNCTION public.users_deactivated() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM sessions WHERE user_id = NEW.id;
    UPDATE api_tokens SET revoked_at = now() WHERE user_id = NEW.id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.users_deactivated_new_feed_url() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.calendar_salt := gen_random_uuid()::text;
    RETURN NEW;
END
$$;

CREATE TABLE public.api_tokens (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text DEFAULT ''::text NOT NULL,
    token_hash bytea NOT NULL,
    prefix text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT api_tokens_name_check CHECK ((length(name) <= 100))
);

ALTER TABLE public.api_tokens ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.api_tokens_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.areas (
    id integer NOT NULL,
    name text NOT NULL,
    parent_id integer,
    policy jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT areas_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT areas_policy_check CHECK ((jsonb_typeof(policy) = 'object'::text))
);

ALTER TABLE public.areas ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.areas_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.audit_log (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor_id bigint,
    action text NOT NULL,
    user_id bigint,
    room_id integer,
    target text NOT NULL,
    before jsonb,
    after jsonb
);

ALTER TABLE public.audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.booking_invitations (
    booking_id bigint NOT NULL,
    user_id bigint NOT NULL,
    start_at timestamp with time zone NOT NULL,
    end_at timestamp with time zone NOT NULL
);

CREATE TABLE public.booking_reminders (
    booking_id bigint NOT NULL,
    sent_at timestamp with time zone NOT NULL,
    start_at timestamp with time zone NOT NULL
);

ALTER TABLE public.bookings ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.bookings_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.delegates (
    user_id bigint NOT NULL,
    delegate_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT delegates_not_self CHECK ((user_id <> delegate_id))
);

CREATE TABLE public.deliveries (
    id bigint NOT NULL,
    event_id bigint NOT NULL,
    channel text NOT NULL,
    user_id bigint,
    endpoint_id bigint,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    email text,
    CONSTRAINT deliveries_channel_check CHECK ((channel = ANY (ARRAY['mail'::text, 'webhook'::text]))),
    CONSTRAINT deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sent'::text, 'failed'::text])))
);

ALTER TABLE public.deliveries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.groups (
    id bigint NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT groups_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

ALTER TABLE public.groups ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.groups_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.idempotency_keys (
    user_id bigint NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    answer jsonb,
    CONSTRAINT idempotency_keys_key_check CHECK (((length(key) >= 1) AND (length(key) <= 255)))
);

CREATE TABLE public.memo_versions (
    name text NOT NULL,
    slot integer NOT NULL,
    n bigint DEFAULT 0 NOT NULL
);

ALTER TABLE public.outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE public.panel_tokens ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.panel_tokens_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.release_sweeps (
    id boolean DEFAULT true NOT NULL,
    last_at timestamp with time zone NOT NULL,
    released bigint DEFAULT 0 NOT NULL,
    CONSTRAINT release_sweeps_id_check CHECK (id)
);

ALTER TABLE public.rooms ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.rooms_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.schema_migrations (
    version text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE public.series ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.series_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.series_skips (
    series_id bigint NOT NULL,
    start_at timestamp with time zone NOT NULL,
    end_at timestamp with time zone NOT NULL,
    reason text NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.sessions (
    token_hash bytea NOT NULL,
    user_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE public.sign_in_failures (
    id bigint NOT NULL,
    email_key text NOT NULL,
    address text NOT NULL,
    failed_at timestamp with time zone NOT NULL,
    address_group text NOT NULL,
    pending boolean DEFAULT false NOT NULL,
    email text
);

ALTER TABLE public.sign_in_failures ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.sign_in_failures_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE public.users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.webhook_attempts (
    id bigint NOT NULL,
    delivery_id bigint NOT NULL,
    endpoint_id bigint NOT NULL,
    attempt integer NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    status_code integer,
    latency_ms integer NOT NULL,
    ok boolean NOT NULL,
    response text DEFAULT ''::text NOT NULL,
    error text
);

ALTER TABLE public.webhook_attempts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_attempts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.webhook_endpoints (
    id bigint NOT NULL,
    url text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    events text[] NOT NULL,
    secret text NOT NULL,
    created_by bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    active boolean DEFAULT true NOT NULL,
    failing_since timestamp with time zone,
    disabled_at timestamp with time zone,
    disabled_reason text,
    CONSTRAINT webhook_endpoints_description_check CHECK ((length(description) <= 200)),
    CONSTRAINT webhook_endpoints_url_check CHECK (((length(url) >= 8) AND (length(url) <= 2000)))
);

ALTER TABLE public.webhook_endpoints ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_endpoints_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT api_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY public.areas
    ADD CONSTRAINT areas_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.booking_invitations
    ADD CONSTRAINT booking_invitations_pkey PRIMARY KEY (booking_id, user_id);

ALTER TABLE ONLY public.booking_reminders
    ADD CONSTRAINT booking_reminders_pkey PRIMARY KEY (booking_id, start_at);

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, tstzrange(start_at, public.plus_minutes(end_at, buffer_minutes), '[)'::text) WITH &&) WHERE ((cancelled_at IS NULL));

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.delegates
    ADD CONSTRAINT delegates_pkey PRIMARY KEY (user_id, delegate_id);

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.group_members
    ADD CONSTRAINT group_members_pkey PRIMARY KEY (group_id, user_id);

ALTER TABLE ONLY public.groups
    ADD CONSTRAINT groups_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key);

ALTER TABLE ONLY public.memo_versions
    ADD CONSTRAINT memo_versions_pkey PRIMARY KEY (name, slot);

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.panel_tokens
    ADD CONSTRAINT panel_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.panel_tokens
    ADD CONSTRAINT panel_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY public.release_sweeps
    ADD CONSTRAINT release_sweeps_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.series_skips
    ADD CONSTRAINT series_skips_pkey PRIMARY KEY (series_id, start_at);

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (token_hash);

ALTER TABLE ONLY public.sign_in_failures
    ADD CONSTRAINT sign_in_failures_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id);

CREATE INDEX api_tokens_user ON public.api_tokens USING btree (user_id, id);

CREATE UNIQUE INDEX areas_name_key ON public.areas USING btree (lower(name));

CREATE INDEX areas_parent ON public.areas USING btree (parent_id) WHERE (parent_id IS NOT NULL);

CREATE INDEX audit_log_actor ON public.audit_log USING btree (actor_id, at, id);

CREATE INDEX audit_log_at ON public.audit_log USING btree (at, id);

CREATE INDEX audit_log_room ON public.audit_log USING btree (room_id, at, id);

CREATE INDEX audit_log_user ON public.audit_log USING btree (user_id, at, id);

CREATE INDEX booking_invitations_user ON public.booking_invitations USING btree (user_id, start_at, booking_id) INCLUDE (end_at);

CREATE INDEX bookings_pending ON public.bookings USING btree (created_at, id) WHERE ((status = 'pending'::text) AND (cancelled_at IS NULL));

CREATE INDEX bookings_room_cancelled ON public.bookings USING btree (room_id, start_at) WHERE (cancelled_at IS NOT NULL);

CREATE INDEX bookings_room_start ON public.bookings USING btree (room_id, start_at) INCLUDE (end_at, id, user_id, title, series_id, created_at, cancelled_at, attendees, created_by, status, buffer_minutes, checked_in_at, released_at) WHERE (cancelled_at IS NULL);

CREATE INDEX bookings_series ON public.bookings USING btree (series_id, start_at) WHERE (series_id IS NOT NULL);

CREATE INDEX bookings_user_cancelled ON public.bookings USING btree (user_id, start_at) WHERE (cancelled_at IS NOT NULL);

CREATE INDEX bookings_user_start ON public.bookings USING btree (user_id, start_at, id) INCLUDE (end_at, room_id, title, series_id, created_at, cancelled_at, attendees, created_by, status, checked_in_at, released_at) WHERE (cancelled_at IS NULL);

CREATE INDEX delegates_delegate ON public.delegates USING btree (delegate_id, user_id);

CREATE INDEX deliveries_due ON public.deliveries USING btree (next_attempt_at, id) WHERE (status = 'pending'::text);

CREATE INDEX deliveries_failed ON public.deliveries USING btree (id) WHERE (status = 'failed'::text);

CREATE INDEX deliveries_pending ON public.deliveries USING btree (id) WHERE (status = 'pending'::text);

CREATE INDEX group_members_user ON public.group_members USING btree (user_id, group_id);

CREATE UNIQUE INDEX groups_name_key ON public.groups USING btree (lower(name));

CREATE INDEX idempotency_keys_created_at ON public.idempotency_keys USING btree (created_at);

CREATE INDEX outbox_created ON public.outbox USING brin (created_at);

CREATE INDEX outbox_series ON public.outbox USING btree (series_id, id) WHERE (series_id IS NOT NULL);

CREATE INDEX outbox_undispatched ON public.outbox USING btree (id) WHERE (dispatched_at IS NULL);

CREATE INDEX outbox_user ON public.outbox USING btree (user_id, id);

CREATE INDEX panel_tokens_room ON public.panel_tokens USING btree (room_id, id);

CREATE INDEX panel_tokens_user ON public.panel_tokens USING btree (user_id);

CREATE INDEX rooms_area ON public.rooms USING btree (area_id) WHERE (area_id IS NOT NULL);

CREATE UNIQUE INDEX rooms_name_key ON public.rooms USING btree (lower(name));

CREATE INDEX series_continued_by ON public.series USING btree (continued_by) WHERE (continued_by IS NOT NULL);

CREATE INDEX series_live_horizon ON public.series USING btree (materialized_until) WHERE (cancelled_at IS NULL);

CREATE INDEX series_user ON public.series USING btree (user_id, id);

CREATE INDEX sessions_user ON public.sessions USING btree (user_id);

CREATE INDEX sign_in_failures_email ON public.sign_in_failures USING btree (email_key, failed_at);

CREATE INDEX sign_in_failures_failed_at ON public.sign_in_failures USING btree (failed_at);

CREATE INDEX sign_in_failures_group ON public.sign_in_failures USING btree (address_group, failed_at);

CREATE INDEX users_admins ON public.users USING btree (id) WHERE (role = 'admin'::text);

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (lower(email));

CREATE INDEX webhook_attempts_endpoint ON public.webhook_attempts USING btree (endpoint_id, id);

CREATE TRIGGER api_tokens_audit AFTER INSERT ON public.api_tokens FOR EACH ROW EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER api_tokens_audit_revoke AFTER UPDATE OF revoked_at ON public.api_tokens FOR EACH ROW WHEN ((old.revoked_at IS DISTINCT FROM new.revoked_at)) EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER api_tokens_deleted_notify AFTER DELETE ON public.api_tokens FOR EACH ROW EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER api_tokens_most_live BEFORE INSERT ON public.api_tokens FOR EACH ROW EXECUTE FUNCTION public.api_tokens_most_live();

CREATE TRIGGER api_tokens_revoked_notify AFTER UPDATE OF revoked_at, user_id, token_hash ON public.api_tokens FOR EACH ROW WHEN ((((old.revoked_at IS DISTINCT FROM new.revoked_at) OR (old.user_id IS DISTINCT FROM new.user_id)) OR (old.token_hash IS DISTINCT FROM new.token_hash))) EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER api_tokens_truncated_notify AFTER TRUNCATE ON public.api_tokens FOR EACH STATEMENT EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER areas_audit AFTER INSERT ON public.areas FOR EACH ROW EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER areas_audit_update AFTER UPDATE ON public.areas FOR EACH ROW WHEN ((old.* IS DISTINCT FROM new.*)) EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER areas_board_memo AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON public.areas FOR EACH STATEMENT EXECUTE FUNCTION public.memo_board_changed();

CREATE TRIGGER areas_memo AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON public.areas FOR EACH STATEMENT EXECUTE FUNCTION public.memo_rooms_changed();

CREATE TRIGGER areas_no_cycle BEFORE INSERT OR UPDATE OF parent_id ON public.areas FOR EACH ROW EXECUTE FUNCTION public.areas_no_cycle();

CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE ON public.audit_log FOR EACH ROW EXECUTE FUNCTION public.audit_refuse();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON public.audit_log FOR EACH STATEMENT EXECUTE FUNCTION public.audit_refuse();

CREATE TRIGGER bookings_audit_insert AFTER INSERT ON public.bookings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.audit_bookings_insert();

CREATE TRIGGER bookings_audit_update AFTER UPDATE ON public.bookings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.audit_bookings_update();

CREATE TRIGGER bookings_board_memo_delete AFTER DELETE ON public.bookings REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memo_board_rows_changed();

CREATE TRIGGER bookings_board_memo_insert AFTER INSERT ON public.bookings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memo_board_rows_changed();

CREATE TRIGGER bookings_board_memo_truncate AFTER TRUNCATE ON public.bookings FOR EACH STATEMENT EXECUTE FUNCTION public.memo_board_changed();

CREATE TRIGGER bookings_board_memo_update AFTER UPDATE ON public.bookings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memo_board_rows_changed();

CREATE TRIGGER bookings_deleted_memo AFTER DELETE ON public.bookings REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memo_bookings_changed();

CREATE TRIGGER bookings_inserted_memo AFTER INSERT ON public.bookings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memo_bookings_changed();

CREATE TRIGGER bookings_invitations_insert AFTER INSERT ON public.bookings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.invitations_inserted();

CREATE TRIGGER bookings_invitations_update AFTER UPDATE ON public.bookings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.invitations_updated();

CREATE TRIGGER bookings_outbox_insert AFTER INSERT ON public.bookings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.outbox_bookings_inserted();

CREATE TRIGGER bookings_outbox_released AFTER UPDATE ON public.bookings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.outbox_bookings_released();

CREATE TRIGGER bookings_outbox_update AFTER UPDATE ON public.bookings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.outbox_bookings_updated();

CREATE TRIGGER bookings_updated_memo AFTER UPDATE ON public.bookings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memo_bookings_changed();

CREATE TRIGGER delegates_memo AFTER INSERT OR DELETE ON public.delegates FOR EACH ROW EXECUTE FUNCTION public.memo_delegates_changed();

CREATE TRIGGER group_members_memo AFTER INSERT OR DELETE OR UPDATE ON public.group_members FOR EACH ROW EXECUTE FUNCTION public.memo_members_changed();

CREATE TRIGGER group_members_truncated_memo AFTER TRUNCATE ON public.group_members FOR EACH STATEMENT EXECUTE FUNCTION public.memo_members_changed();

CREATE TRIGGER groups_audit AFTER INSERT ON public.groups FOR EACH ROW EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER groups_audit_update AFTER UPDATE ON public.groups FOR EACH ROW EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER groups_memo AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON public.groups FOR EACH STATEMENT EXECUTE FUNCTION public.memo_rooms_changed();

CREATE TRIGGER panel_tokens_deleted_notify AFTER DELETE ON public.panel_tokens FOR EACH ROW EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER panel_tokens_revoked_notify AFTER UPDATE OF revoked_at ON public.panel_tokens FOR EACH ROW WHEN ((old.revoked_at IS DISTINCT FROM new.revoked_at)) EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER rooms_audit AFTER INSERT ON public.rooms FOR EACH ROW EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER rooms_audit_update AFTER UPDATE ON public.rooms FOR EACH ROW WHEN ((old.* IS DISTINCT FROM new.*)) EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER rooms_board_memo AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON public.rooms FOR EACH STATEMENT EXECUTE FUNCTION public.memo_board_changed();

CREATE TRIGGER rooms_memo AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON public.rooms FOR EACH STATEMENT EXECUTE FUNCTION public.memo_rooms_changed();

CREATE TRIGGER series_audit AFTER INSERT ON public.series FOR EACH ROW EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER series_audit_update AFTER UPDATE ON public.series FOR EACH ROW WHEN (((old.cancelled_at IS DISTINCT FROM new.cancelled_at) OR (old.cancelled_from IS DISTINCT FROM new.cancelled_from) OR (old.sequence IS DISTINCT FROM new.sequence))) EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER series_outbox_insert AFTER INSERT ON public.series REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.outbox_series_inserted();

CREATE TRIGGER series_outbox_update AFTER UPDATE ON public.series REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.outbox_series_updated();

CREATE TRIGGER sessions_changed_notify AFTER UPDATE ON public.sessions FOR EACH ROW EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER sessions_ended_notify AFTER DELETE ON public.sessions FOR EACH ROW WHEN ((old.expires_at > now())) EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER sessions_truncated_notify AFTER TRUNCATE ON public.sessions FOR EACH STATEMENT EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER sign_in_failures_audit AFTER INSERT ON public.sign_in_failures FOR EACH ROW WHEN ((NOT new.pending)) EXECUTE FUNCTION public.audit_sign_in_failure();

CREATE TRIGGER sign_in_failures_audit_checked AFTER UPDATE OF pending ON public.sign_in_failures FOR EACH ROW WHEN ((old.pending AND (NOT new.pending))) EXECUTE FUNCTION public.audit_sign_in_failure();

CREATE TRIGGER users_audit AFTER INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER users_audit_update AFTER UPDATE OF email, name, role, active ON public.users FOR EACH ROW WHEN (((((old.email IS DISTINCT FROM new.email) OR (old.name IS DISTINCT FROM new.name)) OR (old.role IS DISTINCT FROM new.role)) OR (old.active IS DISTINCT FROM new.active))) EXECUTE FUNCTION public.audit_row();

CREATE TRIGGER users_board_memo AFTER UPDATE OF name ON public.users FOR EACH STATEMENT EXECUTE FUNCTION public.memo_board_changed();

CREATE TRIGGER users_changed_notify AFTER UPDATE ON public.users FOR EACH ROW WHEN (((((((((((old.active IS DISTINCT FROM new.active) OR (old.email IS DISTINCT FROM new.email)) OR (old.name IS DISTINCT FROM new.name)) OR (old.role IS DISTINCT FROM new.role)) OR (old.calendar_salt IS DISTINCT FROM new.calendar_salt)) OR (old.mail_enabled IS DISTINCT FROM new.mail_enabled)) OR (old.theme IS DISTINCT FROM new.theme)) OR (old.timezone IS DISTINCT FROM new.timezone)) OR (old.home_building IS DISTINCT FROM new.home_building)) OR (old.language IS DISTINCT FROM new.language))) EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER users_deactivated AFTER UPDATE OF active ON public.users FOR EACH ROW WHEN ((old.active AND (NOT new.active))) EXECUTE FUNCTION public.users_deactivated();

CREATE TRIGGER users_deactivated_new_feed_url BEFORE UPDATE OF active ON public.users FOR EACH ROW WHEN ((old.active AND (NOT new.active))) EXECUTE FUNCTION public.users_deactivated_new_feed_url();

CREATE TRIGGER users_deleted_notify AFTER DELETE ON public.users FOR EACH ROW EXECUTE FUNCTION public.memo_auth_changed();

CREATE TRIGGER users_memo_overview AFTER UPDATE OF name ON public.users FOR EACH STATEMENT EXECUTE FUNCTION public.memo_overview_changed();

CREATE TRIGGER users_truncated_notify AFTER TRUNCATE ON public.users FOR EACH STATEMENT EXECUTE FUNCTION public.memo_auth_changed();

ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT api_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.areas
    ADD CONSTRAINT areas_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES public.areas(id);

ALTER TABLE ONLY public.booking_invitations
    ADD CONSTRAINT booking_invitations_booking_id_fkey FOREIGN KEY (booking_id) REFERENCES public.bookings(id);

ALTER TABLE ONLY public.booking_invitations
    ADD CONSTRAINT booking_invitations_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.booking_reminders
    ADD CONSTRAINT booking_reminders_booking_id_fkey FOREIGN KEY (booking_id) REFERENCES public.bookings(id);

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_cancelled_by_fkey FOREIGN KEY (cancelled_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_decided_by_fkey FOREIGN KEY (decided_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id);

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_series_id_fkey FOREIGN KEY (series_id) REFERENCES public.series(id);

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);

ALTER TABLE ONLY public.delegates
    ADD CONSTRAINT delegates_delegate_id_fkey FOREIGN KEY (delegate_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.delegates
    ADD CONSTRAINT delegates_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES public.webhook_endpoints(id);

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.outbox(id);

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);

ALTER TABLE ONLY public.group_members
    ADD CONSTRAINT group_members_group_id_fkey FOREIGN KEY (group_id) REFERENCES public.groups(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.group_members
    ADD CONSTRAINT group_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.panel_tokens
    ADD CONSTRAINT panel_tokens_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.panel_tokens
    ADD CONSTRAINT panel_tokens_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id);

ALTER TABLE ONLY public.panel_tokens
    ADD CONSTRAINT panel_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_area_id_fkey FOREIGN KEY (area_id) REFERENCES public.areas(id);

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_cancelled_by_fkey FOREIGN KEY (cancelled_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_continued_by_fkey FOREIGN KEY (continued_by) REFERENCES public.series(id);

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id);

ALTER TABLE ONLY public.series_skips
    ADD CONSTRAINT series_skips_series_id_fkey FOREIGN KEY (series_id) REFERENCES public.series(id);

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES public.deliveries(id);

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES public.webhook_endpoints(id);

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);
