"""Every string a person reads is in the German and French catalogues, translated.

- Babel extracts the marked strings (babel.cfg, the keywords of `make
  messages`) from the Python code and the templates, and every one must be
  in booking/translations/{de,fr}/LC_MESSAGES/messages.po with a translation
  (each plural form), not fuzzy, and with the same placeholders (Babel's own
  catalogue checks).
- Strings nobody marked cannot be extracted, so two more checks find them:
  text in a template outside `_()` (and the attributes people read:
  aria-label, placeholder, title, alt, data-confirm), and a message handed
  to BookingError, invalid(), flash() and the like as a plain or f-string in
  Python.

When one fails: mark the string (`_()` in Python and templates, `lazy()` for a
message made before anyone knows whether it is shown), run `make messages`,
translate the new or fuzzy entries in both .po files, `make translations`.
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment

from booking.config import PROJECT_ROOT

LANGUAGES = ("de", "fr")
TRANSLATIONS = PROJECT_ROOT / "booking" / "translations"
# Babel's default keywords and ours (booking/i18n.py), as `make messages` gives them.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "lazy": None, "lazy_plural": (1, 2)}


def extracted() -> dict[tuple[str, str | None], int]:
    """(msgid, context) -> number of forms (1, or 2 with a plural), from the sources."""
    with open(PROJECT_ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for _file, _line, message, _comments, context in extract_from_dir(
            str(PROJECT_ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        found[(msgid, context)] = len(message) if isinstance(message, tuple) else 1
    return found


@pytest.fixture(scope="module")
def sources():
    return extracted()


def catalogue(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def test_the_sources_have_strings_to_translate(sources):
    """The extraction itself works: a few hundred, and some we know are there."""
    assert len(sources) > 500
    assert ("Book a room", None) in sources                                  # a template
    assert ("That time has already passed.", None) in sources                # lazy() in Python
    assert ("%(weekday)s", "a weekday a rule repeats on") in sources        # pgettext
    assert sources[("%(num)d booking", None)] == 2                           # a plural


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_and_none_is_fuzzy(sources, language):
    catalog = catalogue(language)
    missing, untranslated, fuzzy = [], [], []
    for (msgid, context), forms in sorted(sources.items(), key=str):
        entry = catalog.get(msgid, context=context)
        if entry is None:
            missing.append(msgid)
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if forms == 2 and not isinstance(entry.string, tuple) or not all(strings):
            untranslated.append(msgid)
        if entry.fuzzy:
            fuzzy.append(msgid)
    assert not (missing or untranslated or fuzzy), (
        f"{language}: not in the catalogue: {missing}; not translated: {untranslated}; "
        f"fuzzy: {fuzzy}. Run `make messages`, translate in "
        f"booking/translations/{language}/LC_MESSAGES/messages.po, `make translations`.")


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders(language):
    """Babel's checks: the same %(name)s placeholders, every plural form present."""
    catalog = catalogue(language)
    assert not catalog.fuzzy, f"{language}: the catalogue's header is marked fuzzy"
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert not problems, problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_current_one(language):
    """The .mo the app reads is compiled from the .po as it stands (`make translations`)."""
    po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, \
        f"{mo} is missing or older than its .po: run `make translations`"


# -- strings nobody marked -----------------------------------------------------------------

# Words a template may show untranslated: the same in every language, or not words.
UNTRANSLATED_WORDS = {"API", "CSV", "UTC", "ms", "wide", "aria", "describedby", "invalid",
                      "true", "https", "example", "com", "hooks", "rooms"}
READ_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt", "data-confirm"}


class _Text(HTMLParser):
    """The words of a template's own text (its Jinja parts blanked out) and of the
    attributes people read; code and preformatted blocks are not prose."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self._code = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("code", "pre", "script", "style"):
            self._code += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.words += re.findall(r"[A-Za-z]{2,}", value)

    def handle_endtag(self, tag):
        if tag in ("code", "pre", "script", "style"):
            self._code = max(0, self._code - 1)

    def handle_data(self, data):
        if not self._code:
            self.words += re.findall(r"[A-Za-z]{2,}", data)


def template_words(source: str, plain_text: bool) -> list[str]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    # Jinja's parts become a marker (never a word), so only literal text is left.
    own = "".join(value if token == "data" else " \x00 " for _, token, value in env.lex(source))
    if plain_text:
        return re.findall(r"[A-Za-z]{2,}", own)
    parser = _Text()
    parser.feed(own)
    return parser.words


def test_templates_have_no_text_outside_gettext():
    found = {}
    for path in sorted((PROJECT_ROOT / "templates").rglob("*")):
        if path.suffix not in (".html", ".txt"):
            continue
        words = [w for w in template_words(path.read_text(), path.suffix == ".txt")
                 if w not in UNTRANSLATED_WORDS]
        if words:
            found[str(path.relative_to(PROJECT_ROOT))] = words
    assert not found, f"text not wrapped in _() (so never translated): {found}"


def test_the_template_check_catches_unmarked_text():
    assert template_words('<p>{{ _("Fine") }}</p><h1>Forgot me</h1>', False) == ["Forgot", "me"]
    assert template_words('<button data-confirm="Really?">{{ _("Go") }}</button>', False) == \
        ["Really"]
    assert template_words("{{ _('Hello') }}\nPlain words", True) == ["Plain", "words"]


# Calls whose message argument (by position) people read.
MESSAGE_ARGUMENT = {"BookingError": 1, "invalid": 1, "not_found": 0, "flash": 0,
                    "invalid_recurrence": 1, "Violation": 1, "fail": 1}


def _literal(node: ast.AST) -> bool:
    """A message written as text: a string, an f-string, or one glued from them."""
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant)
                                           and isinstance(node.value, str)):
        return True
    if isinstance(node, ast.BinOp):
        return _literal(node.left) or _literal(node.right)
    if isinstance(node, ast.IfExp):
        return _literal(node.body) or _literal(node.orelse)
    return False


def unmarked_messages(source: str, name: str = "<source>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called = node.func.id if isinstance(node.func, ast.Name) else \
            getattr(node.func, "attr", None)
        position = MESSAGE_ARGUMENT.get(called)
        if position is not None and len(node.args) > position and _literal(node.args[position]):
            found.append(f"{name}:{node.lineno}: {ast.unparse(node.args[position])[:70]}")
    return found


def test_python_messages_go_through_gettext():
    found = []
    for path in sorted((PROJECT_ROOT / "booking").rglob("*.py")):
        found += unmarked_messages(path.read_text(), str(path.relative_to(PROJECT_ROOT)))
    assert not found, f"messages people read, not wrapped in _() or lazy(): {found}"


def test_the_python_check_catches_unmarked_messages():
    assert unmarked_messages('raise invalid("title", "Say what it is for.")') != []
    assert unmarked_messages('raise invalid("title", f"{field} is required.")') != []
    assert unmarked_messages('flash("Saved." if ok else "Not saved.", "success")') != []
    assert unmarked_messages('raise invalid("title", _("Say what it is for."))') == []
    assert unmarked_messages('check.fail("title", lazy("Say it."))') == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_product_s_name_is_translated_where_a_message_begins_with_it(language):
    """Found by testing from outside: mail footers to invitees began "Rooms." in German
    and French, where every other mail says the product's name in the language."""
    messages = catalogue(language)
    name = messages["Rooms"].string
    for message in messages:
        if isinstance(message.id, str) and message.id.startswith("Rooms. "):
            assert message.string.startswith(f"{name}. "), (language, message.id)
