"""JSON twin of the audit page: GET /api/audit (admins only)."""

from flask import Blueprint, jsonify, request

from booking.audit import service
from booking.auth import admin_required

bp = Blueprint("audit_api", __name__, url_prefix="/api")


@bp.get("/audit")
@admin_required
def entries():
    """?user=&room=&from=&to=&limit=&cursor=, newest first."""
    return jsonify(service.entries(request.args))
