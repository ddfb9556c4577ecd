"""Demo data: two offices in two time zones, a few people, a week of bookings.

Everything is derived from today's date and a fixed seed, so every fresh
`make run` looks alike: meetings on now, later today, and all week.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from booking import db
from booking.auth import hash_password
from booking.times import UTC, zone

DEMO_PASSWORD = "demo-password"

USERS = [  # email, name, role
    ("admin@example.com", "Ada Admin", "admin"),
    ("alice@example.com", "Alice Andersen", "staff"),
    ("bob@example.com", "Bob Brown", "staff"),
    ("carol@example.com", "Carol Chen", "staff"),
    ("dan@example.com", "Dan Dietrich", "staff"),
]

ROOMS = [  # name, building, floor, capacity, equipment, timezone
    ("Spree", "Berlin HQ", 1, 4, ["screen"], "Europe/Berlin"),
    ("Tiergarten", "Berlin HQ", 1, 8, ["screen", "video"], "Europe/Berlin"),
    ("Museumsinsel", "Berlin HQ", 2, 16, ["screen", "video", "whiteboard"], "Europe/Berlin"),
    ("Kiez", "Berlin HQ", 2, 2, [], "Europe/Berlin"),
    ("Hudson", "New York", 12, 6, ["screen", "whiteboard"], "America/New_York"),
    ("Broadway", "New York", 12, 12, ["screen", "video"], "America/New_York"),
    ("Liberty", "New York", 14, 24, ["screen", "video", "wheelchair"], "America/New_York"),
]

TITLES = ["Team stand-up", "Design review", "1:1", "Quarterly planning", "Customer call",
          "Interview", "Retro", "Budget review", "Lunch & learn", "Hiring sync",
          "Roadmap", "Onboarding"]


def database_is_empty() -> bool:
    with db.connection() as conn:
        row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM users) "
                           "AND NOT EXISTS (SELECT 1 FROM rooms) AS empty").fetchone()
    return row["empty"]


def week_of_bookings(rooms: list[dict], user_ids: list[int], today: date,
                     seed: int = 7) -> list[tuple]:
    """Non-overlapping weekday bookings inside 09:00-18:00, yesterday to a week ahead."""
    rng = random.Random(seed)
    rows = []
    for room in rooms:
        tz = zone(room["timezone"])
        for offset in range(-1, 8):
            day = today + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            minute = 9 * 60
            while True:
                minute += rng.choice([0, 15, 30, 60, 90])
                length = rng.choice([30, 30, 45, 60, 60, 90, 120])
                if minute + length > 18 * 60:
                    break
                start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
                rows.append((room["id"], rng.choice(user_ids), rng.choice(TITLES),
                             start, start + timedelta(minutes=length)))
                minute += length
    return rows


def load() -> str:
    now = datetime.now(UTC)
    password_hash = hash_password(DEMO_PASSWORD)  # one hash: the same demo password for all
    with db.connection() as conn, conn.transaction():
        user_ids = [conn.execute(
            "INSERT INTO users (email, name, role, password_hash) VALUES (%s, %s, %s, %s) "
            "RETURNING id", (email, name, role, password_hash)).fetchone()["id"]
            for email, name, role in USERS]
        rooms = [conn.execute(
            "INSERT INTO rooms (name, building, floor, capacity, equipment, timezone) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, timezone", room).fetchone()
            for room in ROOMS]
        bookings = []
        for room in rooms:
            today = now.astimezone(zone(room["timezone"])).date()
            bookings += week_of_bookings([room], user_ids, today, seed=room["id"])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                            "VALUES (%s, %s, %s, %s, %s)", bookings)
        # The demo's bookings appear under /activity but mail nobody: a first
        # `make run` should not fill var/mail with a week of invitations.
        conn.execute("UPDATE outbox SET dispatched_at = now() WHERE dispatched_at IS NULL")
    return (f"Demo data: {len(USERS)} users, {len(ROOMS)} rooms, {len(bookings)} bookings. "
            f"Sign in as admin@example.com (or alice@example.com) with password "
            f"{DEMO_PASSWORD}")
