"""Whatever a client sends, the answer is never a 5xx, and an error answer
changes nothing: property tests (hypothesis) over the writes (POST
/api/bookings, POST and PATCH /api/rooms, the booking and room forms) and the
query parameters of the reads, with malformed JSON, wrong types, huge numbers,
odd Unicode (lone surrogates, NUL, right-to-left marks, emoji), impossible
dates and unknown time zones.

FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz_input.py
looks harder than the default run does.
"""

import json
import os
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routemap import state

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "80"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,             # a shared, noisy machine: no per-example time limit
    database=None,             # no .hypothesis/ directory in the checkout
    print_blob=True,           # a failure prints how to reproduce it
    # One database for all the examples of a test, on purpose: each example
    # is checked against the state just before it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)

# -- what clients might send -------------------------------------------------------------

ODD_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202eevil\u202c", "\u200f", "\ufeff",
    "😀", "👩‍👩‍👧", "e\u0301", "\n\t", "\x1b[31m", "null", "NaN", "-0", "1e400", "9" * 400,
    "0x10", "٣", "²", "Ⅻ", "１２", "../../etc/passwd", "<script>", "' OR 1=1 --", "%00",
    "UTC\x00", "Europe/Berlin ", "europe/berlin", "localtime", "posix/Europe/Berlin",
    "Mars/Olympus", "Etc/GMT+14", "EST5EDT", "Factory",
])
TEXT = st.one_of(ODD_TEXT, st.text(max_size=20),
                 st.text(st.characters(codec=None, exclude_categories=()), max_size=12))
NUMBER = st.one_of(st.integers(-3, 3), st.integers(), st.sampled_from(
    [2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True))
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(TEXT, inner, max_size=3)),
                    max_leaves=6)

YEARS = st.sampled_from([0, 1, 2, 1970, 2026, 2027, 2028, 9999, 10000])
OFFSETS = st.sampled_from(["", "Z", "z", "+01:00", "-05:00", "+14:00", "-12:00", "+25:00",
                           "+05:30", "-00:00", "+0100", "+01"])
DATE = st.sampled_from(["0001-01-01", "1899-12-31", "1900-01-01", "2999-12-31", "9999-12-31",
                        "2027-02-29", "2028-02-29"]) | \
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", YEARS | st.integers(2027, 2027),
              st.integers(0, 13), st.integers(0, 32))
CLOCK = st.builds(lambda h, m, s: f"{h:02d}:{m:02d}" + s, st.integers(0, 25),
                  st.integers(0, 61), st.sampled_from(["", ":00", ":30", ":60", ".5", ":00.000001"]))
# Where time arithmetic overflows or clocks jump.
EDGE_TIMES = ["0001-01-01T00:00", "0001-01-01T00:30+05:00", "0001-01-01T00:00:00-14:00",
              "1899-12-31T23:59", "1900-01-01T00:00", "2999-12-31T23:59+14:00",
              "9999-12-31T23:59", "9999-12-31T23:00-05:00", "9999-12-31T23:59:59.999999-14:00",
              "2027-03-28T02:30", "2027-10-31T02:30", "2027-03-01T08:59:59", "2027-03-01T09:00",
              "2027-08-28T10:00", "2027-08-29T10:00", "2027-02-29T10:00", "2028-02-29T10:00"]
DATETIME = st.one_of(
    st.sampled_from(EDGE_TIMES),
    st.builds(lambda d, sep, c, o: f"{d}{sep}{c}{o}", DATE, st.sampled_from(["T", " ", "t"]),
              CLOCK, OFFSETS),
    # Plausible ones, so the rules and the database get exercised too.
    st.builds(lambda d, h, m: f"2027-03-{d:02d}T{h:02d}:{m:02d}", st.integers(1, 31),
              st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59])),
)


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "Pacific/Kiritimati",
                         "America/St_Johns"]) | TEXT
HM = st.one_of(CLOCK, st.sampled_from(["09:00", "18:00", "00:00", "23:59", "24:00", "9:00"]))
WRONG = st.sampled_from([None, True, 0, -1, 1.5, 2**63, 10**30, "", " ", "\x00", "\ud800",
                         "x" * 300, [], ["UTC"], {}, {"a": 1}]) | JSON


def one_field_wrong(valid, fields):
    """A valid body with one field replaced by anything at all: every field's
    check is reached with every kind of wrong value."""
    return st.builds(lambda body, field, value: {**body, field: value},
                     valid, st.sampled_from(fields), WRONG)


VALID_ROOM = st.fixed_dictionaries(
    {"name": st.sampled_from(["Loft", "Spree", "Δ room", "😀"]),
     "capacity": st.integers(1, 10000), "timezone": ZONES},
    optional={"building": st.sampled_from(["", "HQ"]), "floor": st.integers(-50, 500),
              "equipment": st.lists(st.sampled_from(["screen", "video", "Video "]), max_size=3),
              "opens": HM, "closes": HM, "active": st.booleans()})
ROOM_FIELDS = ["name", "building", "floor", "capacity", "equipment", "timezone", "opens",
               "closes", "active", "colour"]
ROOM = st.one_of(VALID_ROOM, one_field_wrong(VALID_ROOM, ROOM_FIELDS))

# RRULEs: every part with values at and past its edges, other scripts' digits,
# and UNTILs that leave the calendar once moved to the room's zone (issue 15
# #4 and #7: OverflowError in Berlin and New York, COUNT=٣ accepted).
UNTIL = st.sampled_from(["99991231T235959Z", "00010101T000000Z", "99991231", "00010101",
                         "29991231T235959Z", "19000101T000000Z", "20270331", "20270230",
                         "2027033１", "٢٠٢٧٠٣٣١", "20270331T240000Z", "20270331T120000"])
RULE_PART = st.one_of(
    st.builds("FREQ={}".format, st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY",
                                                 "HOURLY", "daily", ""])),
    st.builds("INTERVAL={}".format, st.sampled_from(["1", "7", "999", "1000", "0", "٣", "２"])),
    st.builds("COUNT={}".format, st.sampled_from(["1", "1000", "1001", "0", "٣", "-1"])),
    st.builds("UNTIL={}".format, UNTIL),
    st.builds("BYDAY={}".format, st.sampled_from(["WE", "TU,TH", "2TU", "-1FR", "5MO", "53MO",
                                                  "٢TU", "XX"])),
    st.builds("BYMONTHDAY={}".format, st.sampled_from(["29", "30", "31", "-31", "32", "٣"])),
    st.builds("BYMONTH={}".format, st.sampled_from(["2", "4,6", "13", "١"])),
    st.builds("BYSETPOS={}".format, st.sampled_from(["1", "-1", "6", "366"])),
    TEXT)
RULE = st.one_of(st.lists(RULE_PART, min_size=1, max_size=5).map(";".join),
                 st.sampled_from(["FREQ=DAILY;INTERVAL=7;BYDAY=WE", "FREQ=DAILY;UNTIL=99991231T235959Z",
                                  "FREQ=DAILY;UNTIL=00010101T000000Z", "FREQ=DAILY;COUNT=٣",
                                  "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=3"]))

VALID_BOOKING = st.fixed_dictionaries({
    "room_id": st.sampled_from([1, 2, 3, "1", " 2 "]),
    "title": st.sampled_from(["Planning", "x" * 200, "x" * 201]) | TEXT,
    "start_time": DATETIME, "end_time": DATETIME},
    optional={"recurrence": RULE, "skip_conflicts": st.booleans()})
BOOKING = st.one_of(VALID_BOOKING, one_field_wrong(
    VALID_BOOKING, ["room_id", "title", "start_time", "end_time", "series", "recurrence"]))

# Raw bodies: not JSON, not UTF-8, numbers Python will not parse, truncated.
RAW = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"[]", b"null", b'"x"', b"1" * 5000, b'{"room_id": 1' + b"0" * 5000 + b"}",
                     b'{"title": "\xff\xfe"}', b'{"title": "\\ud800"}', b'{"a": NaN}',
                     b'{"room_id": 1e999}', b"\xef\xbb\xbf{}", b'{"x": ' * 2000]),
)


def encode(value) -> bytes:
    """JSON text of `value`, lone surrogates escaped as JSON allows."""
    try:
        return json.dumps(value).encode()
    except ValueError:            # an int too long for str(): send it as text anyway
        return b'{"room_id": ' + b"9" * 5000 + b"}"


@pytest.fixture
def admin_api(api_as, admin, make, berlin):
    make.room("Hudson", "America/New_York")
    return api_as(admin)


def check(response, before, conn):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert state(conn) == before, f"a {response.status_code} answer changed the database"
        if response.is_json:
            error = response.get_json()["error"]
            assert error["code"] and error["message"]


def send(api, method, url, body):
    data = body if isinstance(body, bytes) else encode(body)
    return api.client.open(url, method=method, data=data, content_type="application/json",
                           headers=api.headers)


@FUZZ
@given(body=st.one_of(BOOKING, JSON, RAW))
def test_any_booking_body(admin_api, conn, body):
    before = state(conn)
    check(send(admin_api, "POST", "/api/bookings", body), before, conn)


@FUZZ
@given(body=st.one_of(ROOM, JSON, RAW), room=st.sampled_from([None, 1, 2, 99]))
def test_any_room_body(admin_api, conn, body, room):
    before = state(conn)
    url, method = ("/api/rooms", "POST") if room is None else (f"/api/rooms/{room}", "PATCH")
    check(send(admin_api, method, url, body), before, conn)


def form_value():
    return st.one_of(TEXT, NUMBER.map(str), DATE, CLOCK, st.sampled_from(["1", "on", ""]))


@FUZZ
@given(form=st.dictionaries(
    st.sampled_from(["room_id", "title", "date", "start", "end", "name", "building", "floor",
                     "capacity", "equipment", "timezone", "opens", "closes", "active", "next",
                     "junk"]), form_value(), max_size=8),
       url=st.sampled_from(["/bookings/new", "/admin/rooms", "/admin/rooms/1", "/admin/rooms/2"]))
def test_any_form(browser_as, admin, berlin, conn, form, url):
    browser = browser_as(admin)
    before = state(conn)
    # Forms arrive as UTF-8 (a lone surrogate cannot be sent; its bytes can).
    data = {k: v.encode("utf-8", "surrogatepass") for k, v in form.items()}
    response = browser.post(url, data=data)
    check(response, before, conn)


READS = ["/api/rooms", "/api/rooms/1", "/api/rooms/1/bookings", "/api/bookings",
         "/api/bookings/mine", "/api/bookings/1", "/api/me", "/api/tokens", "/", "/rooms/1",
         "/bookings/new", "/bookings/mine", "/bookings/1", "/account", "/admin/rooms",
         "/admin/rooms/1", "/login", "/healthz", "/readyz"]
PARAMS = ["date", "ids", "when", "limit", "cursor", "include_inactive", "room_id", "title",
          "start", "end", "next"]


@FUZZ
@given(url=st.sampled_from(READS),
       params=st.lists(st.tuples(st.sampled_from(PARAMS) | TEXT,
                                 st.one_of(TEXT, NUMBER.map(str), DATE, DATETIME,
                                           st.sampled_from(["upcoming", "past", "true", "1,2,3",
                                                            ",".join(["1"] * 101)]))),
                       max_size=4),
       page=st.booleans())
def test_any_query_parameters(admin_api, browser_as, admin, conn, url, params, page):
    query = "&".join(f"{quote(k.encode('utf-8', 'surrogatepass'))}="
                     f"{quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in params)
    as_page = page and not url.startswith("/api/")
    browser = browser_as(admin) if as_page else None   # signing in writes a session
    before = state(conn)
    if as_page:
        response = browser.client.get(f"{url}?{query}")
    else:
        response = admin_api.client.get(f"{url}?{query}", headers=admin_api.headers)
    check(response, before, conn)
    assert state(conn) == before   # reads never write (the token's last use aside)


@FUZZ
@given(rule=RULE, room=st.sampled_from([1, 2]),
       start=st.sampled_from(["2027-03-02T10:00", "2027-03-28T02:30", "2027-08-31T17:00"]))
def test_any_recurrence(admin_api, conn, rule, room, start):
    """Series in Berlin (room 1) and New York (room 2), any rule at all."""
    before = state(conn)
    end = start[:11] + f"{int(start[11:13]) + 1:02d}" + start[13:]
    check(send(admin_api, "POST", "/api/bookings", {
        "room_id": room, "title": "x", "start_time": start, "end_time": end,
        "recurrence": rule}), before, conn)


@FUZZ
@given(token=st.one_of(TEXT, st.builds("{}-{}".format, TEXT | NUMBER.map(str), TEXT),
                       st.sampled_from(["²-x", "2-é", "٣-abc", "1-\x00", "-", "1-", "9" * 19 + "-x"])))
def test_any_personal_calendar_address(client, alice, conn, token):
    """/calendar/<secret>.ics answers strangers: 404 for anything but a real address."""
    before = state(conn)
    path = "/calendar/" + quote(token.encode("utf-8", "surrogatepass"), safe="") + ".ics"
    response = client.get(path)
    check(response, before, conn)
    assert response.status_code in (404, 308)   # 308: "/calendar/.ics", werkzeug's routing


@FUZZ
@given(segment=st.one_of(TEXT, NUMBER.map(str)), url=st.sampled_from(
    ["/api/rooms/{}", "/api/rooms/{}/bookings", "/api/bookings/{}", "/api/tokens/{}",
     "/rooms/{}", "/bookings/{}", "/admin/rooms/{}", "/calendar/{}.ics"]),
       method=st.sampled_from(["GET", "DELETE", "PATCH", "POST", "PUT"]))
def test_any_path_segment(admin_api, conn, segment, url, method):
    before = state(conn)
    path = url.format(quote(segment.encode("utf-8", "surrogatepass"), safe=""))
    response = admin_api.client.open(path, method=method, headers=admin_api.headers)
    check(response, before, conn)


# -- and, besides chance, every field with every kind of wrong value ---------------------

WRONG_VALUES = [None, True, 0, -1, 1.5, 2**63, 10**30, "", " ", "\x00", "\ud800", "\u202e",
                "x" * 300, [], ["UTC"], {}, {"a": 1}]
VALID_BODIES = [
    ("POST", "/api/bookings", {"room_id": 1, "title": "Planning",
                               "start_time": "2027-03-02T10:00", "end_time": "2027-03-02T11:00"}),
    ("POST", "/api/rooms", {"name": "Loft", "building": "HQ", "floor": 1, "capacity": 4,
                            "equipment": ["screen"], "timezone": "UTC", "opens": "09:00",
                            "closes": "17:00", "active": True}),
    ("PATCH", "/api/rooms/1", {"name": "Loft", "building": "HQ", "floor": 1, "capacity": 4,
                               "equipment": ["screen"], "timezone": "UTC", "opens": "09:00",
                               "closes": "17:00", "active": True}),
]


# Values of the right type at or past the edges, field by field.
EDGES = {
    "room_id": [2**31 - 1, 2**31, "0x1", "1e3", "١"],
    "start_time": EDGE_TIMES, "end_time": EDGE_TIMES,
    "floor": [-51, -50, 500, 501], "capacity": [10000, 10001, "10000"],
    "timezone": ["localtime", "posix/Europe/Berlin", "right/UTC", "Etc/GMT+14", "EST5EDT",
                 "Factory", "europe/berlin", "Europe/Berlin ", "/etc/passwd", "."],
    "opens": ["24:00", "23:59", "00:00", "9:00", "09:00:00", "0٩:00", "０9:00"],
    "closes": ["24:00", "00:00", "08:59"],
    "equipment": [["x" * 41], ["screen"] * 31, [f"t{i}" for i in range(31)], "a,,b", [" "]],
    "name": ["x" * 101, "x" * 100, "SPREE", "spree"], "title": ["x" * 201, "‮" * 200],
}


@pytest.mark.parametrize("method, url, valid", VALID_BODIES, ids=[u for _, u, _ in VALID_BODIES])
def test_every_field_with_every_wrong_value(admin_api, conn, method, url, valid):
    for field in valid:
        for value in WRONG_VALUES + EDGES.get(field, []):
            before = state(conn)
            response = send(admin_api, method, url, {**valid, field: value})
            check(response, before, conn)
            if response.status_code == 400:   # named: the field, or the one it clashes with
                named = response.get_json()["error"]["details"].get("field")
                assert named == field or (field, named) == ("opens", "closes"), \
                    (field, value, response.get_json())
