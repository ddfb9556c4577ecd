"""English, German and French (issue 19): who gets which language, and what is in it.

The language: the account's (users.language: /account, PATCH /api/me), else the
browser's Accept-Language, else English; <html lang> says which. Pages, form
errors, the API's error `message` (never its `code`), the recurrence in words
and mail (in the recipient's language, whoever made the change) all follow it;
dates, times and numbers are written for it by Babel. The browser's side of
this (Chromium with locale="de-DE") is tests/test_languages_browser.py; that
every string is translated is tests/test_translations.py.
"""

from __future__ import annotations

import html
import re

import pytest

from booking import i18n, memo
from booking.i18n import in_language
from booking.recurrence import describe
from conftest import Browser
from test_memo_users import until
from test_worker import book, smtp, worker  # noqa: F401  (fixtures)

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
SPANISH = {"Accept-Language": "es-ES,es;q=0.9"}
DAY = "2027-03-02"   # a Tuesday; the test app's clock stands at Monday 1 March 2027


def lang(response) -> str:
    return re.search(r'<html lang="([a-z]+)"', response.get_data(as_text=True)).group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


def error(response) -> dict:
    return response.get_json()["error"]


@pytest.fixture
def signed_in(app, alice):
    """Alice's page client, signed in (the sign-in form itself in English)."""
    browser = Browser(app.test_client())
    assert browser.login(alice["email"]).status_code == 302
    browser.get("/")   # the signed-in session's CSRF token
    return browser


# -- which language -------------------------------------------------------------------------

@pytest.mark.parametrize("headers, expected", [
    (GERMAN, "de"), (FRENCH, "fr"), ({"Accept-Language": "de-AT"}, "de"),
    ({"Accept-Language": "es, fr;q=0.3"}, "fr"), (SPANISH, "en"), ({}, "en")])
def test_the_browser_s_language_when_the_account_has_none(signed_in, berlin, headers, expected):
    assert lang(signed_in.get(f"/rooms/{berlin['id']}?date={DAY}", headers=headers)) == expected


def test_a_german_browser_reads_german_words_and_german_dates(signed_in, alice, berlin, make):
    from conftest import UTC
    from datetime import datetime
    make.booking(berlin, alice, datetime(2027, 3, 2, 14, tzinfo=UTC),
                 datetime(2027, 3, 2, 15, tzinfo=UTC), title="Planung")
    page = text(signed_in.get(f"/rooms/{berlin['id']}?date={DAY}", headers=GERMAN))
    assert "Spree buchen" in page and "Nächster Tag →" in page and "Book " not in page
    assert "Di., 2. März 2027" in page                    # weekday, day, month as German writes them
    times = re.findall(r'<span class="seg-time">([^<]*)</span>', page)
    assert "15:00–16:00" in times                         # 24 hours, in the room's zone (Berlin)
    assert not [t for t in times if "AM" in t or "PM" in t]   # not the page: a CSRF token may hold "PM"
    week = text(signed_in.get(f"/rooms/{berlin['id']}/week?start=2027-03-01", headers=GERMAN))
    assert "Woche vom Mo., 1. März 2027" in week and "So., 7. März" in week


def test_an_account_set_to_french_gets_french_whatever_the_browser_says(signed_in, berlin):
    r = signed_in.post("/account/preferences", data={"theme": "auto", "timezone": "",
                                                     "language": "fr"}, headers=GERMAN)
    assert r.status_code == 302
    saved = signed_in.get("/account", headers=GERMAN)
    assert lang(saved) == "fr" and "Vos préférences sont enregistrées." in text(saved)
    assert '<option value="fr" lang="fr" selected>Français</option>' in text(saved)
    for headers in (GERMAN, SPANISH, {}):
        page = signed_in.get(f"/rooms/{berlin['id']}?date={DAY}", headers=headers)
        assert lang(page) == "fr" and "Réserver Spree" in text(page)
        assert "mar. 2 mars 2027" in text(page)
    # Back to the browser's: German again.
    signed_in.post("/account/preferences", data={"theme": "auto", "timezone": "", "language": ""})
    assert lang(signed_in.get("/", headers=GERMAN)) == "de"


def test_patch_me_sets_and_clears_the_language(api_as, alice, conn):
    api = api_as(alice)
    r = api.patch("/api/me", json={"language": "de"}, headers=FRENCH)
    assert r.status_code == 200 and r.get_json()["user"]["language"] == "de"
    assert error(api.get("/api/rooms/999999", headers=FRENCH))["message"] == \
        "Diesen Raum gibt es nicht."                        # the account beats the browser
    assert api.patch("/api/me", json={"language": None}).get_json()["user"]["language"] is None
    assert api.patch("/api/me", json={"language": ""}).get_json()["user"]["language"] is None
    assert conn.execute("SELECT language FROM users WHERE id = %s",
                        (alice["id"],)).fetchone()["language"] is None


@pytest.mark.parametrize("value", ["es", "DE", "german", 1, ["de"], {"de": 1}])
def test_a_language_that_is_not_offered_is_refused_and_changes_nothing(api_as, alice, conn,
                                                                       value):
    api = api_as(alice)
    api.patch("/api/me", json={"language": "fr", "theme": "dark"})
    r = api.patch("/api/me", json={"language": value, "theme": "light"})
    assert r.status_code == 400
    assert error(r)["code"] == "invalid" and error(r)["details"]["field"] == "language"
    assert "language is en, de or fr" in error(r)["message"] or \
        "language vaut en, de ou fr" in error(r)["message"]  # said in French: her language
    row = conn.execute("SELECT language, theme FROM users WHERE id = %s", (alice["id"],)).fetchone()
    assert row == {"language": "fr", "theme": "dark"}


@pytest.fixture
def remembered(app, signed_in, berlin):
    """Alice's session, remembered by this process for an hour (not the default 30 s):
    only the change's notification can make it forget her in time."""
    memo.of(app).users.seconds = 3600
    for _ in range(2):
        signed_in.client.get(f"/api/rooms/{berlin['id']}/bookings?date={DAY}")
    return signed_in.client


def test_a_language_changed_elsewhere_is_forgotten_by_every_process(remembered, alice, conn):
    """The users-change trigger names the new column (sql/030), so a process that
    remembers Alice hears of it, as it hears of a new name."""
    assert error(remembered.get("/api/rooms/999999"))["message"] == "That room does not exist."
    conn.execute("UPDATE users SET language = 'fr' WHERE id = %s", (alice["id"],))
    until(lambda: error(remembered.get("/api/rooms/999999"))["message"]
          == "Cette salle n'existe pas.")


def test_a_home_building_changed_elsewhere_is_forgotten_too(remembered, alice, conn):
    """014 had dropped home_building from that trigger; 030 puts it back."""
    assert remembered.get("/api/me").get_json()["user"]["home_building_source"] is None
    conn.execute("UPDATE users SET home_building = 'HQ' WHERE id = %s", (alice["id"],))
    until(lambda: remembered.get("/api/me").get_json()["user"]["home_building_source"]
          == "chosen")


# -- the API's errors ----------------------------------------------------------------------

def test_api_errors_speak_the_caller_s_language_and_keep_their_codes(api_as, alice, berlin):
    api = api_as(alice)
    body = {"room_id": berlin["id"], "title": "Kurz",
            "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T10:05"}
    english, german, french = (api.post("/api/bookings", json=body, headers=h)
                               for h in ({}, GERMAN, FRENCH))
    assert english.status_code == german.status_code == french.status_code == 422
    assert error(english)["code"] == error(german)["code"] == error(french)["code"] == "too_short"
    assert error(english)["message"] == "A booking lasts at least 15 minutes."
    assert error(german)["message"] == "Eine Buchung dauert mindestens 15 Minuten."
    assert error(french)["message"] == "Une réservation dure au moins 15 minutes."
    # Every broken rule listed, each in the caller's language.
    late = {**body, "start_time": f"{DAY}T17:30", "end_time": f"{DAY}T22:30"}
    violations = error(api.post("/api/bookings", json=late, headers=GERMAN))["details"]["violations"]
    assert [v["code"] for v in violations] == ["too_long", "outside_hours"]
    assert [v["message"] for v in violations] == [
        "Eine Buchung dauert höchstens 4 Stunden.",
        "Dieser Raum ist von 09:00 bis 18:00 buchbar (Zeitzone Europe/Berlin)."]


@pytest.mark.parametrize("url, code, english, german", [
    ("/api/bookings/mine", "unauthorized",
     "Sign in, or send an API token (Authorization: Bearer ...).",
     "Melden Sie sich an oder senden Sie einen API-Token (Authorization: Bearer ...)."),
    ("/api/nothing-here", "not_found", "There is nothing at this address.",
     "Unter dieser Adresse gibt es nichts."),
])
def test_errors_before_anyone_signs_in_follow_the_browser(client, url, code, english, german):
    plain, in_german = client.get(url), client.get(url, headers=GERMAN)
    assert error(plain)["code"] == error(in_german)["code"] == code
    assert (error(plain)["message"], error(in_german)["message"]) == (english, german)


def test_a_form_error_on_a_page_is_in_the_page_s_language(signed_in, berlin):
    page = signed_in.get("/bookings/new", headers=GERMAN)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', text(page)).group(1)
    r = signed_in.post("/bookings/new", headers=GERMAN, data={
        "idempotency_key": key, "room_id": str(berlin["id"]), "title": "",
        "date": DAY, "start": "10:00", "end": "10:05", "repeat": "none"})
    assert r.status_code == 400
    assert "Geben Sie an, wofür die Buchung ist." in text(r) and lang(r) == "de"


def test_successful_json_answers_choose_no_language(api_as, alice, berlin, monkeypatch):
    """The hot paths pay nothing for languages: a JSON answer with nothing in words
    never asks which language the caller reads."""
    asked = []
    original = i18n.choose
    monkeypatch.setattr(i18n, "choose", lambda: asked.append(1) or original())
    api = api_as(alice)
    for url in (f"/api/rooms/{berlin['id']}/bookings?date={DAY}", "/api/rooms", "/api/me",
                f"/api/board?date={DAY}", "/api/bookings/mine"):
        assert api.get(url, headers=GERMAN).status_code == 200, url
    assert asked == []
    assert api.get("/api/rooms/999999", headers=GERMAN).status_code == 404
    assert asked == [1]                       # once an answer says something in words


# -- the recurrence in words ---------------------------------------------------------------

@pytest.mark.parametrize("rule, german, french", [
    ("FREQ=WEEKLY;BYDAY=TU;COUNT=8", "Wöchentlich am Dienstag, 8-mal",
     "Toutes les semaines le mardi, 8 fois"),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Jeden Arbeitstag (Mo–Fr)",
     "Tous les jours de semaine (lun.–ven.)"),
    ("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270331", "Wöchentlich am Dienstag und Donnerstag, bis "
     "Mi., 31. März 2027", "Toutes les semaines le mardi et le jeudi, jusqu’au mer. 31 mars 2027"),
    ("FREQ=DAILY;COUNT=1", "Täglich, einmal", "Tous les jours, une fois"),
    ("FREQ=DAILY;INTERVAL=3", "Alle 3 Tage", "Tous les 3 jours"),
    ("FREQ=MONTHLY;BYDAY=2TU", "Monatlich am 2. Dienstag", "Tous les mois le 2e mardi"),
    ("FREQ=MONTHLY;BYDAY=-1FR", "Monatlich am letzten Freitag", "Tous les mois le dernier vendredi"),
    ("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15", "Alle 2 Monate am 15.", "Tous les 2 mois le 15"),
    ("FREQ=YEARLY;BYMONTH=3;BYDAY=-2SU", "Jährlich am vorletzten Sonntag im März",
     "Tous les ans l’avant-dernier dimanche en mars"),
    ("FREQ=MONTHLY;BYDAY=MO,FR;BYSETPOS=1", "Monatlich am Montag und Freitag (davon jeweils der "
     "1. Tag)", "Tous les mois le lundi et le vendredi (le 1er de ces jours)"),
])
def test_a_rule_in_german_and_french_words(app, rule, german, french):
    with app.app_context():
        with in_language("de"):
            assert describe(rule) == german
        with in_language("fr"):
            assert describe(rule) == french


def test_the_series_page_says_the_rule_in_the_reader_s_language(signed_in, api_as, alice, berlin):
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Jour fixe", "recurrence": "FREQ=WEEKLY;COUNT=8",
        "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}).get_json()
    page = text(signed_in.get(f"/series/{made['series']['id']}", headers=FRENCH))
    assert "Toutes les semaines, 8 fois" in page and "FREQ=" not in page


def test_the_board_is_drawn_once_per_language(signed_in, alice, berlin, make, app):
    from conftest import UTC
    from datetime import datetime
    make.booking(berlin, alice, datetime(2027, 3, 2, 9, tzinfo=UTC),
                 datetime(2027, 3, 2, 10, tzinfo=UTC), title="Planung")
    german = text(signed_in.get(f"/board?date={DAY}", headers=GERMAN))
    english = text(signed_in.get(f"/board?date={DAY}"))
    french = text(signed_in.get(f"/board?date={DAY}", headers=FRENCH))
    assert "HQ, Etage 1" in german and "6 Plätze" in german and "frei: buchen" in german
    assert "HQ, floor 1" in english and "6 seats" in english and "free: book" in english
    assert "HQ, étage 1" in french and "libre\u00a0: réserver" in french
    assert len(memo.of(app).board._drawn) == 3


def test_numbers_are_written_for_the_language(app):
    from booking.templating import decimal, number, percent
    with app.test_request_context(headers=GERMAN):
        assert (number(12345), decimal(2.5), percent(0.425)) == ("12.345", "2,5", "42,5\u00a0%")
    with app.test_request_context(headers=FRENCH):
        assert (number(12345), decimal(2.5)) == ("12\u202f345", "2,5")
    with app.test_request_context():
        assert (number(12345), decimal(2.5), percent(0.425)) == ("12,345", "2.5", "42.5%")


# -- mail ------------------------------------------------------------------------------------

def test_mail_is_in_the_recipient_s_language(api_as, alice, bob, admin, berlin, conn, smtp,
                                              worker):
    conn.execute("UPDATE users SET language = 'de' WHERE id = %s", (alice["id"],))
    conn.execute("UPDATE users SET language = 'fr' WHERE id = %s", (admin["id"],))
    booking = book(api_as(alice), berlin)["booking"]
    book(api_as(bob), berlin, start=f"{DAY}T12:00", end=f"{DAY}T13:00")
    worker.run_until_idle()
    by_recipient = {to[0]: message for to, message in smtp.messages}
    german = by_recipient[alice["email"]]
    assert german["Subject"] == ("[Räume] Gebucht: „Planning“ in Spree, "
                                 "Di., 2. März 2027, 10:00–11:00")
    body = german.get_body(("plain",)).get_content()
    assert body.startswith("Hallo Alice,") and "Die angehängte Einladung" in body
    assert '<html lang="de">' in german.get_body(("html",)).get_content()
    english = by_recipient[bob["email"]]                  # no language chosen: English
    assert english["Subject"].startswith("[Rooms] Booked “Planning” in Spree, Tue 2 Mar 2027")
    # A French admin cancels Alice's booking: Alice is told in German.
    assert api_as(admin).delete(f"/api/bookings/{booking['id']}",
                                headers=FRENCH).status_code == 200
    worker.run_until_idle()
    to, cancelled = smtp.messages[-1]
    assert to == [alice["email"]]
    assert cancelled["Subject"].startswith("[Räume] Von Ada storniert: „Planning“ in Spree")
    assert "Ada (Administrator) hat Ihre Buchung storniert." in \
        cancelled.get_body(("plain",)).get_content()


def test_a_request_s_catalogue_follows_a_mail_in_another_language_and_back(app):
    """i18n.translations() keeps the request's catalogue beside its locale: a mail
    written in French inside a German request is French, and the page after it
    German again (it would stay French if the kept catalogue were trusted blindly)."""
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert i18n._("closed") == "geschlossen"
        with i18n.in_language("fr"):
            assert i18n._("closed") == "fermée"
            assert i18n.ngettext("%(num)d person", "%(num)d people", 3) == "3 personnes"
        assert i18n._("closed") == "geschlossen"
        assert i18n.locale().language == "de"


def test_a_closed_day_is_written_in_the_reader_s_language(app, api_as, alice, berlin, conn):
    """Found by testing from outside: "Dieser Raum ist am 2027-03-02 geschlossen":
    the date of a closed-day refusal was ISO, in every language."""
    from policykit import room_policy
    room_policy(conn, berlin, closed_dates=["2027-03-02"])
    api = api_as(alice)
    said = {}
    for language in ("en", "de", "fr"):
        r = api.post("/api/bookings", json={"room_id": berlin["id"], "title": "Closed",
                                            "start_time": "2027-03-02T10:00",
                                            "end_time": "2027-03-02T11:00"},
                     headers={"Accept-Language": language})
        assert r.status_code == 422, r.get_json()
        said[language] = r.get_json()["error"]["message"]
    assert said["en"] == "This room is closed on Tue 2 Mar 2027."
    assert "2027-03-02" not in said["de"] and "Mär" in said["de"]
    assert "2027-03-02" not in said["fr"] and "mars" in said["fr"]


def test_an_error_names_the_field_in_the_reader_s_language(api_as, alice, berlin):
    """Found by testing from outside: "title ist erforderlich" on German pages, "name
    est obligatoire" on French ones. In English the API's name is the text."""
    said = {}
    for language in ("en", "de", "fr"):
        r = api_as(alice).post("/api/bookings", json={
            "room_id": berlin["id"], "title": "   ", "start_time": "2027-03-02T10:00",
            "end_time": "2027-03-02T11:00"}, headers={"Accept-Language": language})
        assert r.status_code == 400 and r.get_json()["error"]["details"]["field"] == "title"
        said[language] = r.get_json()["error"]["message"]
    assert said == {"en": "title is required.", "de": "Titel ist erforderlich.",
                    "fr": "Titre est obligatoire."}


# QA: German and French pages said "timezone muss ...", "end muss nach start liegen.",
# "min_minutes muss eine ganze Zahl sein.": the field's API name, in English. English
# keeps it (the API's messages are a contract).
FIND = {"date": DAY, "start": "10:00", "end": "11:00", "attendees": "2"}
NAMED_FIELDS = [
    ("find", {"timezone": "Mars/X"}, {
        "en": "timezone must be an IANA zone like Europe/Berlin.",
        "de": "Zeitzone muss eine IANA-Zeitzone wie Europe/Berlin sein.",
        "fr": "Fuseau horaire doit être un fuseau IANA comme Europe/Paris."}),
    ("availability", {"start": "2027-03-14", "end": "2027-03-01"}, {
        "en": "end must be after start.",
        "de": "Ende muss nach Beginn liegen.",
        "fr": "Fin doit être après Début."}),
    ("availability", {"min_minutes": "abc"}, {
        "en": "min_minutes must be a whole number.",
        "de": "Mindestdauer muss eine ganze Zahl sein.",
        "fr": "Durée minimale doit être un nombre entier."}),
    ("account", {"timezone": "Mars/Olympus"}, {
        "en": "timezone must be an IANA zone like Europe/Berlin, or empty for the zone most "
              "rooms are in.",
        "de": "Zeitzone muss eine IANA-Zeitzone wie Europe/Berlin sein, oder leer für die "
              "Zeitzone der meisten Räume.",
        "fr": "Fuseau horaire doit être un fuseau IANA comme Europe/Paris, ou vide pour "
              "le fuseau de la plupart des salles."}),
]


@pytest.mark.parametrize("page, sent, said", NAMED_FIELDS,
                         ids=[f"{p}-{'-'.join(s)}" for p, s, _said in NAMED_FIELDS])
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_a_page_s_error_names_the_field_in_the_reader_s_language(signed_in, berlin, page,
                                                                 sent, said, language):
    headers = {"Accept-Language": language}
    if page == "find":
        r = signed_in.get("/find", query_string={**FIND, **sent}, headers=headers)
    elif page == "availability":
        r = signed_in.get(f"/rooms/{berlin['id']}/availability", query_string=sent,
                          headers=headers)
    else:
        r = signed_in.post("/account/preferences", data={"theme": "auto", "language": "",
                                                         **sent}, headers=headers)
    assert r.status_code == 400 and lang(r) == language
    assert said[language] in html.unescape(text(r)), html.unescape(text(r))


@pytest.mark.parametrize("language, said", [
    ("en", "Choose a date."), ("de", "Wählen Sie ein Datum."), ("fr", "Choisissez une date.")])
@pytest.mark.parametrize("path", ["/bookings/new", "/find"])
def test_an_empty_date_is_asked_for_in_the_reader_s_language(signed_in, berlin, path,
                                                              language, said):
    """QA, 2026-12-06: "Choose a date." was English on German and French pages."""
    headers = {"Accept-Language": language}
    if path == "/find":
        r = signed_in.get("/find", query_string={**FIND, "date": "", "timezone": "Europe/Berlin"},
                          headers=headers)
    else:
        page = signed_in.get(path, headers=headers).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = signed_in.post(path, headers=headers, data={
            "csrf_token": csrf, "room_id": berlin["id"], "title": "x", "date": "",
            "start": "10:00", "end": "11:00"})
    assert r.status_code == 400 and lang(r) == language
    assert said in html.unescape(text(r))


@pytest.mark.parametrize("url, field, english", [
    ("/api/rooms/free?start_time=2027-03-02T10:00&end_time=2027-03-02T11:00&timezone=Mars/X",
     "timezone", "timezone must be an IANA zone like Europe/Berlin."),
    ("/api/rooms/{room}/availability?start=2027-03-14&end=2027-03-01", "end",
     "end must be after start."),
    ("/api/rooms/{room}/availability?min_minutes=abc", "min_minutes",
     "min_minutes must be a whole number."),
])
def test_the_api_s_english_messages_keep_the_field_s_api_name(api_as, alice, berlin, url,
                                                              field, english):
    api = api_as(alice)
    r = api.get(url.format(room=berlin["id"]))
    assert r.status_code == 400 and error(r)["details"]["field"] == field
    assert error(r)["message"] == english
    german = api.get(url.format(room=berlin["id"]), headers=GERMAN)
    assert error(german)["details"]["field"] == field and field not in error(german)["message"]
    r = api.patch("/api/me", json={"timezone": "Mars/Olympus"})
    assert error(r)["message"] == ("timezone must be an IANA zone like Europe/Berlin, or empty "
                                   "for the zone most rooms are in.")
