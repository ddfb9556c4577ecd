-- Issue 17: a series nobody came to three times in a row. When a release
-- makes it the third released occurrence in a row (the occurrences of the
-- series that have begun, newest first, live ones only), its organiser is
-- told once, with an offer to cancel the rest (series.release_streak: mail
-- only; booking/events/mail.py signs the link). The fourth in a row tells no
-- more; a check-in in between starts the count again.
CREATE OR REPLACE FUNCTION outbox_bookings_released() RETURNS trigger
LANGUAGE plpgsql AS $$
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
