"""GET /api/openapi.json (the document) and GET /api/docs (the same, as a page).

Both are public and need no SQL. The JSON is encoded once per process and
kept with its gzip and ETag (booking.memo.pages); the page is rendered on
the server from the same document, so it works without JavaScript.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, render_template, request
from markupsafe import Markup, escape

from booking import memo
from booking.http import SharedAnswer
from booking.openapi.spec import document

bp = Blueprint("openapi", __name__, url_prefix="/api")

METHODS = ("get", "post", "patch", "put", "delete")


@bp.app_template_filter("ticks")
def ticks(text: str) -> Markup:
    """`code` in the document's prose as <code>code</code>; everything else escaped."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


@bp.get("/openapi.json")
def openapi_json():
    answer = memo.current().pages.openapi.get_or_build(
        "document", lambda: SharedAnswer(document()))
    return answer.response(lambda doc: doc)


@bp.get("/docs")
def docs():
    doc = document()
    base = request.host_url.rstrip("/")
    return render_template("openapi/docs.html", doc=doc, groups=_groups(doc, base),
                           schemas=[(name, _fields(schema, doc))
                                    for name, schema in doc["components"]["schemas"].items()])


# -- turning the document into what the page shows ------------------------------------------

def _groups(doc: dict[str, Any], base: str) -> list[dict[str, Any]]:
    """Operations grouped by their tag, in the order of the document's tags."""
    groups = {tag["name"]: [] for tag in doc.get("tags", [])}
    for path, operations in doc["paths"].items():
        for method in METHODS:
            if method in operations:
                operation = operations[method]
                groups.setdefault(operation["tags"][0], []).append(
                    _operation(doc, path, method, operation, base))
    return [{"name": name, "id": _slug(name), "operations": ops}
            for name, ops in groups.items() if ops]


def _operation(doc, path, method, operation, base) -> dict[str, Any]:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    responses = []
    for status, response in operation["responses"].items():
        content = response.get("content", {})
        media, spec = next(iter(content.items()), (None, {}))
        responses.append({"status": status, "description": response["description"],
                          "media": media, "type": _type(spec.get("schema"), doc)
                          if spec and not status.startswith(("4", "5")) else None})
    return {
        "id": operation["operationId"], "method": method.upper(), "path": path,
        "summary": operation["summary"], "description": operation.get("description", ""),
        "public": operation.get("security") == [],
        "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                        "type": _type(p["schema"], doc), "description": p.get("description", "")}
                       for p in operation.get("parameters", [])],
        "body": _fields(body["schema"], doc) if body else None,
        "body_example": json.dumps(body["example"], indent=2) if body and "example" in body
        else None,
        "responses": responses,
        "curl": _curl(method, path, operation, body, base),
    }


def _curl(method, path, operation, body, base) -> str:
    url = base + path
    for p in operation.get("parameters", []):
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", str(p.get("example", 1)))
    query = [f"{p['name']}={p['example']}" for p in operation.get("parameters", [])
             if p["in"] == "query" and "example" in p]
    if query:
        url += "?" + "&".join(query)
    lines = ["curl"]
    if method != "get":
        lines[0] += f" -X {method.upper()}"
    if operation.get("security") != []:
        lines.append('-H "Authorization: Bearer $TOKEN"')
    if body:
        lines.append("-H 'Content-Type: application/json'")
        lines.append(f"-d '{json.dumps(body.get('example', {}))}'")
    lines.append(f"'{url}'")
    return " \\\n     ".join(lines)


def _resolve(schema: dict[str, Any] | None, doc) -> dict[str, Any]:
    while schema and "$ref" in schema:
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], **extra}
    return schema or {}


def _type(schema: dict[str, Any] | None, doc) -> str:
    """A short, readable type: "integer", "Booking", "array of Room", "string (date-time)"."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "title" in schema:
        return schema["title"]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(_type(s, doc) for s in schema[key]))
    if "allOf" in schema:
        return " + ".join(_type(s, doc) for s in schema["allOf"] if "$ref" in s) or "object"
    if "enum" in schema:
        return " | ".join("null" if v is None else json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + _type(schema.get("items"), doc)
    limits = []
    if "format" in schema:
        limits.append(schema["format"])
    if "minimum" in schema or "maximum" in schema:
        limits.append(f"{schema.get('minimum', '…')}–{schema.get('maximum', '…')}")
    if "maxLength" in schema:
        limits.append(f"≤ {schema['maxLength']} chars")
    if "pattern" in schema and "format" not in schema:
        limits.append("pattern")
    return kind + (f" ({', '.join(limits)})" if limits else "")


def _fields(schema: dict[str, Any], doc) -> list[dict[str, Any]]:
    """The fields of an object schema (its allOf parts merged), for a table."""
    schema = _resolve(schema, doc)
    fields: list[dict[str, Any]] = []
    parts = schema.get("allOf", [schema]) if "allOf" in schema else [schema]
    for part in parts:
        part = _resolve(part, doc)
        required = set(part.get("required", []))
        for name, field in part.get("properties", {}).items():
            fields.append({"name": name, "type": _type(field, doc), "required": name in required,
                           "description": _resolve(field, doc).get("description", "")
                           if "$ref" not in field else ""})
    if not fields:
        fields.append({"name": "(value)", "type": _type(schema, doc), "required": True,
                       "description": schema.get("description", "")})
    return fields


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")
