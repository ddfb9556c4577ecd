"""JSON twins of the areas and groups pages (admins): /api/areas, /api/groups."""

from flask import Blueprint, jsonify, url_for
from flask_login import current_user

from booking import inputs
from booking.areas import groups, service
from booking.auth import admin_required

bp = Blueprint("areas_api", __name__, url_prefix="/api")


@bp.get("/areas")
@admin_required
def areas():
    """Every area, parents before children, with its own policy fields."""
    return jsonify(areas=service.all_areas())


@bp.post("/areas")
@admin_required
def create():
    """{"name", "parent_id"?, "policy"?} -> 201 {area}."""
    area = service.create(inputs.json_body(), actor=current_user.id)
    return jsonify(area=area), 201, {"Location": url_for("areas_api.show", area_id=area["id"])}


@bp.get("/areas/<id:area_id>")
@admin_required
def show(area_id: int):
    """An area, every effective value of its policy with its source, and its rooms."""
    return jsonify(_twin(service.get(area_id)))


@bp.patch("/areas/<id:area_id>")
@admin_required
def update(area_id: int):
    """The fields sent change; a policy field sent as null is inherited again."""
    service.update(area_id, inputs.json_body(), actor=current_user.id)
    return jsonify(_twin(service.get(area_id)))


def _twin(found: dict) -> dict:
    """The page's data without its form's choices."""
    return {k: found[k] for k in ("area", "effective", "rooms")}


@bp.get("/groups")
@admin_required
def all_groups():
    return jsonify(groups=groups.all_groups())


@bp.post("/groups")
@admin_required
def create_group():
    """{"name", "members": [emails]} -> 201 {group}."""
    group = groups.create(inputs.json_body(), actor=current_user.id)
    return jsonify(group=group), 201, {"Location": url_for("areas_api.group",
                                                           group_id=group["id"])}


@bp.get("/groups/<id:group_id>")
@admin_required
def group(group_id: int):
    return jsonify(group=groups.get(group_id))


@bp.patch("/groups/<id:group_id>")
@admin_required
def update_group(group_id: int):
    """{"name"?, "members"?: [emails]}: members replaces the whole list."""
    return jsonify(group=groups.update(group_id, inputs.json_body(), actor=current_user.id))
