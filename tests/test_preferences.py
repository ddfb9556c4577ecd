"""The account's theme and time zone: /account/preferences and PATCH /api/me."""

import re

import pytest

from routemap import state


def test_patch_me_sets_theme_and_time_zone_and_says_so(api_as, alice):
    api = api_as(alice)
    assert api.get("/api/me").get_json()["user"] | {} == {
        "id": alice["id"], "email": "alice@example.com", "name": "Alice", "role": "staff",
        "mail_enabled": True, "theme": "auto", "timezone": None, "language": None,
        "home_building": None,
        "home_building_source": None, "delegates": []}
    r = api.patch("/api/me", json={"theme": "dark", "timezone": "America/New_York"})
    assert r.status_code == 200
    user = r.get_json()["user"]
    assert (user["theme"], user["timezone"], user["mail_enabled"]) == ("dark",
                                                                      "America/New_York", True)
    assert api.get("/api/me").get_json()["user"]["theme"] == "dark"
    cleared = api.patch("/api/me", json={"timezone": None}).get_json()["user"]
    assert (cleared["theme"], cleared["timezone"]) == ("dark", None)


@pytest.mark.parametrize("body, field", [({"theme": "purple"}, "theme"), ({"theme": None}, "theme"),
                                         ({"timezone": "Mars/Olympus"}, "timezone"),
                                         ({"timezone": 5}, "timezone"),
                                         ({"theme": "dark", "colour": "red"}, "colour")])
def test_a_bad_setting_is_a_400_and_changes_nothing(api_as, alice, conn, body, field):
    api = api_as(alice)
    before = state(conn)
    r = api.patch("/api/me", json=body)
    assert r.status_code == 400
    assert r.get_json()["error"]["details"]["field"] == field
    assert state(conn) == before


def test_the_pages_wear_the_account_s_theme(browser_as, alice):
    browser = browser_as(alice)
    assert '<html lang="en" data-theme="auto">' in browser.get("/").get_data(as_text=True)
    r = browser.post("/account/preferences", data={"theme": "light", "timezone": "Europe/Paris"})
    assert r.status_code == 302
    page = browser.get("/account").get_data(as_text=True)
    assert '<html lang="en" data-theme="light">' in page
    assert 'value="light" checked' in page and 'value="Europe/Paris"' in page
    bad = browser.post("/account/preferences", data={"theme": "dark", "timezone": "Nowhere"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "timezone must be an IANA zone" in text and 'value="Nowhere"' in text
    # At the field, and named by it (it was only at the top of the form).
    assert re.search(r'<input id="timezone"[^>]* aria-describedby="timezone-hint timezone-error"'
                     r' aria-invalid="true"', text), text
    assert re.search(r'<p class="field-error" id="timezone-error" role="alert">timezone must be '
                     r'an IANA zone', text)
    assert '<html lang="en" data-theme="light">' in browser.get("/").get_data(as_text=True)
