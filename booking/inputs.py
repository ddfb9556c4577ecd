"""Checking what clients send, field by field, with messages that name the field.

Every function raises `BookingError("invalid", ..., field=...)` (400) on bad
input, so a wrong type, an absurd number or text PostgreSQL cannot store is
answered clearly instead of failing deeper down.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Mapping

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from booking.errors import BookingError, invalid
from booking.i18n import _, field_name

MAX_ID = 2**31 - 1
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when it is missing, malformed or not an object."""
    if not request.is_json:
        raise BookingError("invalid", _("Send a JSON body with Content-Type: application/json."),
                           field="body")
    try:
        data = request.get_json(silent=True)   # None when malformed
    except RecursionError:   # "[[[[..." nested thousands deep: Python's parser gives up
        raise invalid("body", _("The JSON body is nested too deeply.")) from None
    if not isinstance(data, dict):
        _refuse_a_cut_body()
        raise invalid("body", _("The body must be a JSON object."))
    return data


def _refuse_a_cut_body() -> None:
    """413 for a body sent without Content-Length (chunked) that went past the limit:
    werkzeug stops reading at MAX_CONTENT_LENGTH without a word, so the JSON read
    was cut short, and "not a JSON object" would mislead."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and limit is not None \
            and len(request.get_data(cache=True)) >= limit \
            and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def only(data: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Refuse unknown fields, so a typo ("start" for "start_time") is not silently ignored."""
    unknown = sorted(k for k in data if k not in allowed)
    if unknown:
        raise invalid(unknown[0], _("Unknown field: %(field)s.", field=unknown[0]))


def _string(value: Any, field: str) -> str:
    """`value` if it is a str that can be written as UTF-8 (no lone surrogates).
    Missing (None) is said as missing."""
    if value is None:
        raise invalid(field, _("%(field)s is required.", field=field_name(field)))
    if not isinstance(value, str):
        raise invalid(field, _("%(field)s must be text.", field=field_name(field)))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(field, _("%(field)s is not valid Unicode text.", field=field_name(field))) from None
    return value


def _no_hidden(value: str, field: str) -> str:
    """`value` if it has no invisible or direction-changing character (hidden())
    (400 naming the first)."""
    found = hidden(value)
    if found is not None:
        raise invalid(field, _("%(field)s must not contain invisible or direction-changing "
                               "characters (%(character)s).", field=field_name(field),
                               character=f"U+{ord(found):04X}"))
    return value


def text(value: Any, field: str, *, low: int = 1, high: int = 200) -> str:
    """Text with runs of whitespace folded to one space, and no control, invisible or
    direction-changing characters (hidden()): every name and text people see
    (titles, room, building, area, group and token names, reasons...) is read
    here, and goes to other people's pages, mail and calendars."""
    value = " ".join(_string(value, field).split())
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise invalid(field, _("%(field)s must not contain control characters.", field=field_name(field)))
    _no_hidden(value, field)
    if len(value) < low:
        raise invalid(field, _("%(field)s is required.", field=field_name(field)) if low == 1
                      else _("%(field)s has at least %(low)d characters.", field=field_name(field), low=low))
    if len(value) > high:
        raise invalid(field, _("%(field)s has at most %(high)d characters.", field=field_name(field),
                               high=high))
    return value


# Characters that change how the text around them is shown without showing
# themselves: bidirectional controls (a title "\u202egnp.exe" reads "exe.png" in
# a calendar), zero-width and other invisible characters (two names that look
# alike, are not; text hidden inside text, as tag characters carry it). That is
# Unicode's format characters (Cf), private use (Co), and the rest of its
# Default_Ignorable_Code_Point property (DerivedCoreProperties.txt): the
# combining grapheme joiner, Hangul fillers, the Khmer inherent vowels,
# variation selectors, the musical and shorthand format controls, the tag block
# and the code points kept for more of them.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF))

# What ordinary text needs of them, and keeps:
# - the zero-width joiner and non-joiner (U+200D, U+200C): emoji sequences
#   (👩‍💻, families), Persian, Hindi and other scripts;
# - variation selectors (U+FE00-FE0F, U+E0100-E01EF, Mongolian's U+180B-180D and
#   U+180F): an emoji's look (❤️, keycaps), an ideograph's variant in a name;
# - the visible format characters that sit before digits in Arabic and Syriac
#   (Prepended_Concatenation_Mark: the number signs, the end of an ayah).
# A joiner or a selector stands beside a character it joins or varies, one at a
# time (a selector may be followed by a joiner, as in 🏳️‍🌈): a run of them shows
# nothing and could carry hidden text.
JOINERS = frozenset("\u200c\u200d")
SELECTORS = frozenset([*map(chr, range(0xFE00, 0xFE10)), *map(chr, range(0xE0100, 0xE01F0)),
                       "\u180b", "\u180c", "\u180d", "\u180f"])
VISIBLE_FORMAT = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891"
                           "\u08e2\U000110bd\U000110cd")

# The tag characters spell the flags of England, Scotland and Wales after a black
# flag (🏴 + "gbeng", "gbsct", "gbwls" in tags + the cancel tag), the only emoji
# that use them; anywhere else they are text no one sees.
_TAG_FLAGS = re.compile("\U0001f3f4(?:" + "|".join(
    "".join(chr(0xE0000 + ord(letter)) for letter in code)
    for code in ("gbeng", "gbsct", "gbwls")) + ")\U000e007f")


def _invisible(ch: str) -> bool:
    point = ord(ch)
    if ch in JOINERS or ch in SELECTORS or ch in VISIBLE_FORMAT:
        return False
    return (unicodedata.category(ch) in ("Cf", "Co")
            or any(low <= point <= high for low, high in DEFAULT_IGNORABLE))


def hidden(value: str) -> str | None:
    """The first invisible or direction-changing character in `value`, or None.

    Fast for the usual text: only characters past ASCII are looked at."""
    if value.isascii():
        return None
    value = _TAG_FLAGS.sub("\U0001f3f4", value)
    before = None           # the character before: a joiner or selector needs one
    for ch in value:
        if ch in JOINERS or ch in SELECTORS:
            if before is None or before in JOINERS or (
                    before in SELECTORS and ch not in JOINERS):
                return ch
        elif ord(ch) > 0x7F and _invisible(ch):
            return ch
        before = ch
    return None


def title(value: Any, field: str = "title", *, high: int = 200) -> str:
    """A booking's title: text() (which refuses what hidden() finds: a title goes to
    other people: day pages, mail, calendars)."""
    return text(value, field, high=high)


def notes(value: Any, field: str = "notes", *, high: int = 2000) -> str | None:
    """A booking's notes: text of several lines (line breaks kept, \r\n read as \n,
    other control characters and hidden() ones refused), at most `high`
    characters; empty or null is None (no notes)."""
    if value is None:
        return None
    value = _string(value, field).replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise invalid(field, _("%(field)s must not contain control characters.", field=field_name(field)))
    _no_hidden(value, field)
    if len(value) > high:
        raise invalid(field, _("%(field)s has at most %(high)d characters.", field=field_name(field),
                               high=high))
    return value or None


# An address as mail servers take it: one @ with something either side, no
# spaces, quotes, angle brackets or control characters (nothing that could
# leave a header), at most 254 characters. The same rule accounts are made by.
_EMAIL = re.compile(r"[^\s@\"<>(),;:\\\[\]]+@[^\s@\"<>(),;:\\\[\]]+\.[^\s@\"<>(),;:\\\[\]]+")


def email(value: Any, field: str) -> str:
    """One email address, trimmed; 400 naming `field` when it cannot be one."""
    if not isinstance(value, str):
        raise invalid(field, _("%(field)s must be email addresses (text).", field=field_name(field)))
    value = value.strip()
    if not 3 <= len(value) <= 254 or not _EMAIL.fullmatch(value) or not value.isprintable():
        raise invalid(field, _("%(value)s is not an email address.", value=repr(value[:60])))
    if not value.isascii():
        # Mail to it would need SMTPUTF8, which our outbox does not speak: refused
        # here rather than failing in the outbox later.
        raise invalid(field, _("%(value)s cannot be mailed: write it in ASCII (a domain with "
                               "other letters in its xn-- form).", value=repr(value[:60])))
    if value.rpartition("@")[2].lower().endswith(".invalid"):
        # A name reserved never to exist (RFC 2606): the door panels' accounts
        # (panel-<room>@panels.invalid) have one, and are no person to book for.
        raise invalid(field, _("%(value)s cannot be mailed: .invalid is no real domain.",
                               value=repr(value[:60])))
    return value


def emails(value: Any, field: str, *, most: int = 50) -> list[str]:
    """A list of email addresses (or "a@x, b@y" from a form), each once whatever its
    case, at most `most` of them."""
    if isinstance(value, str):
        value = [part for part in re.split(r"[,;\s]+", value) if part]
    if not isinstance(value, list):
        raise invalid(field, _("%(field)s is a list of email addresses.", field=field_name(field)))
    found: list[str] = []
    seen: set[str] = set()
    for item in value:
        address = email(item, field)
        if address.lower() not in seen:
            seen.add(address.lower())
            found.append(address)
    if len(found) > most:
        raise invalid(field, _("At most %(most)d addresses in %(field)s.", most=most, field=field_name(field)))
    return found


def integer(value: Any, field: str, *, low: int = 1, high: int = MAX_ID) -> int:
    """A whole number in [low, high]; digits in a string are accepted (forms send text)."""
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, _("%(field)s must be a whole number.", field=field_name(field)))
    if not low <= value <= high:
        raise invalid(field, _("%(field)s must be between %(low)d and %(high)d.", field=field_name(field),
                               low=low, high=high))
    return value


def id_list(value: Any, field: str = "ids", *, most: int = 100) -> list[int]:
    """"1,2,3" -> [1, 2, 3]; at most `most` ids, duplicates dropped."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, _("%(field)s must be a comma-separated list of ids.", field=field_name(field)))
    parts = [p for p in value.split(",") if p.strip()]
    if len(parts) > most:
        raise invalid(field, _("At most %(most)d ids at a time.", most=most))
    ids: list[int] = []
    for part in parts:
        number = integer(part, field)
        if number not in ids:
            ids.append(number)
    return ids


def boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no", ""):
        return False
    raise invalid(field, _("%(field)s must be true or false.", field=field_name(field)))


def equipment(value: Any) -> list[str]:
    """"screen, Video" or ["screen", "video"] -> ["screen", "video"]: lower-case, once each."""
    if isinstance(value, str):  # "screen, video" from a form
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("equipment", _("equipment is a list of words like screen, video."))
    tags = []
    for tag in value:
        tag = text(tag, "equipment", low=0, high=40).lower()
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > 30:
        raise invalid("equipment", _("A room has at most 30 equipment tags."))
    return tags


class Collect:
    """Check a form's fields one by one and report every field's error at once.

        check = Collect()
        title = check(text, form.get("title"), "title")
        room = check(integer, form.get("room_id"), "room_id")
        check.done()   # 400 naming the first field, every one in details.errors

    A page shows each message beside its field, so a person fixes them all in
    one go instead of meeting them one submit at a time.
    """

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def __call__(self, check, *args, **kwargs):
        """check(*args, **kwargs), or None when it refuses (the error is kept)."""
        try:
            return check(*args, **kwargs)
        except BookingError as err:
            if err.code != "invalid":
                raise
            # A check that collects its own (a policy inside a room) gives each of them.
            for each in err.details.get("errors") or [{"field": err.field,
                                                       "message": err.message}]:
                self.fail(each["field"] or "", each["message"])
            return None

    def fail(self, field: str, message: str) -> None:
        if not any(e["field"] == field for e in self.errors):
            self.errors.append({"field": field, "message": message})

    def done(self) -> None:
        if self.errors:
            first = self.errors[0]
            raise BookingError("invalid", first["message"], field=first["field"] or None,
                               details={"errors": self.errors})


PEOPLE_FIELDS = frozenset({"attendees", "invitees", "notes"})


def people(data: Mapping[str, Any], *, present_only: bool = False) -> dict[str, Any]:
    """The people around a booking in `data`: attendees (the party, 1 to 10000, or
    null), invitees (up to 50 addresses), notes (up to 2000 characters).

    For a create every one is there (absent: none); for an edit
    (`present_only`) only those sent, so what is not sent stays as it is, and
    null clears.
    """
    found: dict[str, Any] = {}
    if "attendees" in data or not present_only:
        value = data.get("attendees")
        found["attendees"] = (None if value in (None, "")
                              else integer(value, "attendees", low=1, high=10000))
    if "invitees" in data or not present_only:
        value = data.get("invitees")
        found["invitees"] = [] if value in (None, "") else emails(value, "invitees")
    if "notes" in data or not present_only:
        found["notes"] = notes(data.get("notes"))
    return found
