"""Rooms pages: the overview (/), a room's day, and the admin's rooms page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.http import quote_etag

from booking import memo, timeline
from booking.clock import now
from booking.http import twin_etag
from booking.auth import admin_required, login_required
from booking.errors import BookingError
from booking.finder import service as finder
from booking.policy import source_of
from booking.rooms import api, service
from booking.times import COMMON_ZONES, zone
from booking.i18n import _, ngettext
from booking.templating import clock

bp = Blueprint("rooms", __name__)

@bp.get("/")
@login_required
def overview():
    moment = now()
    answer = service.overview(moment, with_rooms=True)   # "Closed now" reads their policies
    answer.body(api.overview_json)   # the twin's body (kept): its ETag, so the first refresh is a 304
    today = rooms_today(answer.data, moment)
    return render_template("rooms/overview.html", rooms=answer.data, etag=quote_etag(answer.etag),
                           **today)


def rooms_today(rooms: list[dict], moment: datetime) -> dict[str, Any]:
    """What the overview's cards say of each room besides its bookings, under its
    effective policy, worked out once per zone, hours and policy:

    - `hours`: room id -> its opening hours today in its zone ("HH:MM", "HH:MM"),
      None when it is closed all day;
    - `closed`: room id -> when it opens next, for the rooms closed now (a New York
      room at 03:00, or on a Saturday or a closed date, is closed, not free):
      "HH:MM" later today, "tomorrow HH:MM", "YYYY-MM-DD HH:MM" on a later day, ""
      when not within two weeks;
    - `not_theirs`: the rooms the signed-in person may not book (refusal()).

    The policies are this process's copy of the rooms, which the overview's
    version statement brought up to date (rooms.service.overview)."""
    by_shape: dict[tuple, tuple] = {}
    hours, closed, not_theirs = {}, {}, set()
    policies = memo.current().rooms.current()[1].policies
    for room in rooms:
        policy = policies.get(room["id"])
        shape = (room["timezone"], room["opens"], room["closes"], policy)
        if shape not in by_shape:
            local_now = moment.astimezone(zone(room["timezone"]))
            by_shape[shape] = (timeline.opening(room, local_now.date().isoformat(), policy),
                               opens_next(room, policy, local_now))
        hours[room["id"]], opens = by_shape[shape]
        if opens is not None:
            closed[room["id"]] = opens
        if refusal(room, policy) is not None:
            not_theirs.add(room["id"])
    return {"hours": hours, "closed": closed, "not_theirs": not_theirs}


def opens_next(room: dict, policy: Any, local_now: datetime) -> str | None:
    """None while the room is open at `local_now` (its zone's wall clock) under its
    policy, else when it opens next (closed_rooms' forms)."""
    today = local_now.date()
    hours = timeline.opening(room, today.isoformat(), policy)
    if hours is not None:
        when = timeline.closed_now(hours[0], hours[1], local_now)
        if when is None or not when.startswith("tomorrow "):
            return when
    for ahead in range(1, 15):
        day = today + timedelta(days=ahead)
        hours = timeline.opening(room, day.isoformat(), policy)
        if hours is not None:
            return f"tomorrow {hours[0]}" if ahead == 1 else f"{day.isoformat()} {hours[0]}"
    return ""


@bp.get("/rooms/<id:room_id>")
@login_required
def day(room_id: int):
    data = service.day(room_id, request.args.get("date"), now(), buffers=True)
    held = with_buffers(data["bookings"], data.pop("buffers"))
    etag = twin_etag(data)
    shown = date.fromisoformat(data["date"])
    policy = finder.policy_of(room_id)
    return render_template("rooms/day.html", **data, etag=etag,
                           refresh=url_for("rooms_api.day", room_id=room_id,
                                           date=request.args.get("date") or None),
                           # "Book" links: this, plus the free slot's &start=&end=
                           book_url=url_for("bookings.new", room_id=room_id, date=data["date"]),
                           grid=day_grid(data["room"], data["date"], held, now(),
                                         policy, refusal(data["room"], policy)),
                           prev_day=(shown - timedelta(days=1)).isoformat(),
                           next_day=(shown + timedelta(days=1)).isoformat(),
                           today=now().astimezone(zone(data["room"]["timezone"])).date())


@bp.get("/rooms/<id:room_id>/week")
@login_required
def week(room_id: int):
    """Seven columns of the day timeline, Monday to Sunday, with links to each day."""
    data = service.week(room_id, request.args.get("start"), now(), buffers=True)
    room, moment = data["room"], now()
    monday = date.fromisoformat(data["days"][0]["date"])
    policy = finder.policy_of(room_id)
    refused = refusal(room, policy)
    held = [with_buffers(d["bookings"], d.pop("buffers")) for d in data["days"]]
    grids = [day_grid(room, d["date"], h, moment, policy, refused)
             for d, h in zip(data["days"], held)]
    # One scale for the seven days, so their hours line up: a day with shorter hours,
    # or a booking outside them, is drawn closed to the week's first and last minute.
    reach = (min(g["first"] for g in grids), max(g["last"] for g in grids))
    if any((g["first"], g["last"]) != reach for g in grids):
        grids = [day_grid(room, d["date"], h, moment, policy, refused, reach)
                 for d, h in zip(data["days"], held)]
    columns = [{"date": d["date"], "grid": grid,
                "book_url": url_for("bookings.new", room_id=room_id, date=d["date"]),
                "count": len(d["bookings"])} for d, grid in zip(data["days"], grids)]
    today = moment.astimezone(zone(room["timezone"])).date().isoformat()
    # The week's hours, when every open day has the same (each column shows its own).
    hours = {(c["grid"]["opens"], c["grid"]["closes"]) for c in columns if c["grid"]["opens"]}
    return render_template("rooms/week.html", room=room, columns=columns, today=today,
                           hours=hours.pop() if len(hours) == 1 else None,
                           prev_week=(monday - timedelta(days=7)).isoformat(),
                           next_week=(monday + timedelta(days=7)).isoformat(),
                           this_week=any(c["date"] == today for c in columns))


@bp.get("/rooms/<id:room_id>/availability")
@login_required
def availability(room_id: int):
    args = request.args
    data = service.availability(room_id, args.get("start"), args.get("end"),
                                args.get("min_minutes"), now(), with_policy=True,
                                booker=current_user.booker)
    policy = data.pop("policy")
    tz = zone(data["room"]["timezone"])
    longest = timedelta(minutes=policy.max_minutes)
    days: dict[str, list] = {}
    for free in data["free"]:
        # Its link offers at most the longest booking, in real time.
        start = datetime.fromisoformat(free["start_time"])
        end = min(datetime.fromisoformat(free["end_time"]), start + longest).astimezone(tz)
        days.setdefault(free["start_time"][:10], []).append({**free, "book_end": f"{end:%H:%M}"})
    hours = {day: timeline.opening(data["room"], day, policy) for day in days}
    return render_template("rooms/availability.html", **data, days=days, hours=hours, args=args)


def with_buffers(bookings: list[dict], buffers: list[int]) -> list[dict]:
    """The bookings as the timeline reads them: each with its own buffer, which it
    holds the room for after it (service.BUFFERS)."""
    return [{**b, "buffer_minutes": minutes} for b, minutes in zip(bookings, buffers)]


def refusal(room: dict, policy: Any) -> str | None:
    """Why the signed-in person may not book `room` at all (timeline.Limits.refused):
    "inactive", "not_permitted" (not among its policy's bookers; an administrator
    books every room), or None."""
    if not room["active"]:
        return "inactive"
    return None if policy is None or current_user.booker.may_book(policy) else "not_permitted"


def day_grid(room: dict, day: str, bookings: list[dict], moment: datetime,
             policy: Any = None, refused: str | None = None,
             reach: tuple[int, int] | None = None) -> dict:
    """The room's day from opening to closing as booked, free, held and past stretches
    on 5-minute grid rows, with its hour marks and the "now" mark (booking/timeline.py).

    The hours are those its effective `policy` gives that day (the weekday's
    hours, closed dates; without one, the room's own), and what else of it
    would refuse a booking is held (its buffer, notice, window and shortest
    booking; `refused`: refusal()), so nothing drawn free is then refused: a
    closed day is closed all through. Free stretches link to the booking form
    with at most the longest booking the policy allows. The grid says the day's
    hours (`opens`, `closes`; None when closed). `reach`: minutes to draw at
    least (timeline.stretches)."""
    hours = timeline.opening(room, day, policy)
    # A closed day is drawn on the scale of the hours the room keeps in its week (as
    # the week view draws it), not the room's own, which its policy may not use.
    week = policy.week_hours(room) if policy is not None and hours is None else None
    opens, closes = hours or (week and (f"{week[0]:%H:%M}", f"{week[1]:%H:%M}")) \
        or (room["opens"], room["closes"])
    longest = policy.max_minutes if policy else current_app.config["MAX_BOOKING_MINUTES"]
    local_now = moment.astimezone(zone(room["timezone"]))
    now_minute = timeline.now_minute(local_now, day)
    parts = timeline.stretches(opens, closes, day, bookings, now_minute, longest,
                               closed=hours is None, reach=reach,
                               limits=timeline.limits(policy, day, local_now, refused))
    return {**timeline.grid(parts, opens, closes, now_minute),
            "opens": hours and opens, "closes": hours and closes}


# -- admin ---------------------------------------------------------------------------

@bp.get("/admin/rooms")
@admin_required
def admin():
    return render_template("rooms/admin.html", rooms=service.all_rooms(),
                           zones=COMMON_ZONES, form={}, error=None)


@bp.post("/admin/rooms")
@admin_required
def admin_create():
    form = _room_form()
    try:
        room = service.create(form, actor=current_user.id)
    except BookingError as err:
        return render_template("rooms/admin.html",
                               rooms=service.all_rooms(),
                               zones=COMMON_ZONES, form=request.form, error=err), err.status
    flash(_("Room %(name)s created.", name=room["name"]), "success")
    return redirect(url_for("rooms.admin"))


@bp.get("/admin/rooms/<id:room_id>")
@admin_required
def admin_edit(room_id: int):
    from booking.panels import service as panels

    room = service.get(room_id, service.ROOM_AND_HOURS_SQL)
    hours_from = room.pop("hours_from")
    form = {**room, "equipment": ", ".join(room["equipment"])}
    return render_template("rooms/edit.html", room=room, form=form, zones=COMMON_ZONES,
                           error=None, panels=panels.tokens(room_id),
                           hours_from=hours_from and source_of(hours_from))


@bp.post("/admin/rooms/<id:room_id>")
@admin_required
def admin_update(room_id: int):
    try:
        room, outside = service.update(room_id, _room_form(), now(), actor=current_user.id)
    except BookingError as err:
        if err.status == 404:
            raise
        return render_template("rooms/edit.html", room=service.get(room_id), form=request.form,
                               zones=COMMON_ZONES, error=err), err.status
    flash(_("Room %(name)s saved.", name=room["name"]), "success")
    warn_after_change(room, outside)
    return redirect(url_for("rooms.admin"))


def warn_after_change(room: dict, outside: service.Outside) -> None:
    """What a room's change leaves its future bookings in: a room nobody can book,
    or hours (its policy's, or its own) they lie outside."""
    if not room["active"] and outside.future:
        flash(ngettext("%(num)d future booking of %(name)s stays booked, but nobody can book "
                       "the room now, nor move a booking within it. Move it to another room "
                       "or cancel it if the room is not to be used.",
                       "%(num)d future bookings of %(name)s stay booked, but nobody can book "
                       "the room now, nor move a booking within it. Move them to another "
                       "room or cancel them if the room is not to be used.", outside.future,
                       name=room["name"]), "warning")
    elif outside.count and outside.hours_from is not None:
        flash(ngettext("%(num)d future booking of %(name)s falls outside the opening hours "
                       "its policy gives (%(source)s), or on a day it is closed: still "
                       "booked, and marked on its day pages. Move or cancel it if the room "
                       "is not available then.",
                       "%(num)d future bookings of %(name)s fall outside the opening hours "
                       "its policy gives (%(source)s), or on a day it is closed: still "
                       "booked, and marked on its day pages. Move or cancel them if the room "
                       "is not available then.", outside.count, name=room["name"],
                       source=outside.hours_from.describe()), "warning")
    elif outside.count:
        flash(ngettext("%(num)d future booking of %(name)s falls outside its hours "
                       "(%(opens)s–%(closes)s): still booked, and marked on its day pages. "
                       "Move or cancel it if the room is not available then.",
                       "%(num)d future bookings of %(name)s fall outside its hours "
                       "(%(opens)s–%(closes)s): still booked, and marked on its day pages. "
                       "Move or cancel them if the room is not available then.",
                       outside.count, name=room["name"], opens=clock(room["opens"]),
                       closes=clock(room["closes"])), "warning")


def _room_form() -> dict:
    """The room fields from the admin form; an unticked box means inactive, and a
    blank floor is no floor given: the default on a new room (0, as when the API
    leaves it out), unchanged on an edited one."""
    fields = {k: v for k, v in request.form.items() if k in service.ROOM_COLUMNS}
    if not fields.get("floor", "x").strip():
        del fields["floor"]
    fields["active"] = "active" in request.form
    fields["checkin_required"] = "checkin_required" in request.form
    return fields
