"""The planning board page: /board?date=&building=&floor=&area=.

Rooms are rows, the day's hours run across, each booking is a bar and each
free stretch a link to the booking form. The bars are placed by CSS from the
server's figures (left and width in percent of the group's hours), so the
board works without JavaScript; every bar and free stretch is a link in
reading order (room by room, then by time), and each says in words what it
is for screen readers ("Spree, 10:00–11:00, Planning, Alice").

Rooms are grouped by time zone, each group on its own local hours with its
zone named, then by building and floor. The drawn board is the same for
everyone who asks in the same language (and, for today's, the same minute),
so it is drawn once per board, language and clock (booking/memo/board.py)
and set into each person's page.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from markupsafe import Markup

from booking import i18n, memo, timeline
from booking.auth import login_required
from booking.board import service
from booking.clock import now
from booking.http import Fragment, spliced
from booking.times import zone

bp = Blueprint("board", __name__)


@bp.get("/board")
@login_required
def board():
    args = request.args
    found = service.board(args.get("date"), args.get("building"), args.get("floor"), now(),
                          args.get("area"))
    building, floor, area = service.filters(args.get("building"), args.get("floor"),
                                            args.get("area"))
    moment = now()
    shown = date.fromisoformat(found.date)
    drawn = memo.current().board.drawn(
        (found.date, (building or "").lower(), floor, area, found.version,
         clock_of(found, moment), str(i18n.locale())),   # drawn per language
        lambda: Fragment(render_template("board/_board.html", zones=layout(found, moment),
                                         date=found.date, **link_bases())))
    found.answer.body()   # the twin's body, kept: its ETag, so the first refresh is a 304
    # The drawn board goes in where the marker stands, already encoded and compressed.
    return spliced(render_template(
        "board/board.html", board=found, drawn=MARKER, building=building or "",
        floor=floor, area=area, etag=f'"{found.answer.etag}"',
        refresh=url_for("board_api.board", date=args.get("date") or None,
                        building=building, floor=floor, area=area),
        prev_day=(shown - timedelta(days=1)).isoformat(),
        next_day=(shown + timedelta(days=1)).isoformat(),
        today=not args.get("date")), MARKER, drawn)


# Where the drawn board goes in the page: nothing a person could type renders so.
MARKER = Markup("<!--board: drawn once per board, language and clock-->")


def clock_of(found: service.Board, moment: datetime) -> tuple[int | None, ...]:
    """What of the clock a drawn board shows: in each of its zones, the minute
    when the day is today there, else only whether it is over (-1) or ahead
    (None). A board of another day is drawn once, not once a minute: at each
    new minute every process drew the boards of every day it was asked for,
    and those drawings (500 rooms each) were the board's slowest answers."""
    return tuple(timeline.now_minute(moment.astimezone(zone(tz)), found.date)
                 for tz in found.zones)


def link_bases() -> dict[str, str]:
    """The start of every link the board has many of, built once per drawing:
    url_for for each of 3,000 bars would cost more than drawing them."""
    def prefix(endpoint: str, name: str) -> str:
        marker = 987654321
        return url_for(endpoint, **{name: marker}).rsplit(str(marker), 1)[0]
    return {"booking_base": prefix("bookings.show", "booking_id"),
            "room_base": prefix("rooms.day", "room_id"),
            "book_base": url_for("bookings.new")}


def layout(found: service.Board, moment: datetime) -> list[dict[str, Any]]:
    """The board as the template draws it: zone groups, each with its hours, its
    "now" (when the day is today there), and building/floor groups of rooms, each
    room with its stretches placed in percent of the group's hours."""
    longest = current_app.config["MAX_BOOKING_MINUTES"]
    zones = []
    for tz, entries in groupby(found.rooms, key=lambda e: e["room"]["timezone"]):
        entries = list(entries)
        first, last = timeline.hour_span([e["room"] for e in entries])
        local_now = moment.astimezone(zone(tz))
        now_minute = timeline.now_minute(local_now, found.date)
        groups = []
        for (building, floor), members in groupby(
                entries, key=lambda e: (e["room"]["building"], e["room"]["floor"])):
            groups.append({"building": building, "floor": floor, "rooms": [
                _row(entry, found.date, now_minute, longest, first, last) for entry in members]})
        zones.append({
            "zone": tz, "first": timeline.hm(first), "last": timeline.hm(last),
            "hours": [{"label": timeline.hm(h), "left": timeline.percent(h, first, last)}
                      for h in timeline.hours(first, last)],
            "now": (timeline.percent(now_minute, first, last)
                    if now_minute is not None and first <= now_minute <= last else None),
            "now_label": f"{local_now:%H:%M}", "groups": groups})
    return zones


def _row(entry: dict, day: str, now_minute: int | None, longest: int, first: int,
         last: int) -> dict[str, Any]:
    room = entry["room"]
    bars = []
    for part in timeline.stretches(room["opens"], room["closes"], day, entry["bookings"],
                                   now_minute, longest):
        if part.kind == "closed":
            continue   # the board's scale is the opening hours; the bar itself shows
        bars.append({"kind": part.kind, "left": timeline.percent(part.start, first, last),
                     "width": timeline.percent(first + part.end - part.start, first, last),
                     "start": part.start_hm, "end": part.end_hm, "booking": part.booking,
                     "book_start": part.book_start_hm, "book_end": part.book_end_hm})
    return {"room": room, "bars": bars}
