"""The two primitives of booking/memo/kept.py, each at its edges."""

import threading

import pytest

from booking.memo.kept import Bounded, Kept


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_kept_answers_only_at_its_own_version():
    kept = Kept()
    assert kept.get(1) is None and kept.entry() is None
    kept.keep(1, "one")
    assert kept.get(1) == "one" and kept.get(2) is None
    kept.keep(2, "two")
    assert kept.get(1) is None and kept.get(2) == "two" and kept.entry() == (2, "two")
    kept.forget()
    assert kept.get(2) is None


def test_kept_builds_once_per_version():
    kept, built = Kept(), []

    def build():
        built.append(1)
        return len(built)

    assert [kept.get_or_build("v1", build) for _ in range(3)] == [1, 1, 1]
    assert kept.get_or_build("v2", build) == 2
    assert kept.get_or_build("v1", build) == 3      # only the latest version is kept
    assert len(built) == 3


def test_bounded_keeps_at_most_its_size_and_drops_the_least_recently_used():
    kept = Bounded(3)
    for key in "abc":
        kept.put(key, key.upper())
    assert kept.get("a") == "A"                   # a is now the most recently used
    kept.put("d", "D")
    assert len(kept) == 3
    assert kept.get("b") is None                  # b was the least recently used
    assert [kept.get(k) for k in "acd"] == ["A", "C", "D"]


def test_bounded_entries_expire_at_their_own_time():
    clock = Clock()
    kept = Bounded(10, clock=clock)
    kept.put("short", 1, seconds=5)
    kept.put("long", 2, seconds=60)
    kept.put("forever", 3)
    clock.now += 4.999
    assert kept.get("short") == 1
    clock.now += 0.001                            # exactly at its expiry: gone
    assert kept.get("short") is None and len(kept) == 2
    clock.now += 55
    assert kept.get("long") is None and kept.get("forever") == 3


def test_bounded_forgets_by_key_by_value_and_entirely():
    kept = Bounded(10)
    for n in range(5):
        kept.put(n, {"user": n % 2})
    kept.pop(0)
    kept.pop(99)                                  # not there: nothing happens
    assert kept.get(0) is None and len(kept) == 4
    kept.drop_where(lambda v: v["user"] == 1)
    assert sorted(kept) == [2, 4]
    kept.clear()
    assert len(kept) == 0


def test_bounded_refuses_a_size_below_one():
    with pytest.raises(ValueError):
        Bounded(0)


def test_bounded_stays_within_its_size_under_threads():
    kept = Bounded(50)

    def fill(base):
        for n in range(2000):
            kept.put((base, n), n)
            kept.get((base, n // 2))

    threads = [threading.Thread(target=fill, args=(b,)) for b in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) == 50


def test_what_is_derived_from_the_rooms_is_kept_with_the_current_copy_only():
    """memo.rooms.Rooms.derived_of: made once for the copy it holds, again after the
    copy is replaced, and every time for rooms that are not the copy."""
    from booking.memo.rooms import Rooms
    kept, made = Rooms(), []

    def make():
        made.append(1)
        return len(made)

    copy = kept.replace(1, [{"id": 1}])
    assert kept.derived_of(copy, "k", make) == 1
    assert kept.derived_of(copy, "k", make) == 1          # kept
    assert kept.derived_of({1: {"id": 1}}, "k", make) == 2  # equal, but not the copy
    newer = kept.replace(2, [{"id": 1}, {"id": 2}])
    assert kept.derived_of(copy, "k", make) == 3           # the old copy: no longer kept
    assert kept.derived_of(newer, "k", make) == 4
    assert kept.derived_of(newer, "k", make) == 4
