"""Areas, groups and policies for administrators: the twins (/api/areas,
/api/groups, /api/rooms/<id>/policy), the pages, and the board's area filter
(issue 18)."""

from __future__ import annotations

import html
import re
from datetime import datetime

import pytest

from conftest import UTC
from policykit import area, group, put_in
from routemap import state

DAY = "2027-03-02"


def error(r):
    return r.get_json()["error"]


# -- areas ----------------------------------------------------------------------------

def test_areas_nest_and_list_parents_first(api_as, admin, conn):
    api = api_as(admin)
    site = api.post("/api/areas", json={"name": "Campus",
                                        "policy": {"max_minutes": 120}})
    assert site.status_code == 201, site.get_json()
    site = site.get_json()["area"]
    assert site == {"id": site["id"], "name": "Campus", "parent_id": None,
                    "policy": {"max_minutes": 120}}
    b = api.post("/api/areas", json={"name": "Building B", "parent_id": site["id"]})
    assert b.status_code == 201 and b.headers["Location"] == f"/api/areas/{b.get_json()['area']['id']}"
    api.post("/api/areas", json={"name": "Annex"})
    listed = api.get("/api/areas").get_json()["areas"]
    assert [(a["name"], a["path"], a["depth"]) for a in listed] == [
        ("Annex", ["Annex"], 0), ("Campus", ["Campus"], 0),
        ("Building B", ["Campus", "Building B"], 1)]


def test_an_area_cannot_be_inside_itself(api_as, admin, conn):
    site = area(conn, "Campus")
    building = area(conn, "Building B", parent=site)
    api = api_as(admin)
    for parent, target in ((building, site), (site, site)):
        before = state(conn)
        r = api.patch(f"/api/areas/{target['id']}", json={"parent_id": parent["id"]})
        assert r.status_code == 422 and error(r)["code"] == "area_cycle", r.get_json()
        assert error(r)["details"]["field"] == "parent_id"
        assert state(conn) == before


@pytest.mark.parametrize("body, status, code, field", [
    ({"name": ""}, 400, "invalid", "name"),
    ({"name": "X", "parent_id": 4242}, 422, "unknown_area", "parent_id"),
    ({"name": "X", "policy": {"bookers": [4242]}}, 422, "unknown_group", "policy"),
    ({"name": "X", "policy": {"max_minutes": 0}}, 400, "invalid", "policy.max_minutes"),
    ({"name": "X", "policy": {"min_minutes": 61, "max_minutes": 60}}, 400, "invalid",
     "policy.min_minutes"),
    ({"name": "X", "policy": {"buffer_minutes": 241}}, 400, "invalid", "policy.buffer_minutes"),
    ({"name": "X", "policy": {"opening_hours": {"mon": ["18:00", "09:00"]}}}, 400, "invalid",
     "policy.opening_hours.mon"),
    ({"name": "X", "policy": {"opening_hours": {"monday": ["09:00", "18:00"]}}}, 400,
     "invalid", "monday"),
    ({"name": "X", "policy": {"closed_dates": ["2027-02-30"]}}, 400, "invalid",
     "policy.closed_dates"),
    ({"name": "X", "policy": {"quota": {}}}, 400, "invalid", "policy.quota"),
    ({"name": "X", "policy": {"quota": {"bookings_per_day": 0}}}, 400, "invalid",
     "policy.quota.bookings_per_day"),
    ({"name": "X", "policy": {"colour": "red"}}, 400, "invalid", "colour"),
    ({"name": "X", "policy": []}, 400, "invalid", "policy"),
    ({"name": "campus"}, 409, "conflict", "name"),
])
def test_bad_areas_are_refused_naming_the_field_and_change_nothing(api_as, admin, conn, body,
                                                                  status, code, field):
    area(conn, "Campus")
    api = api_as(admin)
    before = state(conn)
    r = api.post("/api/areas", json=body)
    assert (r.status_code, error(r)["code"]) == (status, code), r.get_json()
    assert error(r)["details"].get("field") == field
    assert state(conn) == before


def test_a_policy_field_sent_as_null_is_inherited_again(api_as, admin, conn, berlin):
    site = area(conn, "Campus", max_minutes=180)
    building = area(conn, "Building B", parent=site, max_minutes=60, buffer_minutes=10)
    put_in(conn, berlin, building)
    api = api_as(admin)
    r = api.patch(f"/api/areas/{building['id']}", json={"policy": {"max_minutes": None}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["area"]["policy"] == {"buffer_minutes": 10}
    assert (body["effective"]["max_minutes"]["value"],
            body["effective"]["max_minutes"]["source"]["name"]) == (180, "Campus")
    shown = api.get(f"/api/rooms/{berlin['id']}/policy").get_json()["policy"]
    assert shown["max_minutes"]["source"]["name"] == "Campus"
    # a room's own field, set and unset through PATCH /api/rooms/<id>
    assert api.patch(f"/api/rooms/{berlin['id']}",
                     json={"policy": {"max_minutes": 30}}).status_code == 200
    shown = api.get(f"/api/rooms/{berlin['id']}/policy").get_json()["policy"]
    assert (shown["max_minutes"]["value"], shown["max_minutes"]["source"]["level"]) == (30, "room")
    assert api.patch(f"/api/rooms/{berlin['id']}",
                     json={"policy": {"max_minutes": None}}).status_code == 200
    shown = api.get(f"/api/rooms/{berlin['id']}/policy").get_json()["policy"]
    assert shown["max_minutes"]["source"]["name"] == "Campus"


def test_a_room_in_no_such_area_is_refused(api_as, admin, berlin, conn):
    api = api_as(admin)
    before = state(conn)
    r = api.patch(f"/api/rooms/{berlin['id']}", json={"area_id": 4242})
    assert (r.status_code, error(r)["code"]) == (422, "unknown_area")
    assert state(conn) == before


def test_policy_changes_are_audited(api_as, admin, conn):
    api = api_as(admin)
    made = api.post("/api/areas", json={"name": "Campus"}).get_json()["area"]
    api.patch(f"/api/areas/{made['id']}", json={"policy": {"buffer_minutes": 15}})
    rows = conn.execute("SELECT action, actor_id, before, after FROM audit_log "
                        "WHERE target = %s ORDER BY id", (f"area {made['id']}",)).fetchall()
    assert [r["action"] for r in rows] == ["area.create", "area.update"]
    assert rows[1]["actor_id"] == admin["id"]
    assert (rows[1]["before"]["policy"], rows[1]["after"]["policy"]) == ({}, {"buffer_minutes": 15})


# -- groups -------------------------------------------------------------------------------

def test_groups_name_their_members_by_email(api_as, admin, alice, bob, conn):
    api = api_as(admin)
    r = api.post("/api/groups", json={"name": "Lab", "members": ["ALICE@example.com"]})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()["group"]
    assert [m["email"] for m in made["members"]] == ["alice@example.com"]
    r = api.patch(f"/api/groups/{made['id']}", json={"members": ["bob@example.com",
                                                                 "admin@example.com"]})
    assert [m["name"] for m in r.get_json()["group"]["members"]] == ["Ada", "Bob"]
    assert api.get(f"/api/groups/{made['id']}").get_json()["group"] == r.get_json()["group"]
    assert [g["name"] for g in api.get("/api/groups").get_json()["groups"]] == ["Lab"]
    before = state(conn)
    r = api.patch(f"/api/groups/{made['id']}", json={"members": ["nobody@example.com"]})
    assert (r.status_code, error(r)["code"]) == (422, "unknown_user")
    assert error(r)["details"]["emails"] == ["nobody@example.com"]
    assert state(conn) == before
    r = api.patch(f"/api/groups/{made['id']}", json={"name": "Labs"})
    assert [m["name"] for m in r.get_json()["group"]["members"]] == ["Ada", "Bob"]


def test_group_membership_is_read_with_the_user(api_as, alice, conn):
    api = api_as(alice)
    lab = group(conn, "Lab", alice)
    r = api.get("/api/me")
    assert r.status_code == 200
    from booking.auth import USER_COLUMNS
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = %s",
                       (alice["id"],)).fetchone()
    assert row["groups"] == [lab["id"]]


# -- the board's area filter -------------------------------------------------------------

def test_the_board_filters_by_area_and_the_areas_inside_it(api_as, alice, make, conn):
    site = area(conn, "Campus")
    building = area(conn, "Building B", parent=site)
    elsewhere = area(conn, "Annex")
    rooms = {name: make.room(name) for name in ("Spree", "Havel", "Alster", "Loose")}
    put_in(conn, rooms["Spree"], site)
    put_in(conn, rooms["Havel"], building)
    put_in(conn, rooms["Alster"], elsewhere)
    api = api_as(alice)

    def names(**query):
        params = "&".join(f"{k}={v}" for k, v in query.items())
        r = api.get(f"/api/board?date={DAY}&{params}")
        assert r.status_code == 200, r.get_json()
        return [entry["room"]["name"] for entry in r.get_json()["rooms"]]

    assert names() == ["Alster", "Havel", "Loose", "Spree"]
    assert names(area=site["id"]) == ["Havel", "Spree"]
    assert names(area=building["id"]) == ["Havel"]
    assert names(area=elsewhere["id"]) == ["Alster"]
    assert names(area=4242) == []
    # a room moved is on its new area's board at once (the board's version moved)
    put_in(conn, rooms["Loose"], building)
    assert names(area=site["id"]) == ["Havel", "Loose", "Spree"]
    r = api.get("/api/board?area=x")
    assert r.status_code == 400 and error(r)["details"]["field"] == "area"


def test_the_board_page_offers_the_areas(browser_as, alice, make, conn):
    site = area(conn, "Campus")
    put_in(conn, make.room("Spree"), site)
    page = browser_as(alice).get(f"/board?date={DAY}&area={site['id']}").get_data(as_text=True)
    assert f'<option value="{site["id"]}" selected>Campus</option>' in page


# -- the pages ---------------------------------------------------------------------------

def test_the_area_page_shows_each_value_and_where_it_comes_from(browser_as, admin, conn,
                                                                 berlin):
    site = area(conn, "Campus", max_minutes=120)
    building = area(conn, "Building B", parent=site, buffer_minutes=10)
    put_in(conn, berlin, building)
    b = browser_as(admin)
    page = b.get(f"/admin/areas/{building['id']}").get_data(as_text=True)
    assert "2 hours" in page and f'href="/admin/areas/{site["id"]}">Campus</a> (area)' in page
    assert "10 minutes" in page and "the organisation's default" in page
    # the parent offered: not the area itself
    assert f'<option value="{building["id"]}"' not in page
    room_page = b.get(f"/admin/rooms/{berlin['id']}/policy").get_data(as_text=True)
    assert "Building B</a> (area)" in room_page and "Campus</a> (area)" in room_page
    assert "09:00–18:00" in room_page         # its own hours, no level sets any
    # ... which come from the room's own form, not from a rule set on it (unticked below)
    assert (f'<a href="/admin/rooms/{berlin["id"]}">the room\'s own opening and closing '
            f'times</a>') in html.unescape(room_page)
    # An area's own rules are "this area", not a link to the page one is on.
    assert "<td>this area</td>" in page
    assert f'href="/admin/areas/{building["id"]}">Building B</a>' not in page


def test_rules_and_weekdays_are_named_in_the_reader_s_language(browser_as, admin, conn):
    """The list of areas named the rules an area sets by their keys (closed_dates), and
    the opening hours' days were English (Mon) on German pages."""
    site = area(conn, "Campus", closed_dates=["12-25"], buffer_minutes=10)
    b = browser_as(admin)
    listed = b.get("/admin/areas").get_data(as_text=True)
    assert "<td>Closed dates, Buffer between bookings (minutes)</td>" in listed
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    listed = b.get("/admin/areas", headers=german).get_data(as_text=True)
    assert "<td>Schließtage, Puffer zwischen Buchungen (Minuten)</td>" in listed
    page = b.get(f"/admin/areas/{site['id']}", headers=german).get_data(as_text=True)
    assert '<label for="hours_mon">Mo.</label>' in page
    assert '<label for="hours_sun">So.</label>' in page


def test_a_rule_s_error_names_the_rule_at_its_field_and_is_summed_up_at_the_top(
        browser_as, admin, conn):
    """A policy form's errors read "policy.opening_hours.mon: …" (the API's field path),
    a quota's was shown nowhere, and none was tied to its field or said at the top."""
    building = area(conn, "Building B")
    b = browser_as(admin)
    before = state(conn)
    for data, field, words, input_id in [
            ({"set_opening_hours": "on", "hours_mon": "18:00-09:00"},
             "policy.opening_hours.mon", "Opening hours, Mon: the room must close after it opens.",
             "hours_mon"),
            ({"set_closed_dates": "on", "closed_dates": "2027-13-45"}, "policy.closed_dates",
             "'2027-13-45' in Closed dates is not a date", "closed_dates"),
            ({"set_quota": "on", "quota_bookings_per_day": "0"},
             "policy.quota.bookings_per_day", "Quota per person, Bookings a day", "quota_bookings_per_day")]:
        r = b.post(f"/admin/areas/{building['id']}", data={"name": "Building B", **data})
        assert r.status_code in (400, 422)
        page = r.get_data(as_text=True)
        error = re.search(rf'<p class="field-error" id="{re.escape(field)}-error" role="alert">([^<]+)</p>',
                          page)
        assert error and words in html.unescape(error.group(1)), page[page.index("Set here"):][:3000]
        assert "policy." not in error.group(1)
        assert re.search(rf'id="{input_id}"[^>]*aria-describedby="[^"]*{re.escape(field)}-error"'
                         rf'[^>]*aria-invalid="true"', page)
        assert f'<a href="#{field}-error">Nothing was saved' in page
        assert page.index("Nothing was saved") < page.index('id="effective-policy"')
    assert state(conn) == before


def test_setting_and_unsetting_a_field_through_the_page(browser_as, admin, conn, berlin):
    building = area(conn, "Building B", buffer_minutes=10)
    b = browser_as(admin)
    r = b.post(f"/admin/areas/{building['id']}", data={
        "name": "Building B", "set_max_minutes": "on", "max_minutes": "90",
        "set_opening_hours": "on", "hours_mon": "08:00-12:00", "hours_tue": "closed",
        "set_approval_required": "on", "approval_required": "yes"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    policy = conn.execute("SELECT policy FROM areas WHERE id = %s",
                          (building["id"],)).fetchone()["policy"]
    # buffer_minutes was not ticked: unset; the others set as typed
    assert policy == {"max_minutes": 90, "approval_required": True,
                      "opening_hours": {"mon": ["08:00", "12:00"], "tue": None, "wed": None,
                                        "thu": None, "fri": None, "sat": None, "sun": None}}
    before = state(conn)
    r = b.post(f"/admin/areas/{building['id']}", data={
        "name": "Building B", "set_max_minutes": "on", "max_minutes": "many"})
    assert r.status_code == 400
    assert 'id="policy.max_minutes-error"' in r.get_data(as_text=True)
    assert 'value="many"' in r.get_data(as_text=True)       # what was typed stays
    assert state(conn) == before
    r = b.post(f"/admin/rooms/{berlin['id']}/policy", data={
        "area_id": str(building["id"]), "set_buffer_minutes": "on", "buffer_minutes": "5"})
    assert r.status_code == 302
    row = conn.execute("SELECT area_id, policy FROM rooms WHERE id = %s",
                       (berlin["id"],)).fetchone()
    assert (row["area_id"], row["policy"]) == (building["id"], {"buffer_minutes": 5})


def test_the_groups_pages(browser_as, admin, alice, conn):
    b = browser_as(admin)
    r = b.post("/admin/groups", data={"name": "Lab", "members": "alice@example.com\n"})
    assert r.status_code == 302
    made = conn.execute("SELECT id FROM groups").fetchone()
    page = b.get(f"/admin/groups/{made['id']}").get_data(as_text=True)
    assert "alice@example.com" in page
    r = b.post(f"/admin/groups/{made['id']}", data={"name": "Lab", "members": "who@x.org"})
    assert r.status_code == 422 and "who@x.org" in r.get_data(as_text=True)
    assert "Lab" in b.get("/admin/groups").get_data(as_text=True)


def test_a_policy_change_says_how_many_bookings_ahead_fall_outside_it(browser_as, admin, conn,
                                                                      make, alice, berlin):
    """QA: closing an area's rooms on a day, or shortening their hours, said nothing
    of the bookings already made then (the room's own page did; its policy page
    did not either). They stay booked, and the admin is told how many."""
    from zoneinfo import ZoneInfo
    tz = ZoneInfo("Europe/Berlin")
    site = area(conn, "Campus")
    building = area(conn, "Building B", parent=site)
    put_in(conn, berlin, building)

    def at(day, hm):
        return datetime(2027, 3, day, *map(int, hm.split(":")), tzinfo=tz)
    make.booking(berlin, alice, at(8, "11:30"), at(8, "12:30"))     # ends at the new closing
    make.booking(berlin, alice, at(15, "11:31"), at(15, "12:31"))   # a minute past it
    make.booking(berlin, alice, at(2, "10:00"), at(2, "11:00"))     # a day now closed
    gone = make.booking(berlin, alice, at(9, "10:00"), at(9, "11:00"))
    conn.execute("UPDATE bookings SET cancelled_at = now() WHERE id = %s", (gone["id"],))
    b = browser_as(admin)
    r = b.post(f"/admin/areas/{site['id']}", data={
        "name": "Campus", "set_opening_hours": "on", "hours_mon": "08:00-12:30",
        "hours_tue": "closed"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Area saved." in page
    assert ("2 future bookings in the rooms of this area fall outside the opening hours "
            "their policy now gives") in page
    assert conn.execute("SELECT count(*) AS n FROM bookings WHERE cancelled_at IS NULL"
                        ).fetchone()["n"] == 3
    # Saved again as it is: still said (they are still outside); opened again: not.
    r = b.post(f"/admin/areas/{site['id']}", data={"name": "Campus"}, follow_redirects=True)
    assert "fall outside" not in r.get_data(as_text=True)
    r = b.post(f"/admin/rooms/{berlin['id']}/policy", data={
        "area_id": str(building["id"]), "set_closed_dates": "on",
        "closed_dates": "2027-03-08"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Policy saved." in page and "1 future booking of Spree falls outside" in page


def test_the_group_form_shows_every_field_s_error_at_once(browser_as, api_as, admin, alice,
                                                          conn):
    """QA: the group form said one mistake a submit: a name another group has was only
    mentioned once the unknown members were put right, an empty name before a
    malformed member list."""
    group(conn, "Lab", alice)

    def groups_now():
        return conn.execute("SELECT g.name, array_agg(m.user_id) AS members FROM groups g "
                            "LEFT JOIN group_members m ON m.group_id = g.id "
                            "GROUP BY g.id ORDER BY g.id").fetchall()
    before = groups_now()
    b = browser_as(admin)
    r = b.post("/admin/groups", data={"name": "LAB", "members": "who@x.org"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="name-error" role="alert">A group with this name already exists.</p>' in page
    assert 'id="members-error" role="alert">No account has this email: who@x.org.</p>' in page
    r = b.post("/admin/groups", data={"name": " ", "members": "x" * 300})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'id="name-error"' in page and 'id="members-error"' in page
    lab = conn.execute("SELECT id FROM groups").fetchone()
    r = api_as(admin).patch(f"/api/groups/{lab['id']}", json={"name": "", "members": [1]})
    assert r.status_code == 400
    assert [e["field"] for e in error(r)["details"]["errors"]] == ["name", "members"]
    # its own name is not "taken"
    r = api_as(admin).patch(f"/api/groups/{lab['id']}", json={"name": "lab",
                                                              "members": ["who@x.org"]})
    assert error(r)["code"] == "unknown_user" and "errors" not in error(r)["details"]
    assert groups_now() == before


def test_the_rooms_list_shows_the_hours_in_effect_and_where_they_come_from(browser_as, admin,
                                                                           conn, make):
    """QA, 2026-12-06: /admin/rooms showed each room's own 09:00-18:00 where its area's
    policy opens it 08:00-19:00 on weekdays (and not at all at the weekend)."""
    campus = area(conn, "Campus", opening_hours={
        **{d: ["08:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "sat": None, "sun": None})
    shut = area(conn, "Shut", opening_hours={d: None for d in
                                             ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    inside, closed, own = make.room("Inside"), make.room("Closed"), make.room("Own hours")
    put_in(conn, inside, campus)
    put_in(conn, closed, shut)
    page = html.unescape(browser_as(admin).get("/admin/rooms").get_data(as_text=True))
    rows = dict(re.findall(r'<th scope="row"><a [^>]*>([^<]+)</a></th>(.*?)</tr>', page, re.S))
    assert "08:00–19:00" in rows["Inside"] and "(by policy, from Campus)" in rows["Inside"]
    assert "closed every day" in rows["Closed"] and "(by policy, from Shut)" in rows["Closed"]
    assert "09:00–18:00" in rows["Own hours"] and "by policy" not in rows["Own hours"]


def test_the_shortest_booking_may_equal_the_longest(api_as, admin, conn):
    r = api_as(admin).post("/api/areas", json={"name": "X", "policy": {"min_minutes": 60,
                                                                      "max_minutes": 60}})
    assert r.status_code == 201, r.get_json()


def test_a_quota_set_here_with_no_figure_is_said_in_the_page_s_words(browser_as, admin, conn,
                                                                     berlin):
    """QA, 2026-12-05: "Set here" ticked for the quota with no figure filled in said the
    API's "policy.quota sets at least one of bookings_per_day, ... (or send null to
    inherit it)"."""
    b = browser_as(admin)
    before = state(conn)
    r = b.post(f"/admin/rooms/{berlin['id']}/policy", data={"area_id": "", "set_quota": "on"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "Fill in at least one quota, or untick “Set here”" in page
    assert "send null" not in page
    assert state(conn) == before


def test_the_policy_form_reports_every_bad_field_at_once(browser_as, api_as, admin, conn,
                                                          berlin):
    """QA, 2026-12-06: the policy form reported only its first bad field; fixing it showed
    the next. Each is now said beside its field, and nothing is saved."""
    b, api = browser_as(admin), api_as(admin)
    before = state(conn)
    r = b.post(f"/admin/rooms/{berlin['id']}/policy", data={
        "area_id": "", "set_min_minutes": "on", "min_minutes": "many",
        "set_closed_dates": "on", "closed_dates": "2027-02-30",
        "set_opening_hours": "on", "hours_mon": "18:00-09:00",
        "set_quota": "on"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    for field in ("min_minutes", "closed_dates", "opening_hours.mon", "quota"):
        assert f'id="policy.{field}-error"' in page, field
    assert "Fill in at least one quota" in page and "2027-02-30" in page
    assert state(conn) == before
    body = api.patch(f"/api/rooms/{berlin['id']}", json={"policy": {
        "min_minutes": 90, "max_minutes": 30, "buffer_minutes": -1}}).get_json()
    assert [e["field"] for e in body["error"]["details"]["errors"]] == [
        "policy.buffer_minutes", "policy.min_minutes"], body
    assert state(conn) == before


WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.mark.parametrize("policy, said", [
    ({"opening_hours": {day: None for day in WEEK}}, "It is closed every day of the week"),
    ({"opening_hours": {**{day: None for day in WEEK}, "tue": ["09:00", "09:30"]},
      "min_minutes": 45},
     "No day's opening hours are as long as the shortest booking (45 minutes)"),
    ({"min_notice_minutes": 2880, "max_days_ahead": 1},
     "The notice (48 hours) is longer than the booking window (1 day)"),
    # the edge: a notice of exactly the window is not said; a minute more is
    ({"min_notice_minutes": 1440, "max_days_ahead": 1}, None),
    ({"min_notice_minutes": 1441, "max_days_ahead": 1},
     "The notice (24 h 1 min) is longer than the booking window (1 day)"),
    # ... and hours exactly the shortest booking are long enough; a minute short are not
    ({"opening_hours": {**{day: None for day in WEEK}, "tue": ["09:00", "09:44"]},
      "min_minutes": 45},
     "No day's opening hours are as long as the shortest booking (45 minutes)"),
    ({"opening_hours": {**{day: None for day in WEEK}, "tue": ["09:00", "09:45"]},
      "min_minutes": 45, "min_notice_minutes": 1380, "max_days_ahead": 1}, None),
])
def test_a_policy_that_books_nothing_is_said_on_its_page(browser_as, admin, conn, berlin,
                                                         policy, said):
    """QA, 2026-12-06: only a shortest booking longer than the longest was said; a room
    closed every day, open shorter than the shortest booking, or with a notice
    longer than its window, books nothing, and no page said so. Near their edges
    (45 minutes open, a notice an hour short of the window) something can be booked."""
    from policykit import room_policy
    room_policy(conn, berlin, **policy)
    page = browser_as(admin).get(f"/admin/rooms/{berlin['id']}/policy").get_data(as_text=True)
    shown = html.unescape(page)
    if said is None:
        assert "nothing can be booked here" not in shown
    else:
        assert said in shown and "nothing can be booked here" in shown


def test_levels_that_combine_into_an_impossible_policy_are_said_on_its_pages(browser_as, admin,
                                                                             conn, berlin):
    """QA, 2026-12-05: an area's longest booking of 2 hours and the room's shortest of
    200 minutes were each accepted: the room could not be booked, and no page said
    so. Each level passes its own check; the pages of the policy in effect say it."""
    from policykit import put_in, room_policy
    campus = area(conn, "Campus West", max_minutes=120)
    put_in(conn, berlin, campus)
    b = browser_as(admin)
    words = "is longer than the longest"
    assert words not in b.get(f"/admin/rooms/{berlin['id']}/policy").get_data(as_text=True)
    room_policy(conn, berlin, min_minutes=200)
    page = b.get(f"/admin/rooms/{berlin['id']}/policy").get_data(as_text=True)
    assert "The shortest booking (3 h 20 min) is longer than the longest (2 hours)" in page
    assert words not in b.get(f"/admin/areas/{campus['id']}").get_data(as_text=True)
