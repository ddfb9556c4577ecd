"""A room's effective policy, field by field, from the nearest level that sets it:
organisation (the settings) -> site -> building -> room (issue 18).

Each field is set at each level in turn, alone and under the levels above, and
the value the room gets, and the source it names, are read back the way the
booking path reads them (room_policy() in SQL, booking.policy.effective) and
through the API (GET /api/rooms/<id>/policy)."""

from __future__ import annotations

import pytest

from booking import policy as policies
from booking.config import SETTINGS
from policykit import area, area_policy, put_in, room_policy

CONFIG = {s.name: s.default for s in SETTINGS}

HOURS = lambda o, c: {d: [o, c] for d in ("mon", "tue", "wed", "thu", "fri")} | {  # noqa: E731
    "sat": None, "sun": None}

# field -> (what the organisation gives, site's, building's, room's), as stored
# and as the API shows them (bookers/approvers are group ids, set below).
VALUES = {
    "min_minutes": (15, 30, 20, 10),
    "max_minutes": (240, 480, 120, 60),
    "max_days_ahead": (180, 365, 90, 30),
    "min_notice_minutes": (0, 60, 120, 15),
    "buffer_minutes": (0, 30, 15, 5),
    "approval_required": (False, True, False, True),
    "quota": (None, {"bookings_per_week": 10}, {"bookings_per_day": 3},
              {"hours_per_week": 4}),
    "closed_dates": ([], ["12-25"], ["2027-04-05", "12-24"], ["2027-03-08"]),
    "opening_hours": ("room", HOURS("08:00", "20:00"), HOURS("09:00", "17:00"),
                      HOURS("07:30", "12:00")),
    "bookers": ([], "site", "building", "room"),
    "approvers": ([], "site", "building", "room"),
}

# Which levels set the field, and which one the room's value then comes from.
CASES = [
    ((), "organisation"),
    (("site",), "site"),
    (("building",), "building"),
    (("room",), "room"),
    (("site", "building"), "building"),
    (("site", "room"), "room"),
    (("site", "building", "room"), "room"),
]
LEVELS = ("site", "building", "room")


@pytest.fixture
def world(conn, make):
    site = area(conn, "Campus")
    building = area(conn, "Building B", parent=site)
    room = make.room("Spree", opens="09:00", closes="18:00")
    put_in(conn, room, building)
    groups = {level: conn.execute("INSERT INTO groups (name) VALUES (%s) RETURNING id",
                                  (f"{level} group",)).fetchone()["id"] for level in LEVELS}
    return {"site": site, "building": building, "room": room, "groups": groups}


def stored(field, level, world):
    value = VALUES[field][1 + LEVELS.index(level)]
    if field in ("bookers", "approvers"):
        return [world["groups"][value]]
    return value


def expected(field, winner, world):
    """The effective value as the API shows it, and the source's level and name."""
    if winner == "organisation":
        value = VALUES[field][0]
        if field == "opening_hours":     # none set: the room's own hours every day
            return ({d: ["09:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                      "sun")}, ("room", "Spree"))
        return value, ("organisation", None)
    value = stored(field, winner, world)
    if field in ("bookers", "approvers"):
        value = [{"id": value[0], "name": f"{winner} group"}]
    elif field == "closed_dates":
        value = sorted(value)
    name = {"site": "Campus", "building": "Building B", "room": "Spree"}[winner]
    return value, ("area" if winner != "room" else "room", name)


def apply(conn, world, field, levels):
    """Set `field` at exactly `levels`, unset it everywhere else."""
    for level in LEVELS:
        value = stored(field, level, world) if level in levels else None
        setter = room_policy if level == "room" else area_policy
        setter(conn, world[level], **{field: value})


@pytest.mark.parametrize("field", list(VALUES))
def test_each_field_comes_from_the_nearest_level_that_sets_it(conn, world, field):
    for levels, winner in CASES:
        apply(conn, world, field, levels)
        resolved = conn.execute("SELECT room_policy(%s) AS p",
                                (world["room"]["id"],)).fetchone()["p"]
        assert resolved["areas"] == [world["building"]["id"], world["site"]["id"]]
        effective = policies.effective(resolved, CONFIG)
        shown = policies.as_json(effective, {**world["room"], "opens": "09:00",
                                             "closes": "18:00"},
                                 {g: f"{lvl} group" for lvl, g in world["groups"].items()})
        value, (level, name) = expected(field, winner, world)
        assert shown[field]["value"] == value, (levels, winner)
        assert (shown[field]["source"]["level"], shown[field]["source"]["name"]) == (
            level, name), (levels, winner)
        # Every other field stays the organisation's (or the room's own hours).
        for other in VALUES:
            if other != field:
                assert shown[other]["source"]["level"] in ("organisation", "room")


def test_the_api_shows_each_value_and_where_it_comes_from(api_as, alice, conn, world):
    apply(conn, world, "max_minutes", ("site", "building"))
    apply(conn, world, "buffer_minutes", ("site",))
    apply(conn, world, "min_notice_minutes", ("room",))
    r = api_as(alice).get(f"/api/rooms/{world['room']['id']}/policy")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["areas"] == [world["building"]["id"], world["site"]["id"]]
    shown = body["policy"]
    assert (shown["max_minutes"]["value"], shown["max_minutes"]["text"],
            shown["max_minutes"]["source"]) == (
        120, "2 hours", {"level": "area", "id": world["building"]["id"], "name": "Building B"})
    assert shown["buffer_minutes"]["source"]["name"] == "Campus"
    assert shown["min_notice_minutes"]["source"] == {"level": "room", "id": world["room"]["id"],
                                                     "name": "Spree"}
    assert shown["min_minutes"] == {"value": 15, "text": "15 minutes",
                                    "source": {"level": "organisation", "id": None,
                                               "name": None}}
    assert body["own"] == {"min_notice_minutes": 15}


def test_the_organisation_level_is_the_settings(app, api_as, alice, conn, world):
    app.config["MAX_BOOKING_MINUTES"] = 90
    shown = api_as(alice).get(f"/api/rooms/{world['room']['id']}/policy").get_json()["policy"]
    assert shown["max_minutes"]["value"] == 90
    assert shown["max_minutes"]["source"]["level"] == "organisation"


def test_an_areas_effective_policy_is_its_own_and_its_ancestors(api_as, admin, conn, world):
    apply(conn, world, "max_minutes", ("site",))
    apply(conn, world, "buffer_minutes", ("site", "building"))
    body = api_as(admin).get(f"/api/areas/{world['building']['id']}").get_json()
    assert body["effective"]["max_minutes"]["source"]["name"] == "Campus"
    assert body["effective"]["buffer_minutes"]["source"]["name"] == "Building B"
    assert body["effective"]["opening_hours"]["value"] is None       # each room's own
    assert [r["name"] for r in body["rooms"]] == ["Spree"]


def test_moving_a_room_to_another_area_changes_what_it_inherits(api_as, admin, conn, world):
    other = area(conn, "Annex", max_minutes=45)
    apply(conn, world, "max_minutes", ("building",))
    api = api_as(admin)
    r = api.patch(f"/api/rooms/{world['room']['id']}", json={"area_id": other["id"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["room"]["area_id"] == other["id"]
    shown = api.get(f"/api/rooms/{world['room']['id']}/policy").get_json()["policy"]
    assert (shown["max_minutes"]["value"], shown["max_minutes"]["source"]["name"]) == (45, "Annex")


def test_resolve_policy_answers_as_sql_040_did(conn, make):
    """sql/057 rewrote resolve_policy() (the area chain walked once, in PL/pgSQL),
    not what it answers: sql/040's definition, loaded beside it, is asked about
    every room and area of a random tree of areas with random policies."""
    import json
    import random
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "sql" / "040_areas_policies.sql").read_text()
    old = re.search(r"CREATE FUNCTION resolve_policy\(.*?\n\$\$;", text, re.S).group(0)
    conn.execute(old.replace("CREATE FUNCTION resolve_policy(", "CREATE FUNCTION resolve_policy_040(", 1))
    rng = random.Random(57)
    fields = [("min_minutes", lambda: rng.choice([15, 30])), ("buffer_minutes", lambda: rng.choice([0, 10])),
              ("approval_required", lambda: rng.random() < 0.5),
              ("quota", lambda: {"bookings_per_day": rng.randint(1, 5)}),
              ("closed_dates", lambda: ["12-25"])]
    def policy():
        return json.dumps({name: make_value() for name, make_value in fields if rng.random() < 0.4})
    areas = []
    for i in range(12):
        parent = rng.choice([None] + areas)
        areas.append(conn.execute("INSERT INTO areas (name, parent_id, policy) VALUES (%s, %s, %s) "
                                  "RETURNING id", (f"Area {i}", parent, policy())).fetchone()["id"])
    rooms = []
    for i in range(15):
        room = make.room(f"Room {i}")
        conn.execute("UPDATE rooms SET area_id = %s, policy = %s WHERE id = %s",
                     (rng.choice([None] + areas), policy(), room["id"]))
        rooms.append(room["id"])
    asked = [(room, None) for room in rooms] + [(None, area) for area in areas]
    differ = [(r, a) for r, a in asked
              if conn.execute("SELECT resolve_policy(%s, %s) = resolve_policy_040(%s, %s) AS same",
                              (r, a, r, a)).fetchone()["same"] is not True]
    assert not differ
    assert sum(len(conn.execute("SELECT resolve_policy(%s, %s) AS p", (r, a)).fetchone()["p"]
                   ["fields"]) for r, a in asked) > 20   # the policies are not all empty
