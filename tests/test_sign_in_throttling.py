"""Sign-in throttling: from one address (an IPv6 client by its /64) at most 5
attempts in 15 minutes, then 429 with Retry-After; for one account no lock but
a growing delay after 5 failures (1 s, 2 s, ... at most 60 s), so nobody can
lock its owner out; the count is atomic (simultaneous guesses are checked at
most the limit's times); the same answers whether the email has an account or
not; at most 2 SQL statements per sign-in."""

import re
from datetime import timedelta

import pytest

from booking import auth, close, create_app
from conftest import CSRF_INPUT, NOW, PASSWORD, PASSWORD_HASH

FAILED = "That email and password do not match an account."


class SignIn:
    """Sign-in attempts from a browser, from any address (a new browser after a success)."""

    def __init__(self, app):
        self.app = app
        self._new_browser()

    def _new_browser(self):
        self.client = self.app.test_client()
        page = self.client.get("/login")
        self.csrf = CSRF_INPUT.search(page.get_data(as_text=True)).group(1)

    def __call__(self, email, password="wrong password", address="192.0.2.1", headers=None):
        response = self.client.post("/login", data={"email": email, "password": password,
                                                    "csrf_token": self.csrf},
                                    environ_base={"REMOTE_ADDR": address},
                                    headers=headers or {})
        if response.status_code == 302:
            self._new_browser()
        return response


@pytest.fixture(autouse=True)
def cheap_dummy_hash(monkeypatch):
    """Unknown emails are checked against a throwaway hash; make it as cheap as the
    test accounts' (the real one costs ~0.1 s a try)."""
    monkeypatch.setattr(auth, "_dummy_hash", PASSWORD_HASH)


@pytest.fixture
def sign_in(app):
    return SignIn(app)


def message(response) -> str:
    found = re.search(r'<p class="(?:form|field)-error"[^>]*>([^<]+)</p>',
                      response.get_data(as_text=True))
    return found.group(1) if found else ""


def statements(response) -> int:
    return int(re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"])[1])


def failures(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM sign_in_failures").fetchone()["n"]


def test_the_fifth_failure_is_still_401_and_the_sixth_attempt_is_429(sign_in, alice, conn):
    for attempt in range(1, 6):
        r = sign_in(alice["email"])
        assert r.status_code == 401, f"failure {attempt}"
        assert message(r) == FAILED
    # The right password does not help now: it is not even checked.
    r = sign_in(alice["email"], PASSWORD)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "900"   # all five failed at NOW: 15 minutes
    assert message(r) == "Too many failed sign-ins. Please wait 15 minutes and try again."
    assert 'value="alice@example.com"' in r.get_data(as_text=True)  # what was typed stays
    assert failures(conn) == 5   # a refused attempt is not a failure: waiting always helps


def test_four_failures_do_not_stop_the_right_password(sign_in, alice):
    for _ in range(4):
        assert sign_in(alice["email"]).status_code == 401
    assert sign_in(alice["email"], PASSWORD).status_code == 302


def test_an_unknown_email_fails_and_is_throttled_exactly_alike(sign_in, alice):
    known = [sign_in(alice["email"]) for _ in range(6)]
    unknown = [sign_in("nobody@example.com", address="192.0.2.2") for _ in range(6)]
    for a, b in zip(known, unknown):
        assert (a.status_code, message(a)) == (b.status_code, message(b))
        assert a.headers.get("Retry-After") == b.headers.get("Retry-After")
    assert [r.status_code for r in unknown] == [401] * 5 + [429]


def test_the_email_is_matched_whatever_its_case(sign_in, alice):
    for _ in range(5):
        sign_in("ALICE@example.com")
    assert sign_in(" alice@EXAMPLE.com ", PASSWORD).status_code == 429


def test_failures_leave_the_window_after_15_minutes(app, sign_in, alice):
    for minute in range(5):   # one failure a minute: NOW, NOW+1, ... NOW+4
        app.config["NOW"] = NOW + timedelta(minutes=minute)
        assert sign_in(alice["email"]).status_code == 401
    app.config["NOW"] = NOW + timedelta(minutes=15, seconds=-1)
    r = sign_in(alice["email"], PASSWORD)
    assert (r.status_code, r.headers["Retry-After"]) == (429, "1")
    # Exactly 15 minutes after the first failure, it no longer counts: four do.
    app.config["NOW"] = NOW + timedelta(minutes=15)
    assert sign_in(alice["email"]).status_code == 401      # the fifth in the window again
    r = sign_in(alice["email"], PASSWORD)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "60"   # when the NOW+1 failure leaves the window
    app.config["NOW"] = NOW + timedelta(minutes=16)
    assert sign_in(alice["email"], PASSWORD).status_code == 302


def test_one_address_trying_many_accounts_is_throttled(sign_in, alice, bob):
    for i in range(5):
        assert sign_in(f"guess{i}@example.com", address="198.51.100.7").status_code == 401
    assert sign_in(alice["email"], PASSWORD, address="198.51.100.7").status_code == 429
    # Alice herself, elsewhere, is not locked out by it.
    assert sign_in(alice["email"], PASSWORD, address="198.51.100.8").status_code == 302


def test_one_account_tried_from_many_addresses_slows_down_but_never_locks(app, sign_in, alice):
    """Issue 15 #6: five failures from five addresses locked the account for 15
    minutes, its owner on a sixth address too. Now they make it wait a second."""
    for i in range(5):
        assert sign_in(alice["email"], address=f"203.0.113.{i}").status_code == 401
    r = sign_in(alice["email"], PASSWORD, address="203.0.113.99")
    assert (r.status_code, r.headers["Retry-After"]) == (429, "1")
    assert message(r) == "Too many failed sign-ins. Please wait 1 second and try again."
    app.config["NOW"] = NOW + timedelta(seconds=1)
    assert sign_in(alice["email"], PASSWORD, address="203.0.113.99").status_code == 302


def test_the_accounts_delay_doubles_up_to_a_minute_whatever_the_addresses(app, sign_in, alice):
    """Each failure from the fifth on makes the next attempt wait twice as long,
    counted from that failure: 1, 2, 4, 8, 16, 32, then 60 s (SIGN_IN_MAX_DELAY_SECONDS)."""
    for i in range(5):
        assert sign_in(alice["email"], address=f"198.51.100.{i}").status_code == 401
    now, address = NOW, 10
    for delay in (1, 2, 4, 8, 16, 32, 60, 60):
        app.config["NOW"] = now + timedelta(seconds=delay, microseconds=-1)   # a moment early
        early = sign_in(alice["email"], address=f"198.51.100.{address}")
        assert (early.status_code, early.headers["Retry-After"]) == (429, "1"), delay
        now = app.config["NOW"] = now + timedelta(seconds=delay)           # just in time
        assert sign_in(alice["email"], address=f"198.51.100.{address + 1}").status_code == 401
        address += 2
    # The owner, whenever the wait is over, gets in: never more than a minute.
    app.config["NOW"] = now + timedelta(seconds=60)
    assert sign_in(alice["email"], PASSWORD, address="198.51.100.200").status_code == 302


def test_an_ipv6_client_is_throttled_by_its_64(sign_in, alice, bob, conn):
    """One machine has a whole /64: a new address per guess must not be a new budget."""
    for i in range(1, 6):
        assert sign_in(f"guess{i}@example.com", address=f"2001:db8:1:2::{i:x}").status_code == 401
    assert sign_in(alice["email"], PASSWORD, address="2001:db8:1:2:ffff:ffff:ffff:ffff"
                   ).status_code == 429
    assert sign_in(alice["email"], PASSWORD, address="2001:db8:1:3::1").status_code == 302
    groups = {r["address_group"] for r in conn.execute("SELECT address_group FROM sign_in_failures")}
    assert groups == {"2001:db8:1:2::/64"}
    # An IPv4 client seen as ::ffff:a.b.c.d is that IPv4 address.
    for i in range(5):
        sign_in(f"other{i}@example.com", address="::ffff:192.0.2.77")
    assert sign_in(bob["email"], PASSWORD, address="192.0.2.77").status_code == 429


def test_a_failure_is_audited_once_and_a_success_not_at_all(sign_in, alice, conn):
    assert sign_in(alice["email"]).status_code == 401
    assert sign_in(alice["email"], PASSWORD).status_code == 302
    logged = conn.execute("SELECT action, after FROM audit_log WHERE action = 'sign_in.failure'"
                          ).fetchall()
    assert [r["after"] for r in logged] == [{"email": alice["email"], "address": "192.0.2.1"}]
    assert failures(conn) == 0        # the success forgave the typo, and left no claim


def test_simultaneous_guesses_for_one_account_are_checked_at_most_the_limit(app, alice, conn):
    """Issue 15 #6: the limit is checked and the attempt counted in one statement,
    under a lock, before the password is checked. 30 guesses at once from 30
    addresses (the app's clock stands still, so no delay runs out meanwhile)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    guessers = [SignIn(app) for _ in range(30)]
    barrier = threading.Barrier(len(guessers))

    def guess(n):
        barrier.wait()
        return guessers[n](alice["email"], address=f"203.0.113.{n}").status_code

    with ThreadPoolExecutor(max_workers=len(guessers)) as pool:
        statuses = sorted(pool.map(guess, range(len(guessers))))
    assert statuses == [401] * 5 + [429] * 25
    assert failures(conn) == 5


def test_signing_in_forgets_the_owners_own_typos_but_not_others_guesses(sign_in, alice, conn):
    for _ in range(4):
        sign_in(alice["email"], address="192.0.2.10")
    assert sign_in(alice["email"], PASSWORD, address="192.0.2.10").status_code == 302
    for _ in range(4):   # 4 more typos: had the first 4 been kept, this address would be at 8
        assert sign_in(alice["email"], address="192.0.2.10").status_code == 401
    assert sign_in(alice["email"], PASSWORD, address="192.0.2.10").status_code == 302
    assert failures(conn) == 0

    for i in range(3):   # someone elsewhere guesses...
        sign_in(alice["email"], address=f"192.0.2.{20 + i}")
    sign_in(alice["email"], address="192.0.2.10")
    assert sign_in(alice["email"], PASSWORD, address="192.0.2.10").status_code == 302
    assert failures(conn) == 3   # ... and those still count
    sign_in(alice["email"], address="192.0.2.30")
    sign_in(alice["email"], address="192.0.2.31")
    assert sign_in(alice["email"], PASSWORD, address="192.0.2.10").status_code == 429


def test_each_failure_clears_away_a_few_expired_ones(app, sign_in, conn):
    conn.execute("INSERT INTO sign_in_failures (email_key, address, address_group, failed_at) "
                 "SELECT 'old' || i || '@example.com', '192.0.2.1', '192.0.2.1', %s "
                 "FROM generate_series(1, 15) i", (NOW - timedelta(hours=1),))
    sign_in("someone@example.com")
    assert failures(conn) == 1 + 15 - 10
    sign_in("someone@example.com")
    assert failures(conn) == 2


@pytest.mark.parametrize("password, status, most", [
    ("wrong password", 401, 2),   # check + fetch, record the failure
    (PASSWORD, 302, 2),           # check + fetch, start the session
])
def test_a_sign_in_costs_at_most_two_statements(sign_in, alice, password, status, most):
    r = sign_in(alice["email"], password)
    assert r.status_code == status
    assert statements(r) <= most


def test_a_throttled_sign_in_costs_one_statement(sign_in, alice):
    for _ in range(5):
        sign_in(alice["email"])
    r = sign_in(alice["email"], PASSWORD)
    assert r.status_code == 429 and statements(r) == 1


@pytest.mark.parametrize("email", ["", "   ", "a\x00b@example.com", "x" * 255 + "@example.com"])
def test_what_cannot_be_an_email_is_400_and_not_counted(sign_in, conn, email):
    r = sign_in(email)
    assert r.status_code == 400
    assert failures(conn) == 0


# -- behind a proxy ----------------------------------------------------------------------

@pytest.fixture
def proxied_app(database_url, tmp_path):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                      "VAR_DIR": str(tmp_path), "POOL_MIN_SIZE": 1, "TRUSTED_PROXIES": 1})
    app.config["TESTING"] = True
    app.extensions["booking.clock"] = lambda: NOW
    yield app
    close(app)


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(sign_in, alice):
    # Without TRUSTED_PROXIES anyone could claim a new address per attempt.
    for i in range(5):
        sign_in(f"guess{i}@example.com", headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert sign_in(alice["email"], PASSWORD,
                   headers={"X-Forwarded-For": "203.0.113.99"}).status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(proxied_app, alice, conn):
    sign_in = SignIn(proxied_app)
    for i in range(5):   # the proxy (10.0.0.1) forwards for five different clients
        sign_in(f"guess{i}@example.com", address="10.0.0.1",
                headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert {r["address"] for r in conn.execute("SELECT address FROM sign_in_failures")} == \
        {f"203.0.113.{i}" for i in range(5)}
    assert sign_in(alice["email"], PASSWORD, address="10.0.0.1",
                   headers={"X-Forwarded-For": "203.0.113.99"}).status_code == 302
    # Only the entry our proxy added is believed, not what the client put before it.
    for i in range(5):
        sign_in(f"other{i}@example.com", address="10.0.0.1",
                headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.50"})
    assert sign_in(alice["email"], PASSWORD, address="10.0.0.1",
                   headers={"X-Forwarded-For": "203.0.113.50"}).status_code == 429


# -- a real race, through gunicorn --------------------------------------------------------

def test_30_concurrent_wrong_passwords_against_gunicorn_get_at_most_the_limit_checked(
        live_server, alice, conn):
    """Issue 15 #6 (and #20's item 4): 30 browsers on one address send a wrong password at
    the same moment; before, the limit was read in one statement and the failure
    recorded in another, and 8 of 30 got their password checked against a limit of 5.
    gunicorn's real clock: all 30 fall in one 15-minute window."""
    import http.cookiejar
    import threading
    import urllib.error
    import urllib.parse
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def browser():
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            NoRedirect())
        page = opener.open(live_server.url + "/login", timeout=30).read().decode()
        return opener, CSRF_INPUT.search(page).group(1)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    browsers = [browser() for _ in range(30)]
    barrier = threading.Barrier(len(browsers))

    def guess(n):
        opener, csrf = browsers[n]
        body = urllib.parse.urlencode({"email": alice["email"], "password": f"guess {n}",
                                       "csrf_token": csrf}).encode()
        barrier.wait()
        try:
            return opener.open(live_server.url + "/login", data=body, timeout=60).status
        except urllib.error.HTTPError as err:
            return err.code

    with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
        statuses = sorted(pool.map(guess, range(len(browsers))))
    assert statuses == [401] * 5 + [429] * 25
    assert failures(conn) == 5
    checked = conn.execute("SELECT count(*) AS n FROM audit_log WHERE action = 'sign_in.failure'"
                           ).fetchone()["n"]
    assert checked == 5
