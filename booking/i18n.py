"""Languages: English, German and French, with Flask-Babel.

Which language a request gets: the account's choice (`users.language`, set on
/account or with PATCH /api/me {"language"}), else the best match of the
browser's Accept-Language, else English. It is chosen the first time
something is translated or formatted in a request (flask_babel.get_locale,
kept for the rest of the request), so a JSON answer that says nothing in
words never chooses one: the hot API paths pay nothing for languages. The
account's choice is a column of the user row the request loads anyway
(auth.USER_COLUMNS), so choosing costs no SQL either.

Messages are written in English in the code and templates and looked up in
gettext catalogues (booking/translations/<lang>/LC_MESSAGES/messages.po,
compiled to .mo by `make` and the Dockerfile; tests/test_translations.py
fails when a string is missing from them). Python code marks them with `_`
(gettext, translated now: where the message is about to be shown) or `lazy`
(translated when it is turned into text: messages built before anyone knows
whether they will be shown, such as a rule's violation while the finder
filters rooms).

Mail is written in its recipient's language, whoever's request or worker
sends it: `in_language(code)`.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Iterator

from babel import Locale
from babel.lists import format_list
from babel.support import NullTranslations
from flask import Flask, has_request_context, request
from flask.globals import _cv_app
from flask_babel import (Babel, LazyString, force_locale, get_locale, get_translations,
                         lazy_gettext, lazy_ngettext, refresh)
from flask_login import current_user

__all__ = ["LANGUAGES", "NAMES", "_", "lazy", "lazy_plural", "lazy_day", "field_name",
           "ngettext", "pgettext", "language", "locale", "and_list", "in_language", "refresh",
           "init_app"]

LANGUAGES = ("en", "de", "fr")
DEFAULT = "en"
# Each language's name in itself: what a person looks for in a list of languages.
NAMES = {"en": "English", "de": "Deutsch", "fr": "Français"}
# The Babel locale each language's dates, times and numbers are written in.
# English as the pages have always written it: day before month, a 24-hour
# clock (British English, like the rest of the text: "cancelled", "colour").
FORMATS = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR"}

lazy = lazy_gettext
lazy_plural = lazy_ngettext


# The fields people fill in on the pages, by their API names: an error on a German
# page says "Titel ist erforderlich", not "title". In English the name is the text
# (the API's English messages name the field as the API does). A message naming a
# field takes it as a placeholder, `field_name(field)`, never in its msgid.
FIELD_NAMES = {"title": lazy("title"), "name": lazy("name"), "timezone": lazy("timezone"),
               "date": lazy("date"), "start": lazy("start"), "end": lazy("end"),
               "start_time": lazy("start_time"), "end_time": lazy("end_time"),
               "capacity": lazy("capacity"), "floor": lazy("floor"),
               "building": lazy("building"), "opens": lazy("opens"), "closes": lazy("closes"),
               "email": lazy("email"), "attendees": lazy("attendees"), "notes": lazy("notes"),
               "invitees": lazy("invitees"), "min_minutes": lazy("min_minutes")}


def field_name(field: str) -> str:
    """How a message names `field` in the reader's language (its API name in English)."""
    return str(FIELD_NAMES.get(field, field))


def lazy_day(value: date) -> LazyString:
    """`value` as the pages write a day ("Fri 24 Dec 2027", "Fr., 24. Dez. 2027"), in
    the language of whoever reads it: a date in a lazy message."""
    def written() -> str:
        from booking.templating import day   # (templating imports this module)
        return day(value.isoformat())
    return LazyString(written)


# -- the catalogue of this request, found once -----------------------------------------
#
# Flask-Babel finds the catalogue again for every message: two lookups of its
# context, the locale's identifier built anew and a dict lookup, about 40 us.
# A page says 30 to 300 things, which made a third of the day page's Python.
# The catalogue depends only on the locale, so it is kept beside Flask-Babel's
# own locale for the request (its context, flask.g._flask_babel) with the
# locale object it is for: force_locale (mail in its recipient's language)
# and refresh() put another locale there, and the catalogue is found again.

def _babel_context():
    """Flask-Babel's context (flask.g._flask_babel), read from Flask's context
    variable: through the `g` proxy, two lookups cost more than the rest."""
    app_context = _cv_app.get(None)
    return None if app_context is None else app_context.g.__dict__.get("_flask_babel")


def translations() -> NullTranslations:
    """The gettext catalogue for this request's (or this mail's) language."""
    context = _babel_context()
    locale_now = getattr(context, "babel_locale", None)
    if locale_now is None:        # not chosen yet (or outside any context): Flask-Babel's way
        return get_translations()
    kept = getattr(context, "booking_translations", None)
    if kept is None or kept[0] is not locale_now:
        kept = context.booking_translations = (locale_now, get_translations())
    return kept[1]


def gettext(string: str, **variables) -> str:
    """Flask-Babel's gettext, with the catalogue found once per request."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def pgettext(context: str, string: str, **variables) -> str:
    text = translations().upgettext(context, string)
    return text % variables if variables else text


_ = gettext


def choose() -> str:
    """The language code for this request: the account's, else the browser's, else English.

    Outside a request (the command line, the worker between mails) English.
    Reading `current_user` loads the user only when the request has not yet
    (pages always have; an API error of a route that never signs in may not).
    """
    if not has_request_context():
        return DEFAULT
    chosen = getattr(current_user, "language", None)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


def _select_locale() -> str:
    return FORMATS[choose()]


def locale() -> Locale:
    """The Babel locale of this request (or of the mail being written)."""
    chosen = getattr(_babel_context(), "babel_locale", None)   # chosen already: no lookups
    return chosen or get_locale() or Locale.parse(FORMATS[DEFAULT])


def language() -> str:
    """"en", "de" or "fr": what <html lang> says."""
    return locale().language


def and_list(items: list[str]) -> str:
    """"screen, video and whiteboard", in this language (Babel's list patterns)."""
    return format_list(list(items), locale=locale())


@contextmanager
def in_language(code: str | None) -> Iterator[None]:
    """Translate and format in `code` (English when None or unknown) inside the block:
    mail goes out in its recipient's language, not the sender's."""
    with force_locale(FORMATS.get(code or DEFAULT, FORMATS[DEFAULT])):
        yield


def init_app(app: Flask) -> None:
    # Catalogues in booking/translations (relative to the app's root_path).
    Babel(app, locale_selector=_select_locale, default_locale=FORMATS[DEFAULT],
          default_translation_directories="translations")
    # The templates' _() and ngettext(), as Flask-Babel installs them, with the
    # catalogue found once per request (translations()).
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n))
