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
from typing import Iterator

from babel import Locale
from babel.lists import format_list
from flask import Flask, has_request_context, request
from flask_babel import (Babel, force_locale, get_locale, gettext, lazy_gettext, lazy_ngettext,
                         ngettext, pgettext, refresh)
from flask_login import current_user

__all__ = ["LANGUAGES", "NAMES", "_", "lazy", "lazy_plural", "ngettext", "pgettext",
           "language", "locale", "and_list", "in_language", "refresh", "init_app"]

LANGUAGES = ("en", "de", "fr")
DEFAULT = "en"
# Each language's name in itself: what a person looks for in a list of languages.
NAMES = {"en": "English", "de": "Deutsch", "fr": "Français"}
# The Babel locale each language's dates, times and numbers are written in.
# English as the pages have always written it: day before month, a 24-hour
# clock (British English, like the rest of the text: "cancelled", "colour").
FORMATS = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR"}

_ = gettext
lazy = lazy_gettext
lazy_plural = lazy_ngettext


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
    return get_locale() or Locale.parse(FORMATS[DEFAULT])


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
