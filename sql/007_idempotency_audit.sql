-- Idempotency keys: a retried booking request books once.
--
-- A client sends `Idempotency-Key: <1-255 printable ASCII>` with a booking
-- (POST /api/bookings, its series variant, POST /api/bookings/auto; the
-- booking pages send a hidden one). book_once() claims the key for the user,
-- books, and keeps what the booking function answered, all inside the one
-- statement that books: the key and the booking commit or vanish together.
--
-- * The key is claimed first, with INSERT ... ON CONFLICT DO NOTHING on the
--   primary key. A second request with the same key waits there until the
--   first commits, then finds the key taken and replays the kept answer: two
--   simultaneous requests book once.
-- * Only a request that booked keeps its key. When nothing was booked (a 409,
--   say) the claim is deleted in the same transaction, so a retry is tried
--   afresh; it booked nothing, so there is nothing to double.
-- * A key is good for 24 hours from its first use (by the app clock): an
--   older one is deleted when its key comes again, and each booking with a
--   key deletes up to 10 expired ones, so the table holds about a day's worth.
-- * `fingerprint` is a hash of the request (route kind and body): the same
--   key with another request is refused (422 idempotency_mismatch).
CREATE TABLE idempotency_keys (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL,
    answer      jsonb,                      -- what the booking function returned
    PRIMARY KEY (user_id, key)
);
-- Expired keys, oldest first, for the clean-up that rides along with each use.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE FUNCTION json_timestamps(a jsonb) RETURNS timestamptz[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(t.v::timestamptz ORDER BY t.n), '{}')
      FROM jsonb_array_elements_text(a) WITH ORDINALITY AS t(v, n)
$$;

-- p_kind says which booking function runs, p_args its arguments (from the
-- app's own code, never the client's JSON as such):
--   'book'   book(room, user, title, starts, ends)       -> its rows
--   'series' book_series(room, user, title, rrule, tz, first, minutes,
--                        horizon, starts, ends, skip)   -> its rows
--   'auto'   auto_book(rooms, user, title, start, end, people, equipment,
--                      building, floor, not_before, until) -> its json,
--            with the chosen room's JSON picked out of p_args->'room_json'
-- Returns one row: replayed (the key was used before), same_request (the
-- fingerprints match; false only when replayed), result (the kept or fresh
-- answer; NULL for a mismatch).
CREATE FUNCTION book_once(p_user bigint, p_key text, p_fingerprint text, p_now timestamptz,
                          p_kind text, p_args jsonb)
RETURNS TABLE (replayed boolean, same_request boolean, result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_earlier idempotency_keys;
    v_result jsonb;
    v_booked boolean;
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
          FROM book((p_args->>'room')::integer, p_user, p_args->>'title',
                    json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends')) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "created")');
    ELSIF p_kind = 'series' THEN
        SELECT jsonb_agg(to_jsonb(b)) INTO v_result
          FROM book_series((p_args->>'room')::integer, p_user, p_args->>'title',
                           p_args->>'rrule', p_args->>'tz', (p_args->>'first')::timestamptz,
                           (p_args->>'minutes')::integer, (p_args->>'horizon')::timestamptz,
                           json_timestamps(p_args->'starts'), json_timestamps(p_args->'ends'),
                           (p_args->>'skip')::boolean) b;
        v_booked := jsonb_path_exists(v_result, '$[*] ? (@.kind == "series")');
    ELSIF p_kind = 'auto' THEN
        v_result := to_jsonb(auto_book(
            ARRAY(SELECT jsonb_array_elements_text(p_args->'rooms')::integer), p_user,
            p_args->>'title', (p_args->>'start')::timestamptz, (p_args->>'end')::timestamptz,
            (p_args->>'people')::integer,
            ARRAY(SELECT jsonb_array_elements_text(p_args->'equipment')),
            p_args->>'building', (p_args->>'floor')::integer,
            (p_args->>'not_before')::timestamptz, (p_args->>'until')::timestamptz));
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
$$;
