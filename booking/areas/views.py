"""Admin pages: /admin/areas (areas and their policies), /admin/groups, and the
policy section of a room (/admin/rooms/<id>/policy)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking import inputs, policy as policies
from booking.areas import groups, service
from booking.auth import admin_required
from booking.clock import now
from booking.errors import BookingError
from booking.rooms import service as rooms
from booking.rooms.views import warn_after_change
from booking.rules import WEEKDAYS
from booking.i18n import _, ngettext

bp = Blueprint("areas", __name__)

NUMBER_FIELDS = ("min_minutes", "max_minutes", "max_days_ahead", "min_notice_minutes",
                 "buffer_minutes")


# -- areas ------------------------------------------------------------------------

@bp.get("/admin/areas")
@admin_required
def areas():
    return render_template("areas/areas.html", areas=service.all_areas(), form={}, error=None)


@bp.post("/admin/areas")
@admin_required
def create():
    form = request.form
    try:
        area = service.create({"name": form.get("name", ""),
                               "parent_id": form.get("parent_id") or None},
                              actor=current_user.id)
    except BookingError as err:
        return render_template("areas/areas.html", areas=service.all_areas(), form=form,
                               error=err), err.status
    flash(_("Area %(name)s created; set its policy below.", name=area["name"]), "success")
    return redirect(url_for("areas.edit", area_id=area["id"]))


@bp.get("/admin/areas/<id:area_id>")
@admin_required
def edit(area_id: int):
    return _area_page(area_id, None, None)


@bp.post("/admin/areas/<id:area_id>")
@admin_required
def update(area_id: int):
    form = request.form
    try:
        service.update(area_id, {"name": form.get("name", ""),
                                 "parent_id": form.get("parent_id") or None,
                                 "policy": policy_from_form(form)}, actor=current_user.id)
    except BookingError as err:
        if err.status == 404:
            raise
        return _area_page(area_id, form, err), err.status
    flash(_("Area saved."), "success")
    outside = service.outside_hours(area_id, now())
    if outside:
        flash(ngettext("%(num)d future booking in the rooms of this area falls outside the "
                       "opening hours their policy now gives, or on a day they are closed: "
                       "still booked, and marked on its day pages. Move or cancel it if the "
                       "room is not available then.",
                       "%(num)d future bookings in the rooms of this area fall outside the "
                       "opening hours their policy now gives, or on a day they are closed: "
                       "still booked, and marked on their day pages. Move or cancel them if "
                       "the rooms are not available then.", outside), "warning")
    return redirect(url_for("areas.edit", area_id=area_id))


def _area_page(area_id: int, form, error: BookingError | None):
    """The area's page: one statement (its policy, rooms, and the form's choices)."""
    found = service.get(area_id)
    area = found["area"]
    return render_template("areas/edit.html", area=area, effective=found["effective"],
                           rooms=found["rooms"],
                           parents=[a for a in found["all_areas"] if a["id"] != area["id"]
                                    and area["id"] not in _ancestors(a, found["all_areas"])],
                           groups=found["all_groups"], form=form, error=error,
                           own=area["policy"], weekdays=WEEKDAYS)


@bp.context_processor
def _policy_pages() -> dict:
    return {"policy_problems": policies.problems}


def _ancestors(area: dict, every: list[dict]) -> set[int]:
    """The ids of the areas `area` is inside (to offer no parent that would make a cycle)."""
    by_id = {a["id"]: a for a in every}
    found: set[int] = set()
    parent = area["parent_id"]
    while parent is not None and parent not in found:
        found.add(parent)
        parent = by_id.get(parent, {}).get("parent_id")
    return found


# -- a room's policy ---------------------------------------------------------------------

@bp.get("/admin/rooms/<id:room_id>/policy")
@admin_required
def room_policy(room_id: int):
    return _room_page(room_id, None, None)


@bp.post("/admin/rooms/<id:room_id>/policy")
@admin_required
def update_room_policy(room_id: int):
    form = request.form
    try:
        room, outside = rooms.update(room_id, {"area_id": form.get("area_id") or None,
                                               "policy": policy_from_form(form)}, now(),
                                     actor=current_user.id)
    except BookingError as err:
        if err.status == 404:
            raise
        return _room_page(room_id, form, err), err.status
    flash(_("Policy saved."), "success")
    warn_after_change(room, outside)
    return redirect(url_for("areas.room_policy", room_id=room_id))


def _room_page(room_id: int, form, error: BookingError | None):
    """The room's policy page: one statement (its policy and the form's choices)."""
    found = rooms.room_policy(room_id)
    return render_template("areas/room_policy.html", room=found["room"],
                           effective=found["policy"], own=found["own"],
                           areas=found["all_areas"], groups=found["all_groups"], form=form,
                           error=error, weekdays=WEEKDAYS)


def policy_from_form(form) -> dict[str, Any]:
    """The policy fields of a page's form, as the API takes them: a field whose
    "set here" box is ticked is set to what the form says; the others are unset
    (inherited from the level above). 400 with every field's error at once (the
    page's own and the policy's, details.errors) before anything is saved."""
    check = inputs.Collect()
    found = _policy_fields(form, check)
    check(policies.clean, found)
    check.done()
    return found


def _policy_fields(form, check: inputs.Collect) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in policies.FIELDS:
        if f"set_{name}" not in form:
            found[name] = None
        elif name in NUMBER_FIELDS:
            found[name] = form.get(name, "").strip()
        elif name == "opening_hours":
            found[name] = {day: _hours(form.get(f"hours_{day}", ""))
                           for day in WEEKDAYS}
        elif name == "closed_dates":
            found[name] = form.get(name, "")
        elif name == "quota":
            found[name] = {k: form.get(f"quota_{k}", "").strip()
                           for k in policies.QUOTA_FIELDS if form.get(f"quota_{k}", "").strip()}
            if not found[name]:     # in the page's words, not the API's
                check.fail("policy.quota", _("Fill in at least one quota, or untick "
                                             "“Set here” to take it from the level above."))
                del found[name]
        elif name == "approval_required":
            found[name] = form.get(name) == "yes"
        else:
            found[name] = form.getlist(name)
    return found


def _hours(text: str) -> list[str] | None:
    """"09:00-18:00" (or with an en dash) -> ["09:00", "18:00"]; empty or "closed" -> None."""
    text = text.strip().replace("–", "-")
    if not text or text.lower() == "closed":
        return None
    opens, _, closes = text.partition("-")
    return [opens.strip(), closes.strip()]


# -- groups ---------------------------------------------------------------------------

@bp.get("/admin/groups")
@admin_required
def all_groups():
    return render_template("areas/groups.html", groups=groups.all_groups(), form={}, error=None)


@bp.post("/admin/groups")
@admin_required
def create_group():
    form = request.form
    try:
        group = groups.create({"name": form.get("name", ""),
                               "members": form.get("members", "")}, actor=current_user.id)
    except BookingError as err:
        return render_template("areas/groups.html", groups=groups.all_groups(), form=form,
                               error=err), err.status
    flash(_("Group %(name)s created.", name=group["name"]), "success")
    return redirect(url_for("areas.all_groups"))


@bp.get("/admin/groups/<id:group_id>")
@admin_required
def group(group_id: int):
    found = groups.get(group_id)
    form = {"name": found["name"],
            "members": "\n".join(m["email"] for m in found["members"])}
    return render_template("areas/group.html", group=found, form=form, error=None)


@bp.post("/admin/groups/<id:group_id>")
@admin_required
def update_group(group_id: int):
    form = request.form
    try:
        groups.update(group_id, {"name": form.get("name", ""),
                                 "members": form.get("members", "")}, actor=current_user.id)
    except BookingError as err:
        if err.status == 404:
            raise
        return render_template("areas/group.html", group=groups.get(group_id), form=form,
                               error=err), err.status
    flash(_("Group saved."), "success")
    return redirect(url_for("areas.all_groups"))
