-- When a room's opening and closing times happen on a day, read the same way
-- in SQL as in Python (booking/times.py: wall_instant()).
--
-- "Opens at 02:30" on the night the clocks go forward (02:00 -> 03:00 in
-- Berlin) happens when the clocks skip to 03:00: the first moment the room's
-- clock reads 02:30 or later. AT TIME ZONE (like Python's zoneinfo) reads a
-- skipped time with the offset from before the jump, which made it 03:30: the
-- rules (wall-clock comparisons) let a booking start at 03:00 while the free
-- time and the reports had the room open from 03:30. On the night the clocks
-- go back, a repeated time is its first occurrence (AT TIME ZONE takes the
-- second; Python the first).

-- The slow path: only near a clock change. The first whole minute from three
-- hours before AT TIME ZONE's reading on at which the room's clock reads
-- `p_local` or later (a jump is at most two hours).
CREATE FUNCTION wall_instant_near_change(p_local timestamp, p_tz text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    v_moment timestamptz := date_trunc('minute', (p_local AT TIME ZONE p_tz) - interval '3 hours');
BEGIN
    WHILE (v_moment AT TIME ZONE p_tz) < p_local LOOP
        v_moment := v_moment + interval '1 minute';
    END LOOP;
    RETURN v_moment;
END
$$;

-- One expression, so the planner inlines it: the time as AT TIME ZONE reads
-- it whenever the zone's offset did not change in the day before and the
-- reading round-trips; otherwise the slow path.
CREATE FUNCTION wall_instant(p_day date, p_clock time, p_tz text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE
    WHEN ((p_day + p_clock) AT TIME ZONE p_tz) AT TIME ZONE p_tz = p_day + p_clock
     AND (((p_day + p_clock) AT TIME ZONE p_tz) AT TIME ZONE p_tz)
         - (((p_day + p_clock) AT TIME ZONE p_tz) AT TIME ZONE 'UTC')
       = (((p_day + p_clock) AT TIME ZONE p_tz - interval '1 day') AT TIME ZONE p_tz)
         - (((p_day + p_clock) AT TIME ZONE p_tz - interval '1 day') AT TIME ZONE 'UTC')
    THEN (p_day + p_clock) AT TIME ZONE p_tz
    ELSE wall_instant_near_change(p_day + p_clock, p_tz)
END;

-- room_open() (003) by the same instants as booking.rules.check: [s, e) starts
-- at or after the opening and ends at or before the closing of the room-local
-- day it starts on (closes is before midnight, so it never crosses one).
CREATE OR REPLACE FUNCTION room_open(tz text, opens time, closes time, s timestamptz, e timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN e > s
   AND s >= wall_instant((s AT TIME ZONE tz)::date, opens, tz)
   AND e <= wall_instant((s AT TIME ZONE tz)::date, closes, tz);
