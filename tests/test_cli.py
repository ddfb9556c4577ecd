"""flask --app booking db upgrade | users create | tokens create | demo"""

import pytest

from booking import db


def test_db_upgrade_is_idempotent(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0
    assert "up to date" in result.output


def test_db_upgrade_applies_migrations_to_an_empty_database(pg_cluster):
    import psycopg
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "cli_empty"')
        conn.execute('CREATE DATABASE "cli_empty"')
    url = pg_cluster.url("cli_empty")
    assert db.upgrade(url) == [p.stem for p in db.migration_files()]
    assert db.upgrade(url) == []


def test_users_create_and_sign_in_with_it(runner, client, conn):
    result = runner.invoke(args=["users", "create", "--email", "Zoe@Example.com", "--name", "Zoe",
                                 "--password", "long enough", "--admin"])
    assert result.exit_code == 0, result.output
    row = conn.execute("SELECT role, password_hash FROM users WHERE email = 'Zoe@Example.com'").fetchone()
    assert row["role"] == "admin" and "long enough" not in row["password_hash"]
    from conftest import Browser
    assert Browser(client).login("zoe@example.com", "long enough").status_code == 302


def test_users_create_refuses_duplicates_and_short_passwords(runner, alice):
    dup = runner.invoke(args=["users", "create", "--email", "ALICE@example.com", "--name", "A",
                              "--password", "long enough"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    short = runner.invoke(args=["users", "create", "--email", "x@example.com", "--name", "X",
                                "--password", "short"])
    assert short.exit_code != 0 and "8 characters" in short.output


def test_tokens_create_prints_the_token_alone_on_the_last_line(runner, client, alice):
    result = runner.invoke(args=["tokens", "create", "--email", alice["email"], "--name", "CI"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("bk_") and " " not in token
    r = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.get_json()["user"]["email"] == alice["email"]


def test_tokens_create_for_unknown_email_fails_clearly(runner):
    result = runner.invoke(args=["tokens", "create", "--email", "ghost@example.com"])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_demo_loads_once_and_then_refuses_politely(runner, conn, client):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    counts = conn.execute("SELECT (SELECT count(*) FROM users) AS users, "
                          "(SELECT count(DISTINCT timezone) FROM rooms) AS zones, "
                          "(SELECT count(*) FROM bookings) AS bookings").fetchone()
    assert counts["users"] >= 3 and counts["zones"] == 2 and counts["bookings"] > 50
    # Issue 18: areas with policies, the boardroom needs approval by Facilities.
    rules = conn.execute("""
        SELECT (SELECT count(*) FROM areas) AS areas,
               (SELECT count(*) FROM rooms WHERE area_id IS NULL) AS loose,
               (SELECT room_policy(id) FROM rooms WHERE name = 'Museumsinsel') AS boardroom,
               (SELECT room_policy(id) FROM rooms WHERE name = 'Spree') AS spree""").fetchone()
    assert rules["areas"] == 3 and rules["loose"] == 0
    assert rules["boardroom"]["fields"]["approval_required"]["value"] is True
    assert rules["spree"]["fields"]["closed_dates"]["source"]["name"] == "Berlin"
    assert rules["spree"]["fields"]["buffer_minutes"]["source"]["name"] == "Berlin HQ"
    # Everyone stays under Berlin HQ's 4 bookings a day, so each can still book and move
    # one there (the week was made at the quota: no demo user could change a booking).
    most = conn.execute("""
        SELECT max(n) AS n FROM (
            SELECT count(*) AS n FROM bookings b JOIN rooms r ON r.id = b.room_id
             WHERE r.building = 'Berlin HQ'
             GROUP BY b.user_id, (b.start_at AT TIME ZONE r.timezone)::date) x""").fetchone()
    assert most["n"] <= 3
    again = runner.invoke(args=["demo"])
    assert again.exit_code != 0 and "already has data" in again.output
    quiet = runner.invoke(args=["demo", "--if-empty"])
    assert quiet.exit_code == 0
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == counts["bookings"]
    from booking.demo import DEMO_PASSWORD
    from conftest import Browser
    assert Browser(client).login("admin@example.com", DEMO_PASSWORD).status_code == 302


def test_demo_large_at_a_small_scale_keeps_every_guarantee(app, conn):
    """The million-booking loader, shrunk: same code path, constraint and indexes rebuilt."""
    from booking import demo

    before = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'bookings' "
                          "ORDER BY 1").fetchall()
    with app.app_context():
        summary = demo.load_large(report=lambda line: None,
                                  scale=demo.Scale(rooms=12, users=40, past_days=20, future_days=10,
                                                   heavy_user_bookings=30, light_user_bookings=3))
    assert "Large demo data" in summary
    after = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'bookings' "
                         "ORDER BY 1").fetchall()
    assert after == before
    counts = conn.execute("""
        SELECT (SELECT count(DISTINCT timezone) FROM rooms WHERE name LIKE 'Room %%') AS zones,
               (SELECT count(*) FROM bookings b JOIN users u ON u.id = b.user_id
                 WHERE u.email = 'alice@example.com' AND b.start_at > now()) AS heavy,
               (SELECT count(*) FROM bookings b JOIN users u ON u.id = b.user_id
                 WHERE u.email = 'bob@example.com' AND b.start_at > now()) AS light,
               (SELECT count(*) FROM bookings) AS bookings""").fetchone()
    assert counts["zones"] == 3 and counts["heavy"] == 30 and counts["light"] == 3
    assert counts["bookings"] > 500
    # Three areas, one per zone, each with its policy; the biggest Tokyo rooms need approval.
    placed = conn.execute("""
        SELECT a.name, count(*) AS rooms, min(r.timezone) AS zone, max(a.policy::text) AS policy
          FROM rooms r JOIN areas a ON a.id = r.area_id
         WHERE r.name LIKE 'Room %%' AND a.name LIKE '%% site'
         GROUP BY a.name ORDER BY a.name""").fetchall()
    assert [(p["name"], p["zone"]) for p in placed] == [
        ("Berlin site", "Europe/Berlin"), ("New York site", "America/New_York"),
        ("Tokyo site", "Asia/Tokyo")]
    assert sum(p["rooms"] for p in placed) == 12
    big = conn.execute("SELECT count(*) FILTER (WHERE policy ? 'approval_required') AS asks, "
                       "count(*) AS n FROM rooms WHERE name LIKE 'Room %%' "
                       "AND timezone = 'Asia/Tokyo' AND capacity >= 20").fetchone()
    assert big["n"] > 0 and big["asks"] == big["n"]
    # The exclusion constraint is back and enforced.
    import psycopg
    with pytest.raises(psycopg.errors.ExclusionViolation):
        conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                     "SELECT room_id, user_id, 'dup', start_at, end_at FROM bookings LIMIT 1")
