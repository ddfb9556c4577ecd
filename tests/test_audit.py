"""The audit log: every create, cancel, admin change and failed sign-in, written
in the transaction of the change, append-only, and read back by admins."""

from datetime import datetime, timedelta

import psycopg
import pytest

from conftest import UTC

DAY = "2027-03-02"
ONE = {"title": "Retro", "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}


def log(conn, action=None):
    rows = conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    return [r for r in rows if action is None or r["action"] == action]


def today(conn):
    return conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date AS d").fetchone()["d"]


def test_a_cancel_is_recorded_with_who_and_before_and_after(api_as, alice, admin, berlin, conn):
    made = api_as(alice).post("/api/bookings", json={"room_id": berlin["id"], **ONE})
    booking_id = made.get_json()["booking"]["id"]
    [created] = log(conn, "booking.create")
    assert (created["actor_id"], created["user_id"], created["room_id"]) == \
        (alice["id"], alice["id"], berlin["id"])
    assert created["target"] == f"booking {booking_id}" and created["before"] is None
    assert created["after"]["title"] == "Retro"

    assert api_as(admin).delete(f"/api/bookings/{booking_id}").status_code == 200
    [cancel] = log(conn, "booking.cancel")
    assert cancel["actor_id"] == admin["id"] and cancel["user_id"] == alice["id"]
    assert cancel["before"]["cancelled_at"] is None and cancel["before"]["cancelled_by"] is None
    assert cancel["after"]["cancelled_at"] is not None
    assert cancel["after"]["cancelled_by"] == admin["id"]
    # A refused second cancel changes nothing, so records nothing.
    api_as(admin).delete(f"/api/bookings/{booking_id}")
    assert len(log(conn, "booking.cancel")) == 1


def test_a_booking_that_did_not_happen_leaves_no_entry(api_as, alice, bob, berlin, make, conn):
    make.booking(berlin, bob, datetime(2027, 3, 2, 9, tzinfo=UTC),
                 datetime(2027, 3, 2, 10, tzinfo=UTC))
    api = api_as(alice)  # (its token is recorded)
    before = len(log(conn))
    assert api.post("/api/bookings", json={"room_id": berlin["id"], **ONE}).status_code == 409
    series = {"room_id": berlin["id"], **ONE, "recurrence": "FREQ=DAILY;COUNT=3"}
    assert api.post("/api/bookings", json=series).status_code == 409
    assert len(log(conn)) == before


def test_a_rolled_back_change_takes_its_entry_with_it(alice, berlin, conn):
    before = len(log(conn))
    with pytest.raises(RuntimeError):
        with conn.transaction():
            conn.execute("INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
                         "VALUES (%s, %s, 'x', %s, %s)",
                         (berlin["id"], alice["id"], datetime(2027, 3, 2, 12, tzinfo=UTC),
                          datetime(2027, 3, 2, 13, tzinfo=UTC)))
            assert len(log(conn)) == before + 1  # written in the same transaction ...
            raise RuntimeError("roll back")
    assert len(log(conn)) == before               # ... and gone with it


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET action = 'nothing'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
])
def test_the_log_is_append_only(alice, conn, statement):
    before = log(conn)
    assert before
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    assert log(conn) == before


def test_series_and_room_and_token_changes_are_recorded(api_as, alice, admin, berlin, conn):
    api = api_as(alice)
    made = api.post("/api/bookings", json={"room_id": berlin["id"], **ONE,
                                           "recurrence": "FREQ=DAILY;COUNT=3"}).get_json()
    assert len(log(conn, "booking.create")) == 3
    [series] = log(conn, "series.create")
    assert series["actor_id"] == alice["id"]
    api_as(admin).delete(f"/api/series/{made['series']['id']}?from={DAY}T00:00:00Z")
    [cancel] = log(conn, "series.cancel")
    assert cancel["actor_id"] == admin["id"] and cancel["after"]["cancelled_from"]

    admin_api = api_as(admin)
    room = admin_api.post("/api/rooms", json={"name": "Attic", "capacity": 4,
                                              "timezone": "UTC"}).get_json()["room"]
    admin_api.patch(f"/api/rooms/{room['id']}", json={"capacity": 8})
    created, changed = log(conn, "room.create")[-1], log(conn, "room.update")[-1]
    assert created["actor_id"] == changed["actor_id"] == admin["id"]
    assert (changed["before"]["capacity"], changed["after"]["capacity"]) == (4, 8)

    token = api.post("/api/tokens", json={"name": "ci"}).get_json()
    token_id = token.get("id") or token["token"]["id"]
    api.delete(f"/api/tokens/{token_id}")
    entries = log(conn, "token.create")[-1], log(conn, "token.revoke")[-1]
    assert all(e["actor_id"] == alice["id"] for e in entries)
    assert all("token_hash" not in (e["after"] or {}) for e in entries)


def test_a_failed_sign_in_is_recorded(client, alice, conn):
    client.get("/login")
    from conftest import CSRF_INPUT
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"email": alice["email"].upper(), "password": "wrong",
                                "csrf_token": CSRF_INPUT.search(page).group(1)})
    [failure] = log(conn, "sign_in.failure")
    assert failure["actor_id"] is None and failure["user_id"] == alice["id"]
    assert failure["after"]["email"] == alice["email"].upper()     # as typed
    assert "password" not in str(failure["after"])


# -- reading it back ------------------------------------------------------------------------

def test_only_admins_read_the_log(client, api_as, browser_as, alice, admin):
    assert client.get("/api/audit").status_code == 401
    assert api_as(alice).get("/api/audit").status_code == 403
    assert api_as(admin).get("/api/audit").status_code == 200
    assert browser_as(alice).get("/admin/audit").status_code == 403
    page = browser_as(admin).get("/admin/audit")
    assert page.status_code == 200 and "user.create" in page.get_data(as_text=True)


def test_filters_and_keyset_pages(api_as, alice, bob, admin, berlin, new_york, conn):
    for n in range(3):
        api_as(alice).post("/api/bookings", json={
            "room_id": berlin["id"], "title": f"A{n}", "start_time": f"{DAY}T1{n}:00",
            "end_time": f"{DAY}T1{n}:30"})
    api_as(bob).post("/api/bookings", json={"room_id": new_york["id"], **ONE})
    api = api_as(admin)

    everything = [e["id"] for e in log(conn)][::-1]
    seen, cursor = [], None
    while True:
        page = api.get("/api/audit?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        assert len(page["entries"]) <= 2
        seen += [e["id"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything  # newest first, each once

    alices = api.get(f"/api/audit?user={alice['id']}").get_json()["entries"]
    assert alices and all(alice["id"] in ((e["actor"] or {}).get("id"), (e["user"] or {}).get("id"))
                          for e in alices)
    assert sum(e["action"] == "booking.create" for e in alices) == 3
    in_new_york = api.get(f"/api/audit?room={new_york['id']}").get_json()["entries"]
    assert {e["action"] for e in in_new_york} == {"room.create", "booking.create"}
    assert all(e["room"]["id"] == new_york["id"] for e in in_new_york)

    # Yesterday and today (UTC): the test may cross midnight.
    day = today(conn) - timedelta(days=1)
    assert len(api.get(f"/api/audit?from={day}&to={day + timedelta(days=1)}"
                       ).get_json()["entries"]) == len(everything)
    assert api.get(f"/api/audit?from={day - timedelta(days=30)}&to={day - timedelta(days=1)}"
                   ).get_json()["entries"] == []
    entry = api.get("/api/audit?limit=1").get_json()["entries"][0]
    assert set(entry) == {"id", "at", "action", "actor", "user", "room", "target", "before",
                          "after"}
    assert entry["at"].endswith("+00:00")


@pytest.mark.parametrize("query, field", [
    ("from=2027-03-01&to=2027-04-01", "to"),         # 32 days
    ("from=2027-03-02&to=2027-03-01", "to"),
    ("to=2027-03-01", "from"),
    ("from=yesterday", "from"),
    ("user=alice", "user"),
    ("room=0", "room"),
    ("limit=101", "limit"),
    ("cursor=nonsense", "cursor"),
])
def test_bad_filters_are_400s_naming_the_field(api_as, browser_as, admin, query, field):
    r = api_as(admin).get(f"/api/audit?{query}")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and error["details"]["field"] == field
    page = browser_as(admin).get(f"/admin/audit?{query}")
    assert page.status_code == 400 and error["message"] in page.get_data(as_text=True)


def test_31_days_is_fine(api_as, admin):
    assert api_as(admin).get("/api/audit?from=2027-03-01&to=2027-03-31").status_code == 200


def test_a_series_changed_is_audited_as_an_update_and_cancelled_as_a_cancel(api_as, alice,
                                                                              berlin, conn):
    """Found by testing from outside: every change of a series (in place, or "this and
    following") was audited as series.cancel; series.update never appeared."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={"room_id": berlin["id"], **ONE,
                                           "recurrence": "FREQ=DAILY;COUNT=4"}).get_json()
    series_id = made["series"]["id"]
    r = api.patch(f"/api/series/{series_id}?from={DAY}T10:00",
                  json={"invitees": ["guest@partner.example"]})
    assert r.status_code == 200, r.get_json()
    [changed] = log(conn, "series.update")
    assert changed["actor_id"] == alice["id"] and changed["target"] == f"series {series_id}"
    assert changed["after"]["invitees"] == ["guest@partner.example"]
    r = api.patch(f"/api/series/{series_id}?from=2027-03-04T10:00", json={"title": "Later"})
    assert r.status_code == 200, r.get_json()
    assert [e["target"] for e in log(conn, "series.update")] == [f"series {series_id}"] * 2
    assert log(conn, "series.cancel") == []
    assert api.delete(f"/api/series/{series_id}").status_code == 200
    [cancel] = log(conn, "series.cancel")
    assert cancel["target"] == f"series {series_id}" and cancel["after"]["cancelled_at"]


def test_a_series_change_is_one_series_update_not_a_cancel_and_create_per_occurrence(
        api_as, alice, admin, berlin, conn):
    """Found by testing from outside: renaming a series (in place, or "this and
    following") wrote series.update, then booking.cancel and booking.create for
    every occurrence the change re-made. One occurrence cancelled or changed on
    its own, and a series cancelled, are still told per occurrence."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={"room_id": berlin["id"], **ONE,
                                           "recurrence": "FREQ=DAILY;COUNT=4",
                                           "skip_conflicts": True}).get_json()
    series_id = made["series"]["id"]
    first = len(log(conn))
    r = api.patch(f"/api/series/{series_id}?from={DAY}T10:00", json={"title": "Retro 2"})
    assert r.status_code == 200, r.get_json()
    assert [e["action"] for e in log(conn)[first:]] == ["series.update"]
    split = len(log(conn))
    r = api.patch(f"/api/series/{series_id}?from=2027-03-04T10:00", json={"title": "Later"})
    assert r.status_code == 200, r.get_json()
    assert sorted(e["action"] for e in log(conn)[split:]) == ["series.create", "series.update"]

    one = len(log(conn))
    occurrence = api.get(f"/api/series/{series_id}").get_json()["bookings"][0]
    assert api.delete(f"/api/bookings/{occurrence['id']}").status_code == 200
    assert [(e["action"], e["target"]) for e in log(conn)[one:]] == [
        ("booking.cancel", f"booking {occurrence['id']}")]
    whole = len(log(conn))
    assert api.delete(f"/api/series/{series_id}").status_code == 200
    assert sorted(e["action"] for e in log(conn)[whole:]) == ["booking.cancel", "series.cancel"]


def test_group_membership_changes_are_recorded(api_as, admin, alice, bob, conn):
    """Found by testing from outside: membership grants booking and approving, yet
    a group's members were in no entry and a change of them wrote none."""
    api = api_as(admin)
    made = api.post("/api/groups", json={"name": "Lab", "members": ["alice@example.com"]}
                    ).get_json()["group"]
    [created] = log(conn, "group.create")
    assert created["actor_id"] == admin["id"]
    assert [m["email"] for m in created["after"]["members"]] == ["alice@example.com"]
    r = api.patch(f"/api/groups/{made['id']}", json={"members": ["bob@example.com"]})
    assert r.status_code == 200, r.get_json()
    [changed] = log(conn, "group.update")
    assert changed["actor_id"] == admin["id"] and changed["target"] == f"group {made['id']}"
    assert [m["email"] for m in changed["before"]["members"]] == ["alice@example.com"]
    assert [m["email"] for m in changed["after"]["members"]] == ["bob@example.com"]
    # The same members again, or a rename alone, say only what changed.
    api.patch(f"/api/groups/{made['id']}", json={"members": ["BOB@example.com"]})
    assert len(log(conn, "group.update")) == 1
    api.patch(f"/api/groups/{made['id']}", json={"name": "Labs"})
    renamed = log(conn, "group.update")[-1]
    assert (renamed["before"]["name"], renamed["after"]["name"]) == ("Lab", "Labs")
    assert renamed["before"]["members"] == renamed["after"]["members"]


def test_a_door_panel_s_account_is_made_by_the_admin_who_made_the_panel(api_as, admin, berlin,
                                                                      conn):
    """Found by testing from outside: the panel.create entry named the admin, the
    user.create of its "Panel · <room>" account beside it nobody."""
    r = api_as(admin).post(f"/api/rooms/{berlin['id']}/panels")
    assert r.status_code == 201, r.get_json()
    [account] = [e for e in log(conn, "user.create") if "panels.invalid" in e["after"]["email"]]
    assert account["actor_id"] == admin["id"]
    assert log(conn, "panel.create")[0]["actor_id"] == admin["id"]


def test_a_token_made_from_the_command_line_has_no_actor(runner, alice, conn):
    """README: actor is NULL for changes made from the command line; a token made
    with `flask tokens create` was recorded as made by its owner."""
    result = runner.invoke(args=["tokens", "create", "--email", alice["email"]])
    assert result.exit_code == 0, result.output
    [made] = log(conn, "token.create")
    assert made["actor_id"] is None and made["user_id"] == alice["id"]


def test_a_failed_sign_in_records_the_email_as_typed(client, alice, conn):
    """README: a failed sign-in records the email as typed; it was lowercased."""
    from conftest import CSRF_INPUT
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"email": "Alice@Example.COM", "password": "wrong",
                                "csrf_token": CSRF_INPUT.search(page).group(1)})
    [failure] = log(conn, "sign_in.failure")
    assert failure["after"]["email"] == "Alice@Example.COM"
    assert failure["user_id"] == alice["id"]


def test_to_alone_is_refused_saying_what_is_missing(api_as, admin):
    """Found by testing from outside: ?to= alone was blamed on `from` as if it were
    malformed ("from must be a date like ...")."""
    error = api_as(admin).get("/api/audit?to=2027-03-01").get_json()["error"]
    assert error["code"] == "invalid" and error["details"]["field"] == "from"
    assert "must be a date like" not in error["message"]
    assert "to" in error["message"]
