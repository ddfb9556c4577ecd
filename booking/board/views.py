"""The planning board page: /board?date=&building=&floor=&area=.

Rooms are rows, the day's hours run across, each booking is a bar and each
free stretch a link to the booking form. The bars are placed by CSS from the
server's figures (left and width in percent of the group's hours), so the
board works without JavaScript; every bar and free stretch is a link in
reading order (room by room, then by time), and each says in words what it
is for screen readers ("Spree, 10:00–11:00, Planning, Alice").

Rooms are grouped by time zone, each group on its own local hours with its
zone named, then by building and floor. The drawn rows are the same for
everyone who asks in the same language (and, for today's, the same quarter
hour) and whom the rooms' policies treat alike (limits_of: who may book, the
notice and the window as the clock moves on), so they are drawn once per
board, language, clock and limits (booking/memo/board.py) and set into each
person's page; the "now" line is placed per request by a CSS variable on the
zone, outside the drawing. Time a policy holds is a grey bar that says why,
except a buffer: the gap beside a booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from booking import i18n, memo, timeline
from booking.auth import login_required
from booking.board import service
from booking.clock import now
from booking.finder import service as finder
from booking.http import Fragment, spliced
from booking.times import zone

bp = Blueprint("board", __name__)


@bp.get("/board")
@login_required
def board():
    args = request.args
    moment = now()
    found = service.board(args.get("date"), args.get("building"), args.get("floor"), moment,
                          args.get("area"))
    building, floor, area = service.filters(args.get("building"), args.get("floor"),
                                            args.get("area"))
    shown = date.fromisoformat(found.date)
    clock = clock_of(found, moment)
    limits = limits_of(found.date, moment)
    drawn = memo.current().board.drawn(
        (found.date, (building or "").lower(), floor, area, found.version, clock,
         str(i18n.locale()),           # drawn per language
         finder.rooms_copy()[0],       # per copy of the rooms' policies (their hours)
         tuple(limits.items())),       # and what else of them holds free time, for this person
        lambda: draw(found, clock, limits))
    found.answer.body()   # the twin's body, kept: its ETag, so the first refresh is a 304
    # Each zone's drawn rows go in where its marker stands, already encoded and compressed.
    return spliced(render_template(
        "board/board.html", board=found, zones=[z.head(moment, found.date) for z in drawn],
        building=building or "", floor=floor, area=area, etag=f'"{found.answer.etag}"',
        refresh=url_for("board_api.board", date=args.get("date") or None,
                        building=building, floor=floor, area=area),
        prev_day=(shown - timedelta(days=1)).isoformat(),
        next_day=(shown + timedelta(days=1)).isoformat(),
        today=not args.get("date")), {z.marker: z.rows for z in drawn})


def clock_of(found: service.Board, moment: datetime) -> tuple[int | None, ...]:
    """What of the clock a drawn board shows: in each of its zones, when the day is
    today there, the quarter hour its free time starts from (timeline.drawn_now),
    else only whether it is over (-1) or ahead (None). Today's board is drawn again
    each quarter hour, another day's once; the "now" line is set per request
    (DrawnZone.head). At each new minute every process drew the boards of every
    day it was asked for, and those drawings (500 rooms each) were the board's
    slowest answers."""
    return tuple(timeline.drawn_now(timeline.now_minute(moment.astimezone(zone(tz)),
                                                        found.date))
                 for tz in found.zones)


def limits_of(day: str, moment: datetime) -> dict[tuple, timeline.Limits]:
    """What the rooms' policies hold of their free time on `day` at `moment` for the
    signed-in person (timeline.limits), by kind of limits (limit_kind(): a
    handful, where the rooms have dozens of policies). Part of a drawing's key:
    a board is drawn again when a notice or the window moves on, or for someone
    the bookers rule treats otherwise."""
    version, by_id = finder.rooms_copy()
    kinds = memo.current().rooms.derived(version, "board_limit_kinds",
                                         lambda: _limit_kinds(by_id))
    booker = current_user.booker
    return {kind: timeline.limits(policy, day, moment.astimezone(zone(kind[0])),
                                  None if booker.may_book(policy) else "not_permitted")
            for kind, policy in kinds.items()}


def limit_kind(timezone: str, policy: Any) -> tuple:
    """What timeline.limits reads of a room's zone and policy, and who may book."""
    return (timezone, timeline.limits_read(policy), policy.bookers)


def _limit_kinds(by_id: Any) -> dict[tuple, Any]:
    """The kinds of limits of the copy's rooms: kind -> a policy of that kind."""
    kinds: dict[tuple, Any] = {}
    for room_id, room in by_id.items():
        policy = by_id.policies.get(room_id)
        if policy is not None:
            kinds.setdefault(limit_kind(room["timezone"], policy), policy)
    return kinds


@dataclass(frozen=True)
class DrawnZone:
    """One zone group of a drawn board: its scale (minutes) and its rows, drawn."""
    zone: str
    first: int
    last: int
    rows: Fragment
    marker: Markup   # where the rows go in the page: nothing a person could type renders so

    def head(self, moment: datetime, day: str) -> dict[str, Any]:
        """What the page around the rows says of this zone at `moment`: its hours,
        and "now" (in percent of the hours) while the day is today there and now is
        within them."""
        local_now = moment.astimezone(zone(self.zone))
        minute = timeline.now_minute(local_now, day)
        return {"zone": self.zone, "first": timeline.hm(self.first),
                "last": timeline.hm(self.last), "hours": (self.last - self.first) // 60,
                "now": (timeline.percent(minute, self.first, self.last)
                        if minute is not None and self.first <= minute <= self.last else None),
                "now_label": f"{local_now:%H:%M}", "marker": self.marker}


def draw(found: service.Board, clock: tuple[int | None, ...],
         limits: dict[tuple, timeline.Limits]) -> list[DrawnZone]:
    """Each zone group's rows, drawn once for its clock and limits."""
    bases = link_bases()
    return [DrawnZone(z["zone"], z["first"], z["last"],
                      Fragment(render_template("board/_board.html", z=z, date=found.date,
                                               **bases)),
                      Markup(f"<!--board zone {n}: drawn once per board, language and clock-->"))
            for n, z in enumerate(layout(found, clock, limits), 1)]


def link_bases() -> dict[str, str]:
    """The start of every link the board has many of, built once per drawing:
    url_for for each of 3,000 bars would cost more than drawing them."""
    def prefix(endpoint: str, name: str) -> str:
        marker = 987654321
        return url_for(endpoint, **{name: marker}).rsplit(str(marker), 1)[0]
    return {"booking_base": prefix("bookings.show", "booking_id"),
            "room_base": prefix("rooms.day", "room_id"),
            "book_base": url_for("bookings.new")}


def layout(found: service.Board, clock: tuple[int | None, ...],
           limits: dict[tuple, timeline.Limits] | None = None) -> list[dict[str, Any]]:
    """The board as the template draws it: zone groups, each with its hours and
    building/floor groups of rooms, each room with its stretches placed in percent
    of the group's hours. `clock` is clock_of()'s, one per zone; `limits`
    limits_of()'s."""
    limits = limits or {}
    policies = finder.rooms_copy()[1].policies
    zones = []
    for (tz, entries), now_minute in zip(
            groupby(found.rooms, key=lambda e: e["room"]["timezone"]), clock):
        entries = list(entries)
        # Each room's hours that day under its effective policy (None: closed all day).
        hours = {e["room"]["id"]: timeline.opening(e["room"], found.date,
                                                   policies.get(e["room"]["id"]))
                 for e in entries}
        first, last = timeline.hour_span([{"opens": h[0], "closes": h[1]}
                                          for h in hours.values() if h]
                                         or [e["room"] for e in entries])
        groups = []
        for (building, floor), members in groupby(
                entries, key=lambda e: (e["room"]["building"], e["room"]["floor"])):
            groups.append({"building": building, "floor": floor, "rooms": [
                _row(entry, found.date, now_minute, hours[entry["room"]["id"]], policy,
                     first, last, limits.get(limit_kind(tz, policy), timeline.NO_LIMITS)
                     if policy is not None else timeline.NO_LIMITS)
                for entry in members for policy in [policies.get(entry["room"]["id"])]]})
        zones.append({
            "zone": tz, "first": first, "last": last,
            "hours": [{"label": timeline.hm(h), "left": timeline.percent(h, first, last)}
                      for h in timeline.hours(first, last)],
            "today": now_minute is not None and now_minute >= 0, "groups": groups})
    return zones


def _row(entry: dict, day: str, now_minute: int | None, hours: tuple[str, str] | None,
         policy: Any, first: int, last: int,
         limits: timeline.Limits = timeline.NO_LIMITS) -> dict[str, Any]:
    """A room's bars: its bookings, free stretches within its hours that day (at most
    the longest booking its policy allows), time its policy holds (`limits`), and
    a closed bar when it is closed all day."""
    room = entry["room"]
    longest = policy.max_minutes if policy else current_app.config["MAX_BOOKING_MINUTES"]
    opens, closes = hours or (timeline.hm(first), timeline.hm(last))
    bars = []
    for part in timeline.stretches(opens, closes, day, entry["bookings"], now_minute, longest,
                                   closed=hours is None, limits=limits):
        if part.kind == "closed" and hours is not None:
            continue   # the board's scale is the opening hours; the bar itself shows
        if part.reason == "buffer":
            continue   # a gap between a booking and the free time beside it: the
            # board's 3,000 bookings would each bring two bars saying so
        bars.append({"kind": part.kind, "left": timeline.percent(part.start, first, last),
                     "width": timeline.percent(first + part.end - part.start, first, last),
                     "start": part.start_hm, "end": part.end_hm, "booking": part.booking,
                     "reason": part.reason,
                     "book_start": part.book_start_hm, "book_end": part.book_end_hm})
    return {"room": room, "bars": bars}
