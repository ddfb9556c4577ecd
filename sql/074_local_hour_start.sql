-- The busiest-hours report counted the night the clocks go back wrongly (found
-- by testing from outside): local hour 2 began at the second 02:00
-- (PostgreSQL reads an ambiguous local time as the later one), so the first
-- pass of 02:00-03:00 went to hour 1. An hour begins at the first instant the
-- clock shows it: the earlier of its local start read as usual and an hour
-- after the hour before it. On the night the clocks go forward the skipped
-- hour is empty, as before.

CREATE FUNCTION local_hour_start(p_day timestamp, p_hour integer, p_tz text)
    RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN least((p_day + make_interval(hours => p_hour)) AT TIME ZONE p_tz,
                 (p_day + make_interval(hours => p_hour - 1)) AT TIME ZONE p_tz
                 + interval '1 hour');
