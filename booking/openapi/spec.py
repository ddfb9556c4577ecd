"""The OpenAPI 3.1 document of the JSON API, written by hand.

One place says what every `/api` route takes and gives: `PATHS` below, one
entry per path and method, in the order of the README's API table. Shared
shapes (a booking, a room, the error) are defined once in `SCHEMAS` and
referred to with `ref("Booking")`.

Adding a route: add its operation to `PATHS` (parameters, body, the success
response, and `errors(...)` with every error code it can answer). The test
tests/test_openapi.py fails, naming the rule and method, until you do; the
schemathesis run (tests/test_schemathesis.py) then checks that the answers
match what is written here.

Inputs are described as the code reads them (booking/inputs.py,
booking/times.py): ids may come as JSON numbers or as digit strings (forms
send text), flags as booleans or "true"/"false"/"on"/..., and times without
an offset are wall-clock times in the room's zone. Outputs are exact: every
object lists all its keys, and no other key may appear.
"""

from __future__ import annotations

import copy
from typing import Any

from booking.errors import STATUS
from booking.events.render import INTERNAL_KINDS, KINDS

RULE_CODES = ["too_short", "too_long", "outside_hours", "crosses_midnight", "in_past",
              "beyond_window", "room_inactive", "not_whole_minutes", "closed", "too_soon",
              "not_permitted", "quota_exceeded"]
# What the finder answers for an interval that every room's policy refuses alike
# (booking.rules.INTERVAL_RULES; whole minutes and the past before any SQL).
INTERVAL_CODES = ["not_whole_minutes", "too_short", "too_long", "in_past", "too_soon",
                  "beyond_window"]
BOOKING_STATUSES = ["confirmed", "pending", "rejected", "expired", "cancelled", "released"]
SOURCE = {"type": "object", "properties": {
    "level": {"type": "string", "enum": ["organisation", "area", "room"]},
    "id": {"type": ["integer", "null"]}, "name": {"type": ["string", "null"]}},
    "required": ["level", "id", "name"], "additionalProperties": False,
    "description": "Where a policy value comes from: the organisation's defaults (the "
                   "settings), an area, or the room itself."}
MAX_ID = 2**31 - 1
MAX_PATH_ID = 10**18 - 1  # <id:...> in booking/__init__.py: up to 18 digits


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], *, required: list[str] | None = None,
        description: str | None = None) -> dict[str, Any]:
    """A closed object; every property is required unless `required` says otherwise."""
    schema: dict[str, Any] = {
        "type": "object", "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def whole(low: int = 1, high: int = MAX_ID, description: str | None = None) -> dict[str, Any]:
    """A whole number as booking.inputs.integer() reads it: a JSON integer, or digits in a
    string (what a form sends). A value outside [low, high] is a 400."""
    return {"title": f"integer ({low}–{high})", "anyOf": [
        {"type": "integer", "minimum": low, "maximum": high},
        {"type": "string", "pattern": r"^\s*[+-]?[0-9]{1,12}\s*$"}],
        "description": ((description + " ") if description else "")
        + "Digits in a string are read as the number."}


# A flag as booking.inputs.boolean() reads it.
FLAG = {"title": "boolean",
        "description": "Also true/false, on/off, 1/0, yes/no as text; empty is false.",
        "anyOf": [{"type": "boolean"},
                  {"type": "string", "enum": ["true", "false", "on", "off", "1", "0", "yes",
                                              "no", ""]}]}

DATETIME_IN = {
    "title": "date-time (offset optional)",
    "type": "string",
    "pattern": r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:\d{2})?\s*$",
    "description": "RFC 3339 date-time. With an offset (Z or +01:00) it is an instant; "
                   "without one it is wall-clock time in the room's zone.",
    "examples": ["2027-03-02T10:00:00+01:00", "2027-03-02T10:00"]}
DATE_IN = {"title": "date", "type": "string", "pattern": r"^\s*\d{4}-\d{2}-\d{2}\s*$",
           "description": "A room-local day, YYYY-MM-DD.", "examples": ["2027-03-02"]}
# booking.inputs.id_list(): "1,2,3" (blanks and empty items are skipped).
ID_LIST = {"title": "ids", "type": "string",
           "pattern": r"^[\s,]*[+-]?[0-9]{1,12}\s*(,[\s,]*[+-]?[0-9]{1,12}\s*)*,*$"}
HM = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "examples": ["09:00"]}
DATETIME = {"type": "string", "format": "date-time",
            "description": "RFC 3339, rendered in the room's zone with its offset."}
TIMEZONE = {"type": "string", "minLength": 1, "maxLength": 64,
            "description": "An IANA time zone name.", "examples": ["Europe/Berlin"]}


def text(high: int, low: int = 1, description: str | None = None) -> dict[str, Any]:
    """Text as booking.inputs.text() reads it: whitespace runs fold to one space, control,
    invisible and direction-changing characters are refused, then the length must be
    in [low, high]."""
    schema: dict[str, Any] = {"type": "string", "minLength": low, "maxLength": high}
    schema["description"] = (description + " " if description else "") + (
        f"{low} to {high} characters after runs of whitespace are folded; "
        "no control, invisible or direction-changing characters.")
    return schema


# The JSON shape of a room (ROOM_FIELDS), extended by the overview and the finder.
ROOM = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "building": {"type": "string"},
    "floor": {"type": "integer"},
    "capacity": {"type": "integer"},
    "equipment": {"type": "array", "items": {"type": "string"}},
    "timezone": TIMEZONE,
    "opens": HM,
    "closes": HM,
    "active": {"type": "boolean"},
    "area_id": nullable({"type": "integer", "description": "The area it is in."}),
    "checkin_required": {"type": "boolean", "description":
        "Bookings here are released when nobody checks in by start + release_after_minutes."},
    "release_after_minutes": {"type": "integer", "minimum": 1, "maximum": 60},
}

# What a level's policy may set (booking/policy.py clean()).
_MINUTES = lambda low, high, text_: {"anyOf": [whole(low, high), {"type": "null"}],  # noqa: E731
                                     "description": text_}
POLICY_INPUT = {
    "min_minutes": _MINUTES(1, 1440, "Shortest booking."),
    "max_minutes": _MINUTES(1, 1440, "Longest booking."),
    "opening_hours": {"anyOf": [{"type": "object", "properties": {
        day: {"anyOf": [{"type": "array", "items": HM, "minItems": 2, "maxItems": 2},
                        {"type": "null"}]} for day in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                       "sun")},
        "additionalProperties": False}, {"type": "null"}],
        "description": "Per weekday [opens, closes] (room-local), null when closed; a day "
                       "left out is closed."},
    "closed_dates": {"anyOf": [{"type": "array", "items": {"type": "string"},
                                "maxItems": 400}, {"type": "string"}, {"type": "null"}],
                     "description": "Dates (2027-12-24) or yearly dates (12-25) it is closed, "
                                    "in the room's zone."},
    "max_days_ahead": _MINUTES(0, 3650, "How many days ahead a booking may start."),
    "min_notice_minutes": _MINUTES(0, 525600, "How long before its start a booking must be "
                                              "made."),
    "buffer_minutes": _MINUTES(0, 240, "Time kept free after each booking (set-up, "
                                       "clean-up); existing bookings keep theirs."),
    "quota": {"anyOf": [{"type": "object", "properties": {
        "bookings_per_day": whole(1, 1000), "bookings_per_week": whole(1, 1000),
        "hours_per_week": whole(1, 168)}, "additionalProperties": False, "minProperties": 1},
        {"type": "null"}],
        "description": "Per person, counting their bookings in every room of the level that "
                       "sets it."},
    "approval_required": {"anyOf": [FLAG, {"type": "null"}],
                          "description": "Bookings wait (pending) for an approver."},
    "bookers": {"anyOf": [{"type": "array", "items": whole(), "maxItems": 100},
                          {"type": "null"}],
                "description": "Group ids that may book; empty: everyone."},
    "approvers": {"anyOf": [{"type": "array", "items": whole(), "maxItems": 100},
                            {"type": "null"}],
                  "description": "Group ids that approve; empty: administrators."},
}

# The JSON shape of a series (series_json() in sql/schema.sql).
SERIES = {
    "id": {"type": "integer"},
    "room_id": {"type": "integer"},
    "user_id": {"type": "integer"},
    "title": {"type": "string"},
    "recurrence": {"type": "string", "description": "The RRULE, normalised."},
    "timezone": TIMEZONE,
    "first_start": DATETIME,
    "duration_minutes": {"type": "integer"},
    "materialized_until": DATETIME,
    "cancelled_at": nullable(DATETIME),
    "cancelled_from": nullable(DATETIME),
    "attendees": nullable({"type": "integer", "minimum": 1}),
    "invitees": {"type": "array", "items": {"type": "string"}},
    "notes": nullable({"type": "string"}),
    "created_by": {"type": "integer", "description": "Who made it: the owner, a delegate of "
                                                     "theirs or an admin."},
    "continued_by": nullable({"type": "integer", "description": "The series a \"this and "
                              "following\" change split this one into (it ends before it)."}),
    "status": {"type": "string", "enum": ["confirmed", "pending", "rejected", "expired",
                                          "cancelled"],
               "description": "pending while an approver decides (the series asks once "
                              "and is approved or rejected whole); cancelled once the whole "
                              "series is."},
}

# A booking's people, as create, edit and a series take them.
PEOPLE_INPUT = {
    "attendees": {"anyOf": [whole(1, 10000), {"type": "null"}],
                  "description": "The party size; more than the room seats is 422 "
                                 "`over_capacity`. The finder and conflict suggestions look "
                                 "for rooms that seat it."},
    "invitees": {"anyOf": [{"type": "array", "maxItems": 50,
                            "items": {"type": "string", "format": "email", "maxLength": 254}},
                           {"type": "null"}],
                 "description": "Up to 50 email addresses (staff or not): they get the "
                                "invitation, every change and the cancellation by mail; "
                                "staff see it in their bookings with role invitee."},
    "notes": {"anyOf": [{"type": "string", "maxLength": 2000}, {"type": "null"}],
              "description": "Shown on the booking page, in feeds and mail; line breaks "
                             "kept."},
}

UTC_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, in UTC."}
DELIVERY_STATUSES = ("failed", "pending", "sent")

# The JSON shape of a webhook endpoint (ENDPOINT_FIELDS in booking/events/webhooks.py).
ENDPOINT = {
    "id": {"type": "integer"},
    "url": {"type": "string"},
    "description": {"type": "string"},
    "events": {"type": "array", "items": {"type": "string", "enum": list(KINDS)}},
    "active": {"type": "boolean"},
    "secret_hint": {"type": "string", "description": "The secret's first characters."},
    "created_at": UTC_TIME,
    "created_by": {"type": "integer", "description": "The admin's user id."},
    "failing_since": nullable(UTC_TIME),
    "disabled_at": nullable(UTC_TIME),
    "disabled_reason": nullable({"type": "string"}),
}

# The figures of a utilisation row (booking/reports/service.py, _shape()).
UTILISATION = {
    "open_minutes": {"type": "number", "minimum": 0},
    "booked_minutes": {"type": "number", "minimum": 0},
    "utilisation": nullable({"type": "number", "minimum": 0,
                             "description": "booked / open; null without open minutes."}),
    "bookings": {"type": "integer", "minimum": 0},
    "bookers": {"type": "integer", "minimum": 0},
    "average_minutes": nullable({"type": "number"}),
    "cancelled": {"type": "integer", "minimum": 0},
    "cancellation_rate": nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "median_lead_minutes": nullable({"type": "number",
                                     "description": "From booking to start."}),
    "made_last_hour": {"type": "integer", "minimum": 0},
    "made_last_24h": {"type": "integer", "minimum": 0},
    "used_minutes": {"type": "number", "minimum": 0,
                     "description": "Booked minutes of bookings someone checked in to."},
    "released_minutes": {"type": "number", "minimum": 0,
                         "description": "Minutes releases gave back (no check-in)."},
    "ghost_minutes": {"type": "number", "minimum": 0,
                      "description": "Booked minutes never used: released, or over in a "
                                     "check-in room without a check-in (as booked)."},
}

SCHEMAS: dict[str, Any] = {
    "Error": obj({
        "error": obj({
            "code": {"type": "string", "enum": sorted(c for c in STATUS if c != "internal"),
                     "description": "Stable, machine-readable; the status follows from it."},
            "message": {"type": "string", "description": "For people; may change."},
            "details": {
                "type": "object",
                "description": "`field` names the input at fault. Rule breaks list every "
                               "`violations`; conflicts list `conflicts` and `suggestions`; "
                               "a series' rule breaks list `occurrences` (each rule each "
                               "occurrence breaks) and `count` (how many occurrences break "
                               "one).",
                "properties": {
                    "field": {"type": "string"},
                    "violations": {"type": "array", "items": ref("Violation")},
                    "conflicts": {"type": "array"},
                    "suggestions": {"type": "object"},
                    "occurrences": {"type": "array"},
                    "count": {"type": "integer"},
                    "part": {"type": "string"},
                    "room_id": {"type": "integer"},
                    "rooms": {"type": "array", "items": ref("FreeRoom")},
                    "capacity": {"type": "integer", "description": "over_capacity: what "
                                                                   "the room seats."},
                    "emails": {"type": "array", "items": {"type": "string"},
                               "description": "unknown_user: the addresses of no account."},
                    "errors": {"type": "array", "items": {"type": "object"},
                               "description": "Every malformed field at once, each "
                                              "`{field, message}` (pages' forms)."},
                    "source": {**SOURCE, "description": "A policy rule's refusal: the "
                               "level its value comes from."},
                    "quota": {"type": "string", "enum": ["bookings_per_day",
                                                         "bookings_per_week",
                                                         "hours_per_week"]},
                    "used": {"type": "number", "description": "quota_exceeded: what the "
                             "person holds already (bookings, or hours)."},
                    "limit": {"type": "integer", "description": "quota_exceeded: the most."},
                    "status": {"type": "string", "description": "not_pending: the "
                               "booking's status now."},
                    "groups": {"type": "array", "items": {"type": "integer"},
                               "description": "unknown_group: the ids no group has."},
                    "emails": {"type": "array", "items": {"type": "string"},
                               "description": "unknown_user: the emails no account has."},
                }},
        }),
    }, description="Every error has this shape (DESIGN.md, booking/errors.py)."),
    "Violation": obj({"code": {"type": "string",
                               "enum": RULE_CODES + ["nonexistent_time", "over_capacity"]},
                      "message": {"type": "string"}, "field": {"type": "string"},
                      "source": SOURCE}, required=["code", "message", "field"]),
    "Booking": obj({
        "id": {"type": "integer"},
        "room_id": {"type": "integer"},
        "room_name": {"type": "string"},
        "user_id": {"type": "integer"},
        "user_name": {"type": "string"},
        "title": {"type": "string"},
        "start_time": DATETIME,
        "end_time": DATETIME,
        "status": {"type": "string", "enum": BOOKING_STATUSES,
                   "description": "pending: waiting for approval, holding its time; "
                                  "rejected, expired: not approved (in time); released: "
                                  "cut short for want of a check-in."},
        "series_id": nullable({"type": "integer"}),
        "cancelled_at": nullable(DATETIME),
        "created_at": DATETIME,
        "attendees": nullable({"type": "integer", "minimum": 1}),
        "created_by": {"type": "integer", "description": "Who made it: the owner (`user_id`), "
                                                         "a delegate of theirs or an admin."},
        "role": {"type": "string", "enum": ["organiser", "invitee"],
                 "description": "In my bookings only: whether it is mine or I am invited."},
        "created_by_name": {"type": "string"},
        "invitees": {"type": "array", "items": {"type": "string"}},
        "notes": nullable({"type": "string"}),
        "updated_at": nullable({**DATETIME, "description": "When it was last changed."}),
        "original_start_time": nullable({**DATETIME, "description":
            "A series occurrence changed on its own: the start the series gave it (its "
            "RECURRENCE-ID); later changes to the series leave it alone."}),
        "checked_in_at": nullable({**DATETIME, "description": "When someone checked in."}),
        "released_at": nullable({**DATETIME, "description":
            "When it was released because nobody checked in (its end was cut to the "
            "release time)."}),
    }, required=["id", "room_id", "room_name", "user_id", "user_name", "title", "start_time",
                 "end_time", "series_id", "cancelled_at", "created_at", "attendees",
                 "created_by", "checked_in_at", "released_at"],
        description="A booking (booking_json() in lists; one booking, and what create and "
                    "edit answer, also has invitees, notes, created_by_name, updated_at and "
                    "original_start_time: booking_detail_json()); times in the room's zone."),
    "Room": obj(ROOM, description="A room (ROOM_FIELDS in booking/rooms/service.py); "
                                   "opening hours are room-local."),
    "PanelToken": obj({
        "id": {"type": "integer"}, "prefix": {"type": "string"}, "created_at": DATETIME,
        "revoked_at": nullable(DATETIME), "created_by_name": nullable({"type": "string"})},
        description="A door panel token (never the token itself, except once on creation)."),
    "PanelBooking": obj({
        "id": {"type": "integer"}, "title": nullable({"type": "string"}),
        "user_name": nullable({"type": "string"}), "start_time": DATETIME,
        "end_time": DATETIME, "checked_in_at": nullable(DATETIME),
        "may_check_in": {"type": "boolean"}, "under_way": {"type": "boolean"},
        "may_end": {"type": "boolean"},
        "may_extend": {"type": "boolean", "description": "Extending the current booking by "
                       "15 minutes would go through (the owner's quota aside); false for "
                       "the next ones."}},
        description="A booking as a door panel shows it."),
    "RoomNow": obj({
        **ROOM,
        "current_booking": nullable(ref("Booking")),
        "next_booking": nullable(ref("Booking")),
        "bookings_today": {"type": "integer", "minimum": 0},
    }, description="A room with what is on now, what is next today, and today's count."),
    "FreeRoom": obj({
        **ROOM,
        "score": {"type": "number", "minimum": 0},
        "bookings_that_day": {"type": "integer", "minimum": 0},
        "utilisation_this_week": {"type": "number", "minimum": 0, "maximum": 1,
                                  "description": "Booked over open minutes, Monday to "
                                                 "Sunday in the room's zone."},
        "start_time": DATETIME,
        "end_time": DATETIME,
    }, description="A room the finder offers: 50 points for the building, 30 for the floor, "
                   "up to 20 for fit, up to ASSIGN_BALANCE_WEIGHT (5) for being little used "
                   "this week; the interval in the room's zone."),
    "Interval": obj({"start_time": DATETIME, "end_time": DATETIME}),
    "BoardBooking": obj({
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "user_name": {"type": "string"},
        "start_time": DATETIME,
        "end_time": DATETIME,
        "status": {"type": "string", "enum": BOOKING_STATUSES,
                   "description": "pending: waiting for approval, holding its time (the "
                                  "board marks it so)."},
        "buffer_minutes": {"type": "integer", "minimum": 0,
                           "description": "Minutes the room stays held after it (set-up and "
                                          "clean-up): the room's buffer when it was booked, "
                                          "0 once released."},
    }, description="A booking as the planning board draws it; times in the room's zone."),
    "Day": obj({"date": {"type": "string", "format": "date"},
                "bookings": {"type": "array", "items": ref("Booking")}},
               description="One day of a week and its live bookings."),
    "Series": obj(SERIES, description="A recurring booking; its occurrences are bookings."),
    "SeriesNamed": obj({**SERIES, "room_name": {"type": "string"},
                        "user_name": {"type": "string"},
                        "last_start": nullable({**DATETIME, "description":
                            "The start of its last occurrence as the rule (COUNT or UNTIL) "
                            "and a \"this and following\" cancellation have it; null when it "
                            "repeats without end. Not `materialized_until`, which is how far "
                            "it is booked so far."})},
                       description="A series with its room's and owner's names, and where "
                                   "it ends."),
    "Skipped": obj({"start_time": DATETIME, "end_time": DATETIME,
                    "reason": {"type": "string"}},
                   description="An occurrence of a series that was not booked, and why."),
    "Suggestions": obj({
        "times": {"type": "array", "items": obj(
            {"start_time": DATETIME, "end_time": DATETIME, "room": ref("Room")})},
        "rooms": {"type": "array", "items": obj(
            {"room": ref("Room"), "missing": {"type": "string"}})},
    }, description="When no room fits: nearby free times (with the best room for each), and "
                   "rooms that lack exactly one piece of equipment."),
    "User": obj({"id": {"type": "integer"}, "email": {"type": "string"},
                 "name": {"type": "string"},
                 "role": {"type": "string", "enum": ["staff", "admin"]},
                 "mail_enabled": {"type": "boolean",
                                  "description": "Whether notification mail is sent."},
                 "theme": {"type": "string", "enum": ["auto", "light", "dark"],
                           "description": "The pages' colour theme; auto follows the "
                                          "browser's preference."},
                 "timezone": nullable({**TIMEZONE, "description": "The zone my bookings "
                                       "are grouped by day in; null: the zone most rooms "
                                       "are in."}),
                 "language": nullable({"type": "string", "enum": ["en", "de", "fr"],
                                       "description": "The language of my pages and mail; "
                                                      "null: the browser's "
                                                      "(Accept-Language), English for mail."}),
                 "home_building": nullable({"type": "string", "description":
                     "Where the finder and automatic assignment look first, offering rooms "
                     "in its time zone only unless asked: the one chosen, or else where "
                     "most of the latest 50 bookings are."}),
                 "home_building_source": nullable({"type": "string",
                                                   "enum": ["chosen", "most_booked"]}),
                 "delegates": {"type": "array", "items": {"type": "string"},
                               "description": "The addresses of whom I named delegate: they "
                                              "may book for me, and change and cancel my "
                                              "bookings."}}),
    "Person": obj({"id": {"type": "integer"}, "email": {"type": "string"},
                   "name": {"type": "string"},
                   "role": {"type": "string", "enum": ["staff", "admin"]},
                   "active": {"type": "boolean"},
                   "home_building": nullable({"type": "string"}),
                   "created_at": UTC_TIME,
                   "future_bookings": {"type": "integer", "minimum": 0,
                                       "description": "Live bookings from now on."},
                   "live_series": {"type": "integer", "minimum": 0}},
                  description="Someone with an account, as admins see them."),
    "Token": obj({
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "The first characters, to recognise it."},
        "created_at": DATETIME,
        "last_used_at": nullable(DATETIME),
        "revoked_at": nullable(DATETIME),
    }),
    "Cursor": nullable({"type": "string", "description": "Pass as `cursor` for the next page."}),
    "RoomInput": obj({
        "name": text(100),
        "building": text(100, low=0),
        "floor": whole(-50, 500),
        "capacity": whole(1, 10000),
        "equipment": {"anyOf": [
            {"type": "array", "items": {"type": "string"}, "maxItems": 200},
            {"type": "string", "description": "Comma-separated."}],
            "description": "Tags like screen, video (lower-cased, at most 30, each up to "
                           "40 characters)."},
        "timezone": TIMEZONE,
        "opens": {**HM, "pattern": r"^\s*([01]\d|2[0-3]):[0-5]\d\s*$"},
        "closes": {**HM, "pattern": r"^\s*([01]\d|2[0-3]):[0-5]\d\s*$"},
        "active": FLAG,
        "area_id": {"anyOf": [whole(), {"type": "null"}],
                    "description": "The area it is in; null: none."},
        "policy": {**ref("PolicyInput"), "description": "The room's own policy fields."},
        "checkin_required": FLAG,
        "release_after_minutes": whole(1, 60),
        "id": {"description": "Ignored (so a room read from the API can be sent back)."},
    }, required=[]),
    "PolicyInput": obj(POLICY_INPUT, required=[], description=(
        "The policy fields a level (an area, a room) sets; a field sent as null is unset "
        "there (inherited from the level above). Those not sent stay as they are.")),
    "EffectivePolicy": obj({name: obj({
        "value": {"description": "The effective value."}, "source": SOURCE,
        "text": {"type": "string", "description": "The value as the pages say it."}})
        for name in POLICY_INPUT}, description="Every field's effective value, from the "
        "nearest level that sets it (the room, its area, that area's parent, ..., the "
        "organisation's defaults), and that level."),
    "Area": obj({"id": {"type": "integer"}, "name": {"type": "string"},
                 "parent_id": nullable({"type": "integer"}),
                 "policy": {"type": "object", "description": "The fields it sets."}}),
    "AreaListed": obj({"id": {"type": "integer"}, "name": {"type": "string"},
                       "parent_id": nullable({"type": "integer"}),
                       "policy": {"type": "object", "description": "The fields it sets."},
                       "path": {"type": "array", "items": {"type": "string"},
                                "description": "Its name and its ancestors', outermost "
                                               "first."},
                       "depth": {"type": "integer", "minimum": 0},
                       "rooms": {"type": "integer", "minimum": 0,
                                 "description": "Rooms directly in it."}}),
    "Group": obj({"id": {"type": "integer"}, "name": {"type": "string"},
                  "members": {"type": "array", "items": obj({
                      "id": {"type": "integer"}, "email": {"type": "string"},
                      "name": {"type": "string"}})}}),
    "Request": obj({"booking": ref("Booking"), "series": nullable(ref("Series")),
                    "occurrences": {"type": "integer", "minimum": 1,
                                    "description": "Pending dates (a series is decided "
                                                   "whole)."},
                    "expires_at": DATETIME},
                   description="A booking (or a series, by its first pending date) waiting "
                               "for approval."),
    "Named": obj({"id": {"type": "integer"}, "name": nullable({"type": "string"})},
                 description="Someone or something by id, with its name (null when it no "
                             "longer exists)."),
    "AuditEntry": obj({
        "id": {"type": "integer"},
        "at": UTC_TIME,
        "action": {"type": "string", "description": "What was done: booking.create, "
                   "booking.cancel, room.update, sign_in.failure, ...",
                   "examples": ["booking.create"]},
        "actor": nullable(ref("Named")),
        "user": nullable(ref("Named")),
        "room": nullable(ref("Named")),
        "target": {"type": "string", "examples": ["booking 17"]},
        "before": nullable({"type": "object", "description": "The row before the change."}),
        "after": nullable({"type": "object", "description": "The row after the change."}),
    }, description="One change, written by a trigger in the changing transaction: who "
                   "(actor), whose (user), which room, and the row before and after."),
    "Event": obj({
        "id": {"type": "integer"},
        "type": {"type": "string", "enum": list(KINDS + INTERNAL_KINDS)},
        "at": UTC_TIME,
        "summary": {"type": "string", "description": "One line for people."},
        "user": nullable(ref("Named")),
        "actor": nullable(ref("Named")),
        "room_id": nullable({"type": "integer"}),
        "timezone": nullable({**TIMEZONE, "description": "The room's zone, for showing `at` "
                                                         "in it."}),
        "booking_id": nullable({"type": "integer"}),
        "series_id": nullable({"type": "integer"}),
        "data": {"type": "object", "description": "What webhooks receive as `data`: "
                 "`{booking}` or `{series}`, each with its `status` (`pending` until "
                 "approved) and `created_by` (cancellations add `cancelled_by`, `by_admin`; "
                 "a series' also `cancelled_from`, `whole`)."},
    }, description="Something that happened (the outbox), newest first; `user` is whose "
                   "booking it is, `actor` who did it."),
    "Delivery": obj({
        "id": {"type": "integer"},
        "channel": {"type": "string", "enum": ["mail", "webhook"]},
        "status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
        "attempts": {"type": "integer", "minimum": 0},
        "last_error": nullable({"type": "string"}),
        "next_attempt_at": UTC_TIME,
        "finished_at": nullable(UTC_TIME),
        "recipient": nullable({"type": "string", "description": "Mail: the address."}),
        "endpoint": nullable(obj({"id": {"type": "integer"}, "url": {"type": "string"}},
                                 description="Webhook: where.")),
        "event": ref("Event"),
    }, description="One event sent to one recipient: the owner's mail or a webhook endpoint."),
    "WebhookEndpoint": obj(ENDPOINT, description="A registered receiver of signed POSTs."),
    "WebhookEndpointListed": obj({
        **ENDPOINT,
        "last_attempt": nullable(obj({
            "at": UTC_TIME, "ok": {"type": "boolean"},
            "status_code": nullable({"type": "integer"}),
            "error": nullable({"type": "string"})})),
    }, description="An endpoint with its latest delivery attempt."),
    "WebhookAttempt": obj({
        "id": {"type": "integer"},
        "delivery_id": {"type": "integer"},
        "event_id": {"type": "integer"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "attempt": {"type": "integer"},
        "at": UTC_TIME,
        "status_code": nullable({"type": "integer", "description": "null: no answer."}),
        "latency_ms": {"type": "integer"},
        "ok": {"type": "boolean"},
        "response": {"type": "string", "description": "The answer's first 500 characters."},
        "error": nullable({"type": "string"}),
        "delivery_status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
    }, description="One POST to an endpoint and how it went."),
    "RoomUtilisation": obj({
        "room_id": {"type": "integer"}, "room_name": {"type": "string"},
        "building": {"type": "string"}, **UTILISATION},
        description="One room's figures."),
    "BuildingUtilisation": obj({"building": {"type": "string"}, **UTILISATION},
                               description="One building's figures."),
    "HourUtilisation": obj({
        "weekday": {"type": "integer", "minimum": 1, "maximum": 7,
                    "description": "ISO: 1 is Monday."},
        "hour": {"type": "integer", "minimum": 0, "maximum": 23},
        "open_minutes": {"type": "number", "minimum": 0},
        "booked_minutes": {"type": "number", "minimum": 0},
        "utilisation": nullable({"type": "number", "minimum": 0}),
        "bookings": {"type": "integer", "minimum": 0,
                     "description": "Bookings starting in this hour."},
    }, description="One room-local weekday and hour, over every room of the report."),
}

# -- parameters ----------------------------------------------------------------------------


def path_id(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": f"The {what}'s id.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PATH_ID},
            "example": 1}


def query(name: str, schema: dict[str, Any], description: str, *,
          required: bool = False, example: Any = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required,
                             "description": description, "schema": schema}
    if example is not None:
        param["example"] = example
    return param


def or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter that, sent empty (`?date=`), counts as not sent."""
    title = schema.get("title") or schema.get("type", "value")
    return {"title": f"{title}, or empty", "anyOf": [schema, {"type": "string", "maxLength": 0}]}


def query_int(low: int, high: int) -> dict[str, Any]:
    return or_empty({"title": f"integer ({low}–{high})", "type": "integer", "minimum": low,
                     "maximum": high})

CURSOR = query("cursor", {"type": "string"}, "The `next_cursor` of the previous page.")

# booking/idempotency.py: a retried booking books once.
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Any 1 to 255 printable ASCII characters (a UUID, say). A repeat of the "
                   "same request by the same user within 24 hours books nothing and gets the "
                   "first answer again, with `Idempotent-Replayed: true`; the same key with a "
                   "different request is a 422 `idempotency_mismatch`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "example": "5f0c7d9e-2b1a-4c1e-9d53-1b2f8a6e4c10"}
REPLAYED = {"Idempotent-Replayed": {
    "schema": {"type": "string", "enum": ["true"]},
    "description": "Present when this is the kept answer to an earlier request with the "
                   "same Idempotency-Key."}}

# -- responses -----------------------------------------------------------------------------

ERROR_TEXT = {
    400: "Malformed input; `details.field` names the field.",
    401: "Not signed in: send `Authorization: Bearer <token>`.",
    403: "Signed in, but not allowed.",
    404: "No such thing.",
    409: "Taken; `details` lists what is in the way and suggestions.",
    412: "If-Match no longer matches: the thing changed since it was read.",
    413: "The body is over 64 KB.",
    422: "A booking rule is broken; `details.violations` (for a series: "
         "`details.occurrences`) lists every broken rule.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "The database is busy or unreachable; retry after `Retry-After` seconds.",
}


def errors(*extra: str, unprocessable: tuple[str, ...] = ()) -> dict[str, Any]:
    """The error responses of an operation that needs a signed-in caller: 400, 401, 403
    (a door panel's token anywhere but its panel's routes) and 503 always, plus
    the codes in `extra` grouped by their status. `unprocessable`: codes also
    answered with 422 (`invalid` for a recurrence that yields no occurrence)."""
    codes = dict.fromkeys(["invalid", "unauthorized", "forbidden", "unavailable", *extra])
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS[code], []).append(code)
    for code in unprocessable:
        by_status.setdefault(422, []).append(code)
    responses = {}
    for status, group in sorted(by_status.items()):
        schema: dict[str, Any] = {"allOf": [ref("Error"), {"properties": {"error": {
            "properties": {"code": {"enum": group}}}}}]}
        response: dict[str, Any] = {
            "description": ERROR_TEXT[status] + " Codes: "
            + ", ".join(f"`{code}`" for code in group) + ".",
            "content": {"application/json": {"schema": schema}}}
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"schema": {"type": "string"},
                                                   "description": "Seconds to wait."}}
        responses[str(status)] = response
    return responses


def ok(schema: dict[str, Any], description: str = "OK", status: int = 200,
       location: str | None = None, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": schema}}}
    if location:
        response["headers"] = {"Location": {"schema": {"type": "string"},
                                            "description": location}}
    if headers:
        response["headers"] = {**response.get("headers", {}), **headers}
    return {str(status): response}


def json_body(schema: dict[str, Any], example: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {"application/json": content}}


def op(tag: str, summary: str, responses: dict[str, Any], *, description: str = "",
       parameters: list | None = None, body: dict | None = None, public: bool = False,
       operation_id: str) -> dict[str, Any]:
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "operationId": operation_id}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    operation["responses"] = responses
    if public:
        operation["security"] = []
    return operation


# -- bodies ----------------------------------------------------------------------------------

BOOKING_INPUT = obj({
    "room_id": whole(),
    "title": text(200),
    "start_time": DATETIME_IN,
    "end_time": DATETIME_IN,
    "recurrence": {"anyOf": [{"type": "string"}, {"type": "null"}],
                   "description": "An RRULE (RFC 5545): FREQ DAILY/WEEKLY/MONTHLY/YEARLY, "
                                  "INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, "
                                  "WKST. Books a series; empty or null books one booking.",
                   "examples": ["FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270331"]},
    "skip_conflicts": {**FLAG, "description": "With recurrence: book the free occurrences "
                                              "and report the taken ones as skipped (and "
                                              "those refused only for their day); with none "
                                              "left to book, the 409 or 422 without it."},
    "booked_for": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}],
                   "description": "The email of the staff member the booking is for (its "
                                  "owner; the caller is `created_by`): admins, and delegates "
                                  "that person named. Anyone else: 403."},
    **PEOPLE_INPUT,
}, required=["room_id", "title", "start_time", "end_time"])

EDIT_INPUT = obj({
    "room_id": whole(),
    "title": text(200),
    "start_time": DATETIME_IN,
    "end_time": DATETIME_IN,
    **PEOPLE_INPUT,
}, required=[])

SERIES_EDIT_INPUT = obj({
    "room_id": whole(),
    "title": text(200),
    "start_time": {**DATETIME_IN, "description": "The new start of the first occurrence "
                                                "changed (the one `from` names)."},
    "end_time": DATETIME_IN,
    "recurrence": {"anyOf": [{"type": "string"}, {"type": "null"}],
                   "description": "The new rule from there on; the old one (with what is "
                                  "left of its COUNT) by default."},
    "skip_conflicts": FLAG,
    **PEOPLE_INPUT,
}, required=[])

NEED_FIELDS = {
    "equipment": {"anyOf": [{"type": "array", "items": {"type": "string"}},
                            {"type": "string", "description": "Comma-separated."},
                            {"type": "null"}],
                  "description": "Every tag must be in the room's equipment."},
    "building": {"anyOf": [text(100, low=0), {"type": "null"}],
                 "description": "Preferred building; without it, the caller's home "
                                "building. Rooms in other time zones than its are not offered "
                                "unless `any_timezone`."},
    "any_timezone": {**FLAG, "description": "Offer rooms in every time zone, not only the "
                                            "preferred building's (false by default)."},
    "floor": {"anyOf": [whole(-50, 500), {"type": "null"}, {"const": ""}],
              "description": "Preferred floor."},
    "timezone": {"anyOf": [TIMEZONE, {"type": "null"}, {"const": ""}],
                 "description": "The zone to read times without offset in; required when "
                                "a time has no offset."},
}

AUTO_INPUT = obj({
    "title": text(200),
    "start_time": DATETIME_IN,
    "end_time": DATETIME_IN,
    "attendees": whole(1, 10000),
    **NEED_FIELDS,
}, required=["title", "start_time", "end_time", "attendees"])

CHECKS_INPUT = obj({"checks": {"type": "array", "maxItems": 500, "items": obj({
    "room_id": whole(), "start_time": DATETIME_IN, "end_time": DATETIME_IN})}})

_KIND = "(?:" + "|".join(k.replace(".", r"\.") for k in KINDS) + ")"
WEBHOOK_URL = {**text(2000, low=8), "format": "uri",
               "description": "http:// or https://, naming a host with a public address; "
                              "8 to 2,000 characters.",
               "examples": ["https://hooks.example.com/booking"]}
WEBHOOK_EVENTS = {"anyOf": [
    {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(KINDS)}},
    {"type": "string", "description": "Comma-separated.",
     "pattern": rf"^(\s*,)*\s*{_KIND}\s*(,\s*({_KIND}\s*)?)*$"},
    {"type": "null"}],
    "description": "The event types to receive; every type when left out or null."}
WEBHOOK_DESCRIPTION = {"anyOf": [text(200, low=0), {"type": "null"}],
                       "description": "For people; empty by default."}

REPORT = {"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
          "days": {"type": "integer", "minimum": 1, "maximum": 366},
          "building": nullable({"type": "string"})}
# A report's total: the figures over all its rows (room and building are null there).
ROOM_TOTAL = obj({"room_id": {"type": "null"}, "room_name": {"type": "null"},
                  "building": {"type": "null"}, **UTILISATION})
BUILDING_TOTAL = obj({"building": {"type": "null"}, **UTILISATION})

# -- the routes ------------------------------------------------------------------------------

BOOKING = {"type": "object", "properties": {"booking": ref("Booking")},
           "required": ["booking"], "additionalProperties": False}
SERIES_MADE = obj({"series": ref("Series"), "bookings": {"type": "array", "items": ref("Booking")},
                   "skipped": {"type": "array", "items": ref("Skipped")}})

PATHS: dict[str, dict[str, Any]] = {
    "/api/rooms": {
        "get": op("Rooms", "Every room with what is on now and next",
                  {**ok(obj({"rooms": {"type": "array", "items": ref("RoomNow")}})), **errors()},
                  parameters=[query("include_inactive", FLAG, "Also list inactive rooms.")],
                  operation_id="listRooms"),
        "post": op("Rooms", "Create a room (admin)",
                   {**ok(obj({"room": ref("Room")}), "Created", 201, "The new room."),
                    **errors("forbidden", "conflict", "payload_too_large", "unknown_area",
                             "unknown_group")},
                   body=json_body({**ref("RoomInput"), "required": ["name", "capacity",
                                                                    "timezone"]},
                                  {"name": "Spree", "capacity": 6,
                                   "timezone": "Europe/Berlin", "equipment": ["screen"]}),
                   description="`name`, `capacity` and `timezone` are required; building "
                               "(\"\"), floor (0), equipment ([]), opens and closes (the "
                               "configured defaults) and active (true) default.",
                   operation_id="createRoom"),
    },
    "/api/rooms/{room_id}": {
        "get": op("Rooms", "One room", {**ok(obj({"room": ref("Room")})),
                                         **errors("not_found")},
                  parameters=[path_id("room_id", "room")], operation_id="getRoom"),
        "patch": op("Rooms", "Change a room (admin)",
                    {**ok(obj({"room": ref("Room"),
                               "bookings_outside_hours": {
                                   "type": "integer", "minimum": 0,
                                   "description": "Live bookings from now on that the room's "
                                                  "hours no longer cover: they stay booked."}})),
                     **errors("forbidden", "not_found", "conflict", "payload_too_large",
                              "unknown_area", "unknown_group")},
                    parameters=[path_id("room_id", "room")],
                    body=json_body({**ref("RoomInput"), "minProperties": 1},
                                   {"capacity": 8, "area_id": 1,
                                    "policy": {"buffer_minutes": 15, "max_minutes": None}}),
                    description="Only the fields sent change. Shortening the hours cancels "
                                "nothing: `bookings_outside_hours` says how many bookings from "
                                "now on lie outside them. `area_id` puts the room in an area; "
                                "`policy` sets (or, with null, unsets) the room's own policy "
                                "fields.", operation_id="updateRoom"),
    },
    "/api/rooms/{room_id}/policy": {
        "get": op("Rules", "A room's effective policy, each value with where it comes from",
                  {**ok(obj({"room_id": {"type": "integer"},
                             "area_id": nullable({"type": "integer"}),
                             "areas": {"type": "array", "items": {"type": "integer"},
                                       "description": "Its areas, nearest first."},
                             "own": {"type": "object", "description": "The fields the room "
                                     "itself sets."},
                             "policy": ref("EffectivePolicy")})), **errors("not_found")},
                  parameters=[path_id("room_id", "room")], operation_id="roomPolicy"),
    },
    "/api/areas": {
        "get": op("Rules", "Every area, parents before children (admin)",
                  {**ok(obj({"areas": {"type": "array", "items": ref("AreaListed")}})),
                   **errors("forbidden")}, operation_id="listAreas"),
        "post": op("Rules", "Make an area (admin)",
                   {**ok(obj({"area": ref("Area")}), "Created.", 201, "The area."),
                    **errors("forbidden", "conflict", "payload_too_large", "unknown_area",
                             "unknown_group", "area_cycle")},
                   body=json_body(obj({"name": text(100),
                                       "parent_id": {"anyOf": [whole(), {"type": "null"}]},
                                       "policy": ref("PolicyInput")}, required=["name"]),
                                  {"name": "Building B", "parent_id": None,
                                   "policy": {"max_minutes": 240, "buffer_minutes": 15}}),
                   operation_id="createArea"),
    },
    "/api/areas/{area_id}": {
        "get": op("Rules", "An area, its effective policy and its rooms (admin)",
                  {**ok(obj({"area": ref("Area"), "effective": ref("EffectivePolicy"),
                             "rooms": {"type": "array", "items": ref("Room")}})),
                   **errors("forbidden", "not_found")},
                  parameters=[path_id("area_id", "area")], operation_id="getArea"),
        "patch": op("Rules", "Change an area's name, parent or policy (admin)",
                    {**ok(obj({"area": ref("Area"), "effective": ref("EffectivePolicy"),
                               "rooms": {"type": "array", "items": ref("Room")}})),
                     **errors("forbidden", "not_found", "conflict", "payload_too_large",
                              "unknown_area", "unknown_group", "area_cycle")},
                    parameters=[path_id("area_id", "area")],
                    body=json_body(obj({"name": text(100),
                                        "parent_id": {"anyOf": [whole(), {"type": "null"}]},
                                        "policy": ref("PolicyInput")}, required=[])
                                   | {"minProperties": 1},
                                   {"policy": {"approval_required": True, "quota": None}}),
                    description="Only the fields sent change; a policy field sent as null is "
                                "inherited again. An area cannot be put inside itself or an "
                                "area within it (422 `area_cycle`).",
                    operation_id="updateArea"),
    },
    "/api/groups": {
        "get": op("Rules", "Every group and its members (admin)",
                  {**ok(obj({"groups": {"type": "array", "items": ref("Group")}})),
                   **errors("forbidden")}, operation_id="listGroups"),
        "post": op("Rules", "Make a group (admin)",
                   {**ok(obj({"group": ref("Group")}), "Created.", 201, "The group."),
                    **errors("forbidden", "conflict", "payload_too_large", "unknown_user")},
                   body=json_body(obj({"name": text(100),
                                       "members": {"anyOf": [
                                           {"type": "array", "items": {"type": "string"},
                                            "maxItems": 1000},
                                           {"type": "string"}, {"type": "null"}],
                                           "description": "Email addresses of accounts."}},
                                      required=["name"]),
                                  {"name": "Lab", "members": ["alice@example.com"]}),
                   operation_id="createGroup"),
    },
    "/api/groups/{group_id}": {
        "get": op("Rules", "A group and its members (admin)",
                  {**ok(obj({"group": ref("Group")})), **errors("forbidden", "not_found")},
                  parameters=[path_id("group_id", "group")], operation_id="getGroup"),
        "patch": op("Rules", "Rename a group or replace its members (admin)",
                    {**ok(obj({"group": ref("Group")})),
                     **errors("forbidden", "not_found", "conflict", "payload_too_large",
                              "unknown_user")},
                    parameters=[path_id("group_id", "group")],
                    body=json_body(obj({"name": text(100),
                                        "members": {"anyOf": [
                                            {"type": "array", "items": {"type": "string"},
                                             "maxItems": 1000},
                                            {"type": "string"}, {"type": "null"}]}},
                                       required=[]) | {"minProperties": 1},
                                   {"members": ["alice@example.com", "bob@example.com"]}),
                    description="`members` replaces the whole list.",
                    operation_id="updateGroup"),
    },
    "/api/approvals": {
        "get": op("Bookings", "Requests waiting for my decision, oldest first",
                  {**ok(obj({"requests": {"type": "array", "items": ref("Request")},
                             "next_cursor": ref("Cursor")})), **errors()},
                  parameters=[query("limit", query_int(1, 200), "Page size, 50 by default."),
                              CURSOR],
                  description="Administrators see every request; others those of rooms "
                              "whose policy names one of their groups as approvers.",
                  operation_id="listApprovals"),
    },
    "/api/bookings/{booking_id}/approve": {
        "post": op("Bookings", "Approve a request (a series' date: the whole series)",
                   {**ok(BOOKING, "Approved: confirmed."),
                    **errors("forbidden", "not_found", "not_pending", "payload_too_large")},
                   parameters=[path_id("booking_id", "booking")],
                   body={"required": False, "content": {"application/json": {
                       "schema": obj({"reason": {"anyOf": [text(500, low=0),
                                                           {"type": "null"}]}},
                                     required=[])}}},
                   description="403 for anyone not an approver of the room; 409 "
                               "`not_pending` for a booking not waiting for a decision.",
                   operation_id="approveBooking"),
    },
    "/api/bookings/{booking_id}/reject": {
        "post": op("Bookings", "Reject a request (a series' date: the whole series)",
                   {**ok(BOOKING, "Rejected: its time is free again."),
                    **errors("forbidden", "not_found", "not_pending", "payload_too_large")},
                   parameters=[path_id("booking_id", "booking")],
                   body={"required": False, "content": {"application/json": {
                       "schema": obj({"reason": {"anyOf": [text(500, low=0),
                                                           {"type": "null"}]}},
                                     required=[])}}},
                   description="The reason (optional) is mailed to the requester.",
                   operation_id="rejectBooking"),
    },
    "/api/rooms/{room_id}/bookings": {
        "get": op("Rooms", "A room's live bookings on one day",
                  {**ok(obj({"room": ref("Room"), "date": {"type": "string", "format": "date"},
                             "bookings": {"type": "array", "items": ref("Booking")}})),
                   **errors("not_found")},
                  parameters=[path_id("room_id", "room"),
                              query("date", or_empty(DATE_IN),
                                    "The room-local day; today by default.",
                                    example="2027-03-02")],
                  operation_id="roomDay"),
    },
    "/api/board": {
        "get": op("Rooms", "The planning board: every active room's bookings on one day",
                  {**ok(obj({"date": {"type": "string", "format": "date"},
                             "rooms": {"type": "array", "items": obj({
                                 "room": ref("Room"),
                                 "bookings": {"type": "array",
                                              "items": ref("BoardBooking")}})}}),
                        "The rooms grouped by time zone (the zone with most rooms first), "
                        "then building, floor and name."),
                   **errors()},
                  parameters=[
                      query("date", or_empty(DATE_IN), "The day, in each room's own zone; "
                            "today in the zone most rooms are in by default.",
                            example="2027-03-02"),
                      query("building", {"type": "string", "maxLength": 100},
                            "Only this building's rooms (any case); all when empty."),
                      query("floor", query_int(-50, 500), "Only this floor's rooms; all when "
                            "empty."),
                      query("area", query_int(1, MAX_ID), "Only the rooms of this area and "
                            "the areas in it; all when empty.")],
                  description="One SQL statement; a building (or area) no room is in gives "
                              "no rooms.",
                  operation_id="board"),
    },
    "/api/rooms/{room_id}/panel": {
        "get": op("Rooms", "A room's door panel: its state, now and next, Book now",
                  {**ok(obj({
                      "room": ref("Room"),
                      "status": {"type": "string", "enum": ["free", "awaiting", "in_use"],
                                 "description": "free; booked and awaiting check-in; in use."},
                      "today": {"type": "string", "format": "date"},
                      "current": nullable(ref("PanelBooking")),
                      "next": {"type": "array", "items": ref("PanelBooking"), "maxItems": 3},
                      "book_now": {"type": "array", "items": obj({
                          "minutes": {"type": "integer", "enum": [15, 30, 60]},
                          "start_time": DATETIME, "end_time": DATETIME})},
                      "book_now_reason": {
                          "type": ["string", "null"],
                          "description": "While the room is free and Book now offers "
                                         "nothing: why (the rule a walk-in breaks, the "
                                         "next booking too close, approval needed)."}}),
                        "With an ETag: the panel polls with If-None-Match every 15 s."),
                   **errors("forbidden", "not_found")},
                  parameters=[path_id("room_id", "room")],
                  description="Signed in, or a panel token of this room (403 for any other "
                              "room or route). Titles and names are null when "
                              "PANEL_SHOW_TITLES is false.",
                  operation_id="roomPanel"),
    },
    "/api/rooms/{room_id}/panels": {
        "get": op("Rooms", "A room's door panel tokens (admin)",
                  {**ok(obj({"panels": {"type": "array", "items": ref("PanelToken")}})),
                   **errors("forbidden", "not_found")},
                  parameters=[path_id("room_id", "room")], operation_id="listPanelTokens"),
        "post": op("Rooms", "Make a door panel token for a room (admin)",
                   {**ok(obj({"panel": ref("PanelToken"),
                              "token": {"type": "string", "description":
                                        "The token, shown only now: open "
                                        "/rooms/{id}/panel?key=<token> on the tablet."}}),
                         "Made.", status=201),
                    **errors("forbidden", "not_found")},
                   parameters=[path_id("room_id", "room")], operation_id="createPanelToken"),
    },
    "/api/rooms/{room_id}/panels/{panel_id}": {
        "delete": op("Rooms", "Revoke a door panel token (admin)",
                     {**ok(obj({"revoked": {"type": "integer"}}), "Revoked: the tablet is "
                                                                   "signed out at once."),
                      **errors("forbidden", "not_found")},
                     parameters=[path_id("room_id", "room"), path_id("panel_id", "panel token")],
                     operation_id="revokePanelToken"),
    },
    "/api/rooms/{room_id}/week": {
        "get": op("Rooms", "A room's live bookings on each day of one week",
                  {**ok(obj({"room": ref("Room"),
                             "days": {"type": "array", "items": ref("Day"),
                                      "minItems": 7, "maxItems": 7}}),
                        "Monday to Sunday in the room's zone."),
                   **errors("not_found")},
                  parameters=[path_id("room_id", "room"),
                              query("start", or_empty(DATE_IN),
                                    "Any room-local day of the week; this week by default.",
                                    example="2027-03-01")],
                  operation_id="roomWeek"),
    },
    "/api/rooms/{room_id}/availability": {
        "get": op("Rooms", "A room's free intervals inside opening hours",
                  {**ok(obj({"room_id": {"type": "integer"}, "room": ref("Room"),
                             "start_time": DATETIME, "end_time": DATETIME,
                             "free": {"type": "array", "items": ref("Interval")}})),
                   **errors("not_found")},
                  parameters=[
                      path_id("room_id", "room"),
                      query("start", or_empty({"anyOf": [DATE_IN, DATETIME_IN]}),
                            "A room-local date (from its midnight) or an RFC 3339 time; "
                            "today by default.", example="2027-03-01"),
                      query("end", or_empty({"anyOf": [DATE_IN, DATETIME_IN]}),
                            "A room-local date (exclusive) or an RFC 3339 time; the end of "
                            "start's day by default. At most 31 days after start.",
                            example="2027-03-08"),
                      query("min_minutes", query_int(1, 1440),
                            "Leave out free stretches shorter than this (default: the "
                            "shortest booking).")],
                  operation_id="roomAvailability"),
    },
    "/api/bookings": {
        "post": op("Bookings", "Book a room, once or recurring",
                   {**ok({"oneOf": [BOOKING, SERIES_MADE]}, "Created: `{booking}`, or with "
                         "recurrence `{series, bookings, skipped}`.", 201,
                         "The booking, or the series.", REPLAYED),
                    **errors("forbidden", "not_found", "conflict", "payload_too_large",
                             *RULE_CODES, "nonexistent_time", "invalid_recurrence",
                             "idempotency_mismatch", "over_capacity", "unknown_user",
                             unprocessable=("invalid",))},
                   # (not_permitted is a 403; quota_exceeded a 422 with quota, used, limit)
                   parameters=[IDEMPOTENCY_KEY],
                   body=json_body(BOOKING_INPUT, {
                       "room_id": 1, "title": "Planning", "start_time": "2027-03-02T10:00",
                       "end_time": "2027-03-02T11:00"}),
                   description="Every booking rule is checked (422, each with its code); a "
                               "taken slot is a 409 `conflict` listing the bookings in the way "
                               "and suggestions (same room later, other rooms now). With "
                               "`recurrence` every occurrence obeys the rules; a taken "
                               "occurrence refuses the whole series unless `skip_conflicts`.",
                   operation_id="createBooking"),
        "get": op("Bookings", "Several bookings by id",
                  {**ok(obj({"bookings": {"type": "array", "items": ref("Booking")},
                             "missing": {"type": "array", "items": {"type": "integer"}}})),
                   **errors()},
                  parameters=[query("ids", ID_LIST, "Comma-separated ids, at most 100.",
                                    required=True,
                                    example="1,2,3")],
                  operation_id="getBookings"),
    },
    "/api/bookings/mine": {
        "get": op("Bookings", "My live bookings, keyset-paginated, or one week of them",
                  {**ok({"oneOf": [
                      obj({"bookings": {"type": "array", "items": ref("Booking")},
                           "next_cursor": ref("Cursor")}),
                      obj({"view": {"const": "week"}, "timezone": TIMEZONE,
                           "start": {"type": "string", "format": "date"},
                           "days": {"type": "array", "items": ref("Day"),
                                    "minItems": 7, "maxItems": 7}})]},
                        "A page of bookings; with `view=week` the week's days (Monday "
                        "first) in my zone (`timezone`)."), **errors()},
                  parameters=[
                      query("when", {"type": "string", "enum": ["upcoming", "past", ""]},
                            "upcoming (soonest first, the default) or past (latest first)."),
                      query("limit", query_int(1, 100),
                            "Page size, 20 by default."),
                      CURSOR,
                      query("view", {"type": "string", "enum": ["list", "week", ""]},
                            "week: the bookings starting in one week, by day, in my zone "
                            "(`PATCH /api/me {timezone}`; else the zone most rooms are in)."),
                      query("start", or_empty(DATE_IN), "With view=week: any day of the "
                            "week; this week by default.")],
                  operation_id="myBookings"),
    },
    "/api/bookings/{booking_id}": {
        "get": op("Bookings", "One booking", {**ok(BOOKING), **errors("not_found")},
                  parameters=[path_id("booking_id", "booking")], operation_id="getBooking"),
        "patch": op("Bookings", "Change or move a booking",
                    {**ok(BOOKING, "Changed: the booking as GET shows it.",
                          headers={"ETag": {"schema": {"type": "string"},
                                            "description": "Its new ETag."}}),
                     **errors("forbidden", "not_found", "conflict", "not_editable",
                              "precondition_failed", "payload_too_large", "over_capacity",
                              *RULE_CODES)},
                    parameters=[path_id("booking_id", "booking"),
                                {"name": "If-Match", "in": "header", "required": False,
                                 "description": "The ETag of GET /api/bookings/{id}: the "
                                                "change is made only if the booking is "
                                                "still as read (else 412); without it the "
                                                "last writer wins.",
                                 "schema": {"type": "string", "maxLength": 200}}],
                    body=json_body({**EDIT_INPUT, "minProperties": 1},
                                   {"start_time": "2027-03-02T14:00"}),
                    description="Any of the fields; what is not sent stays. A new "
                                "start_time alone keeps the length, end_time alone keeps "
                                "the start, room_id alone keeps the times. New times or room "
                                "pass every rule of a new booking under the target room's "
                                "effective policy (`closed`, `too_soon`, 403 "
                                "`not_permitted`, `quota_exceeded` counted without this "
                                "booking; its buffer is kept; moved into a room that needs "
                                "approval it becomes `pending`); the change is one "
                                "database call under the exclusion constraint, so a taken "
                                "slot is a 409 `conflict` (with suggestions) and the "
                                "booking keeps its old one, exactly as it was. The owner, "
                                "a delegate they named or an admin; ended or cancelled: "
                                "409 `not_editable`. A series occurrence stays in its "
                                "series as changed, and later changes to the series leave "
                                "it alone.",
                    operation_id="editBooking"),
        "delete": op("Bookings", "Cancel a booking (its owner, a delegate or an admin)",
                     {**ok(BOOKING, "Cancelled (cancelling again changes nothing)."),
                      **errors("forbidden", "not_found", "in_past")},
                     parameters=[path_id("booking_id", "booking")],
                     operation_id="cancelBooking"),
    },
    "/api/bookings/{booking_id}/checkin": {
        "post": op("Bookings", "Check in to a booking",
                   {**ok(BOOKING, "Checked in (again: nothing changes): the booking with "
                                  "checked_in_at."),
                    **errors("forbidden", "not_found", "checkin_not_open", "released",
                             "not_editable")},
                   parameters=[path_id("booking_id", "booking")],
                   description="The owner, a delegate, a staff invitee, an admin, or the "
                               "room's door panel. Check-in opens CHECKIN_OPENS_MINUTES "
                               "before the start (earlier: 409 `checkin_not_open`, with "
                               "`details.opens_at`) and closes at the release time, start "
                               "(or creation, if later) + the room's release_after_minutes "
                               "(then: 409 `released`). Cancelled or ended: 409 "
                               "`not_editable`.",
                   operation_id="checkInBooking"),
    },
    "/api/bookings/{booking_id}/end": {
        "post": op("Bookings", "End a booking early",
                   {**ok(BOOKING, "Ended: its end is now, rounded up to the minute."),
                    **errors("forbidden", "not_found", "not_started", "not_editable")},
                   parameters=[path_id("booking_id", "booking")],
                   description="The owner, a delegate, an admin or the room's panel, while "
                               "the booking is under way; the rest of its time is free at "
                               "once. Before its start: 409 `not_started` (cancel it "
                               "instead). Emits booking.updated.",
                   operation_id="endBooking"),
    },
    "/api/bookings/{booking_id}/extend": {
        "post": op("Bookings", "Extend a booking",
                   {**ok(BOOKING, "Extended: the booking as GET shows it.",
                         headers={"ETag": {"schema": {"type": "string"},
                                           "description": "Its new ETag."}}),
                    **errors("forbidden", "not_found", "conflict", "not_editable",
                             "released", "payload_too_large", *RULE_CODES)},
                   parameters=[path_id("booking_id", "booking")],
                   body=json_body(obj({"end_time": DATETIME_IN}, required=["end_time"]),
                                  {"end_time": "2027-03-02T15:00"}),
                   description="A later end, if every rule of a booking holds and the room "
                               "is free: a taken slot is 409 `conflict` with suggestions, and "
                               "the booking stays as it was (the change path of PATCH "
                               "/api/bookings/{id}). An end not later than now's: 400.",
                   operation_id="extendBooking"),
    },
    "/api/series/{series_id}": {
        "get": op("Series", "A series with its live occurrences, keyset-paginated",
                  {**ok(obj({
                      "series": ref("SeriesNamed"),
                      "bookings": {"type": "array", "items": ref("Booking")},
                      "skipped": {"type": "array", "items": ref("Skipped")},
                      "next_cursor": ref("Cursor")})), **errors("not_found")},
                  parameters=[path_id("series_id", "series"),
                              query("limit", query_int(1, 500),
                                    "Occurrences per page, 100 by default."), CURSOR],
                  operation_id="getSeries"),
        "patch": op("Series", "Change this occurrence and the following ones",
                    {**ok(SERIES_MADE, "Changed: the series that carries on (a new one "
                          "after a split, the same one from its first occurrence), its new "
                          "occurrences and those skipped."),
                     **errors("forbidden", "not_found", "conflict", "not_editable",
                              "payload_too_large", "over_capacity", *RULE_CODES,
                              "nonexistent_time", "invalid_recurrence",
                              unprocessable=("invalid",))},
                    parameters=[path_id("series_id", "series"),
                                query("from", DATETIME_IN, "The start of the first occurrence "
                                      "to change (RFC 3339); the series' first: all of it.",
                                      required=True, example="2027-03-09T10:00")],
                    body=json_body(SERIES_EDIT_INPUT, {"start_time": "2027-03-09T11:00",
                                                       "end_time": "2027-03-09T12:00"}),
                    description="The series is split at `from`: the old one ends before "
                                "it, a new one carries on with the changes; occurrences "
                                "changed on their own are left alone. Every new occurrence "
                                "passes the rules; without `skip_conflicts` a taken one "
                                "makes it 409 and nothing changes.",
                    operation_id="editSeries"),
        "delete": op("Series", "Cancel a series (its owner, a delegate or an admin)",
                     {**ok(obj({"series": ref("Series"),
                                "cancelled": {"type": "array", "items": {"type": "integer"},
                                              "description": "Ids of the bookings cancelled."}})),
                      **errors("forbidden", "not_found")},
                     parameters=[path_id("series_id", "series"),
                                 query("from", or_empty(DATETIME_IN),
                                       "Cancel this occurrence and all after it; without it "
                                       "every future occurrence and the series itself.")],
                     operation_id="cancelSeries"),
    },
    "/api/rooms/free": {
        "get": op("Finding rooms", "Free rooms that fit, best first",
                  {**ok(obj({"rooms": {"type": "array", "items": ref("FreeRoom")},
                             "suggestions": nullable(ref("Suggestions"))}),
                        "Ranked rooms; when none fits, `suggestions` instead of null."),
                   **errors(*INTERVAL_CODES)},
                  parameters=[
                      query("start_time", DATETIME_IN, "Start.", required=True,
                            example="2027-03-02T10:00:00+01:00"),
                      query("end_time", DATETIME_IN, "End.", required=True,
                            example="2027-03-02T11:00:00+01:00"),
                      query("capacity", query_int(1, 10000),
                            "Seats needed (1 by default)."),
                      query("equipment", {"type": "string"},
                            "Comma-separated tags the room must have, e.g. screen,video."),
                      query("building", {"type": "string", "maxLength": 100},
                            "Preferred building; without it, your home building."),
                      query("floor", query_int(-50, 500),
                            "Preferred floor."),
                      query("timezone", or_empty(TIMEZONE),
                            "The zone to read times without offset in."),
                      query("any_timezone", FLAG, "Also rooms in other time zones than the "
                            "preferred building's.")],
                  description="Only rooms in the time zone of the preferred building (the "
                              "requested one, else your home building) unless "
                              "`any_timezone`. Ranking: that building, then floor, then the "
                              "smallest room that fits, then the fewest bookings that day, "
                              "then name.",
                  operation_id="findRooms"),
    },
    "/api/bookings/auto": {
        "post": op("Finding rooms", "Book the best free room that fits",
                   {**ok(obj({"booking": ref("Booking"), "room": ref("FreeRoom")}), "Booked.",
                         201, "The booking.", REPLAYED),
                    **errors("no_room", "payload_too_large", *INTERVAL_CODES,
                             "idempotency_mismatch")},
                   parameters=[IDEMPOTENCY_KEY],
                   body=json_body(AUTO_INPUT, {
                       "title": "Planning", "attendees": 6, "equipment": ["screen"],
                       "start_time": "2027-03-02T14:00:00+01:00",
                       "end_time": "2027-03-02T15:00:00+01:00"}),
                   description="Race-free: when a room is taken meanwhile, the next best is "
                               "booked. 409 `no_room` with suggestions when none fits.",
                   operation_id="autoBook"),
    },
    "/api/availability": {
        "post": op("Finding rooms", "Check many (room, interval) pairs at once",
                   {**ok(obj({"results": {"type": "array", "items": obj({
                       "room_id": {"type": "integer"},
                       "start_time": {"type": "string", "description": "As sent."},
                       "end_time": {"type": "string", "description": "As sent."},
                       "available": {"type": "boolean"},
                       "reason": {"enum": [None, "not_found", "closed", "booked"]}})}}),
                       "One result per check, in the order sent."),
                    **errors("payload_too_large")},
                   body=json_body(CHECKS_INPUT, {"checks": [
                       {"room_id": 1, "start_time": "2027-03-02T10:00",
                        "end_time": "2027-03-02T11:00"}]}),
                   description="At most 500 checks; times without offset are in each room's "
                               "zone.", operation_id="batchAvailability"),
    },
    "/api/me": {
        "get": op("Account", "Who I am, and my personal calendar address",
                  {**ok(obj({"user": ref("User"), "calendar_url": {"type": "string",
                                                                   "format": "uri"}})),
                   **errors()}, operation_id="me"),
        "patch": op("Account", "Change my settings (mail, theme, time zone, language, home "
                               "building, delegates)",
                    {**ok(obj({"user": ref("User"), "calendar_url": {"type": "string",
                                                                      "format": "uri"}})),
                     **errors("payload_too_large", "unknown_building", "unknown_user")},
                    body=json_body(obj({
                        "mail_enabled": FLAG,
                        "theme": {"type": "string", "enum": ["auto", "light", "dark"],
                                  "description": "auto follows the browser's preference."},
                        "timezone": {"anyOf": [TIMEZONE, {"type": "null"}, {"const": ""}],
                                     "description": "Where my bookings are grouped by day; "
                                                    "null or empty: the usual zone."},
                        "language": {"anyOf": [{"type": "string", "enum": ["en", "de", "fr"]},
                                               {"type": "null"}, {"const": ""}],
                                     "description": "en, de or fr; null or empty: the "
                                                    "browser's."},
                        "home_building": {"anyOf": [text(100, low=0), {"type": "null"}]},
                        "delegates": {"anyOf": [{"type": "array", "maxItems": 20, "items": {
                            "type": "string", "format": "email", "maxLength": 254}},
                            {"type": "null"}], "description": "Who may book for me, and "
                            "change and cancel my bookings: staff emails (422 `unknown_user` "
                            "for an address of no active account); the list replaces the "
                            "one before."}},
                        required=[]), {"theme": "dark", "language": "de",
                                       "home_building": "HQ"}),
                    description="Only the fields sent change; `{}` changes nothing; a refused "
                                "change changes none of them. "
                                "`home_building` is a building of a room that can be booked "
                                "(any case; 422 `unknown_building` otherwise); null or \"\" "
                                "goes back to where you booked most.",
                    operation_id="updateMe"),
    },
    "/api/me/calendar": {
        "post": op("Account", "A new personal calendar address (the old one stops working)",
                   {**ok(obj({"calendar_url": {"type": "string", "format": "uri"}})),
                    **errors()}, operation_id="resetCalendar"),
    },
    "/api/tokens": {
        "get": op("Account", "My API tokens, newest first",
                  {**ok(obj({"tokens": {"type": "array", "items": ref("Token")},
                             "next_cursor": ref("Cursor")})), **errors()},
                  parameters=[query("limit", query_int(1, 200), "Page size, 50 by default."),
                              CURSOR],
                  operation_id="listTokens"),
        "post": op("Account", "Make an API token (its secret is shown once)",
                   {**ok(obj({"token": ref("Token"), "secret": {"type": "string"}}),
                         "Created; keep `secret`, it is not shown again.", 201),
                    **errors("payload_too_large", "too_many_tokens")},
                   description="At most 50 live (unrevoked) tokens per person: the 51st is "
                               "a 422 `too_many_tokens`; revoke one first.",
                   body=json_body(obj({"name": {"anyOf": [text(100, low=0), {"type": "null"}]}},
                                      required=[]), {"name": "door panel"}),
                   operation_id="createToken"),
    },
    "/api/tokens/{token_id}": {
        "delete": op("Account", "Revoke one of my tokens",
                     {**ok(obj({"token": ref("Token")})), **errors("not_found")},
                     parameters=[path_id("token_id", "token")], operation_id="revokeToken"),
    },
    "/api/activity": {
        "get": op("Activity and webhooks", "What happened, newest first",
                  {**ok(obj({"events": {"type": "array", "items": ref("Event")},
                             "next_cursor": ref("Cursor")})), **errors()},
                  parameters=[query("limit", query_int(1, 200), "Page size, 50 by default."),
                              CURSOR],
                  description="Admins see every event; staff the events about their own "
                              "bookings and series.", operation_id="activity"),
    },
    "/api/webhooks": {
        "get": op("Activity and webhooks", "Webhook endpoints (admin)",
                  {**ok(obj({"endpoints": {"type": "array",
                                           "items": ref("WebhookEndpointListed")}})),
                   **errors("forbidden")},
                  description="Active first, then newest first; at most 500.",
                  operation_id="listWebhooks"),
        "post": op("Activity and webhooks", "Register a webhook endpoint (admin)",
                   {**ok(obj({"endpoint": ref("WebhookEndpoint"),
                              "secret": {"type": "string", "pattern": "^whsec_",
                                         "description": "Signs every delivery; shown only "
                                                        "now."}}),
                         "Registered; keep `secret`, it is not shown again.", 201,
                         "The endpoint."),
                    **errors("forbidden", "payload_too_large", "invalid_url", "unsafe_url")},
                   body=json_body(obj({"url": WEBHOOK_URL, "events": WEBHOOK_EVENTS,
                                       "description": WEBHOOK_DESCRIPTION}, required=["url"]),
                                  {"url": "https://hooks.example.com/booking",
                                   "events": ["booking.created", "booking.cancelled"]}),
                   description="Deliveries are POSTs signed as Standard Webhooks describe "
                               "(`webhook-id`, `webhook-timestamp`, `webhook-signature`). A "
                               "URL that does not resolve is a 422 `invalid_url`; one that "
                               "resolves to a loopback, private or otherwise special address "
                               "a 422 `unsafe_url` (unless the server allows private targets).",
                   operation_id="createWebhook"),
    },
    "/api/webhooks/{endpoint_id}": {
        "get": op("Activity and webhooks", "A webhook endpoint and its delivery log (admin)",
                  {**ok(obj({"endpoint": ref("WebhookEndpoint"),
                             "attempts": {"type": "array", "items": ref("WebhookAttempt")},
                             "next_cursor": ref("Cursor")})),
                   **errors("forbidden", "not_found")},
                  parameters=[path_id("endpoint_id", "webhook endpoint"),
                              query("limit", query_int(1, 200),
                                    "Attempts per page, 50 by default."), CURSOR],
                  operation_id="getWebhook"),
        "patch": op("Activity and webhooks", "Change, disable or enable an endpoint (admin)",
                    {**ok(obj({"endpoint": ref("WebhookEndpoint")})),
                     **errors("forbidden", "not_found", "payload_too_large", "invalid_url",
                              "unsafe_url")},
                    parameters=[path_id("endpoint_id", "webhook endpoint")],
                    body=json_body(obj({"url": WEBHOOK_URL, "events": WEBHOOK_EVENTS,
                                        "description": WEBHOOK_DESCRIPTION, "active": FLAG},
                                       required=[]) | {"minProperties": 1},
                                   {"active": True}),
                    description="Only the fields sent change. `active: true` enables a "
                                "disabled endpoint afresh; `active: false` disables it.",
                    operation_id="updateWebhook"),
    },
    "/api/deliveries": {
        "get": op("Activity and webhooks", "Deliveries in one state, newest first (admin)",
                  {**ok(obj({"status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
                             "failing_endpoints": {
                                 "type": "array", "items": ref("WebhookEndpointListed"),
                                 "description": "Whatever the status asked for: the webhook "
                                 "endpoints failing now (`failing_since`) or disabled, whose "
                                 "deliveries wait as `pending`; disabled ones first."},
                             "deliveries": {"type": "array", "items": ref("Delivery")},
                             "next_cursor": ref("Cursor")})),
                   **errors("forbidden")},
                  parameters=[query("status", {"type": "string",
                                               "enum": [*DELIVERY_STATUSES, ""]},
                                    "failed (the default), pending or sent."),
                              query("limit", query_int(1, 200), "Page size, 50 by default."),
                              CURSOR],
                  operation_id="listDeliveries"),
    },
    "/api/deliveries/{delivery_id}/resend": {
        "post": op("Activity and webhooks", "Send a failed delivery again (admin)",
                   {**ok(obj({"delivery": obj({"id": {"type": "integer"},
                                               "status": {"type": "string",
                                                          "enum": ["pending"]}})}),
                         "Back in the queue, attempts counted afresh."),
                    **errors("forbidden", "not_found", "conflict")},
                   parameters=[path_id("delivery_id", "delivery")],
                   description="Only a failed delivery can be re-sent (409 `conflict` "
                               "otherwise).", operation_id="resendDelivery"),
    },
    "/api/reports/utilisation": {
        "get": op("Reports", "Utilisation of the rooms over a range of days (admin)",
                  {**ok({"oneOf": [
                      obj({**REPORT, "group": {"const": "room"},
                           "rows": {"type": "array", "items": ref("RoomUtilisation")},
                           "total": ROOM_TOTAL}),
                      obj({**REPORT, "group": {"const": "building"},
                           "rows": {"type": "array", "items": ref("BuildingUtilisation")},
                           "total": BUILDING_TOTAL}),
                      obj({**REPORT, "group": {"const": "weekday_hour"},
                           "rows": {"type": "array", "items": ref("HourUtilisation")}})]},
                        "One row per room, building, or room-local weekday and hour; room "
                        "and building reports add the `total`."),
                   **errors("forbidden", "bad_range", "range_too_long", "unknown_building")},
                  parameters=[
                      query("from", or_empty(DATE_IN), "The first day (UTC); 29 days before "
                            "`to` by default.", example="2027-02-01"),
                      query("to", or_empty(DATE_IN), "The last day, included (UTC); today by "
                            "default. At most 366 days after `from`.", example="2027-02-28"),
                      query("building", {"type": "string", "maxLength": 100},
                            "Only this building's rooms."),
                      query("group", {"type": "string",
                                      "enum": ["room", "building", "weekday_hour", ""]},
                            "room (the default), building or weekday_hour.")],
                  description="Open minutes count each active room's opening hours on each "
                              "day in its zone; booked minutes each live booking's minutes "
                              "inside them. A range ending before it starts is a 422 "
                              "`bad_range`, one over 366 days `range_too_long`, a building "
                              "no room is in `unknown_building`.",
                  operation_id="utilisationReport"),
    },
    "/api/users": {
        "get": op("People", "Everyone with an account, newest first (admin)",
                  {**ok(obj({"users": {"type": "array", "items": ref("Person")},
                             "next_cursor": ref("Cursor")})),
                   **errors("forbidden")},
                  parameters=[query("limit", query_int(1, 200), "Page size, 50 by default."),
                              CURSOR],
                  operation_id="listUsers"),
    },
    "/api/users/{user_id}": {
        "patch": op("People", "Deactivate or reactivate someone, or cancel what they booked "
                              "(admin)",
                    {**ok(obj({"user": obj({"id": {"type": "integer"},
                                            "email": {"type": "string"},
                                            "name": {"type": "string"},
                                            "role": {"type": "string",
                                                     "enum": ["staff", "admin"]},
                                            "active": {"type": "boolean"},
                                            "home_building": nullable({"type": "string"}),
                                            "created_at": UTC_TIME}),
                               "cancelled": {"type": "array", "items": {"type": "integer"},
                                             "description": "Ids of the bookings cancelled."},
                               "series_cancelled": {"type": "integer", "minimum": 0}})),
                     **errors("forbidden", "not_found", "payload_too_large")},
                    parameters=[path_id("user_id", "user")],
                    body=json_body(obj({"active": FLAG, "cancel_future_bookings": FLAG},
                                       required=[]) | {"minProperties": 1},
                                   {"active": False, "cancel_future_bookings": True}),
                    description="`active: false` signs them out everywhere and revokes "
                                "their API tokens for good (reactivating brings back "
                                "neither); their series stop booking further dates. "
                                "`cancel_future_bookings: true` cancels every booking of "
                                "theirs from now on and ends their series, recorded as "
                                "cancelled by you. An admin cannot deactivate themselves "
                                "(403).",
                    operation_id="updateUser"),
    },
    "/api/audit": {
        "get": op("Audit", "Who changed what, newest first (admin)",
                  {**ok(obj({"entries": {"type": "array", "items": ref("AuditEntry")},
                             "next_cursor": ref("Cursor")})),
                   **errors("forbidden")},
                  parameters=[
                      query("user", query_int(1, MAX_ID),
                            "Entries by this user or about their bookings and account."),
                      query("room", query_int(1, MAX_ID), "Entries about this room."),
                      query("from", or_empty(DATE_IN), "The first day (UTC); alone, that one "
                            "day.", example="2027-03-01"),
                      query("to", or_empty(DATE_IN), "The last day, included (UTC); needs "
                            "`from`, at most 31 days after it."),
                      query("limit", query_int(1, 100), "Page size, 50 by default."),
                      CURSOR],
                  operation_id="audit"),
    },
    "/api/openapi.json": {
        "get": op("About the API", "This document", {
            "200": {"description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}}}},
            public=True, operation_id="openapi"),
    },
    "/api/docs": {
        "get": op("About the API", "This document as a web page", {
            "200": {"description": "HTML.", "content": {"text/html": {
                "schema": {"type": "string"}}}}},
            public=True, operation_id="docs"),
    },
}


DESCRIPTION = """\
The JSON twin of every page of the booking app. Send `Authorization: Bearer
<token>` (make a token on your account page or with `POST /api/tokens`); a
signed-in browser may use its session cookie instead, and then writes need the
page's CSRF token in an `X-CSRFToken` header.

Times are RFC 3339. The API renders them in the room's zone with its offset;
a time you send without an offset is read in the room's zone. Intervals are
half-open, on whole minutes.

Errors have one shape, `{"error": {"code", "message", "details"}}`; the status
follows from the code. Lists that grow are keyset-paginated: pass
`next_cursor` back as `cursor`. GET answers carry an ETag (send If-None-Match
for a 304). Bodies are at most 64 KB.
"""


READ = [{"bearer": []}, {"session": []}]
WRITE = [{"bearer": []}, {"session": [], "csrf": []}]


def document() -> dict[str, Any]:
    """The OpenAPI document (a new dict each call; callers may change it)."""
    paths = copy.deepcopy(PATHS)
    for operations in paths.values():
        for method, operation in operations.items():
            operation.setdefault("security", READ if method == "get" else WRITE)
    return {
        "openapi": "3.1.0",
        "info": {"title": "booking", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": name} for name in ("Rooms", "Bookings", "Series", "Finding rooms",
                                               "Rules", "Account", "Activity and webhooks",
                                               "Reports", "People", "Audit", "About the API")],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A personal API token (bk_...)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "booking_session",
                            "description": "A signed-in browser. Writes (POST, PATCH, DELETE) "
                                           "also need the X-CSRFToken header with the "
                                           "page's csrf-token."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                         "description": "With the session cookie, for writes."},
            },
        },
    }
