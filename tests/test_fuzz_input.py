"""Whatever a client sends, the answer is never a 5xx, and an error answer
changes nothing (routemap.state: every table): property tests (hypothesis)
over the writes (bookings single and repeating, with and without an
Idempotency-Key; automatic assignment; batch availability; rooms; webhooks;
the booking, finder and room forms; cancelling a series from a page) and the
query parameters of the reads (rooms, bookings, the finder, availability,
reports, the audit log, activity, deliveries, webhooks, and the /find,
/reports and /series pages), with malformed JSON, wrong types, huge numbers,
odd Unicode (lone surrogates, NUL, right-to-left marks, emoji), impossible
dates, odd recurrence rules and unknown time zones.

The examples are the same on every run, CI included: each test is seeded
with FUZZ_SEED (default 20). To look elsewhere or harder:

    FUZZ_SEED=7 FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz_input.py
    FUZZ_SEED=random ...             # a new seed each run

A failure prints the falsifying example, a note with the FUZZ_SEED and
FUZZ_EXAMPLES it ran with, and hypothesis' @reproduce_failure line. The
examples of a test share one database, each checked against the state just
before it, so the surest replay is the whole sequence: run the failing test
again with the FUZZ_SEED and FUZZ_EXAMPLES from the note.
"""

import json
import os
import random
import socket
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, note, seed, settings
from hypothesis.errors import InvalidArgument
from hypothesis import strategies as st

from routemap import state

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "80"))
SEED = os.environ.get("FUZZ_SEED", "20")
SEED = random.randrange(2**32) if SEED == "random" else int(SEED)

_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,             # a shared, noisy machine: no per-example time limit
    database=None,             # no .hypothesis/ directory in the checkout
    print_blob=True,           # a failure prints how to reproduce it
    # One database for all the examples of a test, on purpose: each example
    # is checked against the state just before it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)


def FUZZ(test):
    """The settings above, and the run's seed: the same examples every run."""
    return seed(SEED)(_SETTINGS(test))


def replay_note() -> None:
    """Printed with a falsifying example: how to run the same examples again."""
    try:
        note(f"replay: FUZZ_SEED={SEED} FUZZ_EXAMPLES={EXAMPLES} "
             f"(the whole sequence of examples; see this module's docstring)")
    except InvalidArgument:
        pass                  # a plain (not hypothesis) test: nothing to replay

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
    replay_note()
    try:
        event(f"{response.status_code}")      # --hypothesis-show-statistics: what was reached
    except InvalidArgument:
        pass
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        after = state(conn)
        changed = sorted(t for t in before if before[t] != after[t])
        assert not changed, f"a {response.status_code} answer changed {changed}"
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
    # issue 16: people on a booking, booking for someone, and changing a booking
    ("POST", "/api/bookings", {"room_id": 1, "title": "Planning",
                               "start_time": "2027-03-02T12:00", "end_time": "2027-03-02T13:00",
                               "attendees": 2, "invitees": ["guest@example.com"],
                               "notes": "Bring figures", "booked_for": "admin@example.com"}),
    ("PATCH", "/api/bookings/1", {"room_id": 1, "title": "Planning",
                                  "start_time": "2027-03-02T14:00",
                                  "end_time": "2027-03-02T15:00", "attendees": 2,
                                  "invitees": ["guest@example.com"], "notes": "Figures"}),
    ("PATCH", "/api/me", {"delegates": ["admin@example.com"]}),
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


# -- what the tests above left out ------------------------------------------------------
# Recurrence (and Idempotency-Key), automatic assignment, batch availability,
# webhooks, and the reads and pages of the finder, reports, audit log, activity,
# deliveries and series.

def _part(name, values):
    return st.builds(lambda v: f"{name}={v}", st.sampled_from(values) | TEXT | NUMBER.map(str))


RRULE_PART = st.one_of(
    _part("FREQ", ["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY", "SECONDLY", "daily", ""]),
    _part("INTERVAL", ["0", "1", "2", "-1", "1000000", ""]),
    _part("COUNT", ["0", "1", "5", "-1", "100000", "1e3"]),
    _part("UNTIL", ["20270310", "20270310T100000Z", "20270310T100000", "99991231", "00010101",
                    "2027-03-10", "20270230"]),
    _part("BYDAY", ["MO", "2TU", "-1FR", "5MO", "MO,TU,WE", "XX", "0MO", "53MO", "+1SU", ""]),
    _part("BYMONTHDAY", ["1", "31", "-1", "0", "32", "1,15"]),
    _part("BYMONTH", ["1", "12", "13", "0", "2,3"]),
    _part("BYSETPOS", ["1", "-1", "0", "367"]),
    _part("WKST", ["MO", "SU", "XX"]),
    st.sampled_from(["RRULE:FREQ=DAILY", "FREQ", "=", ";", "FREQ=DAILY;FREQ=WEEKLY"]),
)
# Rules that make sense (so that series get booked, skip and collide) and rules that do not.
GOOD_RRULES = st.sampled_from([
    "FREQ=DAILY;COUNT=3", "FREQ=WEEKLY;COUNT=4", "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=5",
    "FREQ=MONTHLY;BYDAY=2TU;COUNT=2", "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
    "FREQ=YEARLY;COUNT=2", "FREQ=DAILY;INTERVAL=2;UNTIL=20270320", "FREQ=WEEKLY",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=2", "FREQ=DAILY;COUNT=400"])
RRULE = st.one_of(GOOD_RRULES, GOOD_RRULES, st.lists(RRULE_PART, max_size=6).map(";".join),
                  TEXT, WRONG)
# A few slots often, so that later examples collide with what earlier ones booked.
SLOTS = st.sampled_from([("2027-03-02T10:00", "2027-03-02T11:00"),
                         ("2027-03-02T10:30", "2027-03-02T11:30"),
                         ("2027-03-03T10:00", "2027-03-03T11:00"),
                         ("2027-03-03T17:30", "2027-03-03T18:30")])
VALID_SERIES = st.builds(
    lambda slot, rule, skip, room: {"room_id": room, "title": "Series", "start_time": slot[0],
                                    "end_time": slot[1], "recurrence": rule,
                                    "skip_conflicts": skip},
    SLOTS, RRULE, st.booleans(), st.sampled_from([1, 1, 2]))
SERIES = st.one_of(VALID_SERIES, VALID_SERIES,
                   one_field_wrong(VALID_SERIES, ["recurrence", "skip_conflicts", "start_time"]))
# Keys as clients send them: sensible ones, repeated ones, too long, not printable ASCII.
KEYS = st.one_of(st.sampled_from(["k1", "k2", "k3"]),
                 st.sampled_from(["x" * 255, "x" * 256, "", " ", "é", "a\tb", "\x7f"]),
                 st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8))


@FUZZ
@given(body=st.one_of(SERIES, SERIES, BOOKING), key=st.none() | KEYS)
def test_any_booking_with_recurrence_or_a_key(admin_api, conn, body, key):
    before = state(conn)
    headers = {**admin_api.headers, **({"Idempotency-Key": key} if key is not None else {})}
    response = admin_api.client.open("/api/bookings", method="POST", data=encode(body),
                                     content_type="application/json", headers=headers)
    check(response, before, conn)


VALID_AUTO = st.builds(
    lambda slot, attendees, extra: {"title": "Auto", "start_time": slot[0], "end_time": slot[1],
                                    "attendees": attendees, "timezone": "Europe/Berlin", **extra},
    SLOTS, st.integers(1, 12),
    st.fixed_dictionaries({}, optional={
        "equipment": st.lists(st.sampled_from(["screen", "video", "VIDEO", ""]), max_size=3),
        "building": st.sampled_from(["", "HQ", "hq", "Annex"]),
        "floor": st.integers(-2, 3)}))
AUTO = st.one_of(VALID_AUTO, VALID_AUTO, one_field_wrong(
    VALID_AUTO, ["title", "start_time", "end_time", "attendees", "timezone", "equipment",
                 "building", "floor"]))


@FUZZ
@given(body=st.one_of(AUTO, AUTO, AUTO, JSON, RAW), key=st.none() | KEYS)
def test_any_automatic_assignment(admin_api, conn, body, key):
    before = state(conn)
    headers = {**admin_api.headers, **({"Idempotency-Key": key} if key is not None else {})}
    data = body if isinstance(body, bytes) else encode(body)
    response = admin_api.client.open("/api/bookings/auto", method="POST", data=data,
                                     content_type="application/json", headers=headers)
    check(response, before, conn)


VALID_CHECK = st.builds(lambda room, slot: {"room_id": room, "start_time": slot[0],
                                            "end_time": slot[1]},
                       st.sampled_from([1, 2, 99, "1"]), SLOTS)
CHECK = st.one_of(VALID_CHECK, VALID_CHECK,
                  one_field_wrong(VALID_CHECK, ["room_id", "start_time", "end_time"]),
                  st.fixed_dictionaries({"room_id": st.just(1), "start_time": DATETIME,
                                         "end_time": DATETIME}), JSON)


@FUZZ
@given(body=st.one_of(
    st.fixed_dictionaries({"checks": st.lists(CHECK, min_size=1, max_size=5)}),
    st.fixed_dictionaries({"checks": st.lists(VALID_CHECK, min_size=1, max_size=5)}),
    st.fixed_dictionaries({"checks": WRONG}),
    st.builds(lambda c, n: {"checks": [c] * n}, VALID_CHECK, st.sampled_from([500, 501])),
    JSON, RAW))
def test_any_batch_availability(admin_api, conn, body):
    before = state(conn)
    check(send(admin_api, "POST", "/api/availability", body), before, conn)
    assert state(conn) == before          # a read: never a write, whatever the answer


@pytest.fixture
def no_dns(monkeypatch):
    """Registering a webhook resolves its host: here without asking any name server."""
    from test_schemathesis import resolve_without_dns
    monkeypatch.setattr(socket, "getaddrinfo", resolve_without_dns)


GOOD_HOOK_URLS = st.sampled_from(["https://93.184.215.14/hook", "https://hooks.example.com/x",
                                  "https://hooks.example.com:8443/a?b=c"])
HOOK_URLS = st.one_of(GOOD_HOOK_URLS, st.sampled_from([
    "https://93.184.215.14/hook", "https://hooks.example.com/x", "http://127.0.0.1/x",
    "http://10.0.0.1/x", "https://[::1]/x", "https://x.invalid/", "ftp://example.com/x",
    "https://exa mple.com/", "https://", "https://example.com:99999/", "javascript:alert(1)",
    "https://" + "a" * 2000 + ".com/", "https://ex\u00e4mple.com/", "https://\ud800.com/"]), TEXT)
VALID_HOOK = st.fixed_dictionaries(
    {"url": HOOK_URLS},
    optional={"events": st.lists(st.sampled_from(["booking.created", "booking.cancelled",
                                                  "series.created", "nope", ""]), max_size=4),
              "description": st.sampled_from(["", "Chat", "x" * 200, "x" * 201]) | TEXT,
              "active": st.booleans()})
GOOD_HOOK = st.fixed_dictionaries(
    {"url": GOOD_HOOK_URLS},
    optional={"events": st.lists(st.sampled_from(["booking.created", "booking.cancelled"]),
                                 min_size=1, max_size=2, unique=True),
              "description": st.sampled_from(["", "Chat"])})
HOOK = st.one_of(GOOD_HOOK, VALID_HOOK, one_field_wrong(VALID_HOOK, ["url", "events",
                                                                     "description", "active"]))


@FUZZ
@given(body=st.one_of(HOOK, HOOK, JSON, RAW), endpoint=st.sampled_from([None, 1, 99]))
def test_any_webhook_body(admin_api, conn, no_dns, body, endpoint):
    before = state(conn)
    url, method = (("/api/webhooks", "POST") if endpoint is None
                   else (f"/api/webhooks/{endpoint}", "PATCH"))
    check(send(admin_api, method, url, body), before, conn)


@pytest.fixture
def busy_world(admin_api, api_as, admin, conn, make, berlin):
    """Series 1 (Alice's, weekly), a webhook endpoint (1) with a failed delivery (1)
    and its attempt, audit entries and events: what the reads below look at."""
    alice = make.user("Alice")
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "recurrence": "FREQ=WEEKLY;COUNT=3",
        "start_time": "2027-03-04T10:00", "end_time": "2027-03-04T11:00"})
    assert made.status_code == 201 and made.get_json()["series"]["id"] == 1
    from test_schemathesis import seed_events
    seed_events(conn, admin, alice)
    return admin_api


MORE_READS = ["/api/rooms/free", "/find", "/api/rooms/1/availability", "/rooms/1/availability",
              "/api/reports/utilisation", "/reports", "/reports/utilisation.csv",
              "/api/audit", "/admin/audit", "/api/activity", "/activity", "/api/deliveries",
              "/admin/deliveries", "/api/webhooks/1", "/admin/webhooks/1", "/api/series/1",
              "/series/1"]
MORE_PARAMS = ["start_time", "end_time", "capacity", "attendees", "equipment", "building",
               "floor", "timezone", "date", "start", "end", "min_minutes", "from", "to",
               "group", "user", "room", "status", "limit", "cursor"]
MORE_VALUES = st.one_of(TEXT, NUMBER.map(str), DATE, DATETIME, CLOCK, ZONES.filter(
    lambda z: isinstance(z, str)), st.sampled_from([
        "room", "building", "weekday_hour", "failed", "pending", "sent", "screen,video",
        "Europe/Berlin", "HQ", "1", "0", "-1", "100", "101", "eyJ4IjoxfQ", "MjAyNy0wMy0wMnww"]))


@FUZZ
@given(url=st.sampled_from(MORE_READS),
       params=st.lists(st.tuples(st.sampled_from(MORE_PARAMS) | TEXT, MORE_VALUES), max_size=5),
       page=st.booleans())
def test_any_query_parameters_of_the_finder_reports_audit_and_events(
        busy_world, browser_as, admin, conn, url, params, page):
    query = "&".join(f"{quote(k.encode('utf-8', 'surrogatepass'))}="
                     f"{quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in params)
    as_page = page and not url.startswith("/api/")
    browser = browser_as(admin) if as_page else None   # signing in writes a session
    before = state(conn)
    if as_page:
        response = browser.client.get(f"{url}?{query}")
    else:
        response = busy_world.client.get(f"{url}?{query}", headers=busy_world.headers)
    check(response, before, conn)
    assert state(conn) == before   # reads never write


PAGE_FORMS = {
    "/find": ["date", "start", "end", "timezone", "attendees", "equipment", "building", "floor",
              "title", "room", "idempotency_key"],
    "/bookings/new": ["room_id", "title", "date", "start", "end", "repeat", "every", "weekdays",
                      "monthly", "ends", "count", "until", "skip_conflicts", "idempotency_key"],
    "/series/1/cancel": ["from", "next"],
}
FORM_VALUES = st.one_of(TEXT, NUMBER.map(str), DATE, CLOCK, DATETIME, st.sampled_from([
    "1", "2", "on", "", "best", "daily", "weekly", "monthly", "yearly", "none", "hourly",
    "after", "on", "never", "weekday", "day", "MO", "TU", "XX", "Europe/Berlin", "10:00",
    "11:00", "2027-03-02", "2027-03-02T10:00", "screen", "k1"]))


PLAUSIBLE_FORMS = {
    "/find": st.fixed_dictionaries({
        "date": st.sampled_from(["2027-03-02", "2027-03-03"]), "start": st.just("10:00"),
        "end": st.sampled_from(["11:00", "10:30"]), "timezone": st.just("Europe/Berlin"),
        "attendees": st.sampled_from(["1", "4", "50"]), "title": st.just("Found"),
        "room": st.sampled_from(["best", "1", "2", "99"])}),
    "/bookings/new": st.fixed_dictionaries({
        "room_id": st.sampled_from(["1", "2"]), "title": st.just("Formed"),
        "date": st.sampled_from(["2027-03-02", "2027-03-03"]), "start": st.just("10:00"),
        "end": st.just("11:00"),
        "repeat": st.sampled_from(["none", "daily", "weekly", "monthly", "yearly"]),
        "every": st.sampled_from(["1", "2"]), "ends": st.sampled_from(["never", "after", "on"]),
        "count": st.sampled_from(["3", "0", ""]), "until": st.sampled_from(["2027-03-20", ""]),
        "monthly": st.sampled_from(["day", "weekday"])}),
    "/series/1/cancel": st.fixed_dictionaries({"from": st.sampled_from(
        ["", "2027-03-11T10:00", "2027-03-11T10:00+01:00", "2027-02-01T10:00"])}),
}


@FUZZ
@given(url=st.sampled_from(sorted(PAGE_FORMS)), data=st.data())
def test_any_finder_booking_and_series_form(busy_world, browser_as, admin, conn, url, data):
    from werkzeug.datastructures import MultiDict

    plausible = data.draw(st.none() | PLAUSIBLE_FORMS[url], label="plausible")
    fields = data.draw(st.lists(st.tuples(st.sampled_from(PAGE_FORMS[url]) | st.text(max_size=8),
                                          FORM_VALUES), max_size=10 if plausible is None else 2),
                       label="odd fields")
    fields = list((plausible or {}).items()) + fields
    browser = browser_as(admin)
    before = state(conn)
    # Several values per name, as checkboxes send them (weekdays); UTF-8, as browsers send
    # (a lone surrogate cannot be sent; its bytes can).
    form = MultiDict([("csrf_token", browser.csrf)]
                     + [(k, v.encode("utf-8", "surrogatepass")) for k, v in fields])
    response = browser.client.post(url, data=form)
    check(response, before, conn)
