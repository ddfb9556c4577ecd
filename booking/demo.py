"""Demo data: two offices in two time zones, a few people, a week of bookings, and
the organisation's rules as data: two sites (areas) with a building each, their
policies, a boardroom that needs approval and a facilities group that approves.

Everything is derived from today's date and a fixed seed, so every fresh
`make run` looks alike: meetings on now, later today, and all week.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
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


# Areas: name, parent, policy. The rooms of each building are put in it.
AREAS = [
    ("Berlin", None, {"closed_dates": ["12-24", "12-25", "12-26", "01-01"]}),
    ("Berlin HQ", "Berlin", {"buffer_minutes": 5, "quota": {"bookings_per_day": 4}}),
    ("New York", None, {"closed_dates": ["07-04", "12-25", "01-01"],
                        "opening_hours": {d: ["08:00", "19:00"]
                                          for d in ("mon", "tue", "wed", "thu", "fri")}}),
]
BUILDING_AREA = {"Berlin HQ": "Berlin HQ", "New York": "New York"}
# Rooms with rules of their own: the boardroom needs approval (Facilities
# approves), the small room is for short meetings, the training room keeps
# time between sessions.
ROOM_POLICIES = {"Museumsinsel": {"approval_required": True, "min_notice_minutes": 60},
                 "Kiez": {"max_minutes": 60},
                 "Liberty": {"buffer_minutes": 15}}
GROUPS = {"Facilities": ["admin@example.com", "carol@example.com"]}


def _rules(conn) -> None:
    """The demo's areas, groups and policies (see AREAS, ROOM_POLICIES, GROUPS)."""
    import json

    groups = {}
    for name, emails in GROUPS.items():
        groups[name] = conn.execute("INSERT INTO groups (name) VALUES (%s) RETURNING id",
                                    (name,)).fetchone()["id"]
        conn.execute("INSERT INTO group_members (group_id, user_id) SELECT %s, id FROM users "
                     "WHERE email = ANY (%s)", (groups[name], emails))
    areas: dict[str, int] = {}
    for name, parent, policy in AREAS:
        areas[name] = conn.execute(
            "INSERT INTO areas (name, parent_id, policy) VALUES (%s, %s, %s) RETURNING id",
            (name, areas.get(parent), json.dumps(policy))).fetchone()["id"]
    for building, area_name in BUILDING_AREA.items():
        conn.execute("UPDATE rooms SET area_id = %s WHERE building = %s",
                     (areas[area_name], building))
    for room, policy in ROOM_POLICIES.items():
        if policy.get("approval_required"):
            policy = {**policy, "approvers": [groups["Facilities"]]}
        conn.execute("UPDATE rooms SET policy = %s WHERE name = %s", (json.dumps(policy), room))


def database_is_empty() -> bool:
    with db.connection() as conn:
        row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM users) "
                           "AND NOT EXISTS (SELECT 1 FROM rooms) AS empty").fetchone()
    return row["empty"]


def week_of_bookings(rooms: list[dict], user_ids: list[int], today: date,
                     seed: int = 7, cap: int | None = None,
                     held: Counter | None = None) -> list[tuple]:
    """Non-overlapping weekday bookings inside 09:00-18:00, yesterday to a week ahead.

    `cap`: at most that many a person a day (`held` counts them, (user, day), across
    the rooms of one area), so the demo's people stay under their quota there and
    can still book and move bookings; a slot nobody may take stays free."""
    rng = random.Random(seed)
    held = Counter() if held is None else held
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
                free = [u for u in user_ids if cap is None or held[u, day] < cap]
                if free:
                    owner = rng.choice(free)
                    held[owner, day] += 1
                    rows.append((room["id"], owner, rng.choice(TITLES),
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
        # A person's bookings a day in an area with a daily quota: one under it.
        caps = {name: policy["quota"]["bookings_per_day"] - 1 for name, _, policy in AREAS
                if "bookings_per_day" in policy.get("quota", {})}
        held: dict[str | None, Counter] = defaultdict(Counter)
        bookings = []
        for room, (_, building, *_rest) in zip(rooms, ROOMS):
            today = now.astimezone(zone(room["timezone"])).date()
            area = BUILDING_AREA.get(building)
            bookings += week_of_bookings([room], user_ids, today, seed=room["id"],
                                         cap=caps.get(area), held=held[area])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                            "VALUES (%s, %s, %s, %s, %s)", bookings)
        # The rules after the bookings: the demo's week was booked as an admin would.
        _rules(conn)
        # The demo's bookings appear under /activity but mail nobody: a first
        # `make run` should not fill var/mail with a week of invitations.
        conn.execute("UPDATE outbox SET dispatched_at = now() WHERE dispatched_at IS NULL")
    return (f"Demo data: {len(USERS)} users, {len(ROOMS)} rooms, {len(bookings)} bookings. "
            f"Sign in as admin@example.com (or alice@example.com) with password "
            f"{DEMO_PASSWORD}")


# -- the large dataset (issue 5: benchmarks) ------------------------------------------------

LARGE_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
SLOTS_PER_DAY, BOOKED_PERCENT = 9, 31  # hourly slots 09:00-18:00, ~2.8 booked per room-day


@dataclass(frozen=True)
class Scale:
    rooms: int = 500
    users: int = 5000
    past_days: int = 650     # two years in all, about a tenth of it ahead
    future_days: int = 80
    heavy_user_bookings: int = 1000   # alice@example.com's upcoming bookings
    light_user_bookings: int = 10     # bob@example.com's


LARGE = Scale()

LARGE_USERS_SQL = """
INSERT INTO users (email, name, role, password_hash)
SELECT 'user' || i || '@example.com', 'User ' || i, 'staff', %(hash)s
  FROM generate_series(1, %(n)s) i"""

LARGE_ROOMS_SQL = """
INSERT INTO rooms (name, building, floor, capacity, equipment, timezone)
SELECT 'Room ' || lpad(i::text, 3, '0'),
       split_part(z, '/', 2) || ' ' || chr(65 + (i / 3) %% 5),
       (i / 15) %% 10,
       (ARRAY[2, 4, 4, 6, 6, 8, 8, 10, 12, 16, 20, 30])[1 + i %% 12],
       CASE i %% 5 WHEN 0 THEN ARRAY['screen'] WHEN 1 THEN ARRAY['screen', 'video']
                   WHEN 2 THEN ARRAY['whiteboard'] WHEN 3 THEN ARRAY['screen', 'whiteboard']
                   ELSE ARRAY['screen', 'video', 'wheelchair'] END
       || CASE WHEN i %% 7 = 0 THEN ARRAY['phone'] ELSE '{}' END,
       z
  FROM generate_series(1, %(n)s) i,
       LATERAL (SELECT (%(zones)s::text[])[1 + i %% 3] AS z) zz"""

# Each room-day offers nine one-hour slots; a hash of (room, day, slot) books
# about 30%% of them, owned by pseudo-random users. Times are wall-clock hours
# in the room's zone.
LARGE_BOOKINGS_SQL = """
INSERT INTO bookings (room_id, user_id, title, start_at, end_at, created_at)
SELECT r.id,
       %(first_user)s + abs(hashint4(r.id * 7919 + d * 31 + s)) %% %(users)s,
       (ARRAY['Team stand-up', 'Design review', '1:1', 'Planning', 'Customer call',
              'Interview', 'Retro', 'Workshop'])[1 + abs(hashint4(d * 13 + s + r.id)) %% 8],
       t, t + interval '1 hour',
       t - interval '7 days'
  FROM rooms r,
       generate_series(-%(past)s::int, %(future)s::int) d,
       generate_series(0, %(slots)s::int - 1) s,
       LATERAL (SELECT ((current_date + d) + make_time(9 + s, 0, 0)) AT TIME ZONE r.timezone AS t) x
 WHERE r.id >= %(first_room)s
   AND abs(hashint4(r.id * 100003 + d * 977 + s * 13)) %% 100 < %(percent)s"""

# The large rooms in three areas, one per zone (site), each with a policy that
# makes the finder and booking work: a buffer and a daily quota in Berlin,
# weekday hours and notice in New York, holidays and a shorter longest booking
# in Tokyo where the biggest rooms need approval (issue 18: the finder with
# policies on 500 rooms in three areas).
LARGE_AREAS = {
    "Europe/Berlin": ("Berlin site", {"buffer_minutes": 10, "quota": {"bookings_per_day": 6}}),
    "America/New_York": ("New York site", {
        "opening_hours": {d: ["08:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "min_notice_minutes": 30}),
    "Asia/Tokyo": ("Tokyo site", {"closed_dates": ["01-01", "05-03", "05-04", "05-05"],
                                  "max_minutes": 120}),
}

LARGE_RULES_SQL = """
WITH made AS (
    INSERT INTO areas (name, policy)
    SELECT a.name, a.policy FROM jsonb_to_recordset(%(areas)s::jsonb) AS a(name text, policy jsonb)
    RETURNING id, name)
UPDATE rooms r
   SET area_id = m.id,
       policy = CASE WHEN r.timezone = 'Asia/Tokyo' AND r.capacity >= 20
                     THEN jsonb_build_object('approval_required', true, 'approvers',
                              jsonb_build_array((SELECT id FROM groups WHERE name = 'Facilities')))
                     ELSE r.policy END
  FROM jsonb_to_recordset(%(areas)s::jsonb) AS a(name text, zone text), made m
 WHERE m.name = a.name AND r.timezone = a.zone AND r.id >= %(first_room)s"""

# Hand the first upcoming bookings of pseudo-random rooms to the two special users.
SPECIAL_USER_SQL = """
UPDATE bookings SET user_id = %(user)s
 WHERE id IN (SELECT id FROM bookings
               WHERE start_at > now() AND user_id >= %(first_user)s
               ORDER BY hashint8(id) LIMIT %(n)s)"""


def load_large(report=print, scale: Scale = LARGE) -> str:
    """500 rooms in 3 zones, 5,000 users, ~1,000,000 bookings over two years.

    Loaded with INSERT ... SELECT on the server (no rows cross the wire), with
    the bookings indexes and the exclusion constraint dropped during the load
    and rebuilt once afterwards from their own definitions.
    """
    import time

    started = time.monotonic()
    summary = load()  # the demo users (admin@example.com, ...) and the small offices first
    password_hash = hash_password(DEMO_PASSWORD)
    with db.connection() as conn:
        _load_large(conn, scale, password_hash, started, report)
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute("""
            SELECT (SELECT count(*) FROM rooms) AS rooms, (SELECT count(*) FROM users) AS users,
                   (SELECT count(*) FROM bookings) AS bookings,
                   (SELECT count(*) FROM bookings WHERE start_at > now()) AS upcoming""").fetchone()
    return (f"Large demo data in {time.monotonic() - started:.0f} s: {counts['rooms']} rooms, "
            f"{counts['users']} users, {counts['bookings']:,} bookings "
            f"({counts['upcoming']:,} upcoming; alice@example.com has {scale.heavy_user_bookings} "
            f"upcoming, bob@example.com {scale.light_user_bookings}). "
            f"{summary.split('. ', 1)[1]}")


def _load_large(conn, scale: Scale, password_hash: str, started: float, report) -> None:
    """All of the bulk load in one transaction: a failure leaves the database as it was."""
    import time

    with conn.transaction():
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        first_user = conn.execute("SELECT max(id) + 1 AS n FROM users").fetchone()["n"]
        first_room = conn.execute("SELECT max(id) + 1 AS n FROM rooms").fetchone()["n"]
        conn.execute(LARGE_USERS_SQL, {"hash": password_hash, "n": scale.users})
        conn.execute(LARGE_ROOMS_SQL, {"n": scale.rooms, "zones": list(LARGE_ZONES)})
        saved = conn.execute("""
            SELECT 'index' AS kind, indexname AS name, indexdef AS definition
              FROM pg_indexes WHERE tablename = 'bookings' AND indexname <> 'bookings_pkey'
               AND indexname NOT IN (SELECT conname FROM pg_constraint
                                      WHERE conrelid = 'bookings'::regclass)
            UNION ALL
            SELECT 'constraint', conname, pg_get_constraintdef(oid)
              FROM pg_constraint WHERE conrelid = 'bookings'::regclass AND contype = 'x'
        """).fetchall()
        for item in saved:
            if item["kind"] == "constraint":
                conn.execute(f'ALTER TABLE bookings DROP CONSTRAINT "{item["name"]}"')
            else:
                conn.execute(f'DROP INDEX "{item["name"]}"')
        report(f"  users and rooms: {time.monotonic() - started:.0f} s")
        # Triggers (and foreign-key checks) off for the bulk load: the rows are
        # generated consistent, and the events outbox must not get a million rows.
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(LARGE_BOOKINGS_SQL, {"first_user": first_user, "first_room": first_room,
                                          "users": scale.users,
                                          "past": scale.past_days, "future": scale.future_days,
                                          "slots": SLOTS_PER_DAY, "percent": BOOKED_PERCENT})
        heavy = conn.execute("SELECT id FROM users WHERE email = 'alice@example.com'").fetchone()["id"]
        light = conn.execute("SELECT id FROM users WHERE email = 'bob@example.com'").fetchone()["id"]
        for user, n in ((heavy, scale.heavy_user_bookings), (light, scale.light_user_bookings)):
            conn.execute("UPDATE bookings SET user_id = %s WHERE user_id = %s AND start_at > now()",
                         (first_user, user))
            conn.execute(SPECIAL_USER_SQL, {"user": user, "first_user": first_user + 1, "n": n})
        conn.execute("SET LOCAL session_replication_role = origin")
        report(f"  bookings inserted: {time.monotonic() - started:.0f} s")
        for item in saved:
            if item["kind"] == "constraint":
                conn.execute(f'ALTER TABLE bookings ADD CONSTRAINT "{item["name"]}" '
                             f'{item["definition"]}')
            else:
                conn.execute(item["definition"])
        report(f"  indexes and exclusion constraint: {time.monotonic() - started:.0f} s")
        import json
        conn.execute(LARGE_RULES_SQL, {"first_room": first_room, "areas": json.dumps([
            {"name": name, "zone": zone_name, "policy": policy}
            for zone_name, (name, policy) in LARGE_AREAS.items()])})
        report(f"  areas and policies: {time.monotonic() - started:.0f} s")
