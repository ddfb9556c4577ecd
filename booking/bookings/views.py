"""Bookings pages: book a room, my bookings, one booking, cancel."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from booking import idempotency, inputs, policy as policies, recurrence, rules, timeline
from booking.clock import now
from booking.auth import login_required
from booking.approvals import service as approvals
from booking.bookings import service, usage
from booking.errors import BookingError
from booking.finder import service as finder
from booking.rooms import service as rooms
from booking.http import local_path, twin_etag
from booking.times import parse_date, parse_hm, zone
from booking.i18n import _, ngettext
from booking.templating import day as day_text, hm

bp = Blueprint("bookings", __name__)


@bp.get("/bookings/new")
@login_required
def new():
    """The booking form, pre-filled from the query (room_id, title, date, start, end)."""
    return _form(request.args, None)


@bp.post("/bookings/new")
@login_required
def create():
    form = request.form
    try:
        key = idempotency.from_form(form)
        made = service.create(current_user, _booking_from_form(form), now(), key=key)
    except BookingError as err:
        if err.code == "idempotency_mismatch":
            return _form_used_before(form, err)
        return _form(form, err), err.status
    # A second submit of the same form (key.replayed) lands on the same page.
    if "series" in made:
        count, skipped = len(made["bookings"]), len(made["skipped"])
        if made["series"]["status"] == "pending":
            flash(ngettext("Asked for %(num)d occurrence: the repeating booking waits for "
                           "approval.",
                           "Asked for %(num)d occurrences: the repeating booking waits for "
                           "approval.", count), "success")
            return redirect(url_for("series.show", series_id=made["series"]["id"]))
        taken = all(s["reason"] == "conflict" for s in made["skipped"])
        if skipped and taken:
            said = ngettext("Booked %(num)d occurrence; %(skipped)d taken and skipped.",
                            "Booked %(num)d occurrences; %(skipped)d taken and skipped.", count,
                            skipped=skipped)
        elif skipped:   # a closed day, that day's hours: the series page says which, and why
            said = ngettext("Booked %(num)d occurrence; %(skipped)d could not be booked.",
                            "Booked %(num)d occurrences; %(skipped)d could not be booked.",
                            count, skipped=skipped)
        else:
            said = ngettext("Booked %(num)d occurrence.", "Booked %(num)d occurrences.", count)
        flash(said, "success")
        return redirect(url_for("series.show", series_id=made["series"]["id"]))
    booking = made["booking"]
    if booking["status"] == "pending":
        flash(_("Asked for %(room)s, %(start)s–%(end)s: it waits for approval.",
                room=booking["room_name"], start=hm(booking["start_time"]),
                end=hm(booking["end_time"])), "success")
    else:
        flash(_("Booked %(room)s, %(start)s–%(end)s.", room=booking["room_name"],
                start=hm(booking["start_time"]), end=hm(booking["end_time"])), "success")
    return redirect(url_for("bookings.show", booking_id=booking["id"]))


def _form_used_before(form, err: BookingError):
    """The form came back (the browser's Back) holding the key of a booking it made,
    with something changed: nothing new is booked under that key. Said on the page,
    and the form, as typed, gets a new key, so pressing Book again books this."""
    fresh = form.copy()
    fresh[idempotency.FORM_FIELD] = idempotency.new_key()
    said = BookingError(err.code, _("This form already made a booking (you went back to "
                                    "it, perhaps), so nothing new was booked. Check the "
                                    "details and press Book again to make this one too."),
                        status=err.status)
    return _form(fresh, said), said.status


def _booking_from_form(form, repeat: bool = True) -> dict:
    """The API's booking fields from the form's date, two times, people and (with
    `repeat`) Repeat section.

    Every field is checked before any is refused, so the page shows each
    field's error at once (inputs.Collect)."""
    check = inputs.Collect()
    if not form.get("room_id", "").strip():
        check.fail("room_id", _("Choose a room."))
    else:
        check(inputs.integer, form["room_id"], "room_id")
    if not form.get("title", "").strip():
        check.fail("title", _("Say what the booking is for."))
    else:
        check(inputs.text, form["title"], "title", high=200)
    for field, message in (("date", _("Choose a date.")), ("start", _("Choose a start time.")),
                           ("end", _("Choose an end time."))):
        if not form.get(field, "").strip():
            check.fail(field, message)
        elif field == "date":
            check(parse_date, form["date"], "date")
        else:
            check(parse_hm, form[field], field)
    people = check(inputs.people, {name: form.get(name, "") for name in inputs.PEOPLE_FIELDS})
    if form.get("booked_for", "").strip():
        check(inputs.email, form["booked_for"], "booked_for")
    if repeat and (form.get("repeat") or "none") != "none":
        _check_repeat(check, form)
    # A new booking of one's own (the edit form's change is judged with the booking
    # it changes, and one for someone else by that person's groups).
    if repeat and not form.get("booked_for", "").strip() and check.errors \
            and not any(e["field"] in TIME_FIELDS for e in check.errors):
        _check_rules(check, form, people.get("attendees") if people else None)
    check.done()
    day = parse_date(form["date"], "date")
    data = {"room_id": form.get("room_id", ""), "title": form.get("title", ""),
            "start_time": f"{day.isoformat()}T{form['start'].strip()}",
            "end_time": f"{day.isoformat()}T{form['end'].strip()}", **people}
    if form.get("booked_for", "").strip():
        data["booked_for"] = form["booked_for"].strip()
    if not repeat:
        return data
    rule = recurrence.from_form(form, day)
    if rule:
        data["recurrence"] = rule
        data["skip_conflicts"] = "skip_conflicts" in form
    return data


# The form's fields that say which room and when; the rules' fields as the form names them.
TIME_FIELDS = frozenset({"room_id", "date", "start", "end"})
FORM_FIELD = {"start_time": "start", "end_time": "end"}


def _check_rules(check: inputs.Collect, form, attendees: int | None) -> None:
    """While another field is wrong, the room and times are also judged by the room's
    rules (as booking them would, from this process's copy of the rooms, for the
    person signed in), so the page says every error at once rather than the
    rules' only after the rest is put right. The statement that books judges
    them again."""
    day = parse_date(form["date"], "date")
    start = datetime.combine(day, parse_hm(form["start"], "start"))
    end = datetime.combine(day, parse_hm(form["end"], "end"))
    try:
        found = rooms.kept_for_booking(int(form["room_id"]), start, end)
    except BookingError:      # a time the clocks skip: said when it is booked
        return
    if found is None:
        return
    _version, room, _tz, start, end = found
    judged = rules.verdict(room, start, end, now(), room["policy"], current_user.booker)
    for violation in judged.violations + rules.check_party(room, attendees):
        check.fail(FORM_FIELD.get(violation.field, violation.field), str(violation.message))


def _check_repeat(check: inputs.Collect, form) -> None:
    """The Repeat section's own fields, each at its input, in the form's words (the
    rule they make is then checked as the API checks it: recurrence.from_form)."""
    every = (form.get("every") or "1").strip()
    most = recurrence.MOST_INTERVAL
    if form.get("repeat") == "weekdays":
        # Each week, Monday to Friday: static/app.js takes Every away for it; sent
        # anyway (without JavaScript), anything but 1 is said, not ignored.
        if every != "1":
            check.fail("every", _("“Every weekday” repeats each week: leave Every at 1, or "
                                  "choose Weekly and tick the days."))
    elif not (every.isdigit() and 1 <= int(every) <= most):
        check.fail("every", _("Repeat every 1 to %(most)d days, weeks, months or years.",
                              most=most))
    ends = form.get("ends") or "never"
    count = (form.get("count") or "").strip()
    if ends == "after" and not (count.isdigit() and 1 <= int(count) <= recurrence.MOST_COUNT):
        check.fail("count", _("End after 1 to %(most)d occurrences.", most=recurrence.MOST_COUNT))
    until = (form.get("until") or "").strip()
    if ends == "on" and not until:
        check.fail("until", _("Choose the series' last day."))
    elif ends == "on":
        check(parse_date, until, "until")


def _form(form, error: BookingError | None):
    conflicts = error.details.get("conflicts") if error else None
    if conflicts:
        # The room is taken: offer it (other times), and the rooms the conflict
        # found free then as one-click suggestions. The form below still offers
        # every room, as the edit form's does (from this process's copy, which
        # booking just read: no statement more), with the chosen room's hours
        # and zone beside the times.
        blocker = conflicts[0]["bookings"][0] if "bookings" in conflicts[0] else conflicts[0]
        taken = {"id": blocker["room_id"], "name": blocker["room_name"]}
        suggestions = error.details.get("suggestions") or {}
        series = (form.get("repeat") or "none") != "none"
        # Refused with the taken dates skipped: none was left to book (sql/087), so
        # booking "the other dates" is not offered again.
        nothing_left = series and bool(form.get("skip_conflicts"))
        # The page's own words wherever the message shows (above and by the field).
        error = BookingError(error.code, _conflict_message(error, taken, series, nothing_left),
                             status=error.status, details=error.details)
        choices = _choices(lambda room: room["active"]
                           or str(room["id"]) == str(form.get("room_id", "")).strip())
        return render_template("bookings/new.html", form=form, error=error, rooms=choices,
                               room=_chosen(choices, form.get("room_id")), taken_room=taken,
                               conflicts=conflicts, only_room=False, suggestions=suggestions,
                               series=series, conflict_message=error.message,
                               nothing_left=nothing_left, typed=_typed(form))
    choices = _choices(lambda room: room["active"])
    room = _chosen(choices, form.get("room_id"))
    return render_template("bookings/new.html",
                           form=_with_next_slot(form, room, choices) if error is None else form,
                           error=error, rooms=choices, room=room, conflicts=None,
                           only_room=False, suggestions=None, series=False)


# What a person types into the booking form, but the room: "choose another room"
# starts the form again with all of it (people, "Book for", the Repeat section).
TYPED_FIELDS = ("title", "date", "start", "end", "attendees", "invitees", "notes",
                "booked_for", "repeat", "every", "weekdays", "monthly", "ends", "count",
                "until", "skip_conflicts")


def _typed(form) -> dict[str, list[str]]:
    """The form's fields as typed, but the room, for a link to the form (url_for repeats
    a field with several values, as the weekdays are). The Repeat section's
    defaults are left out of a booking that does not repeat."""
    fields = TYPED_FIELDS if (form.get("repeat") or "none") != "none" else \
        TYPED_FIELDS[:TYPED_FIELDS.index("repeat")]
    return {name: values for name in fields
            if (values := [v for v in form.getlist(name) if v.strip()])}


def _choices(offered) -> list[dict]:
    """The rooms a booking form offers (those `offered(room)` says), by building, floor
    and name, each with the hours its policy opens it on some weekday (the earliest
    opening, the latest closing): the form's time fields, the hint and the first
    slot offered, before a date is chosen. From this process's copy of the rooms
    and their policies (read once if it has none: finder.service.rooms_copy)."""
    _, by_id = finder.rooms_copy()
    found = []
    hints: dict[tuple, str] = {}    # said once per pair of limits, not once per room
    for room in sorted((r for r in by_id.values() if offered(r)),
                       key=lambda r: (r["building"], r["floor"], r["name"])):
        policy = by_id.policies.get(room["id"])
        hours = policy.week_hours(room) if policy is not None else None
        shown = ({**room, "opens": f"{hours[0]:%H:%M}", "closes": f"{hours[1]:%H:%M}"}
                 if hours is not None else dict(room))
        limits = _limits(policy)
        if limits not in hints:
            hints[limits] = lengths_hint(policy, for_room=True)
        shown["lengths"] = hints[limits]
        found.append(shown)
    return found


@bp.context_processor
def _hints() -> dict:
    return {"lengths_hint": lengths_hint}


def _limits(policy: rules.Policy | None) -> tuple | None:
    """What lengths_hint() says of a room's policy (rooms alike share one hint)."""
    if policy is None:
        return None
    quota = policy.quota
    return (policy.min_minutes, policy.max_minutes, policy.min_notice_minutes, quota,
            policy.source("quota") if quota is not None else None, policy.approval_required)


def lengths_hint(policy: rules.Policy | None, for_room: bool = False) -> str:
    """How long a booking may be in a room under its effective `policy` (the
    organisation's defaults without one), as the form's hint says it; for a room
    (`for_room`), also what else its policy asks of this person before they try:
    a notice, a quota, approval (an administrator books past the first two, and
    without asking)."""
    if policy is None:
        policy = rules.Policy.from_config(current_app.config)
    said = [_("Bookings last %(shortest)s to %(longest)s, within opening hours.",
              shortest=policies.describe("min_minutes", policy.min_minutes),
              longest=policies.describe("max_minutes", policy.max_minutes))]
    if for_room and not current_user.is_admin:
        if policy.min_notice_minutes:
            said.append(_("Book at least %(notice)s ahead.", notice=policies.describe(
                "min_notice_minutes", policy.min_notice_minutes)))
        if policy.quota is not None:
            set_ = {k: n for k in policies.QUOTA_FIELDS
                    if (n := getattr(policy.quota, k)) is not None}
            said.append(_("Each person at most %(quota)s here (%(source)s).",
                          quota=policies.describe("quota", set_),
                          source=policy.source("quota").describe()))
        if policy.approval_required:
            said.append(_("Bookings of this room wait for an approver's decision."))
    return " ".join(str(each) for each in said)


def _chosen(choices: list[dict], room_id) -> dict | None:
    """The room the form names, if it is one of those offered."""
    return next((r for r in choices if str(r["id"]) == str(room_id or "").strip()), None)


def _with_next_slot(form, room: dict | None, choices: list[dict]):
    """An empty form starts at the next working slot (booking/timeline.py): for the
    chosen room, the first its policy allows this person (timeline.first_slot),
    else in its zone and hours; without one, in the zone most rooms are in."""
    if any(form.get(field) for field in ("date", "start", "end")):
        return form
    config = current_app.config
    slot = None
    if room is not None:
        by_id = finder.rooms_copy()[1]
        policy = by_id.policies.get(room["id"])
        if policy is not None and current_user.booker.may_book(policy):
            own = by_id.get(room["id"], room)   # its own hours, not the week's (_choices)
            slot = timeline.first_slot(own, policy, now().astimezone(zone(room["timezone"])))
    if slot is not None:
        filled = MultiDict(form)
        filled.update(dict(zip(("date", "start", "end"), slot)))
        return filled
    if room is not None:
        tz_name, opens, closes = room["timezone"], room["opens"], room["closes"]
    else:
        zones = Counter(r["timezone"] for r in choices)
        tz_name = min(zones, key=lambda z: (-zones[z], z)) if zones else "UTC"
        opens, closes = config["DEFAULT_OPENS"], config["DEFAULT_CLOSES"]
    day, start, end = timeline.next_slot(now().astimezone(zone(tz_name)), opens, closes)
    filled = MultiDict(form)
    filled.update({"date": day, "start": start, "end": end})
    return filled


def _conflict_message(error: BookingError, taken: dict, series: bool,
                      nothing_left: bool = False) -> str:
    """The 409 for people: a series' conflict names the form's checkbox, not the API's
    `skip_conflicts` field the JSON answer speaks of. `nothing_left`: asked with the
    taken dates skipped, and every other was taken (or closed) too."""
    if not series:
        return error.message
    if nothing_left:
        return ngettext("%(num)d date of this series is already taken in %(room)s, and no "
                        "other is left to book there. Book the series in another room, or "
                        "change it below.",
                        "%(num)d dates of this series are already taken in %(room)s, and no "
                        "other is left to book there. Book the series in another room, or "
                        "change it below.",
                        len(error.details["conflicts"]), room=taken["name"])
    return ngettext("%(num)d date of this series is already taken in %(room)s. Book the "
                    "other dates there (the taken one is skipped), book the series in "
                    "another room, or change it below.",
                    "%(num)d dates of this series are already taken in %(room)s. Book the "
                    "other dates there (the taken ones are skipped), book the series in "
                    "another room, or change it below.",
                    len(error.details["conflicts"]), room=taken["name"])


@bp.get("/bookings/mine")
@login_required
def mine():
    """My bookings by day in my zone: upcoming, past, or one week (?view=week)."""
    args = request.args
    if service.week_view(args.get("view"), args.get("start")):
        week = service.my_week(current_user, args.get("start"), now())
        monday = date.fromisoformat(week["start"])
        days = [{"date": d["date"], "entries": _items(d["bookings"], d["zones"], week["timezone"])}
                for d in week["days"]]
        return render_template("bookings/mine_week.html", week=week, days=days,
                               viewer_zone=week["timezone"],
                               today=now().astimezone(zone(week["timezone"])).date().isoformat(),
                               prev_week=(monday - timedelta(days=7)).isoformat(),
                               next_week=(monday + timedelta(days=7)).isoformat())
    when = args.get("when") or "upcoming"
    page = service.mine(current_user, when, args.get("limit"), args.get("cursor"), now())
    viewer = current_user.timezone or finder.choices()["timezone"]
    return render_template("bookings/mine.html", when=when, next_cursor=page["next_cursor"],
                           days=by_day(_items(page["bookings"], page["zones"], viewer)),
                           viewer_zone=viewer)


def _items(bookings: list[dict], zones: list[str], viewer: str) -> list[dict]:
    """Each booking with what the reader needs beside it: its room's zone, and, when
    that is not the reader's, the times in the reader's zone too, and the reader's
    day it falls on."""
    tz = zone(viewer)
    items = []
    for booking, room_zone in zip(bookings, zones):
        start = datetime.fromisoformat(booking["start_time"]).astimezone(tz)
        end = datetime.fromisoformat(booking["end_time"]).astimezone(tz)
        items.append({"booking": booking, "zone": room_zone, "elsewhere": room_zone != viewer,
                      "day": start.date().isoformat(), "viewer_start": f"{start:%H:%M}",
                      "viewer_end": f"{end:%H:%M}"})
    return items


def by_day(items: list[dict]) -> list[dict]:
    """Consecutive items of one (reader's) day together, in the order given."""
    days: list[dict] = []
    for item in items:
        if not days or days[-1]["date"] != item["day"]:
            days.append({"date": item["day"], "entries": []})
        days[-1]["entries"].append(item)
    return days


@bp.get("/bookings/<id:booking_id>")
@login_required
def show(booking_id: int):
    booking, checkin_until = service.for_page(booking_id)
    moment = now()
    mine = service.may_cancel(current_user, booking, moment)
    start = datetime.fromisoformat(booking["start_time"])
    end = datetime.fromisoformat(booking["end_time"])
    opens = timedelta(minutes=int(current_app.config["CHECKIN_OPENS_MINUTES"]))
    # End early and extend (a new end) once under way.
    under_way = mine and booking["status"] == "confirmed" and start <= moment < end
    return render_template(
        "bookings/show.html", booking=booking, may_cancel=mine,
        may_decide=approvals.may_decide(current_user, booking),
        # Check in within the window its room gives it.
        may_check_in=(mine and checkin_until is not None
                      and start - opens <= moment < checkin_until),
        checkin_until=checkin_until and checkin_until.astimezone(start.tzinfo).isoformat(),
        may_end=under_way,
        later_end=(end + timedelta(minutes=15)).astimezone(end.tzinfo).strftime("%H:%M"))


@bp.post("/bookings/<id:booking_id>/checkin")
@login_required
def checkin(booking_id: int):
    return _use(booking_id, lambda: usage.checkin(current_user, booking_id, now()),
                _("Checked in."))


@bp.post("/bookings/<id:booking_id>/end")
@login_required
def end(booking_id: int):
    return _use(booking_id, lambda: usage.end(current_user, booking_id, now()),
                _("Ended: the rest of its time is free for others."))


@bp.post("/bookings/<id:booking_id>/extend")
@login_required
def extend(booking_id: int):
    """A new end ("HH:MM", `end`) on the booking's day (`date`, from its page)."""
    def extended():
        day = parse_date(request.form.get("date", ""), "date")
        new_end = parse_hm(request.form.get("end", ""), "end")
        return usage.extend(current_user, booking_id, {
            "end_time": f"{day.isoformat()}T{new_end:%H:%M}"}, now())
    return _use(booking_id, extended, _("Extended."))


def _use(booking_id: int, act, done: str):
    """Check in, end or extend from the booking's page: back to it, saying what was
    done or why not (403 and 404 as pages of their own)."""
    try:
        act()
    except BookingError as err:
        if err.code in ("forbidden", "not_found"):
            raise
        flash(err.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("bookings.show", booking_id=booking_id))


@bp.post("/bookings/<id:booking_id>/cancel")
@login_required
def cancel(booking_id: int):
    booking = service.cancel(current_user, booking_id, now())
    flash(_("Cancelled “%(title)s” in %(room)s.", title=booking["title"],
            room=booking["room_name"]), "success")
    back = local_path(request.form.get("next"))
    return redirect(back or url_for("bookings.show", booking_id=booking_id))


# -- change a booking ------------------------------------------------------------------------

@bp.get("/bookings/<id:booking_id>/edit")
@login_required
def edit(booking_id: int):
    """The booking form, filled in with the booking as it is."""
    booking = service.get(booking_id)
    if not service.may_edit(current_user, booking, now()):
        raise service.edit_refusal(current_user, booking, now())
    return _edit_page(booking_id, _form_of(booking), None)


# The form carries the ETag of the booking it was filled in from (`version`), sent
# back as If-Match: a save from a form opened before another change (another tab,
# a delegate) is refused rather than undoing that change unseen.
VERSION = "version"


@bp.post("/bookings/<id:booking_id>/edit")
@login_required
def update(booking_id: int):
    form = request.form
    try:
        booking = service.edit(current_user, booking_id,
                               _times_kept(_booking_from_form(form, repeat=False), form),
                               now(), if_match=form.get(VERSION) or None)
    except BookingError as err:
        if err.code in ("forbidden", "not_found", "not_editable"):
            raise
        if err.code == "precondition_failed":
            # Changed since the form was opened: what was typed stays, beside the
            # booking as it is now, and saving again (seen) goes through.
            current = service.get(booking_id)
            kept = MultiDict(form)
            kept[VERSION] = twin_etag(booking=current)
            err = BookingError(err.code, _(
                "This booking was changed since you opened this form (it is now “%(title)s”, "
                "%(day)s %(start)s–%(end)s, %(room)s). What you typed is below: save again "
                "to make it so.", title=current["title"], day=day_text(current["start_time"]),
                start=hm(current["start_time"]), end=hm(current["end_time"]),
                room=current["room_name"]), status=err.status)
            return _edit_page(booking_id, kept, err), err.status
        return _edit_page(booking_id, form, err), err.status
    flash(_("Changed: %(room)s, %(day)s %(start)s–%(end)s.", room=booking["room_name"],
            day=day_text(booking["start_time"]), start=hm(booking["start_time"]),
            end=hm(booking["end_time"])), "success")
    return redirect(url_for("bookings.show", booking_id=booking_id))


def _times_kept(data: dict, form) -> dict:
    """A time left as the form showed it, in the same room, is the booking's own
    (with its UTC offset): the wall clock alone names the first of the two
    02:30s of the night the clocks go back, and saving a new title would move a
    booking in the second an hour earlier."""
    if form.get("room_id") == form.get("was_room"):
        for key, was in (("start_time", form.get("was_start")), ("end_time", form.get("was_end"))):
            if was and data[key] == was[:16]:
                data[key] = was
    return data


def _form_of(booking: dict) -> MultiDict:
    """The booking as the form's fields, and its version (VERSION) and times as
    they are (`_times_kept`)."""
    return MultiDict({
        VERSION: twin_etag(booking=booking), "was_room": str(booking["room_id"]),
        "was_start": booking["start_time"], "was_end": booking["end_time"],
        "room_id": str(booking["room_id"]), "title": booking["title"],
        "date": booking["start_time"][:10], "start": booking["start_time"][11:16],
        "end": booking["end_time"][11:16],
        "attendees": "" if booking["attendees"] is None else str(booking["attendees"]),
        "invitees": ", ".join(booking.get("invitees") or []), "notes": booking.get("notes") or ""})


def _edit_page(booking_id: int, form, error: BookingError | None):
    """The form to change a booking: what was typed kept, the error by its field, and on
    a conflict what is in the way and where it could go instead. The rooms offered
    are this process's copy (read once if it has none: finder.service.rooms_copy)."""
    choices = _choices(lambda room: room["active"] or str(room["id"]) == form.get("room_id"))
    conflicts = error.details.get("conflicts") if error else None
    return render_template("bookings/new.html", form=form, error=error, rooms=choices,
                           room=_chosen(choices, form.get("room_id")), editing=booking_id,
                           conflicts=conflicts, only_room=False,
                           taken_room=_chosen(choices, form.get("room_id")),
                           suggestions=(error.details.get("suggestions") or {}) if error else None,
                           series=False, conflict_message=error.message if error else None)
