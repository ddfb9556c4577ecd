-- A booking's JSON shape, defined once over plain values: booking_json_of().
--
-- booking_json(v booking_api) builds it from the view (a booking joined with
-- its room and owner); a query that already has the room in hand (a room's
-- day) calls booking_json_of() on the bookings and users alone instead of
-- joining the room again for every booking: 0.107 -> 0.067 ms of PostgreSQL
-- CPU per day view (docs/performance.md). Every argument is a column, so a
-- query through either one is still answered from the covering indexes.
CREATE FUNCTION booking_json_of(p_id bigint, p_room_id integer, p_room_name text,
                                p_user_id bigint, p_user_name text, p_title text,
                                p_start timestamptz, p_end timestamptz, p_series bigint,
                                p_cancelled timestamptz, p_created timestamptz, p_tz text)
RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN json_build_object(
    'id', p_id, 'room_id', p_room_id, 'room_name', p_room_name,
    'user_id', p_user_id, 'user_name', p_user_name, 'title', p_title,
    'start_time', rfc3339(p_start, p_tz), 'end_time', rfc3339(p_end, p_tz),
    'series_id', p_series, 'cancelled_at', rfc3339(p_cancelled, p_tz),
    'created_at', rfc3339(p_created, p_tz));

-- The view keeps the raw times (what booking_json_of() takes); it rendered
-- them itself before, which nothing but booking_json() read.
DROP FUNCTION booking_json(booking_api);
DROP VIEW booking_api;

CREATE VIEW booking_api AS
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
       b.cancelled_at IS NULL AS live,
       r.timezone
  FROM bookings b
  JOIN rooms r ON r.id = b.room_id
  JOIN users u ON u.id = b.user_id;

CREATE FUNCTION booking_json(v booking_api) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
RETURN booking_json_of(v.id, v.room_id, v.room_name, v.user_id, v.user_name, v.title,
                       v.start_at, v.end_at, v.series_id, v.cancelled_at, v.created_at,
                       v.timezone);
