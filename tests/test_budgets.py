"""Budgets that do not depend on speed: SQL statements per request, exactly, and
connections handed back after every request (failing ones too).

Every route of the app has at least one row in CASES (built from app.url_map:
a new route without a row fails `test_every_route_has_a_budget`). Each row is
asked four ways, and must cost exactly its number of statements each time:

- warm: the process already knows the caller (booking/memo/users.py) and
  keeps what the request remembers (a read is asked once before; a write's
  world is signed into through the overview, which keeps the rooms, so a
  booking's room and policy come from that copy);
- cold: it knows nothing (the auth cache and the rooms overview forgotten),
  so signing in costs its one statement (and the overview its one);
- at two sizes of data: 1 room and 7 bookings, and 20 rooms and 100
  bookings (with more deliveries, endpoints and audit entries): a statement
  per room or per booking would show as a difference.

Reads share one world per size (module-scoped: nothing they do changes
what another reads); every write gets a fresh database.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import pytest

from booking import close, create_app, db, memo
from conftest import NOW, PASSWORD, UTC, Browser, Factory, Api
from routemap import app_routes

DAY = "2027-03-02"
SLOT = {"start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}
FREE = f"/api/rooms/free?start_time={DAY}T10:00&end_time={DAY}T11:00&timezone=Europe/Berlin"
AUTO = {"title": "x", **SLOT, "attendees": 2, "timezone": "Europe/Berlin"}
FIND = f"date={DAY}&start=10:00&end=11:00&timezone=Europe/Berlin&attendees=2"
FIND_FORM = {"date": DAY, "start": "10:00", "end": "11:00", "timezone": "Europe/Berlin",
             "attendees": "2", "title": "x"}
ROOM_FORM = {"name": "Spree", "building": "HQ", "floor": "1", "capacity": "8", "equipment": "",
             "timezone": "Europe/Berlin", "opens": "09:00", "closes": "18:00", "active": "on"}

# Signed in through the auth cache: a page client (session cookie) or an API token.
SIGNED_IN = {"alice", "bob", "admin", "page", "admin_page"}
PAGES = {"page", "admin_page", "stranger_page"}


@dataclass(frozen=True)
class Case:
    who: str            # alice, bob, admin (tokens); page, admin_page (sessions); anonymous, stranger_page
    method: str
    url: str            # with {room}, {mine}, ... from the world
    body: dict | None
    status: int
    warm: int           # statements with the caller known and what the request keeps kept
    cold_extra: int     # and how many more with nothing known
    fresh: bool = False  # a read that depends on what the session remembers: its own world

    @property
    def cold(self) -> int:
        return self.warm + self.cold_extra

    def __str__(self) -> str:
        return f"{self.who} {self.method} {self.url} {self.status}"


def case(who, method, url, body, status, warm, cold=None, fresh=False) -> Case:
    """`cold` defaults to one more statement for a signed-in caller (the sign-in lookup)."""
    if cold is None:
        cold = warm + (who in SIGNED_IN)
    return Case(who, method, url, body, status, warm, cold - warm, fresh)


API_CASES = [
    case("alice", "GET", "/api/rooms", None, 200, 1, cold=3),     # cold: the overview built anew
    case("alice", "GET", "/api/rooms/{room}", None, 200, 1),
    case("alice", "GET", "/api/rooms/4242", None, 404, 1),
    case("alice", "GET", "/api/rooms/{room}/bookings?date=" + DAY, None, 200, 1),
    case("alice", "GET", "/api/rooms/{room}/bookings", None, 200, 1),
    case("alice", "GET", "/api/rooms/{room}/bookings?date=bad", None, 400, 0),
    case("alice", "GET", "/api/bookings/mine", None, 200, 1),
    case("alice", "GET", "/api/bookings/mine?view=week&start=" + DAY, None, 200, 1),
    case("alice", "GET", "/api/bookings/mine?view=month", None, 400, 0),
    # the planning board: one statement, whether this process kept the board or not
    case("alice", "GET", "/api/board", None, 200, 1),
    case("alice", "GET", "/api/board?date=" + DAY + "&building=HQ&floor=1", None, 200, 1),
    case("alice", "GET", "/api/board?floor=top", None, 400, 0),
    case("alice", "GET", "/api/rooms/{room}/week?start=" + DAY, None, 200, 1),
    case("alice", "GET", "/api/rooms/4242/week", None, 404, 1),
    case("alice", "GET", "/api/rooms/{room}/week?start=bad", None, 400, 0),
    case("alice", "GET", "/api/bookings/mine?when=past&limit=5", None, 200, 1),
    case("alice", "GET", "/api/bookings/{mine}", None, 200, 1),
    case("alice", "GET", "/api/bookings/4242", None, 404, 1),
    case("alice", "GET", "/api/bookings?ids={mine},{theirs}", None, 200, 1),
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", **SLOT}, 201, 1, cold=3),
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x",
                                        "start_time": f"{DAY}T13:30", "end_time": f"{DAY}T14:30"}, 409, 1, cold=3),
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x",
                                        "start_time": f"{DAY}T07:00", "end_time": f"{DAY}T08:00"}, 422, 0, cold=2),
    case("alice", "POST", "/api/bookings", {"room_id": 4242, "title": "x", **SLOT}, 404, 1),
    case("alice", "POST", "/api/bookings", {"title": "x"}, 400, 0),
    case("alice", "DELETE", "/api/bookings/{mine}", None, 200, 1),
    case("alice", "DELETE", "/api/bookings/{theirs}", None, 403, 1),
    case("alice", "DELETE", "/api/bookings/4242", None, 404, 1),
    case("alice", "GET", "/api/me", None, 200, 0),
    case("alice", "GET", "/api/tokens", None, 200, 1),
    case("alice", "POST", "/api/tokens", {"name": "x"}, 201, 1),
    case("alice", "POST", "/api/rooms", {"name": "X", "capacity": 3, "timezone": "UTC"}, 403, 0),
    case("admin", "POST", "/api/rooms", {"name": "X", "capacity": 3, "timezone": "UTC"}, 201, 1),
    case("admin", "PATCH", "/api/rooms/{room}", {"capacity": 3}, 200, 1),
    case("admin", "PATCH", "/api/rooms/{room}", {"capacity": -3}, 400, 0),
    case("anonymous", "GET", "/api/rooms", None, 401, 0),
    case("anonymous", "GET", "/healthz", None, 200, 0),
    case("anonymous", "GET", "/readyz", None, 200, 1),
    # recurrence, availability, feeds
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY",
                                        "start_time": f"{DAY}T16:00", "end_time": f"{DAY}T17:00"}, 201, 2),
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY",
                                        "start_time": f"{DAY}T12:30", "end_time": f"{DAY}T13:30"}, 409, 2),
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY",
                                        "start_time": f"{DAY}T08:00", "end_time": f"{DAY}T09:00"}, 422, 1),
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=HOURLY",
                                        "start_time": f"{DAY}T10:00", "end_time": f"{DAY}T11:00"}, 422, 1),
    case("alice", "GET", "/api/series/{series}", None, 200, 1),
    case("alice", "GET", "/api/series/4242", None, 404, 1),
    case("alice", "DELETE", "/api/series/{series}", None, 200, 1),
    case("alice", "DELETE", "/api/series/{series}?from=2027-03-10T10:00", None, 200, 2),
    case("bob", "DELETE", "/api/series/{series}", None, 403, 1),
    case("alice", "GET", "/api/rooms/{room}/availability?start=2027-03-01&end=2027-03-31", None, 200, 1),
    case("alice", "GET", "/api/rooms/{room}/availability?start=2027-03-01&end=2027-05-31", None, 400, 0),
    case("alice", "GET", "/rooms/{room}/calendar.ics", None, 200, 1),
    case("anonymous", "GET", "{feed}", None, 200, 1),
    case("alice", "POST", "/api/me/calendar", {}, 200, 1),
    # events: activity, deliveries, webhooks, mail preference
    case("alice", "GET", "/api/activity", None, 200, 1),
    case("admin", "GET", "/api/activity?limit=5", None, 200, 1),
    case("alice", "PATCH", "/api/me", {"mail_enabled": False}, 200, 1),
    case("alice", "PATCH", "/api/me", {"theme": "dark", "timezone": "Europe/Berlin",
                                       "mail_enabled": False}, 200, 1),
    case("alice", "PATCH", "/api/me", {"theme": "purple"}, 400, 0),
    case("alice", "PATCH", "/api/me", {"home_building": "hq"}, 200, 1),
    case("alice", "PATCH", "/api/me", {"home_building": "Nowhere"}, 422, 1),
    # people (issue 15 #9)
    case("admin", "GET", "/api/users", None, 200, 1),
    case("admin", "PATCH", "/api/users/{bob_id}", {"active": False,
                                                   "cancel_future_bookings": True}, 200, 1),
    case("admin", "PATCH", "/api/users/4242", {"active": False}, 404, 1),
    case("alice", "GET", "/api/users", None, 403, 0),
    case("admin", "GET", "/api/deliveries", None, 200, 1),
    case("admin", "GET", "/api/deliveries?status=sent", None, 200, 1),
    case("alice", "GET", "/api/deliveries", None, 403, 0),
    case("admin", "POST", "/api/deliveries/4242/resend", None, 404, 1),
    case("admin", "GET", "/api/webhooks", None, 200, 1),
    case("admin", "POST", "/api/webhooks", {"url": "https://93.184.215.14/x"}, 201, 1),
    case("admin", "POST", "/api/webhooks", {"url": "http://127.0.0.1/x"}, 422, 0),
    case("admin", "GET", "/api/webhooks/{hook}", None, 200, 1),
    case("admin", "PATCH", "/api/webhooks/{hook}", {"active": False}, 200, 1),
    # reports
    case("admin", "GET", "/api/reports/utilisation?from=2027-01-01&to=2027-03-31", None, 200, 1),
    case("admin", "GET", "/api/reports/utilisation?group=weekday_hour", None, 200, 1),
    case("admin", "GET", "/api/reports/utilisation?group=building&building=HQ", None, 200, 1),
    case("admin", "GET", "/api/reports/utilisation?from=2027-03-02&to=2027-03-01", None, 422, 0),
    case("alice", "GET", "/api/reports/utilisation", None, 403, 0),
    # the finder, automatic assignment, batch availability
    case("alice", "GET", FREE + "&capacity=2&equipment=&building=HQ&floor=1", None, 200, 1),
    case("alice", "GET", FREE + "&capacity=50", None, 200, 2),          # nothing fits: suggestions
    case("alice", "GET", FREE + "&capacity=0", None, 400, 0),
    # too short in every room's policy: known once the rooms' policies are read
    case("alice", "GET", FREE.replace("T11:00", "T10:05"), None, 422, 1),
    case("alice", "GET", "/api/rooms/free?start_time=2027-03-02T10:00", None, 400, 0),
    case("alice", "POST", "/api/bookings/auto", {**AUTO, "attendees": 2}, 201, 2),
    case("alice", "POST", "/api/bookings/auto", {**AUTO, "attendees": 50}, 409, 2),
    case("alice", "POST", "/api/bookings/auto", {**AUTO, "start_time": f"{DAY}T13:30",
                                             "end_time": f"{DAY}T14:30"}, 409, 2),
    case("alice", "POST", "/api/bookings/auto", {**AUTO, "end_time": f"{DAY}T10:05"}, 422, 1),
    case("alice", "POST", "/api/bookings/auto", {**AUTO, "title": ""}, 400, 0),
    case("alice", "POST", "/api/availability", {"checks": [
        {"room_id": "{room}", **SLOT}, {"room_id": 4242, **SLOT},
        {"room_id": "{room}", "start_time": f"{DAY}T13:00", "end_time": f"{DAY}T14:00"}]}, 200, 1),
    case("alice", "POST", "/api/availability", {"checks": [{"room_id": "{room}", "start_time": "x",
                                                        "end_time": "y"}]}, 400, 0),
    case("alice", "POST", "/api/availability", {"checks": [
        {"room_id": "{room}", "start_time": "2027-03-28T02:30", "end_time": "2027-03-28T03:30"}]},
     400, 1),
    case("anonymous", "GET", FREE, None, 401, 0),
    case("anonymous", "GET", "/api/openapi.json", None, 200, 0),
    case("alice", "GET", "/api/openapi.json", None, 200, 0, cold=0),
    case("anonymous", "POST", "/api/bookings/auto", AUTO, 401, 0),
    case("anonymous", "POST", "/api/availability", {"checks": []}, 401, 0),
    # areas, groups, policies (issue 18): one statement each (a PATCH of an area
    # answers with its effective policy, read after the change: two)
    case("alice", "GET", "/api/rooms/{room}/policy", None, 200, 1),
    case("alice", "GET", "/api/rooms/4242/policy", None, 404, 1),
    case("admin", "PATCH", "/api/rooms/{room}", {"area_id": "{area}",
                                               "policy": {"buffer_minutes": 10}}, 200, 1),
    case("admin", "GET", "/api/areas", None, 200, 1),
    case("alice", "GET", "/api/areas", None, 403, 0),
    case("admin", "POST", "/api/areas", {"name": "Annex", "policy": {"max_minutes": 60}},
         201, 1),
    case("admin", "POST", "/api/areas", {"name": ""}, 400, 0),
    case("admin", "GET", "/api/areas/{area}", None, 200, 1),
    case("admin", "PATCH", "/api/areas/{area}", {"policy": {"buffer_minutes": 5}}, 200, 2),
    case("admin", "PATCH", "/api/areas/4242", {"name": "x"}, 404, 1),
    case("admin", "GET", "/api/groups", None, 200, 1),
    case("admin", "POST", "/api/groups", {"name": "Lab", "members": ["alice@example.com"]},
         201, 1),
    case("admin", "GET", "/api/groups/{group}", None, 200, 1),
    case("admin", "PATCH", "/api/groups/{group}", {"members": ["bob@example.com"]}, 200, 1),
    # approvals: Bob's booking waits for one
    case("alice", "GET", "/api/approvals", None, 200, 1),
    case("admin", "GET", "/api/approvals", None, 200, 1),
    case("admin", "POST", "/api/bookings/{theirs}/approve", None, 200, 1),
    case("alice", "POST", "/api/bookings/{theirs}/approve", None, 403, 1),
    case("admin", "POST", "/api/bookings/{mine}/reject", {"reason": "No"}, 409, 1),
    # the audit log
    case("admin", "GET", "/api/audit", None, 200, 1),
    case("admin", "GET", "/api/audit?user={mine}&room={room}&from=2026-01-01&to=2026-01-31&limit=5",
     None, 200, 1),
    case("admin", "GET", "/api/audit?from=2027-03-01&to=2027-05-01", None, 400, 0),
    case("alice", "GET", "/api/audit", None, 403, 0),
]

PAGE_CASES = [
    case("page", "GET", "/", None, 200, 1, cold=3),
    # cold: + the rooms, for each room's hours that day under its policy, then kept
    case("page", "GET", "/rooms/{room}?date=" + DAY, None, 200, 1, cold=3),
    # The rooms and their hours from this process's copy (cold: read once).
    case("page", "GET", "/bookings/new", None, 200, 0, cold=2),
    case("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY,
                                       "start": "10:00", "end": "11:00"}, 302, 1, cold=3),
    case("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY,
                                       "start": "13:30", "end": "14:30"}, 409, 1, cold=3),
    case("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY,
                                       "start": "07:00", "end": "08:00"}, 422, 0, cold=3),
    case("page", "POST", "/bookings/new", {"room_id": "", "title": "x", "date": DAY,
                                       "start": "07:00", "end": "08:00"}, 400, 0, cold=2),
    # cold: + the rooms, for the usual zone (no zone set), then kept (booking/memo/rooms.py)
    case("page", "GET", "/bookings/mine", None, 200, 1, cold=3),
    case("page", "GET", "/bookings/mine?view=week", None, 200, 1),
    # cold: + the rooms, for each room's hours that day under its policy, then kept
    case("page", "GET", "/board", None, 200, 1, cold=3),
    case("page", "GET", "/board?date=" + DAY + "&building=HQ", None, 200, 1, cold=3),
    case("page", "GET", "/rooms/{room}/week", None, 200, 1, cold=3),
    case("page", "POST", "/account/preferences", {"theme": "dark", "timezone": ""}, 302, 1),
    case("page", "POST", "/account/home", {"home_building": "HQ"}, 302, 1),
    # refused: the page again (its tokens and buildings in one statement)
    case("page", "POST", "/account/home", {"home_building": "Nowhere"}, 422, 2),
    case("admin_page", "GET", "/admin/users", None, 200, 1),
    case("admin_page", "POST", "/admin/users/{bob_id}", {"active": "false"}, 302, 1),
    case("page", "GET", "/bookings/{mine}", None, 200, 1),
    case("page", "POST", "/bookings/{mine}/cancel", {}, 302, 1),
    case("page", "POST", "/bookings/{theirs}/cancel", {}, 403, 1),
    case("page", "POST", "/bookings/{mine}/checkin", {}, 302, 1),
    case("page", "POST", "/bookings/{mine}/end", {}, 302, 1),
    case("page", "POST", "/bookings/{mine}/extend", {"date": DAY, "end": "17:00"}, 302, 2),
    case("page", "GET", "/account", None, 200, 1),
    # made, then the account page shows it (GET /account, counted there)
    case("page", "POST", "/account/tokens", {"name": "x"}, 302, 1),
    case("admin_page", "GET", "/admin/rooms", None, 200, 1),
    case("admin_page", "POST", "/admin/rooms", {"name": "Y", "capacity": "2", "timezone": "UTC",
                                            "opens": "09:00", "closes": "17:00"}, 302, 1),
    case("admin_page", "POST", "/admin/rooms", {"name": "", "capacity": "2", "timezone": "UTC"}, 400, 1),
    # The room, and its door panel tokens (panel_tokens_room).
    case("admin_page", "GET", "/admin/rooms/{room}", None, 200, 2),
    case("admin_page", "GET", "/admin/audit", None, 200, 2),
    case("admin_page", "GET", "/admin/audit?room={room}&from=2026-01-01", None, 200, 2),
    case("page", "GET", "/series/{series}", None, 200, 1),
    case("page", "POST", "/series/{series}/cancel", {}, 302, 1),
    case("page", "GET", "/rooms/{room}/availability", None, 200, 1),
    case("page", "POST", "/bookings/new", {"room_id": "{room}", "title": "x", "date": DAY, "start": "16:00",
                                       "end": "17:00", "repeat": "weekly", "ends": "after",
                                       "count": "3"}, 302, 2),
    case("page", "POST", "/account/calendar", {}, 302, 1),
    case("page", "GET", "/activity", None, 200, 1),
    case("page", "POST", "/account/mail", {}, 302, 1),
    case("admin_page", "GET", "/activity", None, 200, 1),
    case("admin_page", "GET", "/admin/deliveries", None, 200, 1),
    case("admin_page", "POST", "/admin/deliveries/4242/resend", {}, 404, 1),
    case("admin_page", "GET", "/admin/webhooks", None, 200, 1),
    case("admin_page", "POST", "/admin/webhooks", {"url": "https://93.184.215.14/y"}, 201, 2),
    case("admin_page", "POST", "/admin/webhooks", {"url": "ftp://example.com/x"}, 422, 1),
    case("admin_page", "GET", "/admin/webhooks/{hook}", None, 200, 1),
    case("admin_page", "POST", "/admin/webhooks/{hook}", {"active": "false"}, 302, 1),
    case("admin_page", "GET", "/reports", None, 200, 2),
    case("admin_page", "GET", "/reports?group=building&from=2027-01-01&to=2027-12-31", None, 200, 2),
    case("admin_page", "GET", "/reports/utilisation.csv?group=weekday_hour", None, 200, 1),
    case("admin_page", "POST", "/admin/rooms", {"name": "spree", "capacity": "2", "timezone": "UTC",
                                            "opens": "09:00", "closes": "17:00"}, 409, 2),
    # the form's choices come from the process's copy of the rooms (cold: read once)
    case("page", "GET", "/find", None, 200, 0, cold=2),
    case("page", "GET", "/find?" + FIND, None, 200, 1),
    case("page", "GET", "/find?" + FIND.replace("attendees=2", "attendees=50"), None, 200, 2),
    case("page", "GET", "/find?" + FIND.replace("end=11:00", "end=10:05"), None, 422, 1),
    # No zone: 400, until the session remembers the last one used (hence a world of its own).
    case("page", "GET", f"/find?date={DAY}&start=10:00&end=11:00", None, 400, 0, cold=2,
         fresh=True),
    case("page", "POST", "/find", {**FIND_FORM, "room": "best"}, 302, 2),
    case("page", "POST", "/find", {**FIND_FORM, "room": "{room}"}, 302, 2),
    case("page", "POST", "/find", {**FIND_FORM, "attendees": "50", "room": "best"}, 409, 2),
    # "Book this" on a room taken since, with no other room free: the suggestions the
    # search would give are asked for, as for "Book the best" above
    case("page", "POST", "/find", {**FIND_FORM, "start": "13:30", "end": "14:30",
                               "room": "{room}"}, 409, 2),
    case("page", "POST", "/find", {**FIND_FORM, "title": "", "room": "best"}, 400, 1),
    # a write's fresh process has no copy of the rooms: the form's choices read them
    case("page", "POST", "/find", {**FIND_FORM, "end": "10:05", "room": "best"}, 422, 1),
]



# Issue 16: changing a booking reads it (its ETag, its room and the target) and then
# changes it in one call; a refusal's other rooms are asked inside that call.
EDIT_FORM = {"room_id": "{room}", "title": "x", "date": DAY, "start": "13:00", "end": "14:00"}
EDIT_CASES = [
    case("alice", "PATCH", "/api/bookings/{mine}", {"title": "x"}, 200, 2),
    case("alice", "PATCH", "/api/bookings/{mine}", {"start_time": f"{DAY}T09:00"}, 200, 2),
    case("alice", "PATCH", "/api/bookings/{mine}", {"start_time": f"{DAY}T15:30"}, 409, 2),
    case("alice", "PATCH", "/api/bookings/{mine}", {"start_time": f"{DAY}T07:00"}, 422, 1),
    case("alice", "PATCH", "/api/bookings/{theirs}", {"title": "x"}, 403, 1),
    case("alice", "PATCH", "/api/bookings/4242", {"title": "x"}, 404, 1),
    case("alice", "PATCH", "/api/bookings/{mine}", {}, 400, 0),
    # The door panel: the room, now and the rest of its day in one statement; Book now
    # is the create path; panel tokens are one statement each (audited in it).
    case("page", "GET", "/rooms/{room}/panel", None, 200, 1),
    case("page", "GET", "/rooms/{room}/panel/qr.svg?date=" + DAY, None, 200, 0),
    case("alice", "GET", "/api/rooms/{room}/panel", None, 200, 1),
    case("page", "POST", "/rooms/{room}/panel", {"action": "book", "minutes": "30"}, 302, 1, cold=3),
    case("admin_page", "POST", "/admin/rooms/{room}/panels", None, 302, 1),
    case("admin", "GET", "/api/rooms/{room}/panels", None, 200, 1),
    case("admin", "POST", "/api/rooms/{room}/panels", None, 201, 2),
    case("admin", "DELETE", "/api/rooms/{room}/panels/{panel}", None, 200, 1),
    case("alice", "GET", "/api/rooms/{room}/panels", None, 403, 0),
    case("admin_page", "POST", "/admin/rooms/{room}/panels/{panel}/revoke", None, 302, 1),
    # A reminder's check-in link: no sign-in, the signed address is the credential.
    case("anonymous", "GET", "/bookings/{mine}/checkin/{signed}", None, 200, 1),
    case("anonymous", "POST", "/bookings/{mine}/checkin/{signed}", None, 409, 1),
    case("anonymous", "POST", "/bookings/{theirs}/checkin/{signed}", None, 404, 0),
    case("anonymous", "GET", "/series/{series}/cancel/{offer}", None, 200, 1),
    case("anonymous", "POST", "/series/{series}/cancel/{offer}", None, 200, 1),
    # Check-in and end early: one call that locks the row and decides (sql/050).
    case("alice", "POST", "/api/bookings/{mine}/checkin", None, 409, 1),
    case("alice", "POST", "/api/bookings/{theirs}/checkin", None, 403, 1),
    case("alice", "POST", "/api/bookings/{mine}/end", None, 409, 1),
    # Extend is the edit path: read, then edit_booking().
    case("alice", "POST", "/api/bookings/{mine}/extend", {"end_time": f"{DAY}T14:30"}, 200, 2),
    case("alice", "POST", "/api/bookings/{mine}/extend", {"end_time": f"{DAY}T12:30"}, 400, 1),
    case("alice", "PATCH", "/api/series/{series}?from=2027-03-10T10:00", {"title": "x"}, 200, 2),
    case("alice", "PATCH", "/api/series/{series}?from=2027-03-10T10:00",
         {"start_time": "2027-03-10T15:30", "end_time": "2027-03-10T16:30"}, 200, 2),
    case("bob", "PATCH", "/api/series/{series}?from=2027-03-10T10:00", {"title": "x"}, 403, 1),
    case("alice", "PATCH", "/api/me", {"delegates": ["bob@example.com"]}, 200, 1),
    case("alice", "PATCH", "/api/me", {"delegates": ["nobody@example.com"],
                                       "home_building": "HQ", "theme": "dark"}, 422, 1),
    case("alice", "POST", "/api/bookings", {"room_id": "{room}", "title": "x", **SLOT,
                                            "attendees": 2, "invitees": ["bob@example.com"],
                                            "notes": "n", "booked_for": "alice@example.com"},
         201, 1, cold=3),
    # cold: + the rooms for the form's choices, then kept (booking/memo/rooms.py)
    case("page", "GET", "/bookings/{mine}/edit", None, 200, 1, cold=3),
    case("page", "POST", "/bookings/{mine}/edit", EDIT_FORM, 302, 2),
    case("page", "POST", "/bookings/{mine}/edit", {**EDIT_FORM, "start": "15:30",
                                                   "end": "16:30"}, 409, 2),
    case("page", "POST", "/account/delegates", {"delegates": ""}, 302, 1),
]

# Routes the tables above leave out, and the rows the issue found missing.
MORE_CASES = [
    case("alice", "DELETE", "/api/tokens/{token}", None, 200, 1),
    case("alice", "DELETE", "/api/tokens/4242", None, 404, 1),
    case("page", "POST", "/account/tokens/{token}/revoke", {}, 302, 1),
    case("admin_page", "POST", "/admin/rooms/{room}", ROOM_FORM, 302, 1),
    case("admin_page", "POST", "/admin/rooms/{room}", {**ROOM_FORM, "capacity": "x"}, 400, 1),
    case("page", "POST", "/logout", {}, 302, 1),
    case("stranger_page", "POST", "/logout", {}, 302, 0),
    case("stranger_page", "GET", "/login", None, 200, 0),
    case("page", "GET", "/login", None, 302, 0),
    # throttle check and password, then the session (or the failure) recorded
    case("stranger_page", "POST", "/login", {"email": "alice@example.com",
                                             "password": PASSWORD}, 302, 2),
    case("stranger_page", "POST", "/login", {"email": "alice@example.com",
                                             "password": "wrong"}, 401, 2),
    case("anonymous", "GET", "/api/docs", None, 200, 0),
    # The worker's last release sweep, as the database recorded it.
    case("anonymous", "GET", "/metrics", None, 200, 1),
    case("anonymous", "GET", "/static/style.css", None, 200, 0),
    case("anonymous", "GET", "/calendar/not-a-token.ics", None, 404, 0),   # signature: no SQL
    case("alice", "GET", "/api/bookings/{mine}", None, 200, 1),
    case("admin", "POST", "/api/deliveries/{delivery}/resend", None, 200, 1),
    case("admin_page", "POST", "/admin/deliveries/{delivery}/resend", {}, 302, 1),
    case("admin", "PATCH", "/api/webhooks/4242", {"active": False}, 404, 1),
    case("alice", "GET", "/api/webhooks/{hook}", None, 403, 0),
    case("bob", "GET", "/api/bookings/mine", None, 200, 1),
    case("admin", "GET", "/api/rooms?include_inactive=true", None, 200, 1, cold=3),
    # Pending: whether to offer approve and reject reads the room's approvers from
    # this process's copy of the rooms (cold: read once).
    case("page", "GET", "/bookings/{theirs}", None, 200, 1, cold=3),
    case("page", "GET", "/bookings/mine?when=past", None, 200, 1, cold=3),
    case("admin_page", "GET", "/rooms/{room}/calendar.ics", None, 200, 1),
    # areas, groups, policies, approvals: pages (issue 18)
    case("admin_page", "GET", "/admin/areas", None, 200, 1),
    case("admin_page", "POST", "/admin/areas", {"name": "Annex"}, 302, 1),
    case("admin_page", "POST", "/admin/areas", {"name": "campus"}, 409, 2),
    case("admin_page", "GET", "/admin/areas/{area}", None, 200, 1),
    # saved, then its rooms' bookings ahead that fall outside their hours now (counted
    # after the change: room_policy() in the changing statement reads the old areas)
    case("admin_page", "POST", "/admin/areas/{area}", {"name": "Campus", "set_max_minutes": "on",
                                                     "max_minutes": "90"}, 302, 2),
    case("admin_page", "POST", "/admin/areas/{area}", {"name": "Campus", "set_max_minutes": "on",
                                                     "max_minutes": "x"}, 400, 1),
    case("admin_page", "GET", "/admin/groups", None, 200, 1),
    case("admin_page", "POST", "/admin/groups", {"name": "Lab", "members": "bob@example.com"},
         302, 1),
    case("admin_page", "GET", "/admin/groups/{group}", None, 200, 1),
    case("admin_page", "POST", "/admin/groups/{group}", {"name": "Facilities",
                                                       "members": "admin@example.com"}, 302, 1),
    case("admin_page", "GET", "/admin/rooms/{room}/policy", None, 200, 1),
    case("admin_page", "POST", "/admin/rooms/{room}/policy", {"area_id": "{area}"}, 302, 1),
    case("page", "GET", "/approvals", None, 200, 1),
    case("admin_page", "POST", "/approvals/{theirs}/approve", {}, 302, 1),
    case("page", "POST", "/approvals/{theirs}/reject", {}, 403, 2),
    case("stranger_page", "GET", "{tap}", None, 200, 1),
    case("stranger_page", "POST", "{tap}", {}, 200, 2),
]

CASES = API_CASES + PAGE_CASES + EDIT_CASES + MORE_CASES
IDS = [f"{n:03d} {c}" for n, c in enumerate(CASES)]
SIZES = {"small": (1, 7), "large": (20, 100)}     # rooms, bookings


def statements(response) -> int:
    match = re.search(r'db;desc="(\d+) statements"', response.headers["Server-Timing"])
    return int(match.group(1)) if match else 0


# -- the world ------------------------------------------------------------------------

def build(app, url: str, size: str) -> dict:
    """Alice, Bob and Ada (admin); the Berlin room "Spree" with one booking each by
    Alice and Bob on DAY and Alice's weekly series of five; a webhook endpoint, a
    failed delivery and its attempt; spare tokens of Alice's. The large world adds
    rooms, bookings, endpoints and deliveries, to show a budget does not grow with
    them. Then clients for everyone."""
    rooms, bookings = SIZES[size]
    with db.connect(url) as conn:
        make = Factory(conn)
        alice, bob = make.user("Alice"), make.user("Bob")
        admin = make.user("Ada", role="admin", email="admin@example.com")
        berlin = make.room("Spree", "Europe/Berlin")
        mine = make.booking(berlin, alice, datetime(2027, 3, 2, 12, tzinfo=UTC),
                            datetime(2027, 3, 2, 13, tzinfo=UTC))
        theirs = make.booking(berlin, bob, datetime(2027, 3, 2, 14, tzinfo=UTC),
                              datetime(2027, 3, 2, 15, tzinfo=UTC))
        tokens = {who: make.token(user) for who, user in
                  (("alice", alice), ("bob", bob), ("admin", admin))}
        spare = make.token(alice)
        token_id = conn.execute("SELECT max(id) AS id FROM api_tokens WHERE user_id = %s",
                                (alice["id"],)).fetchone()["id"]
        hook = conn.execute(
            "INSERT INTO webhook_endpoints (url, events, secret, created_by) "
            "VALUES ('https://93.184.215.14/hook', '{booking.created}', 'whsec_x', %s) "
            "RETURNING id", (admin["id"],)).fetchone()
        if rooms > 1:
            _grow(conn, berlin, [alice, bob, admin], rooms, bookings - 7)
        delivery = _deliveries(conn, hook["id"], alice, 1 if rooms == 1 else 30)
    alice_api = Api(app.test_client(), tokens["alice"])
    made = alice_api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "recurrence": "FREQ=WEEKLY;COUNT=5",
        "start_time": "2027-03-03T10:00", "end_time": "2027-03-03T11:00"})
    assert made.status_code == 201, made.get_json()
    feed = alice_api.get("/api/me").get_json()["calendar_url"].replace("http://localhost", "")
    # Issue 18: Spree in an area (no rules of its own), the admins' group, and Bob's
    # booking waiting for approval, with the admin's one-tap link for it.
    with db.connect(url) as conn:
        area = conn.execute("INSERT INTO areas (name) VALUES ('Campus') RETURNING id").fetchone()
        conn.execute("UPDATE rooms SET area_id = %s WHERE id = %s", (area["id"], berlin["id"]))
        group = conn.execute("INSERT INTO groups (name) VALUES ('Facilities') RETURNING id"
                             ).fetchone()
        conn.execute("INSERT INTO group_members VALUES (%s, %s)", (group["id"], admin["id"]))
        conn.execute("UPDATE bookings SET status = 'pending' WHERE id = %s", (theirs["id"],))
    from booking.approvals.service import tap_token
    tap = "/approvals/tap/" + tap_token(app.config, admin["id"], "approve",
                                        booking_id=theirs["id"])
    with db.connect(url) as conn:
        counted = conn.execute("SELECT (SELECT count(*) FROM rooms) AS rooms, "
                               "(SELECT count(*) FROM bookings) AS bookings").fetchone()
    assert (counted["rooms"], counted["bookings"]) == (rooms, bookings)
    world = {"room": berlin["id"], "mine": mine["id"], "theirs": theirs["id"], "bob_id": bob["id"],
             "series": made.get_json()["series"]["id"], "feed": feed, "hook": hook["id"],
             "area": area["id"], "group": group["id"], "tap": tap,
             "token": token_id, "delivery": delivery, "spare": spare,
             "alice": alice_api, "bob": Api(app.test_client(), tokens["bob"]),
             "admin": Api(app.test_client(), tokens["admin"]),
             "page": _signed_in(app, alice), "admin_page": _signed_in(app, admin)}
    with app.app_context():
        from booking.bookings import reminders
        world["signed"] = reminders.checkin_token(mine["id"], alice["id"])
        world["offer"] = reminders.cancel_series_token(world["series"], alice["id"])
        from booking.panels import service as panels
        world["panel"] = panels.create_token(berlin["id"], admin["id"])[0]["id"]
    return world


def _grow(conn, berlin, users, rooms: int, bookings: int) -> None:
    """rooms - 1 more rooms, each busy on DAY 13:00-15:00 (so what is taken in the
    small world is taken here too) and on three other days; the rest of the
    bookings in Spree at 17:00, on days around DAY, past and future."""
    extra = [Factory(conn).room(f"Room {n}", "Europe/Berlin", capacity=6, building="HQ",
                                floor=n % 3) for n in range(2, rooms + 1)]
    rows = []
    for n, room in enumerate(extra):
        rows.append((room["id"], datetime(2027, 3, 2, 12, tzinfo=UTC), 120))
        for d in (-3, 1, 5):
            rows.append((room["id"], datetime(2027, 3, 2, 10, tzinfo=UTC) + timedelta(days=d), 60))
    day = -8
    while len(rows) < bookings:
        rows.append((berlin["id"], datetime(2027, 3, 2, 16, tzinfo=UTC) + timedelta(days=day), 30))
        day += 1
    assert len(rows) == bookings, len(rows)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO bookings (room_id, user_id, title, start_at, end_at) "
            "VALUES (%s, %s, 'Busy', %s, %s + make_interval(mins => %s))",
            [(room, users[n % len(users)]["id"], start, start, minutes)
             for n, (room, start, minutes) in enumerate(rows)])


def _deliveries(conn, hook: int, alice, n: int) -> int:
    """n deliveries of the newest events (failed, sent and pending by turns, with an
    attempt each); the id of a failed one."""
    rows = conn.execute(
        "INSERT INTO deliveries (event_id, channel, endpoint_id, status, attempts, last_error) "
        "SELECT id, 'webhook', %s, (ARRAY['failed', 'sent', 'pending'])[1 + k %% 3], 1, 'HTTP 500' "
        "FROM (SELECT id, row_number() OVER (ORDER BY id DESC) - 1 AS k FROM outbox "
        "      ORDER BY id DESC LIMIT %s) e RETURNING id, endpoint_id, status", (hook, n)).fetchall()
    conn.execute("INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, status_code, "
                 "latency_ms, ok) SELECT unnest(%s::bigint[]), %s, 1, 500, 12, false",
                 ([r["id"] for r in rows], hook))
    return next(r["id"] for r in rows if r["status"] == "failed")


def _signed_in(app, user) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(user["email"]).status_code == 302
    browser.get("/")
    return browser


def _fill(value, world):
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, dict):
        return {k: (int(_fill(v, world)) if v in ("{room}", "{area}") and k in ("room_id", "area_id")
                    else _fill(v, world))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


def _request(world, app, who, method, url, body):
    url, body = _fill(url, world), _fill(body, world)
    if who == "anonymous":
        return app.test_client().open(url, method=method, json=body)
    if who == "stranger_page":
        stranger = Browser(app.test_client())
        stranger.get("/login")                # a CSRF token, as a browser would have
        return stranger.post(url, data=body) if method == "POST" else stranger.client.get(url)
    caller = world[who]
    if who in PAGES:
        return caller.post(url, data=body) if method == "POST" else caller.get(url)
    return caller.client.open(url, method=method, json=body, headers=caller.headers)


_markers = itertools.count()


def settle(app, url: str) -> None:
    """Wait until this process has heard every notification sent so far: a marker
    sent now arrives after them (PostgreSQL delivers them in commit order). Else a
    late one (from a booking made while building the world) could make the
    process forget something in the middle of the measured request."""
    channel = memo.of(app).channel
    if not channel.poll():
        return                        # not listening: nothing is trusted from it anyway
    heard = app.extensions.get("budgets.heard")
    if heard is None:
        heard = app.extensions["budgets.heard"] = set()
        channel.on("budgets", heard.add)
    marker = f"{os.getpid()}.{next(_markers)}"
    with db.connect(url) as conn:
        conn.execute("SELECT pg_notify('booking_memo', %s)", ("budgets:" + marker,))
    deadline = time.monotonic() + 60          # for a failure only; it takes milliseconds
    while marker not in heard:
        assert time.monotonic() < deadline, "this process never heard the marker"
        time.sleep(0.002)
        assert channel.poll(), "the listening connection went away"


def prepare(app, url: str, world: dict, c: Case, temperature: str) -> None:
    """Put the process in the state the temperature names, just before the request."""
    settle(app, url)
    kept = memo.of(app)
    if temperature == "cold":
        kept.users.forget()
        kept.overview.forget()
        kept.rooms.forget()
        return
    if c.who in SIGNED_IN:            # known: asked twice (listening, then kept)
        caller = world[c.who]
        headers = caller.headers if isinstance(caller, Api) else {}
        for _ in range(2):
            assert caller.client.get("/api/me", headers=headers).status_code == 200
    if c.method == "GET":             # what the read remembers, remembered
        _request(world, app, c.who, c.method, c.url, c.body)
    settle(app, url)


# -- one world per size for the reads -------------------------------------------------

_worlds = itertools.count()


@pytest.fixture(scope="module")
def read_worlds(pg_cluster, template_url, tmp_path_factory):
    """size -> (app, url, world), built on first use, for the whole module."""
    made: dict[str, tuple] = {}
    names = []

    def get(size: str):
        if size not in made:
            name = f"budgets_{os.getpid()}_{size}"
            names.append(name)
            with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE booking_template')
            url = pg_cluster.url(name)
            app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret", "SERVER_TIMING": True,
                              "VAR_DIR": str(tmp_path_factory.mktemp("budgets")),
                              "POOL_MIN_SIZE": 1, "POOL_MAX_SIZE": 4})
            app.config["TESTING"] = True
            app.config["NOW"] = NOW
            app.extensions["booking.clock"] = lambda: app.config["NOW"]
            made[size] = (app, url, build(app, url, size))
        return made[size]

    yield get
    for app, _, _ in made.values():
        close(app)
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def world_for(request, read_worlds):
    """world_for(case, size) -> (app, url, world): shared for a read, fresh for a write."""
    def get(c: Case, size: str):
        if c.method == "GET" and not c.fresh:
            return read_worlds(size)
        app, url = request.getfixturevalue("app"), request.getfixturevalue("database_url")
        return app, url, build(app, url, size)
    return get


# -- the budgets ----------------------------------------------------------------------

@pytest.mark.parametrize("temperature", ["warm", "cold"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_statements_per_request(world_for, c, size, temperature):
    app, url, world = world_for(c, size)
    prepare(app, url, world, c, temperature)
    response = _request(world, app, c.who, c.method, c.url, c.body)
    assert response.status_code == c.status, response.get_data(as_text=True)[:500]
    expected = c.warm if temperature == "warm" else c.cold
    assert statements(response) == expected, f"{temperature}, {size}"
    assert expected <= 3       # the rule: at most three statements, signing in included


def _rule_of(c: Case, adapter) -> tuple[str, str]:
    # Any id will do for naming the rule; a feed's URL is a path of its own.
    filled = c.url.replace("{feed}", "/calendar/x.ics").replace("{tap}", "/approvals/tap/x")
    filled = re.sub(r"\{[a-z_]+\}", "1", filled).split("?")[0]
    rule, _ = adapter.match(filled, method=c.method, return_rule=True)
    return c.method, rule.rule


def test_every_route_has_a_budget():
    from routemap import routing_adapter

    adapter = routing_adapter()
    covered = {_rule_of(c, adapter) for c in CASES}
    missing = [f"{method} {rule}" for method, rule in app_routes() if (method, rule) not in covered]
    assert missing == [], f"routes without a row in tests/test_budgets.py CASES: {missing}"


def all_connections_idle(pool, within: float = 2.0) -> bool:
    """Every connection of the pool is idle again (allowing a moment for one the
    pool is still opening in the background, which counts in pool_size first)."""
    import time
    deadline = time.monotonic() + within
    while True:
        stats = pool.get_stats()
        if stats["pool_available"] == stats["pool_size"]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_connections_go_back_to_the_pool(world_for, c):
    app, url, world = world_for(c, "small")
    _request(world, app, c.who, c.method, c.url, c.body)
    assert all_connections_idle(app.extensions["booking.pool"])


def test_a_request_that_fails_inside_a_borrow_gives_the_connection_back(app, api_as, alice):
    @app.get("/api/test-explodes")
    def explodes():
        with db.connection() as conn:
            conn.execute("SELECT 1")
            raise RuntimeError("boom")

    api = api_as(alice)
    for _ in range(10):  # more than the pool holds: a leak would exhaust it
        r = api.get("/api/test-explodes")
        assert r.status_code == 500
        assert r.get_json()["error"]["code"] == "internal"
    assert all_connections_idle(app.extensions["booking.pool"])
    assert api.get("/api/me").status_code == 200


# A booking with an Idempotency-Key: the key is claimed, kept or replayed
# inside the statement that books, so it costs nothing extra: two statements
# (the room, then booking) with the caller known, as without a key.
KEYED_CASES = [
    ("/api/bookings", {"room_id": "{room}", "title": "x", **SLOT}),
    ("/api/bookings", {"room_id": "{room}", "title": "x", "recurrence": "FREQ=DAILY;COUNT=2",
                       "start_time": f"{DAY}T16:00", "end_time": f"{DAY}T17:00"}),
    ("/api/bookings/auto", AUTO),
]


@pytest.mark.parametrize("url, body", KEYED_CASES)
def test_statements_per_request_with_an_idempotency_key(app, database_url, url, body):
    world = build(app, database_url, "small")
    body = _fill(body, world)
    api = world["alice"]
    headers = {**api.headers, "Idempotency-Key": "budget"}
    prepare(app, database_url, world, case("alice", "POST", url, body, 201, 0), "warm")
    first = api.client.post(url, json=body, headers=headers)
    replay = api.client.post(url, json=body, headers=headers)
    mismatch = api.client.post(url, json={**body, "title": "y"}, headers=headers)
    assert (first.status_code, replay.status_code, mismatch.status_code) == (201, 201, 422)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert [statements(r) for r in (first, replay, mismatch)] == [2, 2, 2]


def test_statements_per_request_for_a_keyed_booking_form(app, database_url):
    world = build(app, database_url, "small")
    page = world["page"]
    form = {"room_id": world["room"], "title": "x", "date": DAY, "start": "10:00",
            "end": "11:00", "idempotency_key": "form-budget"}
    prepare(app, database_url, world, case("page", "POST", "/bookings/new", form, 302, 0), "warm")
    answers = [page.post("/bookings/new", data=form) for _ in range(2)]
    assert [r.status_code for r in answers] == [302, 302]
    assert [statements(r) for r in answers] == [2, 2]
