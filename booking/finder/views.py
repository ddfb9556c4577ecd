"""The finder page, /find (its views come next)."""

from flask import Blueprint

bp = Blueprint("finder", __name__)
