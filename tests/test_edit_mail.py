"""What a change tells, by mail through a real SMTP server and by webhook: the
organiser and every invitee get an iMIP update (REQUEST, the same UID, a higher
SEQUENCE; a moved series occurrence as its RECURRENCE-ID instance), an invitee
taken off gets the cancellation, and an occurrence that could not be placed is
told to the organiser. The worker keeps series materialised."""

from datetime import datetime, timedelta

from booking.events.worker import Worker
from conftest import NOW, UTC
from test_worker import calendar_of, only_event, smtp, worker  # noqa: F401 (fixtures)

DAY = "2027-03-02"


def by_recipient(messages):
    return {to[0]: message for to, message in messages}


def test_a_move_sends_the_organiser_and_invitees_the_update(api_as, alice, bob, berlin, smtp,
                                                            worker):
    api = api_as(alice)
    booking = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Planning", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "invitees": ["bob@example.com", "guest@partner.example"],
        "notes": "Agenda:\nbudget", "attendees": 3}).get_json()["booking"]
    worker.run_until_idle()
    first = by_recipient(smtp.messages)
    assert set(first) == {"alice@example.com", "bob@example.com", "guest@partner.example"}
    invite = only_event(calendar_of(first["guest@partner.example"]))
    assert invite["SEQUENCE"] == 0 and "budget" in str(invite["DESCRIPTION"])
    assert {str(a) for a in invite.get("ATTENDEE")} >= {"mailto:guest@partner.example",
                                                        "mailto:bob@example.com"}
    smtp.messages.clear()

    r = api.patch(f"/api/bookings/{booking['id']}", json={
        "start_time": f"{DAY}T14:00", "invitees": ["guest@partner.example"]})
    assert r.status_code == 200
    worker.run_until_idle()
    mails = by_recipient(smtp.messages)
    assert set(mails) == {"alice@example.com", "guest@partner.example", "bob@example.com"}
    for address in ("alice@example.com", "guest@partner.example"):
        calendar = calendar_of(mails[address])
        event = only_event(calendar)
        assert (str(calendar["METHOD"]), str(event["UID"]), event["SEQUENCE"]) == (
            "REQUEST", f"booking-{booking['id']}@booking", 1)
        assert event["DTSTART"].dt == datetime(2027, 3, 2, 13, tzinfo=UTC)
    assert "Changed" in mails["alice@example.com"]["Subject"]
    # Bob was taken off: his calendar drops it.
    taken_off = calendar_of(mails["bob@example.com"])
    assert str(taken_off["METHOD"]) == "CANCEL"
    assert "no longer invites you" in mails["bob@example.com"].get_body(("plain",)).get_content()


def test_a_moved_occurrence_is_sent_as_its_recurrence_id_instance(api_as, alice, berlin, smtp,
                                                                  worker):
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY;COUNT=4"}).get_json()
    worker.run_until_idle()
    smtp.messages.clear()
    second = made["bookings"][1]                       # 9 March, 10:00 Berlin
    r = api.patch(f"/api/bookings/{second['id']}", json={"start_time": "2027-03-09T15:00"})
    assert r.status_code == 200
    assert r.get_json()["booking"]["original_start_time"] == "2027-03-09T10:00:00+01:00"
    worker.run_until_idle()
    ((to, message),) = smtp.messages
    calendar = calendar_of(message)
    event = only_event(calendar)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"series-{made['series']['id']}@booking"
    assert event["RECURRENCE-ID"].dt == datetime(2027, 3, 9, 9, tzinfo=UTC)
    assert event["DTSTART"].dt == datetime(2027, 3, 9, 14, tzinfo=UTC)
    assert event["SEQUENCE"] >= 1


def test_a_series_sent_again_carries_its_occurrences_changed_on_their_own(api_as, alice, berlin,
                                                                          smtp, worker):
    """A series REQUEST replaces what a calendar holds of it: sent with its rule alone,
    the occurrence moved to 15:00 went back to 10:00 in the invitees' calendars."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY;COUNT=4",
        "invitees": ["guest@partner.example"]}).get_json()
    series_id = made["series"]["id"]
    moved = made["bookings"][1]                        # 9 March, 10:00 Berlin
    assert api.patch(f"/api/bookings/{moved['id']}",
                     json={"start_time": "2027-03-09T15:00", "title": "Moved"}).status_code == 200
    worker.run_until_idle()
    smtp.messages.clear()
    r = api.patch(f"/api/series/{series_id}?from={DAY}T10:00", json={"title": "Weekly, renamed"})
    assert r.status_code == 200, r.get_json()
    worker.run_until_idle()
    mails = by_recipient(smtp.messages)
    assert set(mails) == {"alice@example.com", "guest@partner.example"}
    for message in mails.values():
        calendar = calendar_of(message)
        assert str(calendar["METHOD"]) == "REQUEST"
        master, instance = calendar.walk("VEVENT")
        assert "RRULE" in master and str(master["SUMMARY"]) == "Weekly, renamed"
        assert str(instance["UID"]) == str(master["UID"]) == f"series-{series_id}@booking"
        assert instance["SEQUENCE"] == master["SEQUENCE"] >= 1
        assert instance["RECURRENCE-ID"].dt == datetime(2027, 3, 9, 9, tzinfo=UTC)
        assert (instance["DTSTART"].dt, instance["DTEND"].dt) == (
            datetime(2027, 3, 9, 14, tzinfo=UTC), datetime(2027, 3, 9, 15, tzinfo=UTC))
        assert str(instance["SUMMARY"]) == "Moved"
        assert str(instance["ORGANIZER"]) == str(master["ORGANIZER"])
        assert str(instance.get("ATTENDEE")) == str(master.get("ATTENDEE"))
    assert "guest@partner.example" in str(
        calendar_of(mails["guest@partner.example"]).walk("VEVENT")[1].get("ATTENDEE"))


def test_the_worker_extends_series_and_tells_of_an_occurrence_it_could_not_place(
        app, api_as, alice, bob, berlin, make, smtp, conn):
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY"}).get_json()
    # Held a week past the window: the last Tuesday is 31 August (NOW + 187 days).
    assert made["bookings"][-1]["start_time"].startswith("2027-08-31")
    make.booking(berlin, bob, datetime(2027, 9, 7, 8, tzinfo=UTC),
                 datetime(2027, 9, 7, 9, tzinfo=UTC))
    app.config["NOW"] = NOW + timedelta(days=7)
    worker = Worker(app)
    try:
        totals = worker.extend_series()
        worker.run_until_idle()
    finally:
        worker._senders.shutdown(wait=True)
    assert totals == {"series": 1, "booked": 0, "skipped": 1}
    mails = [m for to, m in smtp.messages if to == ["alice@example.com"]
             and "Not booked" in m["Subject"]]
    assert len(mails) == 1
    assert "Tue 7 Sept 2027" in mails[0]["Subject"] and "a booking was there first" in mails[0]["Subject"]
    event = only_event(calendar_of(mails[0]))
    assert event["RECURRENCE-ID"].dt == datetime(2027, 9, 7, 8, tzinfo=UTC)
    assert str(calendar_of(mails[0])["METHOD"]) == "CANCEL"


def test_the_worker_extends_at_start(app, api_as, alice, berlin, conn):
    """`flask worker` extends as it starts (and hourly after): run() with a stop
    already asked for does its start-up work and returns."""
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY"}).get_json()
    app.config["NOW"] = NOW + timedelta(days=14)
    worker = Worker(app)
    worker.stopping.set()
    original = worker.extend_series
    calls = []
    worker.extend_series = lambda: calls.append(original())
    worker.stopping.clear()
    worker.run_once = lambda: (worker.stop(), 0)[1]      # one round, then stop
    worker.run()
    assert len(calls) == 1 and calls[0]["booked"] == 2
    count = conn.execute("SELECT count(*) AS n FROM bookings WHERE series_id = %s",
                         (made["series"]["id"],)).fetchone()["n"]
    assert count == 29


def test_a_staff_invitee_is_mailed_in_their_language_and_by_their_name(api_as, alice, bob,
                                                                       berlin, smtp, worker):
    """Bob reads French; as an invitee he was mailed in English, "Hello bob@example.com"."""
    assert api_as(bob).patch("/api/me", json={"language": "fr"}).status_code == 200
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Planning", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "invitees": ["BOB@example.com", "guest@partner.example"]})
    assert made.status_code == 201
    worker.run_until_idle()
    mails = {to[0].lower(): message for to, message in smtp.messages}
    to_bob = mails["bob@example.com"]
    text = to_bob.get_body(("plain",)).get_content()
    assert bob["name"] in to_bob["To"] and "Bonjour" in text and bob["name"] in text, text
    guest = mails["guest@partner.example"].get_body(("plain",)).get_content()
    assert "Hello guest@partner.example" in guest


def test_the_calendar_of_a_mail_speaks_its_recipient_s_language(api_as, alice, bob, berlin,
                                                                smtp, worker, conn):
    """Found by testing: a German recipient's mail was German, its calendar English
    ("Booked by Alice\nPeople: 4", ORGANIZER;CN=Rooms). A booking, an occurrence
    changed on its own and a series, each in the language of whoever reads it; the
    feeds keep English."""
    assert api_as(bob).patch("/api/me", json={"language": "de"}).status_code == 200
    conn.execute("UPDATE users SET language = 'fr' WHERE id = %s", (alice["id"],))
    api = api_as(alice)
    booking = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Planning", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "invitees": ["bob@example.com", "guest@partner.example"],
        "attendees": 4, "notes": "Agenda"}).get_json()["booking"]
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T14:00",
        "end_time": f"{DAY}T15:00", "recurrence": "FREQ=WEEKLY;COUNT=2",
        "invitees": ["bob@example.com"], "attendees": 4}).get_json()
    moved = made["bookings"][1]
    assert api.patch(f"/api/bookings/{moved['id']}",
                     json={"start_time": "2027-03-09T16:00",
                           "end_time": "2027-03-09T17:00"}).status_code == 200
    worker.run_until_idle()
    said = {"alice@example.com": ("Réservé par Alice", "Personnes : 4", "Salles"),
            "bob@example.com": ("Gebucht von Alice", "Personen: 4", "Räume"),
            "guest@partner.example": ("Booked by Alice", "People: 4", "Rooms")}
    seen = set()
    for (to,), message in smtp.messages:
        # (A series sent again carries its moved occurrence beside it: no description.)
        event, *moved = calendar_of(message).walk("VEVENT")
        booked_by, people, rooms = said[to]
        for each in (event, *moved):
            assert str(each["ORGANIZER"].params["CN"]) == rooms, (to, message["Subject"])
        description = str(event["DESCRIPTION"])
        assert description.startswith(booked_by) and people in description, (to, description)
        seen.add((to, str(event["UID"])))
    assert seen >= {("bob@example.com", f"booking-{booking['id']}@booking"),
                    ("bob@example.com", f"series-{made['series']['id']}@booking"),
                    ("alice@example.com", f"series-{made['series']['id']}@booking")}
    feed = api_as(bob).get(f"/rooms/{berlin['id']}/calendar.ics").get_data(as_text=True)
    assert "Booked by Alice" in feed and "Gebucht" not in feed


# -- what an invitee's calendar holds of a series, against what is booked ---------------

GUEST = "guest@partner.example"


def invitee_calendar(smtp, calendars):
    """Apply each mail the guest got, in order, to `calendars` (UID -> VCALENDAR), as a
    calendar client does: a REQUEST replaces what it holds of that UID (the series
    and its instances), a CANCEL with a RECURRENCE-ID removes that instance, one
    without removes the UID."""
    import icalendar

    for to, message in smtp.messages:
        if to != [GUEST]:
            continue
        calendar = calendar_of(message)
        events = calendar.walk("VEVENT")
        uid = str(events[0]["UID"])
        if str(calendar["METHOD"]) == "REQUEST":
            if "RECURRENCE-ID" in events[0] and "RRULE" not in events[0] and uid in calendars:
                held = calendars[uid]
                rid = events[0]["RECURRENCE-ID"].dt
                keep = [e for e in held.walk("VEVENT")
                        if "RECURRENCE-ID" not in e or e["RECURRENCE-ID"].dt != rid]
                fresh = icalendar.Calendar()
                for e in keep + events:
                    fresh.add_component(e)
                calendars[uid] = fresh
            else:
                calendars[uid] = calendar
        elif "RECURRENCE-ID" in events[0] and uid in calendars:
            master = [e for e in calendars[uid].walk("VEVENT") if "RRULE" in e][0]
            master.add("exdate", events[0]["RECURRENCE-ID"].dt)
        else:
            calendars.pop(uid, None)
    smtp.messages.clear()
    return calendars


def shown(calendars):
    """Every meeting the calendars show: (start, end, title, where), as UTC."""
    import recurring_ical_events
    from datetime import date

    found = []
    for calendar in calendars.values():
        for e in recurring_ical_events.of(calendar).between(date(2027, 1, 1), date(2028, 1, 1)):
            if str(e.get("STATUS")) != "CANCELLED":
                found.append((e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC),
                              str(e["SUMMARY"]), str(e["LOCATION"]).split(",")[0]))
    return sorted(found)


def booked(conn, series_ids):
    return sorted((r["start_at"], r["end_at"], r["title"], r["name"]) for r in conn.execute(
        "SELECT b.start_at, b.end_at, b.title, r.name FROM bookings b JOIN rooms r "
        "ON r.id = b.room_id WHERE b.series_id = ANY(%s) AND b.cancelled_at IS NULL",
        (series_ids,)))


def test_an_invitees_calendar_holds_exactly_what_the_series_books(api_as, alice, berlin, make,
                                                                  smtp, worker, conn):
    """Found by testing from outside: a series changed after an occurrence was
    cancelled, changed on its own or moved to another room, or split twice, left
    the invitee's calendar with occurrences nobody booked (the rule's, on days the
    series holds none; an instance whose RECURRENCE-ID the rule no longer has; a
    middle part without end), or the moved one in the series' room."""
    other = make.room("Havel", capacity=10)
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Daily", "start_time": "2027-03-01T10:00",
        "end_time": "2027-03-01T10:30", "recurrence": "FREQ=DAILY;COUNT=10",
        "invitees": [GUEST]}).get_json()
    ids = [made["series"]["id"]]
    occurrences = made["bookings"]
    calendars = {}

    def check(step):
        worker.run_until_idle()
        invitee_calendar(smtp, calendars)
        assert shown(calendars) == booked(conn, ids), step

    check("made")
    assert api.delete(f"/api/bookings/{occurrences[3]['id']}").status_code == 200   # 4 March
    check("one cancelled")
    assert api.patch(f"/api/bookings/{occurrences[5]['id']}",                      # 6 March
                     json={"start_time": "2027-03-06T15:00", "end_time": "2027-03-06T15:30",
                           "room_id": other["id"], "title": "Moved"}).status_code == 200
    check("one moved to another room")
    r = api.patch(f"/api/series/{ids[0]}?from=2027-03-01T10:00",
                  json={"start_time": "2027-03-01T12:00", "end_time": "2027-03-01T12:30"})
    assert r.status_code == 200, r.get_json()
    check("changed in place, at another time")
    r = api.patch(f"/api/series/{ids[0]}?from=2027-03-08T12:00", json={"title": "Later"})
    assert r.status_code == 200, r.get_json()
    ids.append(r.get_json()["series"]["id"])
    check("split")
    r = api.patch(f"/api/series/{ids[0]}?from=2027-03-03T12:00", json={"title": "Middle"})
    assert r.status_code == 200, r.get_json()
    ids.append(r.get_json()["series"]["id"])
    check("split again, before the first split")
    r = api.patch(f"/api/series/{ids[2]}?from=2027-03-03T12:00", json={"invitees": []})
    assert r.status_code == 200, r.get_json()
    worker.run_until_idle()
    invitee_calendar(smtp, calendars)
    assert shown(calendars) == booked(conn, ids[:2]), "taken off the middle part"


def test_mail_of_a_series_cut_short_does_not_repeat_its_old_count(api_as, alice, berlin, smtp,
                                                                    worker):
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Daily", "start_time": "2027-03-01T10:00",
        "end_time": "2027-03-01T11:00", "recurrence": "FREQ=DAILY;COUNT=5"}).get_json()
    worker.run_until_idle()
    assert "Daily, 5 times" in smtp.messages[0][1]["Subject"]
    smtp.messages.clear()
    r = api.patch(f"/api/series/{made['series']['id']}?from=2027-03-04T10:00",
                  json={"title": "Part two"})
    assert r.status_code == 200, r.get_json()
    worker.run_until_idle()
    subjects = sorted(str(message["Subject"]) for _, message in smtp.messages)
    assert len(subjects) == 2 and not any("5 times" in s for s in subjects), subjects
    assert any(s.endswith("repeating (Daily)") and "Changed from" in s for s in subjects), subjects
    assert any("(Daily, 2 times)" in s for s in subjects), subjects
    smtp.messages.clear()
    assert api.delete(f"/api/series/{made['series']['id']}?from=2027-03-03T10:00").status_code \
        == 200
    worker.run_until_idle()
    (subject,) = [str(m["Subject"]) for _, m in smtp.messages]
    assert "Cancelled from" in subject and "(Daily)" in subject, subject


def test_an_invitee_hears_of_an_occurrence_the_worker_could_not_place(
        app, api_as, alice, bob, berlin, make, smtp, conn):
    made = api_as(alice).post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY", "invitees": [GUEST]}).get_json()
    make.booking(berlin, bob, datetime(2027, 9, 7, 8, tzinfo=UTC),
                 datetime(2027, 9, 7, 9, tzinfo=UTC))
    app.config["NOW"] = NOW + timedelta(days=7)
    worker = Worker(app)
    try:
        worker.run_until_idle()
        smtp.messages.clear()
        worker.extend_series()
        worker.run_until_idle()
    finally:
        worker._senders.shutdown(wait=True)
    (told,) = [m for to, m in smtp.messages if to == [GUEST]]
    calendar = calendar_of(told)
    event = only_event(calendar)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == f"series-{made['series']['id']}@booking"
    assert event["RECURRENCE-ID"].dt == datetime(2027, 9, 7, 8, tzinfo=UTC)
    text = told.get_body(("plain",)).get_content()
    assert "the other dates stay booked" in text and "your repeating booking" not in text


def test_an_occurrence_the_old_part_kept_after_a_split_is_told_when_cancelled(
        api_as, alice, berlin, smtp, worker, conn):
    """Found by testing from outside: an occurrence changed on its own stays with the
    old part when the series is split before it (its start lies past the cut).
    Cancelling it later sent nothing: the trigger took it for one cancelled with
    its series, which had told everyone already."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY;COUNT=4",
        "invitees": [GUEST]}).get_json()
    ids = [made["series"]["id"]]
    third = made["bookings"][2]                        # 16 March, 10:00 Berlin
    calendars = {}

    def check(step):
        worker.run_until_idle()
        invitee_calendar(smtp, calendars)
        assert shown(calendars) == booked(conn, ids), step

    assert api.patch(f"/api/bookings/{third['id']}", json={
        "start_time": "2027-03-16T14:00", "end_time": "2027-03-16T15:00"}).status_code == 200
    check("moved")
    r = api.patch(f"/api/series/{ids[0]}?from=2027-03-09T10:00", json={"title": "Part two"})
    assert r.status_code == 200, r.get_json()
    ids.append(r.get_json()["series"]["id"])
    check("split")
    assert api.get(f"/api/bookings/{third['id']}").get_json()["booking"]["series_id"] == ids[0]

    assert api.delete(f"/api/bookings/{third['id']}").status_code == 200
    (event,) = conn.execute("SELECT kind, booking_id FROM outbox ORDER BY id DESC LIMIT 1")
    assert (event["kind"], event["booking_id"]) == ("occurrence.cancelled", third["id"])
    worker.run_until_idle()
    told = by_recipient(smtp.messages)
    assert set(told) == {"alice@example.com", GUEST}
    calendar = calendar_of(told[GUEST])
    cancelled = only_event(calendar)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(cancelled["UID"]) == f"series-{ids[0]}@booking"
    assert cancelled["RECURRENCE-ID"].dt == datetime(2027, 3, 16, 9, tzinfo=UTC)
    invitee_calendar(smtp, calendars)
    assert shown(calendars) == booked(conn, ids), "cancelled"


def test_a_second_split_before_the_first_is_told_as_a_change(api_as, alice, berlin, smtp,
                                                            worker, conn):
    """Found by testing from outside: a split before an earlier split was mailed as a
    cancellation ("Cancelled from ... on", "The attached cancellation removes
    it") with a REQUEST attached, and its event was series.cancelled. It is a
    change, told as the first split is."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Daily", "start_time": "2027-03-01T10:00",
        "end_time": "2027-03-01T10:30", "recurrence": "FREQ=DAILY;COUNT=10",
        "invitees": [GUEST]}).get_json()
    series_id = made["series"]["id"]
    r = api.patch(f"/api/series/{series_id}?from=2027-03-08T10:00", json={"title": "Later"})
    assert r.status_code == 200, r.get_json()
    worker.run_until_idle()
    smtp.messages.clear()
    r = api.patch(f"/api/series/{series_id}?from=2027-03-04T10:00", json={"title": "Middle"})
    assert r.status_code == 200, r.get_json()
    middle = r.get_json()["series"]["id"]
    rows = conn.execute("SELECT kind, series_id, payload FROM outbox ORDER BY id DESC LIMIT 2")
    second, first = rows.fetchall()
    assert (first["kind"], first["series_id"]) == ("series.created", middle)
    assert (second["kind"], second["series_id"]) == ("series.updated", series_id)
    assert second["payload"]["continued_by"] == middle
    assert datetime.fromisoformat(second["payload"]["from"]) == datetime(2027, 3, 4, 9,
                                                                         tzinfo=UTC)
    worker.run_until_idle()
    for to, message in smtp.messages:
        if f"series-{series_id}@" not in str(calendar_of(message).walk("VEVENT")[0]["UID"]):
            continue
        text = message.get_body(("plain",)).get_content()
        assert "Changed from" in message["Subject"], message["Subject"]
        assert "Cancelled" not in message["Subject"] and "cancellation" not in text, text
        assert "The attached invitation updates it in your calendar." in text
        assert str(calendar_of(message)["METHOD"]) == "REQUEST"


def test_a_series_cancelled_tells_who_was_invited_to_one_occurrence_only(
        api_as, alice, berlin, smtp, worker, conn):
    """Found by testing from outside: someone invited to one occurrence (its own
    invitees) got its REQUEST with RECURRENCE-ID, but nothing when the whole series
    was cancelled. They get the cancellation of what they were sent."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY;COUNT=3"}).get_json()
    series_id = made["series"]["id"]
    second = made["bookings"][1]                       # 9 March, 10:00 Berlin
    assert api.patch(f"/api/bookings/{second['id']}",
                     json={"invitees": [GUEST]}).status_code == 200
    worker.run_until_idle()
    invite = calendar_of(by_recipient(smtp.messages)[GUEST])
    assert str(invite["METHOD"]) == "REQUEST"
    assert only_event(invite)["RECURRENCE-ID"].dt == datetime(2027, 3, 9, 9, tzinfo=UTC)
    smtp.messages.clear()

    assert api.delete(f"/api/series/{series_id}").status_code == 200
    worker.run_until_idle()
    told = by_recipient(smtp.messages)
    assert set(told) == {"alice@example.com", GUEST}
    calendar = calendar_of(told[GUEST])
    assert str(calendar["METHOD"]) == "CANCEL"
    (cancelled,) = calendar.walk("VEVENT")
    assert str(cancelled["UID"]) == f"series-{series_id}@booking"
    assert cancelled["RECURRENCE-ID"].dt == datetime(2027, 3, 9, 9, tzinfo=UTC)
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert "Cancelled" in told[GUEST]["Subject"]


def test_a_series_cut_short_tells_who_was_invited_to_an_occurrence_after_the_cut(
        api_as, alice, berlin, smtp, worker, conn):
    """Cancelled from one occurrence on, the series is sent again ending before the
    cut (a REQUEST, which would add the whole series to the calendar of someone
    invited to one occurrence only): they get the cancellation of their occurrence,
    and someone invited to one before the cut hears nothing."""
    api = api_as(alice)
    made = api.post("/api/bookings", json={
        "room_id": berlin["id"], "title": "Weekly", "start_time": f"{DAY}T10:00",
        "end_time": f"{DAY}T11:00", "recurrence": "FREQ=WEEKLY;COUNT=3",
        "invitees": [GUEST]}).get_json()
    series_id = made["series"]["id"]
    first, third = made["bookings"][0], made["bookings"][2]
    assert api.patch(f"/api/bookings/{first['id']}",
                     json={"invitees": [GUEST, "early@partner.example"]}).status_code == 200
    assert api.patch(f"/api/bookings/{third['id']}",
                     json={"invitees": [GUEST, "late@partner.example"]}).status_code == 200
    worker.run_until_idle()
    smtp.messages.clear()

    assert api.delete(f"/api/series/{series_id}?from=2027-03-09T10:00").status_code == 200
    worker.run_until_idle()
    told = by_recipient(smtp.messages)
    assert set(told) == {"alice@example.com", GUEST, "late@partner.example"}
    assert str(calendar_of(told[GUEST])["METHOD"]) == "REQUEST"     # the series, cut short
    calendar = calendar_of(told["late@partner.example"])
    assert str(calendar["METHOD"]) == "CANCEL"
    (cancelled,) = calendar.walk("VEVENT")
    assert str(cancelled["UID"]) == f"series-{series_id}@booking"
    assert cancelled["RECURRENCE-ID"].dt == datetime(2027, 3, 16, 9, tzinfo=UTC)
