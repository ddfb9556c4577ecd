"""Personal API tokens: stored as hashes, shown once, revocable, and their last
use recorded without a write on every request."""

import hashlib
import re

from booking import memo
from booking.auth import hash_token


def token_row(conn, token_id):
    return conn.execute("SELECT xmin::text AS version, last_used_at, revoked_at, token_hash, "
                        "prefix FROM api_tokens WHERE id = %s", (token_id,)).fetchone()


def test_a_new_token_is_shown_once_and_stored_as_a_hash(api_as, alice, conn):
    api = api_as(alice)
    r = api.post("/api/tokens", json={"name": "Door panel"})
    assert r.status_code == 201
    secret, token = r.get_json()["secret"], r.get_json()["token"]
    assert secret.startswith("bk_") and len(secret) > 40
    assert secret.startswith(token["prefix"]) and len(token["prefix"]) < 12
    row = token_row(conn, token["id"])
    assert bytes(row["token_hash"]) == hashlib.sha256(secret.encode()).digest()
    listed = api.get("/api/tokens").get_data(as_text=True)
    assert secret not in listed and secret[len(token["prefix"]):] not in listed
    assert "token_hash" not in listed


def test_last_use_is_recorded_but_not_rewritten_on_every_request(app, client, make, alice,
                                                                 conn):
    secret = make.token(alice)
    token_id = conn.execute("SELECT id FROM api_tokens WHERE token_hash = %s",
                            (hash_token(secret),)).fetchone()["id"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert token_row(conn, token_id)["last_used_at"] is None

    assert client.get("/api/me", headers=headers).status_code == 200
    first = token_row(conn, token_id)
    assert first["last_used_at"] is not None

    for _ in range(3):   # within the minute: no write at all (the row version stays)
        assert client.get("/api/me", headers=headers).status_code == 200
    assert token_row(conn, token_id)["version"] == first["version"]
    assert token_row(conn, token_id)["last_used_at"] == first["last_used_at"]

    # A minute later the next request records the use again. (The process
    # remembers the token until then, test_memo_users.py; here the minute
    # passes on both sides.)
    conn.execute("UPDATE api_tokens SET last_used_at = last_used_at - interval '61 seconds' "
                  "WHERE id = %s", (token_id,))
    memo.of(app).users.forget()
    stale = token_row(conn, token_id)["last_used_at"]
    assert client.get("/api/me", headers=headers).status_code == 200
    assert token_row(conn, token_id)["last_used_at"] > stale


def test_the_last_use_is_shown_in_the_list(api_as, alice):
    api = api_as(alice)
    (token,) = api.get("/api/tokens").get_json()["tokens"]
    assert token["last_used_at"] is not None   # this very request used it


def test_a_revoked_token_stops_working_and_revoking_again_changes_nothing(api_as, alice, conn):
    api = api_as(alice)
    created = api.post("/api/tokens", json={"name": "Bot"}).get_json()
    bot = {"Authorization": f"Bearer {created['secret']}"}
    assert api.client.get("/api/me", headers=bot).status_code == 200
    first = api.delete(f"/api/tokens/{created['token']['id']}")
    assert first.status_code == 200 and first.get_json()["token"]["revoked_at"]
    r = api.client.get("/api/me", headers=bot)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    again = api.delete(f"/api/tokens/{created['token']['id']}")
    assert again.get_json()["token"]["revoked_at"] == first.get_json()["token"]["revoked_at"]


def test_a_token_of_an_inactive_user_does_not_work(api_as, make, conn):
    carol = make.user("Carol")
    api = api_as(carol)
    conn.execute("UPDATE users SET active = false WHERE id = %s", (carol["id"],))
    assert api.get("/api/me").status_code == 401


# -- issue 15 #10: at most 50 live tokens, every one of them listed --------------------------

def make_tokens(conn, user, live, revoked=0):
    conn.execute("INSERT INTO api_tokens (user_id, name, token_hash, prefix, revoked_at) "
                 "SELECT %s, 'bulk ' || i, sha256(('bulk' || %s || '-' || i)::bytea), 'bk_bulk', "
                 "       CASE WHEN i > %s THEN now() END "
                 "  FROM generate_series(1, %s) i", (user["id"], user["id"], live, live + revoked))


def test_the_50th_live_token_is_made_and_the_51st_is_422(api_as, browser_as, alice, conn):
    make_tokens(conn, alice, live=48, revoked=30)        # revoked ones do not count
    api = api_as(alice)                                   # the 49th live token
    assert api.post("/api/tokens", json={"name": "fiftieth"}).status_code == 201
    r = api.post("/api/tokens", json={"name": "one too many"})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "too_many_tokens" and "50" in error["message"]
    page = browser_as(alice).post("/account/tokens", data={"name": "from the page"})
    assert page.status_code == 422 and "revoke one you no longer use" in page.get_data(as_text=True)
    live = conn.execute("SELECT count(*) AS n FROM api_tokens WHERE user_id = %s AND "
                        "revoked_at IS NULL", (alice["id"],)).fetchone()["n"]
    assert live == 50
    # Revoking one makes room for one.
    newest = api.get("/api/tokens").get_json()["tokens"][0]
    assert api.delete(f"/api/tokens/{newest['id']}").status_code == 200
    assert api.post("/api/tokens", json={"name": "again"}).status_code == 201


def test_the_token_list_pages_through_every_token(api_as, browser_as, alice, conn):
    """200 revoked tokens used to push live ones off the end of the (one) list."""
    make_tokens(conn, alice, live=0, revoked=230)
    api = api_as(alice)                      # one live token, the oldest but for the bulk
    seen, cursor = [], None
    while True:
        page = api.get("/api/tokens" + (f"?cursor={cursor}" if cursor else "")).get_json()
        seen += page["tokens"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 231 and len({t["id"] for t in seen}) == 231
    assert [t["id"] for t in seen] == sorted((t["id"] for t in seen), reverse=True)
    assert sum(t["revoked_at"] is None for t in seen) == 1
    assert len(api.get("/api/tokens?limit=200").get_json()["tokens"]) == 200
    assert api.get("/api/tokens?limit=201").status_code == 400
    html = browser_as(alice).get("/account").get_data(as_text=True)
    assert 'rel="next">Older tokens</a>' in html


def test_sixty_token_requests_at_once_make_exactly_the_five_left(live_server, make, conn):
    """The limit under concurrency (through gunicorn): 45 live tokens, 60 requests at
    the same moment, exactly 5 made; the rest 422, never 51 live."""
    from test_concurrency import race

    alice = make.user("Alice")
    make_tokens(conn, alice, live=44)
    token = make.token(alice)                              # the 45th
    results = race(live_server.url + "/api/tokens", [token] * 60,
                   [{"name": f"race {i}"} for i in range(60)])
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 5 + [422] * 55, statuses
    assert {answer["error"]["code"] for status, answer in results if status == 422} == \
        {"too_many_tokens"}
    live = conn.execute("SELECT count(*) AS n FROM api_tokens WHERE user_id = %s AND "
                        "revoked_at IS NULL", (alice["id"],)).fetchone()["n"]
    assert live == 50


# -- QA: reloading the page after making a token made a second one ------------------------

NEW_TOKEN = re.compile(r'<code class="token" id="new-token">([^<]+)</code>')


def test_the_token_form_redirects_and_the_page_shows_the_secret_once(browser_as, alice,
                                                                     client, conn):
    """POST /account/tokens answered the page itself (201), so a reload sent the form
    again and made a second token. Now it redirects (Post/Redirect/Get); the account
    page shows the secret on the one view after, and the secret is in no address."""
    b = browser_as(alice)
    made = b.post("/account/tokens", data={"name": "Door panel"})
    assert made.status_code == 302
    assert made.headers["Location"] == "/account" and "bk_" not in made.headers["Location"]
    page = b.get("/account")
    secret = NEW_TOKEN.search(page.get_data(as_text=True)).group(1)
    assert "Your new token “Door panel”." in page.get_data(as_text=True)
    assert "no-store" in page.headers["Cache-Control"]   # no cache keeps the secret either
    assert client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}
                      ).status_code == 200
    # Reloading the page (a GET now) makes nothing and shows the secret no more.
    again = b.get("/account").get_data(as_text=True)
    assert secret not in again and not NEW_TOKEN.search(again) and "Door panel" in again
    assert conn.execute("SELECT count(*) AS n FROM api_tokens WHERE user_id = %s",
                        (alice["id"],)).fetchone()["n"] == 1


def test_a_refused_token_shows_the_form_with_the_error_and_what_was_typed(browser_as, alice,
                                                                           conn):
    b = browser_as(alice)
    typed = "x" * 101
    page = b.post("/account/tokens", data={"name": typed})
    assert page.status_code == 400
    body = page.get_data(as_text=True)
    assert 'id="name-error"' in body and f'value="{typed}"' in body
    assert not NEW_TOKEN.search(body)
    assert conn.execute("SELECT count(*) AS n FROM api_tokens WHERE user_id = %s",
                        (alice["id"],)).fetchone()["n"] == 0
