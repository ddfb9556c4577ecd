"""A room's day as stretches of time, for the pages that draw it (pure: no Flask, no SQL).

The day page, the week view and the planning board all draw the same thing:
a room's opening hours split into bookings and free stretches, on a scale of
hours, with a line at "now". This module works it out once, in wall-clock
minutes of the room's zone (0 = local midnight, 1440 = the next one), so a
page only turns minutes into CSS: a percentage across (the board) or grid
rows down (the day and week views).

- A free stretch before `now` (on today) cannot be booked; it is `past`, and
  the bookable part starts at the next quarter hour, the earliest start the
  booking form can offer without the rules refusing it.
- The booking form a free stretch links to is pre-filled with at most the
  longest booking the rules allow (`longest` minutes), so an empty day does
  not offer 09:00-18:00 only to refuse it as too long.
- What else of the room's policy would refuse a booking is `held`, not free
  (`Limits`, worked out by `limits()` from the policy as booking.rules reads
  it): the buffer kept after each booking and before the next, the time
  before the policy's notice, a day beyond the booking window, a stretch
  shorter than the shortest booking, a room this person may not book. So a
  link the page offers is a booking the rules allow (the person's quota aside,
  which depends on what else they booked).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

DAY_MINUTES = 24 * 60
QUARTER = 15


def minutes(hm: str) -> int:
    """"14:30" (or the time part of an RFC 3339 string's [11:16]) -> 870."""
    return int(hm[:2]) * 60 + int(hm[3:5])


def hm(value: int) -> str:
    """870 -> "14:30"; 1440 -> "24:00" (the end of the day)."""
    return f"{value // 60:02d}:{value % 60:02d}"


@dataclass(frozen=True)
class Stretch:
    """A part of a room's day: `kind` is booked, free, past (free, but over), held
    (free, but the policy would refuse a booking there: `reason` says why) or
    closed (outside the opening hours, shown only around a booking that lies
    there)."""
    kind: str
    start: int
    end: int
    booking: Mapping[str, Any] | None = None
    # held: "buffer", "notice", "window", "short", "not_permitted" or "inactive".
    reason: str | None = None
    # A booking made before the room's hours changed may lie outside them: shown
    # whole, and marked.
    outside_hours: bool = False
    # A free stretch's booking-form times: start, and start + at most `longest`.
    book_start: int | None = None
    book_end: int | None = None

    @property
    def start_hm(self) -> str:
        return hm(self.start)

    @property
    def end_hm(self) -> str:
        return hm(self.end)

    @property
    def book_start_hm(self) -> str:
        return hm(self.book_start) if self.book_start is not None else ""

    @property
    def book_end_hm(self) -> str:
        return hm(self.book_end) if self.book_end is not None else ""


@dataclass(frozen=True)
class Limits:
    """What of a room's policy a drawn day applies besides its hours and longest
    booking, in wall-clock minutes of that day (see `limits()`).

    `shortest`: a free stretch shorter than this is held ("short"). `buffer`:
    minutes held after each booking and before the next ("buffer"), as the
    constraint keeps them. `earliest`: the first minute a booking may start that
    day (the notice; None: no limit that day, 1440: none that day). `latest`:
    the last minute it may start (the window; None: no limit, -1: none that
    day). `refused`: every free minute is held for this reason ("not_permitted":
    this person may not book the room; "inactive": nobody may). `repeated`: the
    wall-clock minutes the clocks go through twice that day (02:00-03:00 on the
    October Sunday in Berlin), whose first pass a wall-clock time means
    (booking.times.localize): a free stretch's link across them is that much
    longer than its wall-clock length."""
    shortest: int = 1
    buffer: int = 0
    earliest: int | None = None
    latest: int | None = None
    refused: str | None = None
    repeated: tuple[int, int] | None = None
    # The UTC offset (minutes) after the clocks went back: a booking with it that
    # starts in `repeated` is on the second pass.
    second_pass: int | None = None


NO_LIMITS = Limits()

# What limits() reads of a policy (besides who may book, its caller's `refused`):
# policies equal in these hold the same time.
LIMITS_READ = ("min_notice_minutes", "max_days_ahead", "min_minutes", "buffer_minutes")


def limits_read(policy: Any) -> tuple:
    """The values of LIMITS_READ in `policy`."""
    return tuple(getattr(policy, name) for name in LIMITS_READ)


def limits(policy: Any, day: str, local_now: datetime, refused: str | None = None) -> Limits:
    """The Limits of `policy` (booking.rules.Policy) on `day` (YYYY-MM-DD, room-local)
    at `local_now` (aware, in the room's zone), as booking.rules reads them: a
    start at least the notice after the current minute, at most the window's
    days after now, on the form's quarter hours. `refused`: Limits.refused
    (booking.rooms.views.refusal)."""
    tz, utc_now = local_now.tzinfo, local_now.astimezone(timezone.utc)
    repeated = _repeated(tz, day)
    second_pass = _offset_after(tz, day) if repeated else None
    if policy is None:
        return Limits(refused=refused, repeated=repeated, second_pass=second_pass)
    this_minute = utc_now.replace(second=0, microsecond=0)
    earliest = latest = None
    if policy.min_notice_minutes:
        at = (this_minute + timedelta(minutes=policy.min_notice_minutes)).astimezone(tz)
        earliest = _minute_on(at, day, earlier=DAY_MINUTES, later=None)
        if earliest is not None and earliest < DAY_MINUTES:
            earliest = min(DAY_MINUTES, -(-earliest // QUARTER) * QUARTER)
    window_end = (utc_now + timedelta(days=policy.max_days_ahead)).astimezone(tz)
    latest = _minute_on(window_end, day, earlier=None, later=-1)
    return Limits(shortest=policy.min_minutes, buffer=policy.buffer_minutes,
                  earliest=earliest, latest=latest, refused=refused, repeated=repeated,
                  second_pass=second_pass)


def _offset_after(tz: Any, day: str) -> int:
    """The UTC offset in minutes at the end of `day` (at the next midnight)."""
    midnight = datetime.combine(date.fromisoformat(day) + timedelta(days=1),
                                datetime.min.time(), tz)
    return int(midnight.utcoffset().total_seconds() // 60)


def _repeated(tz: Any, day: str) -> tuple[int, int] | None:
    """The wall-clock minutes `day` goes through twice in `tz` (the clocks go back),
    or None: on most days midnight and the next have one UTC offset."""
    first = datetime.combine(date.fromisoformat(day), datetime.min.time(), tz)
    last = first + timedelta(days=1)          # wall-clock: the next midnight
    before, after = first.utcoffset(), last.utcoffset()
    if before is None or after is None or after >= before:
        return None
    low = first.astimezone(timezone.utc)
    high = last.astimezone(timezone.utc)
    while high - low > timedelta(minutes=1):  # the instant the offset changes
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    wall = high.astimezone(tz)
    start = wall.hour * 60 + wall.minute
    return start, min(DAY_MINUTES, start + int((before - after).total_seconds() // 60))


def _minute_on(moment: datetime, day: str, earlier: int | None, later: int | None
               ) -> int | None:
    """`moment`'s wall-clock minute when it is on `day`; `earlier` when `day` comes
    before its date, `later` when after. `moment` was reached by adding to an
    instant, so a notice across the daylight-saving change lands on the right
    wall clock."""
    on = moment.date().isoformat()
    if day == on:
        return moment.hour * 60 + moment.minute
    return earlier if day < on else later


def opening(room: Mapping[str, Any], day: str, policy: Any) -> tuple[str, str] | None:
    """The room's opening hours on `day` (YYYY-MM-DD, room-local) as ("HH:MM", "HH:MM")
    under its effective policy (booking.rules.Policy: that weekday's hours, its
    closed dates), as the rules read them; None when it is closed all day. Without
    a policy, the room's own hours."""
    if policy is None:
        return room["opens"], room["closes"]
    hours = policy.open_on(room, date.fromisoformat(day))
    return None if hours is None else (f"{hours[0]:%H:%M}", f"{hours[1]:%H:%M}")


def stretches(opens: str, closes: str, day: str, bookings: Iterable[Mapping[str, Any]],
              now: int | None, longest: int, closed: bool = False,
              reach: tuple[int, int] | None = None,
              limits: Limits = NO_LIMITS) -> list[Stretch]:
    """The room's day `day` (YYYY-MM-DD) from `opens` to `closes` ("HH:MM") as
    booked, free, held and past stretches, in order.

    `bookings` are the API's bookings (start_time/end_time room-local RFC 3339),
    sorted by start. The day reaches past the opening hours as far as a booking
    does (one made before the hours were shortened): that booking is shown
    whole and marked `outside_hours`, the time around it outside the hours is
    `closed`. `now` is the current wall-clock minute when `day` is today in the
    room's zone, -1 when the day is over, None when it is still ahead.
    `closed`: the room is closed all day (a closed date, or closed that
    weekday): `opens` to `closes` is only the scale, and nothing is free.
    `reach` (minutes): draw at least this much of the day, closed where it is
    outside the hours (the week view's days share one scale). `limits`: what
    else of the policy holds free time (Limits).
    """
    first, last = minutes(opens), minutes(closes)
    spans = sorted(((start, end, booking) for booking in bookings
                    for start, end in [_local_span(booking, day, limits)]
                    if end > start), key=lambda span: span[:2])
    found: list[Stretch] = []
    shown = reach or (first, last)
    cursor = min([first, shown[0]] + [start for start, _, _ in spans])
    held_after = 0      # the buffer after the booking drawn last (none before the first)
    for start, end, booking in spans:
        if start > cursor:
            found += _unbooked(cursor, start, first, last, now, longest, closed, limits,
                               (held_after, limits.buffer))
        outside = closed or start < first or end > last
        if end <= cursor:
            # Its wall-clock minutes lie inside the booking drawn before it (the day
            # the clocks go back has them twice): that one is cut around it, so both show.
            before = found.pop()
            start = max(start, before.start)
            if end <= start:        # inside what is drawn before that one too: left to it
                found.append(before)
                continue
            if before.start < start:
                found.append(replace(before, end=start))
            found.append(Stretch("booked", start, end, booking, outside_hours=outside))
            if end < before.end:
                found.append(replace(before, start=end))
            continue
        found.append(Stretch("booked", max(start, cursor), end, booking, outside_hours=outside))
        cursor, held_after = end, _buffer_after(booking, limits)
    end_of_day = max([last, shown[1]] + [end for _, end, _ in spans])
    if cursor < end_of_day:
        found += _unbooked(cursor, end_of_day, first, last, now, longest, closed, limits,
                           (held_after, 0))
    return _joined(found)


def _joined(parts: list[Stretch]) -> list[Stretch]:
    """`parts` with touching held stretches of one reason drawn as one (the buffers
    after one booking and before the next)."""
    found: list[Stretch] = []
    for part in parts:
        last = found[-1] if found else None
        if (last is not None and part.kind == last.kind == "held"
                and part.reason == last.reason and part.start == last.end):
            found[-1] = Stretch("held", last.start, part.end, reason=part.reason)
        else:
            found.append(part)
    return found


def span(parts: list[Stretch], opens: str, closes: str) -> tuple[int, int]:
    """The minutes a day's drawing covers: the opening hours, or more where a booking
    lies outside them."""
    return (min([minutes(opens)] + [p.start for p in parts]),
            max([minutes(closes)] + [p.end for p in parts]))


def _unbooked(start: int, end: int, first: int, last: int, now: int | None,
              longest: int, closed: bool = False, limits: Limits = NO_LIMITS,
              buffers: tuple[int, int] = (0, 0)) -> list[Stretch]:
    """[start, end) with no booking: free inside the opening hours, closed outside
    (and all of it on a day the room is closed). `buffers`: the minutes held at
    its start (after a booking) and at its end (before one)."""
    if closed:
        return [Stretch("closed", start, end)]
    found = []
    if start < first:
        found.append(Stretch("closed", start, min(end, first)))
    open_start, open_end = max(start, first), min(end, last)
    if open_start < open_end:
        # A buffer is held only where the open part touches the booking it keeps free.
        held_after = min(open_end, open_start + buffers[0]) if open_start == start else open_start
        held_before = max(held_after, open_end - buffers[1]) if open_end == end else open_end
        if held_after > open_start:
            found.append(Stretch("held", open_start, held_after, reason="buffer"))
        if held_after < held_before:
            found += _free(held_after, held_before, now, longest, limits)
        if held_before < open_end:
            found.append(Stretch("held", held_before, open_end, reason="buffer"))
    if end > last:
        found.append(Stretch("closed", max(start, last), end))
    return found


def _buffer_after(booking: Mapping[str, Any], limits: Limits) -> int:
    """The minutes held after `booking`: its own buffer when the page read it
    (`buffer_minutes`: the room's when it was booked, 0 once released), as the
    constraint and the free-time API read it; otherwise the room's buffer, none
    after a released booking."""
    if booking.get("buffer_minutes") is not None:
        return booking["buffer_minutes"]
    return 0 if booking.get("status") == "released" else limits.buffer


def _local_span(booking: Mapping[str, Any], day: str,
                limits: Limits = NO_LIMITS) -> tuple[int, int]:
    """A booking's wall-clock minutes on `day`: one that began the day before starts at
    0, one that ends at the next midnight ends at 1440.

    On the day the clocks go back, the booking form reads a repeated time
    (Limits.repeated) as its first pass, so a free stretch's link from there
    to after them holds the whole second pass too. A booking the clocks went
    back during (its end's UTC offset less than its start's) is drawn over all
    the repeated minutes: 02:45 CEST to 02:15 CET is 02:00-03:00, which its
    wall-clock times alone would leave free (or hide, its end being before its
    start). One on the second pass is drawn to their end, so no link crosses it."""
    start_text, end_text = booking["start_time"], booking["end_time"]
    start = minutes(start_text[11:16]) if start_text[:10] == day else 0
    end = minutes(end_text[11:16]) if end_text[:10] == day else DAY_MINUTES
    repeated = limits.repeated
    if start_text[19:] == end_text[19:]:      # one UTC offset: most bookings, most days
        if repeated is not None and start_text[:10] == day \
                and repeated[0] <= start < repeated[1] \
                and _offset(start_text) == limits.second_pass:
            end = max(end, repeated[1])
        return start, end
    went_back = _offset(start_text) - _offset(end_text)
    if went_back > 0:
        if repeated is not None:
            start, end = min(start, repeated[0]), max(end, repeated[1])
        elif start_text[:10] == day == end_text[:10]:
            # Not told which minutes repeat: at most its change's length either side.
            start, end = (max(0, min(start, end) - went_back),
                          min(DAY_MINUTES, max(start, end) + went_back))
    return start, end


def _offset(text: str) -> int:
    """An RFC 3339 time's UTC offset in minutes ("...+05:30" -> 330, "...Z" -> 0)."""
    tail = text[19:].lstrip(".0123456789")
    if tail in ("", "Z", "z"):
        return 0
    sign = -1 if tail[0] == "-" else 1
    return sign * (int(tail[1:3]) * 60 + int(tail[4:6]))


def _free(start: int, end: int, now: int | None, longest: int,
          limits: Limits = NO_LIMITS) -> list[Stretch]:
    """A free stretch: the part before the next quarter hour after `now` is past; the
    part before the notice allows a start is held, and all of it when the rest
    may not be booked (beyond the window, shorter than the shortest booking, a
    room this person may not book)."""
    if now is None:
        bookable = start
    elif now < 0:
        bookable = end
    else:
        bookable = max(start, drawn_now(now))
    found = []
    if bookable > start:
        found.append(Stretch("past", start, min(bookable, end)))
    if limits.earliest is not None and bookable < min(end, limits.earliest):
        found.append(Stretch("held", bookable, min(end, limits.earliest), reason="notice"))
        bookable = min(end, limits.earliest)
    if bookable >= end:
        return found
    reason = limits.refused
    if reason is None and limits.latest is not None and bookable > limits.latest:
        reason = "window"
    if reason is None and min(end - bookable, longest) < limits.shortest:
        reason = "short"    # (or the shortest booking is longer than the longest)
    if reason is not None:
        found.append(Stretch("held", bookable, end, reason=reason))
        return found
    book_start, book_end = _book_times(bookable, end, longest, limits.repeated)
    # The window ends within: free as far as the longest booking started by then.
    reach = end if limits.latest is None else min(end, limits.latest + longest)
    found.append(Stretch("free", bookable, reach, book_start=book_start, book_end=book_end))
    if reach < end:
        found.append(Stretch("held", reach, end, reason="window"))
    return found


def _book_times(start: int, end: int, longest: int, repeated: tuple[int, int] | None
                ) -> tuple[int, int]:
    """A free stretch's booking-form times: from `start`, the latest wall-clock end
    within `end` of a booking at most `longest` real minutes long. A wall-clock
    span from before the end of `repeated` (entered on its first pass, as the
    form reads it) to after it lasts that much longer; from a minute too near
    its end for any wall-clock end to do, the link starts after it."""
    found = min(end, start + longest)
    if repeated is None:
        return start, found
    first, last = repeated
    extra = last - first
    if not start < last <= found or found - start + extra <= longest:
        return start, found
    if start + longest - extra >= last:
        return start, start + longest - extra
    if last - QUARTER > start:
        return start, last - QUARTER       # an end within the first pass
    return last, min(end, last + longest)


def drawn_now(now: int | None) -> int | None:
    """What of `now` (as stretches() takes it) the stretches depend on: free time
    starts at the next quarter hour (at 10:00, 10:00; from 10:01, 10:15), so two
    minutes with one drawn_now have the same stretches. -1 and None stay."""
    return now if now is None or now < 0 else -(-now // QUARTER) * QUARTER


def hour_span(rooms: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Whole hours covering every room's opening hours: a board group's scale."""
    opens = [minutes(room["opens"]) for room in rooms]
    closes = [minutes(room["closes"]) for room in rooms]
    if not opens:
        return 9 * 60, 18 * 60
    return min(opens) // 60 * 60, min(DAY_MINUTES, -(-max(closes) // 60) * 60)


def hours(first: int, last: int) -> list[int]:
    """The whole hours from `first` to `last`, both included: the scale's marks."""
    return list(range(first, last + 1, 60))


def percent(value: int, first: int, last: int) -> str:
    """Where `value` lies between `first` and `last`, as CSS: "37.5%"."""
    share = (value - first) * 100 / (last - first) if last > first else 0
    return f"{min(100.0, max(0.0, share)):.2f}".rstrip("0").rstrip(".") + "%"


def now_minute(local_now, day: str) -> int | None:
    """The wall-clock minute of `local_now` (aware, the room's zone) when `day` is that
    date; -1 when `day` is before it (over), None when after (ahead)."""
    today = local_now.date().isoformat()
    if day == today:
        return local_now.hour * 60 + local_now.minute
    return -1 if day < today else None


STEP = 5   # minutes per grid row in the day and week views


def grid(parts: list[Stretch], opens: str, closes: str, now: int | None) -> dict[str, Any]:
    """The day and week views' layout: each stretch's grid rows (STEP minutes a row,
    from the first minute shown), the hour marks' rows and the "now" mark's row
    (None when now is not within the hours shown)."""
    first, last = span(parts, opens, closes)

    def row(value: int) -> int:
        return (value - first) // STEP + 1

    marks = [first] + [h for h in range(-(-first // 60) * 60, last, 60) if h != first]
    return {
        "first": first, "last": last,
        "rows": row(last) - 1,
        "stretches": [{"part": part, "row": row(part.start),
                       "span": max(1, -(-(part.end - part.start) // STEP))} for part in parts],
        "hours": [{"label": hm(h), "row": row(h)} for h in marks],
        "now": row(now) if now is not None and first <= now < last else None,
        "now_label": hm(now) if now is not None and now >= 0 else "",
    }


def closed_now(opens: str, closes: str, local_now) -> str | None:
    """None while a room is open at `local_now` (its zone's wall clock), else when it
    opens next: "09:00" later today, "tomorrow 09:00" after closing time."""
    minute = local_now.hour * 60 + local_now.minute
    if minutes(opens) <= minute < minutes(closes):
        return None
    return opens if minute < minutes(opens) else f"tomorrow {opens}"


WORKING_DAYS = range(0, 5)   # Monday to Friday


def next_slot(local_now, opens: str, closes: str, length: int = 60) -> tuple[str, str, str]:
    """The next working slot, what an empty booking or finder form starts with:
    (day, start, end) as "YYYY-MM-DD", "HH:MM", "HH:MM".

    From the next quarter hour (the current minute counts as now, as the rules
    say), `length` minutes, inside opening hours on a working day (Monday to
    Friday); when today has no room for it, the next working day at opening
    time. `local_now` is the wall clock of the zone the hours are in.
    """
    first, last = minutes(opens), minutes(closes)
    length = min(length, last - first)
    day = local_now.date()
    start = max(first, -(-(local_now.hour * 60 + local_now.minute) // QUARTER) * QUARTER)
    if day.weekday() not in WORKING_DAYS or start + length > last:
        day += timedelta(days=1)
        while day.weekday() not in WORKING_DAYS:
            day += timedelta(days=1)
        start = first
    return day.isoformat(), hm(start), hm(start + length)


def first_slot(room: Mapping[str, Any], policy: Any, local_now: datetime, length: int = 60,
               days: int = 15) -> tuple[str, str, str] | None:
    """The slot an empty booking form offers for `room` under its effective `policy`
    (booking.rules.Policy), as next_slot gives it: a free stretch as the day page
    draws an empty day, so nothing the policy refuses (the weekday's hours, closed
    dates, notice, window, shortest and longest booking; the room's bookings
    aside), `length` minutes (or the shortest booking, when longer). The first
    day with room for that, working days first; else the first free stretch.
    None when no day within `days` has one. `local_now`: the room's wall clock."""
    want = min(max(length, policy.min_minutes), policy.max_minutes)
    found = []
    for n in range(days):
        each = local_now.date() + timedelta(days=n)
        day = each.isoformat()
        hours = opening(room, day, policy)
        if hours is None:
            continue
        free = [p for p in stretches(hours[0], hours[1], day, [], now_minute(local_now, day),
                                     policy.max_minutes, limits=limits(policy, day, local_now))
                if p.kind == "free" and p.book_start is not None and p.book_end is not None]
        whole = next((p for p in free if p.book_end - p.book_start >= want), None)
        if whole is not None or free:
            found.append(((whole is None, each.weekday() not in WORKING_DAYS, n), day,
                          whole or free[0]))
    if not found:
        return None
    _, day, chosen = min(found, key=lambda f: f[0])
    return day, hm(chosen.book_start), hm(min(chosen.book_end, chosen.book_start + want))
