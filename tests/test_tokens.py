"""Personal API tokens: stored as hashes, shown once, revocable, and their last
use recorded without a write on every request."""

import hashlib

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
