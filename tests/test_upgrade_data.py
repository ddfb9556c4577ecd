"""Migrations that bring data written by earlier releases up to what later ones
assume (sql/088), checked on a database upgraded in two steps: every migration
before it, rows as the earlier releases wrote them, then the rest. Found by
upgrading a populated database; every other test starts from an empty one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from booking import db

FIX = "088_data_from_before"
LATER = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)


@pytest.fixture
def before(pg_cluster, tmp_path):
    """A database with every migration before FIX applied, and its URL."""
    earlier = tmp_path / "sql"
    earlier.mkdir()
    for path in db.migration_files():
        if path.stem < FIX:
            (earlier / path.name).symlink_to(path)
    url = pg_cluster.create_database(f"upgrade_{tmp_path.name[-20:].lower()}")
    db.upgrade(url, earlier)
    return url


def connect(url):
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def seed(conn) -> dict:
    """Rows as releases before sql/067, sql/075 and sql/083 left them."""
    ids = {}
    for name, role in (("Owner", "staff"), ("Helper", "staff"), ("Ada", "admin")):
        ids[name] = conn.execute(
            "INSERT INTO users (email, name, role) VALUES (%s, %s, %s) RETURNING id",
            (f"{name.lower()}@example.com", name, role)).fetchone()["id"]
    room = conn.execute("INSERT INTO rooms (name, capacity, timezone) VALUES ('Spree', 6, "
                        "'Europe/Berlin') RETURNING id").fetchone()["id"]
    series = conn.execute(
        "INSERT INTO series (room_id, user_id, title, rrule, first_start, duration_minutes, "
        "timezone, materialized_until) VALUES (%s, %s, 'Weekly', 'FREQ=WEEKLY', %s, 60, "
        "'Europe/Berlin', %s) RETURNING id",
        (room, ids["Owner"], LATER, LATER + timedelta(weeks=8))).fetchone()["id"]
    weeks = []
    for week in range(7):
        start = LATER + timedelta(weeks=week)
        weeks.append(conn.execute(
            "INSERT INTO bookings (room_id, user_id, title, start_at, end_at, series_id) "
            "VALUES (%s, %s, 'Weekly', %s, %s, %s) RETURNING id",
            (room, ids["Owner"], start, start + timedelta(hours=1), series)).fetchone()["id"])
    # Week 1 cancelled on its own (before sql/067: no record of it).
    conn.execute("UPDATE bookings SET cancelled_at = now(), cancelled_by = %s WHERE id = %s",
                 (ids["Owner"], weeks[1]))
    # Week 2 moved on its own, then cancelled: recorded at the start the series gave it.
    conn.execute("UPDATE bookings SET original_start = start_at, start_at = start_at + "
                 "interval '2 hours', end_at = end_at + interval '2 hours' WHERE id = %s",
                 (weeks[2],))
    conn.execute("UPDATE bookings SET cancelled_at = now(), cancelled_by = %s WHERE id = %s",
                 (ids["Helper"], weeks[2]))
    # Week 3: a change in place of the series' last live occurrence (its old row
    # cancelled, a new one booked in one transaction): not cancelled on its own.
    # Week 4: two rows cancelled at once (the series' doing, not a person's).
    with conn.transaction():
        conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id = %s", (weeks[3],))
        for week in (3,):
            start = LATER + timedelta(weeks=week, minutes=30)
            conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at, "
                         "series_id) VALUES (%s, %s, 'Weekly v2', %s, %s, %s)",
                         (room, ids["Owner"], start, start + timedelta(hours=1), series))
    with conn.transaction():
        conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id = ANY(%s)",
                     ([weeks[4], weeks[6]],))
    # Week 5: the series cut there (and week 6 with it).
    with conn.transaction():
        conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id = %s", (weeks[5],))
        conn.execute("UPDATE series SET cancelled_from = %s WHERE id = %s",
                     (LATER + timedelta(weeks=5), series))
    # A single booking approved before sql/083: its approval was sent at SEQUENCE 1,
    # the row stayed at 0; the approval's event not sent yet.
    approved = conn.execute(
        "INSERT INTO bookings (room_id, user_id, title, start_at, end_at, status) VALUES "
        "(%s, %s, 'Approved', %s, %s, 'pending') RETURNING id",
        (room, ids["Owner"], LATER + timedelta(days=1),
         LATER + timedelta(days=1, hours=1))).fetchone()["id"]
    conn.execute("UPDATE bookings SET status = 'confirmed', decided_at = now(), "
                 "decided_by = %s, sequence = 0 WHERE id = %s", (ids["Ada"], approved))
    conn.execute("INSERT INTO outbox (kind, user_id, booking_id, payload) VALUES "
                 "('booking.approved', %s, %s, jsonb_build_object('booking', "
                 "jsonb_build_object('id', %s::bigint, 'sequence', 0)))",
                 (ids["Owner"], approved, approved))
    # A delegate's cancellation written as an administrator's (before sql/075), not
    # sent yet; and an administrator's, which stays one.
    for who in ("Helper", "Ada"):
        conn.execute("INSERT INTO outbox (kind, user_id, payload) VALUES ('booking.cancelled', "
                     "%s, jsonb_build_object('cancelled_by', %s::bigint, 'by_admin', true))",
                     (ids["Owner"], ids[who]))
    return {"series": series, "weeks": weeks, "approved": approved, **ids}


def test_data_from_earlier_releases_is_brought_up_to_date(before):
    with connect(before) as conn:
        made = seed(conn)
        conn.execute("DELETE FROM series_skips")
        audit_before = conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"]
        events_before = conn.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"]

    assert db.upgrade(before)[0] == FIX

    with connect(before) as conn:
        skips = conn.execute("SELECT start_at, end_at, reason FROM series_skips "
                             "WHERE series_id = %s ORDER BY start_at",
                             (made["series"],)).fetchall()
        week = timedelta(weeks=1)
        # weeks 1 and 2 (at the start the series gave it): not 3 (changed in place),
        # nor 4 (cancelled with another), nor 5 (cut there), nor 0 (live)
        assert skips == [{"start_at": LATER + week, "end_at": LATER + week + timedelta(hours=1),
                          "reason": "cancelled"},
                         {"start_at": LATER + 2 * week,
                          "end_at": LATER + 2 * week + timedelta(hours=1),
                          "reason": "cancelled"}]
        assert conn.execute("SELECT sequence FROM bookings WHERE id = %s",
                            (made["approved"],)).fetchone()["sequence"] == 1
        assert conn.execute("SELECT payload->'booking'->'sequence' AS s FROM outbox "
                            "WHERE kind = 'booking.approved'").fetchone()["s"] == 1
        by_admin = conn.execute("SELECT (payload->>'cancelled_by')::bigint AS who, "
                                "payload->'by_admin' AS said FROM outbox "
                                "WHERE kind = 'booking.cancelled' AND booking_id IS NULL "
                                "ORDER BY id").fetchall()
        assert by_admin == [{"who": made["Helper"], "said": False},
                            {"who": made["Ada"], "said": True}]
        # Not a change anyone made: no audit entry, no event.
        assert conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == audit_before
        assert conn.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"] == events_before
        # the triggers are on again
        assert conn.execute("SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = "
                            "'bookings'::regclass AND NOT tgisinternal AND tgenabled = 'D'"
                            ).fetchone()["n"] == 0

    assert db.upgrade(before) == []
