"""Rooms pages: the overview (/), a room's day, and the admin's rooms page."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.http import quote_etag

from booking.clock import now
from booking.http import twin_etag
from booking.auth import admin_required, login_required
from booking.errors import BookingError
from booking.rooms import api, service
from booking.times import COMMON_ZONES, zone

bp = Blueprint("rooms", __name__)

@bp.get("/")
@login_required
def overview():
    answer = service.overview(now())
    answer.body(api.overview_json)   # the twin's body (kept): its ETag, so the first refresh is a 304
    return render_template("rooms/overview.html", rooms=answer.data, etag=quote_etag(answer.etag))


@bp.get("/rooms/<id:room_id>")
@login_required
def day(room_id: int):
    data = service.day(room_id, request.args.get("date"), now())
    etag = twin_etag(data)
    shown = date.fromisoformat(data["date"])
    return render_template("rooms/day.html", **data, etag=etag,
                           refresh=url_for("rooms_api.day", room_id=room_id,
                                           date=request.args.get("date") or None),
                           # "Book" links: this, plus the free slot's &start=&end=
                           book_url=url_for("bookings.new", room_id=room_id, date=data["date"]),
                           timeline=timeline(data["room"], shown, data["bookings"]),
                           prev_day=(shown - timedelta(days=1)).isoformat(),
                           next_day=(shown + timedelta(days=1)).isoformat(),
                           today=now().astimezone(zone(data["room"]["timezone"])).date())


@bp.get("/rooms/<id:room_id>/availability")
@login_required
def availability(room_id: int):
    args = request.args
    data = service.availability(room_id, args.get("start"), args.get("end"),
                                args.get("min_minutes"), now())
    days: dict[str, list] = {}
    for free in data["free"]:
        days.setdefault(free["start_time"][:10], []).append(free)
    return render_template("rooms/availability.html", **data, days=days, args=args)


def timeline(room: dict, day: date, bookings: list[dict]) -> list[dict]:
    """The day as booked, free and closed segments, in order: from opening to
    closing, stretched to every booking of the day, so none is hidden or cut when
    the room's hours have changed since it was booked (those are marked
    `outside_hours`).

    Each segment has `start`, `end` ("HH:MM"), `booking` (None when not booked),
    `closed` (not bookable: outside the opening hours) and `outside_hours`, plus
    its grid rows in 5-minute steps for the stylesheet.
    """
    def minutes(hm: str) -> int:
        return int(hm[:2]) * 60 + int(hm[3:5])

    opens, closes = minutes(room["opens"]), minutes(room["closes"])
    spans = []
    for booking in bookings:
        # A booking's local date is the day shown (no booking crosses midnight).
        if booking["start_time"][:10] != day.isoformat():
            continue
        start = minutes(booking["start_time"][11:16])
        end = minutes(booking["end_time"][11:16]) \
            if booking["end_time"][:10] == day.isoformat() else 24 * 60
        spans.append((start, max(end, start + 5), booking))
    first = min([opens] + [start for start, _, _ in spans])
    last = max([closes] + [end for _, end, _ in spans])
    segments, cursor = [], first
    for start, end, booking in sorted(spans, key=lambda span: span[0]):
        if start > cursor:
            segments += _unbooked(cursor, start, opens, closes, first)
        segments.append(_segment(max(start, cursor), end, booking, first,
                                 outside=start < opens or end > closes))
        cursor = max(cursor, end)
    if cursor < last:
        segments += _unbooked(cursor, last, opens, closes, first)
    return segments


def _unbooked(start: int, end: int, opens: int, closes: int, origin: int) -> list[dict]:
    """[start, end) without bookings: free inside the opening hours, closed outside."""
    cuts = sorted({start, end, *(m for m in (opens, closes) if start < m < end)})
    return [_segment(a, b, None, origin, closed=b <= opens or a >= closes)
            for a, b in zip(cuts, cuts[1:])]


def _segment(start: int, end: int, booking: dict | None, origin: int, *,
             outside: bool = False, closed: bool = False) -> dict:
    def hm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}" if m < 24 * 60 else "24:00"
    return {"start": hm(start), "end": hm(end), "booking": booking, "closed": closed,
            "outside_hours": outside,
            "row": (start - origin) // 5 + 1, "rows": max(1, (end - start + 4) // 5)}


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
    flash(f"Room {room['name']} created.", "success")
    return redirect(url_for("rooms.admin"))


@bp.get("/admin/rooms/<id:room_id>")
@admin_required
def admin_edit(room_id: int):
    room = service.get(room_id)
    form = {**room, "equipment": ", ".join(room["equipment"])}
    return render_template("rooms/edit.html", room=room, form=form, zones=COMMON_ZONES,
                           error=None)


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
    flash(f"Room {room['name']} saved.", "success")
    if outside:
        flash(f"{outside} future booking{'s' if outside != 1 else ''} of {room['name']} "
              f"{'fall' if outside != 1 else 'falls'} outside its hours "
              f"({room['opens']}–{room['closes']}): still booked, and marked on its day pages. "
              "Move or cancel them if the room is not available then.", "warning")
    return redirect(url_for("rooms.admin"))


def _room_form() -> dict:
    """The room fields from the admin form; an unticked box means inactive, and a
    blank floor is no floor given: the default on a new room (0, as when the API
    leaves it out), unchanged on an edited one."""
    fields = {k: v for k, v in request.form.items() if k in service.ROOM_COLUMNS}
    if not fields.get("floor", "x").strip():
        del fields["floor"]
    fields["active"] = "active" in request.form
    return fields
