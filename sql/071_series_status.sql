-- A series says where its approval stands (found by testing from outside,
-- issue 18): series_json() had no status, so a series an approver rejected,
-- or that expired while waiting, read like one with nothing booked. `status`
-- is the series' own (confirmed, pending, rejected, expired), or cancelled
-- once the whole series is, as booking_status() says it for a booking.
--
-- The rest is as sql/042 left it.

CREATE OR REPLACE FUNCTION series_json(s series) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', (s).id, 'room_id', (s).room_id, 'user_id', (s).user_id, 'title', (s).title, 'recurrence', (s).rrule, 'timezone', (s).timezone, 'first_start', rfc3339((s).first_start, (s).timezone), 'duration_minutes', (s).duration_minutes, 'materialized_until', rfc3339((s).materialized_until, (s).timezone), 'cancelled_at', rfc3339((s).cancelled_at, (s).timezone), 'cancelled_from', rfc3339((s).cancelled_from, (s).timezone), 'attendees', (s).attendees, 'invitees', to_jsonb((s).invitees), 'notes', (s).notes, 'created_by', COALESCE((s).created_by, (s).user_id), 'continued_by', (s).continued_by, 'status', booking_status((s).status, (s).cancelled_at));
