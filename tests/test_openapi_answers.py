"""Answers the document promises, checked against it: requests chosen to reach what
schemathesis's generated ones rarely do (an admin's report by building, a door
panel's token outside its panel, a rule broken by the party's size, a recurrence
that yields nothing). Each answer must match its operation's schema for its
status, closed objects and all."""

import pytest
from jsonschema import Draft202012Validator

from booking.openapi.spec import document
from booking.panels import service as panels

DOC = document()


def conforms(path: str, method: str, response) -> dict:
    """`response`'s JSON, after checking it against the document's schema for `path`
    (as the document writes it), `method` and its status."""
    operation = DOC["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], \
        f"{method} {path} answered {status}, which it does not document"
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    body = response.get_json()
    errors = sorted(Draft202012Validator({**schema, "components": DOC["components"]})
                    .iter_errors(body), key=str)
    assert not errors, f"{method} {path} {status}: {errors[0].message} at " \
                       f"{list(errors[0].absolute_path)}"
    return body


@pytest.mark.parametrize("group", ["room", "building", "weekday_hour"])
@pytest.mark.parametrize("building", ["", "hq"])
def test_the_utilisation_report_by_each_group_and_building(api_as, admin, berlin, group,
                                                           building):
    """QA, 2026-12-05: by building, the answer had no `building` (the filter): the
    table and the filter shared a name, and the table went out with the filter."""
    r = api_as(admin).get(f"/api/reports/utilisation?group={group}&from=2027-02-01"
                          f"&to=2027-02-03&building={building}")
    body = conforms("/api/reports/utilisation", "GET", r)
    assert body["group"] == group and body["building"] == (building or None)
    assert body["rows"]


def test_the_report_page_by_building_keeps_its_filter(browser_as, admin, berlin):
    page = browser_as(admin).get("/reports?group=building&from=2027-02-01&to=2027-02-03"
                                 "&building=HQ").get_data(as_text=True)
    assert 'name="building" value="HQ"' in page
    assert "HQ only" in page


@pytest.mark.parametrize("path, url", [
    ("/api/rooms", "/api/rooms"), ("/api/me", "/api/me"),
    ("/api/bookings/mine", "/api/bookings/mine"), ("/api/board", "/api/board"),
    ("/api/tokens", "/api/tokens"), ("/api/rooms/{room_id}", "/api/rooms/{room}"),
    ("/api/rooms/free", "/api/rooms/free?start_time=2027-03-02T10:00"
                        "&end_time=2027-03-02T11:00")])
def test_a_door_panel_s_token_elsewhere_is_the_documented_403(app, berlin, path, url):
    """QA, 2026-12-05: a panel token gets 403 outside its panel's routes, as the README
    says, where the document listed no 403."""
    from conftest import Api
    with app.app_context():
        _row, token = panels.create_token(berlin["id"], None)
    r = Api(app.test_client(), token).get(url.replace("{room}", str(berlin["id"])))
    assert r.status_code == 403
    assert conforms(path, "GET", r)["error"]["code"] == "forbidden"


def test_a_party_larger_than_the_room_is_a_documented_violation(api_as, alice, berlin):
    """QA, 2026-12-05: details.violations[].code over_capacity was not in the
    document's list."""
    r = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Crowd", "start_time": "2027-03-02T10:00",
        "end_time": "2027-03-02T11:00", "attendees": 40})
    assert r.status_code == 422
    body = conforms("/api/bookings", "POST", r)
    assert [v["code"] for v in body["error"]["details"]["violations"]] == ["over_capacity"]


def test_a_recurrence_yielding_nothing_is_a_documented_422(api_as, alice, berlin):
    """QA, 2026-12-05: the README's 422 `invalid` for a rule with no occurrence was not
    among the document's 422 codes."""
    r = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Never", "start_time": "2027-03-01T10:00",
        "end_time": "2027-03-01T11:00", "recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=WE"})
    assert r.status_code == 422
    assert conforms("/api/bookings", "POST", r)["error"]["code"] == "invalid"
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": "2027-03-01T10:00",
        "end_time": "2027-03-01T11:00", "recurrence": "FREQ=WEEKLY;COUNT=3"}).get_json()
    r = api_as(alice).patch(f"/api/series/{made['series']['id']}?from=2027-03-01T10:00",
                            json={"recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=WE"})
    assert r.status_code == 422
    assert conforms("/api/series/{series_id}", "PATCH", r)["error"]["code"] == "invalid"
