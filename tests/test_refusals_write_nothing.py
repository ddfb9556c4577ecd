"""A statement that changes no booking writes nothing (sql/060_refusals_write_nothing.sql).

The board's version moved with every INSERT, UPDATE or DELETE statement on
bookings, even one that changed no row: each refused booking (409) wrote a row,
waited for the WAL flush at commit like a booking, and threw away every
process's kept boards. The version now moves only when a booking did."""

TOMORROW = "2027-03-02"


def board_version(conn) -> int:
    return conn.execute("SELECT memo_version('board') AS n").fetchone()["n"]


def book(api, room, start, end):
    return api.post("/api/bookings", json={"room_id": room["id"], "title": "Planning",
                                           "start_time": f"{TOMORROW}T{start}",
                                           "end_time": f"{TOMORROW}T{end}"})


def test_a_refused_booking_leaves_the_board_as_it_was(api_as, alice, bob, berlin, conn):
    before = board_version(conn)
    assert book(api_as(alice), berlin, "10:00", "11:00").status_code == 201
    booked = board_version(conn)
    assert booked > before                                   # a booking moves it
    refused = book(api_as(bob), berlin, "10:30", "11:30")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "conflict"
    assert board_version(conn) == booked                     # the refusal does not


def test_statements_that_change_no_booking_leave_the_version(conn, make, alice, berlin):
    from datetime import datetime, timezone
    made = make.booking(berlin, alice, datetime(2027, 3, 2, 9, tzinfo=timezone.utc),
                        datetime(2027, 3, 2, 10, tzinfo=timezone.utc))
    before = board_version(conn)
    conn.execute("UPDATE bookings SET title = 'x' WHERE id = -1")
    conn.execute("DELETE FROM bookings WHERE id = -1")
    assert board_version(conn) == before
    conn.execute("UPDATE bookings SET title = 'Renamed' WHERE id = %s", (made["id"],))
    renamed = board_version(conn)
    assert renamed > before
    conn.execute("DELETE FROM booking_invitations WHERE booking_id = %s", (made["id"],))
    conn.execute("DELETE FROM booking_reminders WHERE booking_id = %s", (made["id"],))
    conn.execute("DELETE FROM bookings WHERE id = %s", (made["id"],))
    assert board_version(conn) > renamed
