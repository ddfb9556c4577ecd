"""Settings: defaults, parsing, and the README's table kept in step."""

import re
from pathlib import Path

import pytest

from booking import config

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme():
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (.*?) \|", README.read_text(), re.M))
    for setting in config.SETTINGS:
        assert setting.name in rows, f"{setting.name} is missing from the README table"
        if setting.default is not None and setting.name != "VAR_DIR":
            assert rows[setting.name] == f"`{setting.default}`", setting.name


def test_environment_overrides_defaults(tmp_path):
    loaded = config.load({"MAX_BOOKING_MINUTES": "120", "SECURE_COOKIES": "yes",
                          "VAR_DIR": str(tmp_path), "DATABASE_URL": "postgresql:///x"})
    assert loaded["MAX_BOOKING_MINUTES"] == 120 and loaded["SECURE_COOKIES"] is True
    assert loaded["MIN_BOOKING_MINUTES"] == 15


def test_a_bad_value_stops_start_up_with_its_name(tmp_path):
    with pytest.raises(SystemExit, match="POOL_MAX_SIZE"):
        config.load({"POOL_MAX_SIZE": "lots", "VAR_DIR": str(tmp_path)})


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    first = config.load({"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgresql:///x"})
    second = config.load({"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgresql:///x"})
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("environ, url", [
    ({}, "http://127.0.0.1:8000"),
    ({"PORT": "9000"}, "http://127.0.0.1:9000"),                       # PORT=9000 make run
    ({"PORT": "9000", "PUBLIC_URL": "https://rooms.example.com"}, "https://rooms.example.com"),
])
def test_public_url_follows_port_unless_set(tmp_path, environ, url):
    """Issue 15 #15: mail links pointed to port 8000 under PORT=9000 make run."""
    loaded = config.load({**environ, "VAR_DIR": str(tmp_path), "DATABASE_URL": "postgresql:///x"})
    assert loaded["PUBLIC_URL"] == url


def test_mail_links_follow_port(tmp_path, monkeypatch):
    from booking import create_app
    from booking.events import mail

    monkeypatch.setenv("PORT", "9000")
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    app = create_app({"DATABASE_URL": "postgresql:///unused", "SECRET_KEY": "x",
                      "VAR_DIR": str(tmp_path)})
    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:9000"
    link = mail._link({"kind": "booking.created"}, {"booking": {"id": 7}}, app.config)
    assert link == "http://127.0.0.1:9000/bookings/7"
