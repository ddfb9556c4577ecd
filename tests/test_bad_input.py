"""Limits on what clients send, with the documented error shape: bodies
(64 KB -> 413), titles (200 characters), id lists (100), date ranges (31
days); database errors that are the input's fault or the database's absence
become 400 or 503, never 500."""

from datetime import date, datetime

import psycopg
import pytest

from booking import errors
from booking.errors import BookingError
from booking.times import date_range
from conftest import UTC
from routemap import state

LIMIT = 64 * 1024
SLOT = {"start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}


def json_of_size(size: int, room_id: int) -> bytes:
    """A booking body of exactly `size` bytes (padded with spaces, which JSON ignores)."""
    body = f'{{"room_id": {room_id}, "title": "Big", "start_time": "{SLOT["start_time"]}", ' \
           f'"end_time": "{SLOT["end_time"]}"}}'.encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


# -- request bodies ---------------------------------------------------------------------------

def test_a_body_of_64_kb_is_read_and_one_byte_more_is_413(api_as, alice, berlin, conn):
    api = api_as(alice)
    r = api.client.post("/api/bookings", data=json_of_size(LIMIT, berlin["id"]),
                        content_type="application/json", headers=api.headers)
    assert r.status_code == 201
    before = state(conn)
    r = api.client.post("/api/bookings", data=json_of_size(LIMIT + 1, berlin["id"]),
                        content_type="application/json", headers=api.headers)
    assert r.status_code == 413
    assert r.get_json() == {"error": {"code": "payload_too_large",
                                      "message": "The request is too large: at most 64 KB.",
                                      "details": {}}}
    assert state(conn) == before


def test_a_chunked_body_over_the_limit_is_413_not_cut_short(api_as, alice, berlin, conn):
    """Sent without Content-Length (chunked: gunicorn ends the stream, and says so in
    wsgi.input_terminated), the body was read up to 64 KB and no further: the cut
    JSON was answered 400 "must be a JSON object"."""
    import io

    api = api_as(alice)

    def chunked(body):
        return api.client.post("/api/bookings", input_stream=io.BytesIO(body),
                               content_type="application/json",
                               headers={**api.headers, "Transfer-Encoding": "chunked"},
                               environ_overrides={"wsgi.input_terminated": True})

    before = state(conn)
    r = chunked(json_of_size(LIMIT + 1000, berlin["id"]))
    assert (r.status_code, r.get_json()["error"]["code"]) == (413, "payload_too_large")
    assert state(conn) == before
    r = chunked(b'{"title": ')               # broken, and short: still 400
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "invalid")
    r = chunked(json_of_size(LIMIT, berlin["id"]))       # exactly the limit: read whole
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("method, url", [("POST", "/api/rooms"), ("PATCH", "/api/rooms/1"),
                                         ("POST", "/api/tokens")])
def test_every_json_write_refuses_a_big_body(api_as, admin, berlin, conn, method, url):
    api = api_as(admin)
    before = state(conn)
    r = api.client.open(url, method=method, data=b'{"name": "' + b"x" * LIMIT + b'"}',
                        content_type="application/json", headers=api.headers)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"
    assert state(conn) == before


def test_a_declared_length_over_the_limit_is_refused_before_reading(api_as, alice):
    api = api_as(alice)
    r = api.client.post("/api/bookings", data=b"{}", content_type="application/json",
                        headers=api.headers,
                        environ_overrides={"CONTENT_LENGTH": str(10 * 1024 * 1024)})
    assert r.status_code == 413


@pytest.mark.parametrize("url", ["/bookings/new", "/admin/rooms", "/account/tokens", "/login"])
def test_a_big_form_is_413_not_500(browser_as, admin, conn, url):
    browser = browser_as(admin)
    before = state(conn)
    r = browser.post(url, data={"title": "x" * LIMIT, "name": "x" * LIMIT})
    assert r.status_code == 413
    assert "too large" in r.get_data(as_text=True) and r.mimetype == "text/html"
    assert state(conn) == before


# -- titles ----------------------------------------------------------------------------------

@pytest.mark.parametrize("title, status", [("x" * 200, 201), ("x" * 201, 400),
                                           ("  " + "x" * 200 + "  ", 201),   # trimmed first
                                           ("é" * 200, 201), ("😀" * 200, 201),
                                           ("😀" * 201, 400)])
def test_a_title_has_at_most_200_characters(api_as, alice, berlin, title, status):
    r = api_as(alice).post("/api/bookings", json={"room_id": berlin["id"], "title": title,
                                                  **SLOT})
    assert r.status_code == status, r.get_json()
    if status == 400:
        assert r.get_json()["error"]["details"]["field"] == "title"


# -- date ranges -------------------------------------------------------------------------------

@pytest.mark.parametrize("start, end, expected", [
    ("2027-03-01", "2027-03-01", (date(2027, 3, 1), date(2027, 3, 1))),
    ("2027-03-01", None, (date(2027, 3, 1), date(2027, 3, 1))),
    ("2027-03-01", "", (date(2027, 3, 1), date(2027, 3, 1))),
    ("2027-03-01", "2027-03-31", (date(2027, 3, 1), date(2027, 3, 31))),      # 31 days
    ("2027-02-15", "2027-03-17", (date(2027, 2, 15), date(2027, 3, 17))),     # 31, across months
    (date(2027, 3, 1), date(2027, 3, 2), (date(2027, 3, 1), date(2027, 3, 2))),
])
def test_date_ranges_up_to_31_days_are_fine(start, end, expected):
    assert date_range(start, end) == expected


@pytest.mark.parametrize("start, end, field, words", [
    ("2027-03-01", "2027-04-01", "to", "At most 31 days"),        # 32 days
    ("2027-03-02", "2027-03-01", "to", "must not be before"),
    ("2027-02-30", "2027-03-01", "from", "not a real date"),
    ("2027-03-01", "tomorrow", "to", "must be a date"),
    (None, "2027-03-01", "from", "must be a date"),
    (datetime(2027, 3, 1, tzinfo=UTC), None, "from", "must be a date"),
])
def test_date_ranges_are_refused_naming_the_field(start, end, field, words):
    with pytest.raises(BookingError) as caught:
        date_range(start, end)
    assert (caught.value.status, caught.value.field) == (400, field)
    assert words in caught.value.message


def test_date_ranges_take_their_own_limit_and_field_names():
    assert date_range("2027-03-01", "2027-03-07", most_days=7)
    with pytest.raises(BookingError) as caught:
        date_range("2027-03-01", "2027-03-08", most_days=7, fields=("start_date", "end_date"))
    assert caught.value.field == "end_date" and "At most 7 days" in caught.value.message


# -- database errors: the input's fault (400), or the database's absence (503) ----------------

@pytest.mark.parametrize("sqlstate", ["57P01", "57P02", "57P03", "57014", "08006", "08001",
                                      "53300", "53100", "58030", "25006", "40001", "40P01"])
def test_sqlstates_that_mean_the_database_cannot_serve_are_503(sqlstate):
    assert errors.is_unavailable(psycopg.errors.lookup(sqlstate)())


@pytest.mark.parametrize("sqlstate", ["23505", "23P01", "22003", "42P01", "XX000", "25P02"])
def test_other_sqlstates_are_not_unavailability(sqlstate):
    assert not errors.is_unavailable(psycopg.errors.lookup(sqlstate)())


@pytest.fixture
def raising(app):
    """GET /api/test-raise/<sqlstate> raises that database error, as a query would."""
    @app.get("/api/test-raise/<state>")
    def raise_it(state):
        if state == "nul":
            raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        if state == "lost":
            raise psycopg.OperationalError("consuming input failed: server closed the "
                                           "connection unexpectedly")
        raise psycopg.errors.lookup(state)("simulated")


@pytest.mark.parametrize("state, status, code", [
    ("25006", 503, "unavailable"),    # read-only: a standby during fail-over
    ("57P01", 503, "unavailable"),    # terminating connection due to administrator command
    ("lost", 503, "unavailable"),     # the connection went away mid-query
    ("40P01", 503, "unavailable"),
    ("22001", 400, "invalid"),        # string data right truncation: the input's fault
    ("nul", 400, "invalid"),          # NUL in text, refused by psycopg itself
    ("42P01", 500, "internal"),       # undefined table: our bug, and said so
])
def test_database_errors_become_the_right_answer(client, raising, state, status, code):
    r = client.get(f"/api/test-raise/{state}")
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code
    assert (r.headers.get("Retry-After") == "1") == (status == 503)


@pytest.mark.parametrize("hidden", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f",
                                    "\u061c", "\u200b", "\u2060", "\ufeff"])
def test_titles_refuse_direction_changing_and_invisible_characters(api_as, alice, berlin, conn,
                                                                   hidden):
    """Issue 15 #11: "\u202egnp.exe" reads "exe.png" in a calendar."""
    r = api_as(alice).post("/api/bookings", json={"room_id": berlin["id"],
                                                  "title": f"Plan{hidden}ning", **SLOT})
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["details"]["field"] == "title" and f"U+{ord(hidden):04X}" in error["message"]
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0


@pytest.mark.parametrize("title", ["👩\u200d💻 review", "می\u200cخواهم", "Réunion", "会議"])
def test_titles_keep_joiners_and_every_script(api_as, alice, berlin, title):
    r = api_as(alice).post("/api/bookings", json={"room_id": berlin["id"], "title": title, **SLOT})
    assert r.status_code == 201 and r.get_json()["booking"]["title"] == title


@pytest.mark.parametrize("body, field", [
    ({"room_id": "{room}"}, "title"),
    ({"room_id": "{room}", "title": None, "start_time": "2027-03-02T10:00",
      "end_time": "2027-03-02T11:00"}, "title"),
])
def test_a_missing_text_field_is_said_to_be_missing(api_as, alice, berlin, conn, body, field):
    """QA, 2026-12-05: {"room_id": 1} was "title must be text." (and in German and
    French alike): the title is not of the wrong kind, it is missing."""
    body = {k: berlin["id"] if v == "{room}" else v for k, v in body.items()}
    before = conn.execute("SELECT count(*) AS n FROM bookings").fetchone()
    r = api_as(alice).post("/api/bookings", json=body)
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid", field)
    assert error["message"] == f"{field} is required."
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone() == before
    wrong = api_as(alice).post("/api/bookings", json={**body, field: 5})
    assert wrong.get_json()["error"]["message"] == f"{field} must be text."


@pytest.mark.parametrize("field, body", [
    ("booked_for", {"booked_for": "panel-{room}@panels.invalid"}),
    ("invitees", {"invitees": ["someone@example.invalid"]}),
    ("invitees", {"invitees": ["someone@Example.INVALID"]}),   # any case
])
def test_a_door_panel_s_account_is_no_one_to_book_for_or_invite(app, api_as, admin, berlin, conn,
                                                                  field, body):
    """QA, 2026-12-05: an admin booked for panel-1@panels.invalid (the room's door
    panels' account), and alice named it her delegate. A .invalid address is
    nobody's mailbox: 400 naming the field, nothing booked."""
    from booking.panels import service as panels
    with app.app_context():
        panels.create_token(berlin["id"], None)
    body = {k: (v.replace("{room}", str(berlin["id"])) if isinstance(v, str) else v)
            for k, v in body.items()}
    r = api_as(admin).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "x", "start_time": "2027-03-02T10:00",
        "end_time": "2027-03-02T11:00", **body})
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == field
    assert conn.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 0
    r = api_as(admin).patch("/api/me", json={"delegates": [f"panel-{berlin['id']}@panels.invalid"]})
    assert r.status_code == 400 and r.get_json()["error"]["details"]["field"] == "delegates"


@pytest.mark.parametrize("address", ["someone@invalid.example.com", "invalid@example.com",
                                     "a@x.notinvalid"])
def test_an_address_merely_spelling_invalid_is_an_address(api_as, alice, berlin, address):
    r = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "x", "start_time": "2027-03-02T10:00",
        "end_time": "2027-03-02T11:00", "invitees": [address]})
    assert r.status_code == 201, r.get_json()
