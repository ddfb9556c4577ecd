"""The OpenAPI document: valid OpenAPI 3.1, covering every /api route, served without SQL."""

import gzip
import html
import re

from openapi_spec_validator import validate

from booking.errors import STATUS
from booking.openapi.spec import document
from test_budgets import statements

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def api_routes(app) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) -> "rule <rule>, endpoint <endpoint>" for every /api rule of the
    url_map; <id:room_id> becomes {room_id}."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods - IGNORED_METHODS:
                routes[(path, method)] = f"rule {rule.rule}, endpoint {rule.endpoint}"
    return routes


def documented(doc) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, operations in doc["paths"].items()
            for method in operations if method in ("get", "post", "put", "patch", "delete")}


def test_every_api_route_is_in_the_document(app):
    routes = api_routes(app)
    missing = sorted(set(routes) - documented(document()))
    assert not missing, "Add to PATHS in booking/openapi/spec.py: " + "; ".join(
        f"{method} {path} ({routes[path, method]})" for path, method in missing)


def test_the_document_has_no_route_the_app_lacks(app):
    extra = sorted(documented(document()) - set(api_routes(app)))
    assert not extra, "Documented but not in the url_map: " + ", ".join(
        f"{method} {path}" for path, method in extra)


def test_the_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises OpenAPIValidationError naming the place


def test_path_parameters_match_the_rules(app):
    for path, operations in document()["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, f"{method.upper()} {path}"


def test_every_error_code_is_known_and_in_the_right_status():
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                codes = response["content"]["application/json"]["schema"]["allOf"][1][
                    "properties"]["error"]["properties"]["code"]["enum"]
                # `invalid` is also a 422: a recurrence that yields no occurrence
                assert all(STATUS[code] == int(status) or (code, status) == ("invalid", "422")
                           for code in codes), \
                    f"{method.upper()} {path} {status}: {codes}"


def test_openapi_json_is_public_cached_and_needs_no_sql(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == document()
    assert statements(response) == 0
    again = client.get("/api/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_openapi_json_is_gzipped_for_clients_that_take_it(client):
    response = client.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data).startswith(b"{")


def test_docs_page_lists_every_operation_with_a_curl_example(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    for path, method in documented(document()):
        assert f"{method}</span> <code>{path}</code>" in page, (method, path)
    assert 'curl -X POST \\\n     -H "Authorization: Bearer $TOKEN"' in page
    assert "no_room" in page and "outside_hours" in page
    # Nothing loaded from elsewhere: every src and href is on this site (a page-wide
    # "cdn" check once could match inside the random CSRF token).
    assert "<script>" not in page
    addresses = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert addresses and all(a.startswith(("/", "#")) and not a.startswith("//")
                             for a in addresses), addresses
