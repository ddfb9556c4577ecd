"""What every response gets from booking/http.py: gzip over 1 KB, ETags that
survive it, and a 304 decided before anything is compressed."""

import gzip
import zlib
from datetime import datetime, timedelta, timezone

import pytest

from booking import http


def _busy_day(make, alice, room, day="2027-03-02"):
    start = datetime.fromisoformat(f"{day}T09:00:00+01:00")
    for i in range(12):
        make.booking(room, alice, start + timedelta(minutes=30 * i),
                     start + timedelta(minutes=30 * i + 15), title=f"Stand-up {i:02}")


def test_a_large_json_answer_is_gzipped_when_the_client_takes_it(api_as, alice, berlin, make):
    _busy_day(make, alice, berlin)
    api = api_as(alice)
    url = f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02"
    plain = api.get(url)
    zipped = api.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert len(plain.data) > http.GZIP_MIN_BYTES
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    assert "Accept-Encoding" in plain.headers["Vary"] and "Accept-Encoding" in zipped.headers["Vary"]
    # One representation's tag is the other's, weak when gzipped.
    assert zipped.headers["ETag"] == "W/" + plain.headers["ETag"]


def test_if_none_match_gets_304_with_either_tag(api_as, alice, berlin, make):
    _busy_day(make, alice, berlin)
    api = api_as(alice)
    url = f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02"
    tag = api.get(url).headers["ETag"]
    for sent, encoding in ((tag, "gzip"), ("W/" + tag, "gzip"), ("W/" + tag, "identity")):
        again = api.get(url, headers={"If-None-Match": sent, "Accept-Encoding": encoding})
        assert again.status_code == 304, (sent, encoding)
        assert again.data == b"" and "Content-Encoding" not in again.headers


def test_if_match_on_a_read_is_judged_as_a_patch_judges_it(api_as, alice, berlin, make):
    """* and the current tag, weak or strong, read the answer; another tag is a 412
    in the error shape (werkzeug refused * and weak tags, with the answer as the 412's
    body), and If-None-Match still gives its 304 once If-Match holds."""
    _busy_day(make, alice, berlin)
    api = api_as(alice)
    url = f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02"
    tag = api.get(url).headers["ETag"]
    for sent in ("*", tag, "W/" + tag, f'"other", {tag}'):
        for encoding in ("gzip", "identity"):
            r = api.get(url, headers={"If-Match": sent, "Accept-Encoding": encoding})
            assert r.status_code == 200, (sent, encoding)
    for sent in ('"other"', "W/\"other\"", "garbage"):
        r = api.get(url, headers={"If-Match": sent})
        assert r.status_code == 412, sent
        error = r.get_json()["error"]
        assert error["code"] == "precondition_failed" and error["details"]["field"] == "If-Match"
        assert "ETag" not in r.headers
    r = api.get(url, headers={"If-Match": tag, "If-None-Match": tag})
    assert r.status_code == 304
    assert api.open(url, "HEAD", headers={"If-Match": '"other"'}).status_code == 412


def test_a_change_changes_the_tag(api_as, alice, berlin, make):
    _busy_day(make, alice, berlin)
    api = api_as(alice)
    url = f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02"
    tag = api.get(url, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    make.booking(berlin, alice, datetime.fromisoformat("2027-03-02T16:00:00+01:00"),
                 datetime.fromisoformat("2027-03-02T16:30:00+01:00"), title="Late one")
    again = api.get(url, headers={"If-None-Match": tag, "Accept-Encoding": "gzip"})
    assert again.status_code == 200 and b"Late one" in gzip.decompress(again.data)


def test_a_page_is_gzipped_too(browser_as, alice, berlin, make):
    _busy_day(make, alice, berlin)
    browser = browser_as(alice)
    page = browser.client.get(f"/rooms/{berlin['id']}?date=2027-03-02", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers["Content-Encoding"] == "gzip"
    assert b"Stand-up 11" in gzip.decompress(page.data)


def test_small_answers_and_errors_stay_plain(api_as, alice, berlin):
    api = api_as(alice)
    small = api.get(f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02",
                    headers={"Accept-Encoding": "gzip"})
    assert len(small.data) < http.GZIP_MIN_BYTES and "Content-Encoding" not in small.headers
    missing = api.get("/api/bookings/999999", headers={"Accept-Encoding": "gzip"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_json_is_utf8_and_reads_back_the_same(api_as, alice, berlin, make):
    title = "Café mit Ü ☕ <b>&</b>"
    start = datetime.fromisoformat("2027-03-02T09:00:00+01:00")
    make.booking(berlin, alice, start, start + timedelta(minutes=30), title=title)
    answer = api_as(alice).get(f"/api/rooms/{berlin['id']}/bookings?date=2027-03-02")
    assert answer.headers["Content-Type"] == "application/json"
    assert title.encode() in answer.data          # written as UTF-8, not \u escapes
    assert answer.get_json()["bookings"][0]["title"] == title
    assert answer.data.endswith(b"}\n")


def test_json_orjson_cannot_write_goes_to_the_json_module(app):
    with app.app_context():
        provider = app.json
        # Keys that are not strings, and integers past 64 bits.
        assert provider.loads(provider.dumps({1: "a", "big": 2 ** 70})) == {"1": "a", "big": 2 ** 70}
        response = provider.response({2: [1, 2]})
        assert response.get_json() == {"2": [1, 2]}
        # Dates as Flask writes them (HTTP dates), whichever library writes the rest.
        moment = datetime(2027, 3, 2, 9, 30, tzinfo=timezone.utc)
        assert provider.loads(provider.dumps({"at": moment})) == {"at": "Tue, 02 Mar 2027 09:30:00 GMT"}
        # json.dumps options still work (the session cookie's serializer passes some).
        assert provider.dumps({"a": [1]}, separators=(",", ":")) == '{"a":[1]}'


def test_every_view_and_request_hook_is_synchronous(app):
    """The app's ensure_sync hands them over unwrapped (booking.App): an async view
    would be called without being awaited."""
    import inspect

    hooks = [f for funcs in (app.before_request_funcs, app.after_request_funcs,
                             app.teardown_request_funcs) for fs in funcs.values() for f in fs]
    functions = [*app.view_functions.values(), *hooks, *app.teardown_appcontext_funcs]
    assert len(functions) > 100
    for function in functions:
        assert not inspect.iscoroutinefunction(inspect.unwrap(function)), function


def test_gzip_is_quick_within_the_first_flight_and_thorough_beyond_it():
    """Level 1 below GZIP_FAST_BELOW bytes (the answer leaves in TCP's first flight
    either way), level 5 from there on; the same body back out of both."""
    import zlib

    def at(level, body):
        bits = max(9, min(15, (len(body) - 1).bit_length()))
        packer = zlib.compressobj(level, zlib.DEFLATED, 16 + bits, max(1, min(8, bits - 7)))
        return packer.compress(body) + packer.flush()

    words = b" ".join(b"room %d booked by person %d for stand-up %d" % (i, i * 7 % 13, i % 5)
                      for i in range(2000))
    below, edge = words[:http.GZIP_FAST_BELOW - 1], words[:http.GZIP_FAST_BELOW]
    assert at(1, below) != at(5, below) and at(1, edge) != at(5, edge)
    assert http.gzipped(below) == at(1, below)
    assert http.gzipped(edge) == at(http.GZIP_LEVEL, edge)
    assert gzip.decompress(http.gzipped(below)) == below
    assert gzip.decompress(http.gzipped(edge)) == edge


@pytest.mark.parametrize("before", [b"", b"<p>", bytes(range(256)) * 40])
def test_a_fragment_s_crc_after_what_came_before_is_zlib_s(before):
    """spliced() writes the gzip trailer's CRC-32 without reading a fragment again
    (Fragment.crc_after); gzip.decompress checks that CRC too."""
    fragment = http.Fragment("<li>Spree, 10:00–11:00</li>" * 500)
    start = zlib.crc32(before)
    assert fragment.crc_after(start) == zlib.crc32(before + fragment.raw)
    for crc in (0, 1, 0x80000000, 0xFFFFFFFF, 0x1234ABCD):
        assert fragment.crc_after(crc) == zlib.crc32(fragment.raw, crc)
