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


# -- refusals: one clear line, nothing written ---------------------------------------

@pytest.fixture
def unreachable(tmp_path):
    """A CLI runner for an app whose database (with a password in its URL) is not there."""
    from booking import close, create_app

    app = create_app({"DATABASE_URL": f"postgresql://postgres:s3cret@/nope?host={tmp_path}/no",
                      "SECRET_KEY": "test-secret", "VAR_DIR": str(tmp_path),
                      "POOL_MIN_SIZE": 1, "POOL_TIMEOUT": 0.5})
    yield app.test_cli_runner()
    close(app)


@pytest.mark.parametrize("args", [
    ["db", "upgrade"],
    ["users", "create", "--email", "x@example.com", "--name", "X", "--password", "long enough"],
    ["tokens", "create", "--email", "x@example.com"],
    ["series", "extend"],
    ["worker", "--once"],
    ["demo"],
    ["panels", "create", "--room", "1"],
])
def test_every_command_says_in_one_line_that_the_database_is_unreachable(unreachable, args):
    result = unreachable.invoke(args=args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: Cannot reach the database (DATABASE_URL): connection ")
    assert line.endswith("failed: No such file or directory")       # psycopg's reason
    assert "s3cret" not in result.output


@pytest.mark.parametrize("email", ["a@b", "ümlaut@exämple.com", "two@at@example.com",
                                   "panel-9@panels.invalid"])
def test_users_create_refuses_addresses_the_app_refuses_elsewhere(runner, conn, email):
    """A door panel's address too: had room 9 a panel later, its account (and this
    password) would be the panel's, signing in beyond the panel's actions."""
    result = runner.invoke(args=["users", "create", "--email", email, "--name", "X",
                                 "--password", "long enough"])
    assert result.exit_code != 0 and "Error:" in result.output, result.output
    assert any(words in result.output for words in ("email address", "ASCII", ".invalid"))
    assert conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0


@pytest.mark.parametrize("password", ["", "        ", " \t" * 5])
def test_users_create_refuses_a_blank_password(runner, conn, password):
    result = runner.invoke(args=["users", "create", "--email", "x@example.com", "--name", "X",
                                 "--password", password])
    assert result.exit_code != 0 and "blank" in result.output, result.output
    assert conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 0


def test_tokens_create_refuses_a_deactivated_account(runner, make, conn):
    gone = make.user("Dee", active=False)
    result = runner.invoke(args=["tokens", "create", "--email", gone["email"]])
    assert result.exit_code != 0 and "deactivated" in result.output, result.output
    assert "bk_" not in result.output
    assert conn.execute("SELECT count(*) AS n FROM api_tokens").fetchone()["n"] == 0


def test_tokens_create_refuses_a_door_panel_s_account(runner, berlin, conn):
    assert runner.invoke(args=["panels", "create", "--room", str(berlin["id"])]).exit_code == 0
    result = runner.invoke(args=["tokens", "create", "--email",
                                 f"PANEL-{berlin['id']}@panels.invalid"])
    assert result.exit_code != 0, result.output
    assert f"flask --app booking panels create --room {berlin['id']}" in result.output
    assert "bk_" not in result.output
    assert conn.execute("SELECT count(*) AS n FROM api_tokens").fetchone()["n"] == 0


def test_a_malformed_database_url_stops_every_command_in_one_line(tmp_path):
    """libpq's own message may quote the URL, password and all: it is not repeated."""
    import os
    import subprocess
    import sys

    from booking.config import PROJECT_ROOT

    for url in ("notaurl", "mysql://u:s3cret@h/x"):
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "booking", "tokens", "create",
             "--email", "x@example.com"], cwd=PROJECT_ROOT, capture_output=True, text=True,
            env={**os.environ, "DATABASE_URL": url, "VAR_DIR": str(tmp_path)})
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            "Bad value for DATABASE_URL: not a PostgreSQL URL "
            "(postgresql://user:password@host:port/database)"]
