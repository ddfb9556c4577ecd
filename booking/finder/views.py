"""The finder page, /find: search free rooms, "Book this" on each, "Book the best" on top.

The search is a GET form (so a search is a link that can be shared or
bookmarked); booking is one POST form around the results with a title field,
one "Book the best" button and a "Book this" button per room (the button's
value says which), so it works without JavaScript and from the keyboard.
"""

from __future__ import annotations

from datetime import datetime

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user

from booking import idempotency, inputs, timeline
from booking.clock import now
from booking.auth import login_required
from booking.errors import BookingError
from booking.finder import service
from booking.times import COMMON_ZONES, parse_date, parse_hm, zone
from booking.i18n import _, field_name, ngettext
from booking.templating import hm

bp = Blueprint("finder", __name__)

FIELDS = ("date", "start", "end", "timezone", "attendees", "equipment", "building", "floor",
          "any_timezone", "title")
SEARCH_FIELDS = FIELDS[:-1]
ZONE_KEY = "find_timezone"  # the zone of the last search, so the next one starts there

# The API's field names where the page's differ (start_time/end_time are
# mapped for every page by error_field_of). An error about the chosen room is
# about the whole form.
PAGE_FIELD = {"capacity": "attendees", "room_id": None}


@bp.get("/find")
@login_required
def find():
    form = _form(request.args)
    searched = any(request.args.get(f) for f in ("date", "start", "end"))
    if not form["timezone"]:
        form["timezone"] = session.get(ZONE_KEY) or service.choices()["timezone"]
        if searched and ZONE_KEY not in session:
            # The zone was guessed: let the user confirm it rather than search
            # in a zone they did not choose.
            error = BookingError("invalid", _("Choose the time zone the times are in."),
                                 field="timezone")
            return _page(form, error=error), 400
    if not searched:
        return _page(_with_next_slot(form))
    try:
        _check_fields(form)
        result = service.find(_search(form, "capacity"), now(), current_user)
    except BookingError as err:
        return _page(form, error=err), err.status
    _remember_zone(form["timezone"])
    return _page(form, result=result)


def _with_next_slot(form: dict[str, str]) -> dict[str, str]:
    """An empty search starts at the next working slot in the form's zone, within the
    default opening hours (booking/timeline.py)."""
    config = current_app.config
    try:
        tz = zone(form["timezone"])
    except ValueError:
        return form
    day, start, end = timeline.next_slot(now().astimezone(tz), config["DEFAULT_OPENS"],
                                         config["DEFAULT_CLOSES"])
    return {**form, "date": day, "start": start, "end": end}


def _check_fields(form: dict[str, str]) -> None:
    """Every field the search needs, checked at once: the page shows each field's
    error beside it instead of one per submit."""
    check = inputs.Collect()
    for field, message in (("date", _("Choose a date.")), ("start", _("Choose a start time.")),
                           ("end", _("Choose an end time."))):
        if not form[field]:
            check.fail(field, message)
        elif field == "date":
            check(parse_date, form["date"], "date")
        else:
            check(parse_hm, form[field], field)
    try:
        zone(form["timezone"])
    except ValueError:
        check.fail("timezone", _("%(field)s must be an IANA zone like Europe/Berlin.",
                                 field=field_name("timezone")))
    if form["attendees"]:
        check(inputs.integer, form["attendees"], "attendees", high=10000)
    if form["floor"]:
        check(inputs.integer, form["floor"], "floor", low=-50, high=500)
    check.done()


@bp.post("/find")
@login_required
def book():
    form = _form(request.form)
    choice = request.form.get("room") or "best"
    try:
        form["idempotency_key"] = request.form.get(idempotency.FORM_FIELD, "")
        _check_fields(form)   # as a search: a time zone the page can show times in
        key = idempotency.from_form(request.form)
        data = {**_search(form, "attendees"), "title": form["title"]}
        # People left empty: the search's party of one, as its results said ("Fits 1
        # of 4 seats"); the API asks for the number.
        data["attendees"] = data["attendees"] or "1"
        only_room = None if choice == "best" else inputs.integer(choice, "room_id")
        made = service.auto_assign(current_user, data, now(), only_room=only_room, key=key)
    except BookingError as err:
        return _page(form, error=err, result=_result_after(err, form)), err.status
    booking = made["booking"]
    _remember_zone(form["timezone"])
    flash(_("Booked %(room)s, %(start)s–%(end)s (%(zone)s time).", room=booking["room_name"],
            start=hm(booking["start_time"]), end=hm(booking["end_time"]),
            zone=made["room"]["timezone"]), "success")
    return redirect(url_for("bookings.show", booking_id=booking["id"]))


def _form(source) -> dict[str, str]:
    """What the user typed, kept as typed, to fill the form again."""
    form = {field: source.get(field, "").strip() for field in FIELDS}
    if len(source.getlist("equipment")) > 1:
        form["equipment"] = ", ".join(v.strip() for v in source.getlist("equipment"))
    return form


def _search(form: dict[str, str], party_field: str) -> dict[str, str]:
    """The form as the JSON API takes it: a date and two times make two date-times."""
    parse_date(form["date"] or None, "date")
    return {"start_time": f"{form['date']}T{form['start']}",
            "end_time": f"{form['date']}T{form['end']}",
            "timezone": form["timezone"], party_field: form["attendees"],
            "equipment": form["equipment"], "building": form["building"],
            "floor": form["floor"], "any_timezone": "true" if form["any_timezone"] else "false"}


def _result_after(err: BookingError, form: dict[str, str]) -> dict | None:
    """What to list beside the error, within the request's three statements."""
    if err.code == "no_room":
        return {"rooms": [], "suggestions": err.details["suggestions"]}
    if err.code == "conflict" and "rooms" in err.details:
        # The rooms still free; when none is, what the search would suggest.
        return {"rooms": err.details["rooms"], "suggestions": err.details.get("suggestions")}
    if err.field == "title":
        # Checked before any SQL ran: the rooms are still there to choose from.
        try:
            return service.find(_search(form, "capacity"), now(), current_user)
        except BookingError:
            return None
    return None


def _remember_zone(name: str) -> None:
    if session.get(ZONE_KEY) != name:
        session[ZONE_KEY] = name


def _page(form: dict[str, str], *, error: BookingError | None = None,
          result: dict | None = None):
    if error is not None and error.field in PAGE_FIELD:
        error = BookingError(error.code, error.message, status=error.status,
                             details={**error.details, "field": PAGE_FIELD[error.field]})
        if error.details["field"] is None:
            del error.details["field"]
    choices = service.choices()
    return render_template("finder/find.html", form=form, error=error, result=result,
                           zones=COMMON_ZONES, search={f: form[f] for f in SEARCH_FIELDS},
                           times=_suggested_times(result, form["timezone"]),
                           buildings=choices["buildings"], tags=choices["equipment"],
                           wanted=[t.strip().lower() for t in form["equipment"].split(",")
                                   if t.strip()],
                           reasons=lambda room: reasons(room, form))


def reasons(room: dict, form: dict[str, str]) -> list[str]:
    """Why a room ranks where it does, in words a person reads (the ranking's
    criteria, in its order) instead of its score."""
    people = int(form["attendees"]) if form["attendees"].strip().isdigit() else 1
    found = [ngettext("Fits %(people)d of %(num)d seat", "Fits %(people)d of %(num)d seats",
                      room["capacity"], people=people)]
    if form["building"] and room["building"].lower() == form["building"].strip().lower():
        found.append(_("in %(building)s", building=room["building"]))
    if form["floor"].strip().lstrip("-").isdigit() and room["floor"] == int(form["floor"]):
        found.append(_("on floor %(floor)s, as asked", floor=room["floor"]))
    wanted = [t.strip() for t in form["equipment"].split(",") if t.strip()]
    if wanted:
        found.append(_("has %(equipment)s", equipment=", ".join(wanted)))
    count = room["bookings_that_day"]
    found.append(ngettext("%(num)d other booking that day", "%(num)d other bookings that day",
                          count))
    return found


def _suggested_times(result: dict | None, zone_name: str) -> list[dict]:
    """Suggested free times, each with the search fields to look at it again (in the
    search's zone, which may differ from the room's)."""
    if not result or not result.get("suggestions"):
        return []
    tz = zone(zone_name)
    times = []
    for suggestion in result["suggestions"]["times"]:
        start = datetime.fromisoformat(suggestion["start_time"]).astimezone(tz)
        end = datetime.fromisoformat(suggestion["end_time"]).astimezone(tz)
        times.append({**suggestion, "date": start.date().isoformat(),
                      "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"})
    return times
