"""Security headers on every response (pages, API, errors, 304s, assets,
probes); session cookies Secure over HTTPS; forwarded headers believed only
from configured proxies."""

import re
from pathlib import Path

import pytest
from psycopg_pool import PoolTimeout

from booking import create_app, db
from conftest import NOW

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def assert_safe_headers(response):
    for name, value in HEADERS.items():
        # Once each: they are added as the response leaves (booking.http.LastHeaders).
        assert response.headers.getlist(name) == [value], (name, response.status_code)
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert len(response.headers.getlist("Cache-Control")) <= 1
    assert len(response.headers.getlist("Vary")) <= 1
    csp = dict(part.strip().split(" ", 1)
               for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'"          # no inline script, no eval, no CDN
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'self'"


@pytest.fixture
def failing_routes(app):
    @app.get("/api/test-boom")
    def boom():
        raise RuntimeError("boom")

    @app.get("/test-boom")
    def page_boom():
        raise RuntimeError("boom")


@pytest.mark.parametrize("who, method, url, status", [
    ("page", "GET", "/", 200),
    ("anonymous", "GET", "/", 302),
    ("anonymous", "GET", "/login", 200),
    ("page", "GET", "/rooms/4242", 404),
    ("page", "GET", "/no/such/page", 404),
    ("page", "GET", "/test-boom", 500),
    ("api", "GET", "/api/me", 200),
    ("api", "GET", "/api/bookings/4242", 404),
    ("api", "GET", "/api/bookings?ids=x", 400),
    ("api", "PUT", "/api/me", 405),
    ("api", "GET", "/api/test-boom", 500),
    ("anonymous", "GET", "/api/rooms", 401),
    ("anonymous", "GET", "/static/style.css", 200),
    ("anonymous", "GET", "/healthz", 200),
    ("anonymous", "GET", "/readyz", 200),
])
def test_every_kind_of_response_carries_the_security_headers(
        app, client, alice, api_as, browser_as, failing_routes, who, method, url, status):
    if who == "page":
        response = browser_as(alice).client.open(url, method=method)
    elif who == "api":
        api = api_as(alice)
        response = api.client.open(url, method=method, headers=api.headers)
    else:
        response = client.open(url, method=method)
    assert response.status_code == status
    assert_safe_headers(response)


def test_a_304_carries_them_too(api_as, alice, berlin):
    api = api_as(alice)
    first = api.get("/api/rooms")
    again = api.client.get("/api/rooms",
                           headers={**api.headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert_safe_headers(again)


def test_a_413_carries_them_too(api_as, alice):
    api = api_as(alice)
    r = api.client.post("/api/bookings", data=b"{" + b" " * 70_000 + b"}",
                        content_type="application/json", headers=api.headers)
    assert r.status_code == 413
    assert_safe_headers(r)


def test_a_503_carries_them_too(app, client, monkeypatch):
    def unavailable(timeout=None):
        raise PoolTimeout("no connection")
    monkeypatch.setattr(db, "connection", unavailable)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert_safe_headers(r)


def test_no_template_has_inline_script_or_event_handlers():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"inline script in {path.name}: {tag}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"event handler attribute in {path.name}"


# -- cookies ---------------------------------------------------------------------------

def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie")
               if c.startswith("booking_session=")]
    assert cookies, "no session cookie set"
    return cookies[0]


def make_app(database_url, tmp_path, **overrides):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                      "VAR_DIR": str(tmp_path), "POOL_MIN_SIZE": 1, **overrides})
    app.config["TESTING"] = True
    app.extensions["booking.clock"] = lambda: NOW
    return app


def test_over_plain_http_the_cookie_is_not_secure_but_http_only_and_lax(client):
    cookie = session_cookie(client.get("/login"))
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_over_https_the_cookie_is_secure(client):
    cookie = session_cookie(client.get("/login", base_url="https://localhost"))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_secure_cookies_setting_makes_it_secure_always(database_url, tmp_path):
    app = make_app(database_url, tmp_path, SECURE_COOKIES=True)
    assert "Secure" in session_cookie(app.test_client().get("/login"))


def test_x_forwarded_proto_is_ignored_without_trusted_proxies(client):
    # Anyone can send the header; believing it would let them decide for us.
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in session_cookie(response)


def test_behind_a_trusted_proxy_x_forwarded_proto_https_makes_it_secure(database_url, tmp_path):
    app = make_app(database_url, tmp_path, TRUSTED_PROXIES=1)
    over_https = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in session_cookie(over_https)
    assert "Secure" not in session_cookie(app.test_client().get("/login"))


def test_with_one_trusted_proxy_only_its_own_entry_counts(database_url, tmp_path):
    app = make_app(database_url, tmp_path, TRUSTED_PROXIES=1)

    @app.get("/test-who")
    def who():
        from flask import jsonify, request
        return jsonify(address=request.remote_addr, scheme=request.scheme)

    r = app.test_client().get("/test-who", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                              headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.5",
                                       "X-Forwarded-Proto": "http, https"})
    assert r.get_json() == {"address": "203.0.113.5", "scheme": "https"}


def test_gunicorn_does_not_believe_x_forwarded_proto_on_its_own(live_server):
    # gunicorn trusts X-Forwarded-Proto from 127.0.0.1 unless told otherwise;
    # here only TRUSTED_PROXIES may make a request count as HTTPS.
    import urllib.request

    request = urllib.request.Request(live_server.url + "/login",
                                     headers={"X-Forwarded-Proto": "https",
                                              "X-Forwarded-Ssl": "on"})
    with urllib.request.urlopen(request, timeout=20) as response:
        cookie = next(c for c in response.headers.get_all("Set-Cookie")
                      if c.startswith("booking_session="))
    assert "Secure" not in cookie


# -- issue 15 #11: what responses say about who may keep them and how they were made ----

def test_feeds_and_csv_are_private_and_vary_by_who_asks(api_as, browser_as, alice, admin,
                                                        berlin, client):
    api = api_as(alice)
    for response in (api.get(f"/rooms/{berlin['id']}/calendar.ics"),
                     client.get(api.get("/api/me").get_json()["calendar_url"]
                                .replace("http://localhost", "")),
                     browser_as(admin).get("/reports/utilisation.csv")):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-cache"
        assert {"Cookie", "Authorization"} <= set(response.vary)
    feed = api.get(f"/rooms/{berlin['id']}/calendar.ics")
    assert feed.headers["Content-Type"] == "text/calendar; charset=utf-8"   # charset once


@pytest.mark.parametrize("setting, staff_sees", [(False, False), (True, True)])
def test_server_timing_goes_to_admins_or_everyone_when_set(database_url, tmp_path, make,
                                                           setting, staff_sees):
    app = make_app(database_url, tmp_path, SERVER_TIMING=setting)
    try:
        staff, boss = make.user("Alice"), make.user("Ada", role="admin", email="ada@example.com")
        client = app.test_client()
        for user, sees in ((staff, staff_sees), (boss, True)):
            response = client.get("/api/me", headers={"Authorization": f"Bearer {make.token(user)}"})
            assert response.status_code == 200
            assert ("Server-Timing" in response.headers) == sees, user["role"]
        # No one signed in: the probe says nothing, and looks no one up to decide.
        probe = client.get("/healthz")
        assert ("Server-Timing" in probe.headers) == setting
    finally:
        from booking import close
        close(app)
