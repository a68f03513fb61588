"""Work queue semantics: de-duplication, one in flight per key, backoff, rate limit, delays."""

from __future__ import annotations

import asyncio
import random

import pytest

from controller.runtime.queue import Backoff, QueueCore, ShutDown, TokenBucket, WorkQueue


def test_key_added_many_times_before_processing_is_handed_out_once() -> None:
    q = QueueCore()
    for _ in range(5):
        q.add("a")
    q.add("b")
    assert [q.pop(), q.pop(), q.pop()] == ["a", "b", None]


def test_key_readded_while_in_flight_is_not_handed_out_until_done_and_then_once() -> None:
    q = QueueCore()
    q.add("a")
    assert q.pop() == "a"
    q.add("a")
    q.add("a")
    assert q.pop() is None  # never two in flight for one key
    assert q.done("a") is True
    assert q.pop() == "a"
    assert q.done("a") is False
    assert q.pop() is None


def test_add_after_keeps_the_earliest_due_time_and_promotes_when_due() -> None:
    q = QueueCore()
    q.add_after("a", 10.0, now=0.0)
    q.add_after("a", 3.0, now=0.0)
    q.add_after("a", 20.0, now=0.0)
    assert q.next_due() == 3.0
    q.promote(2.9)
    assert q.pop() is None
    q.promote(3.0)
    assert q.pop() == "a"
    assert q.next_due() is None


def test_backoff_doubles_from_5ms_with_jitter_and_caps_at_1000s() -> None:
    b = Backoff(rng=random.Random(1))
    delays = [b.next_delay("k") for _ in range(30)]
    assert 0.005 <= delays[0] <= 0.0055
    assert 0.010 <= delays[1] <= 0.011
    assert delays[-1] == 1000.0
    assert all(x <= 1000.0 for x in delays)
    b.forget("k")
    assert b.next_delay("k") <= 0.0055


def test_token_bucket_delays_requeues_beyond_the_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=2)
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == pytest.approx(0.1)
    assert bucket.reserve(1.0) == 0.0


def test_rate_limited_requeue_of_a_failing_key_grows_until_forgotten() -> None:
    q = QueueCore(backoff=Backoff(jitter=0.0))
    first = q.add_rate_limited("k", now=0.0)
    second = q.add_rate_limited("k", now=0.0)
    assert (first, second) == (0.005, 0.010)
    q.forget("k")
    assert q.add_rate_limited("k", now=0.0) == 0.005


async def test_get_waits_for_a_delayed_key_and_wakes_for_a_new_one() -> None:
    wq = WorkQueue()
    wq.add_after("later", 0.05)
    getter = asyncio.create_task(wq.get())
    await asyncio.sleep(0)
    wq.add("now")
    assert await getter == "now"
    wq.done("now")
    assert await asyncio.wait_for(wq.get(), 2.0) == "later"


async def test_shutdown_releases_waiting_workers() -> None:
    wq = WorkQueue()
    getter = asyncio.create_task(wq.get())
    await asyncio.sleep(0)
    wq.shutdown()
    with pytest.raises(ShutDown):
        await getter


def test_paced_key_added_before_its_time_is_handed_out_only_then() -> None:
    q = QueueCore()
    q.add("env")
    assert q.pop() == "env"
    q.pace("env", 5.0, now=0.0)
    q.done("env")
    assert q.add("env") is True  # a new due time: waiters must look again
    assert q.add("env") is False  # coalesced
    q.promote(4.9)
    assert q.pop() is None
    assert q.next_due() == 5.0
    q.promote(5.0)
    assert q.pop() == "env"


def test_key_readded_while_in_flight_waits_for_the_pace_its_reconcile_asked_for() -> None:
    q = QueueCore()
    q.add("env")
    assert q.pop() == "env"
    q.add("env")  # an event while the reconcile runs
    q.pace("env", 2.0, now=10.0)
    assert q.done("env") is True
    assert q.pop() is None
    q.promote(12.0)
    assert q.pop() == "env"


def test_requeue_sooner_than_the_pace_waits_for_the_pace_and_later_one_is_kept() -> None:
    q = QueueCore()
    q.add_after("soon", 60.0, now=0.0)
    q.pace("soon", 3.0, now=0.0)
    q.add_after("soon", 1.0, now=0.0)
    assert q.next_due() == 3.0
    q.add("late")
    assert q.pop() == "late"
    q.pace("late", 3.0, now=0.0)
    q.done("late")
    q.add_after("late", 60.0, now=0.0)
    q.promote(3.0)
    assert q.pop() == "soon"
    assert q.pop() is None
    assert q.next_due() == 60.0


def test_pace_is_consumed_by_the_next_hand_out() -> None:
    q = QueueCore()
    q.add("env")
    assert q.pop() == "env"
    q.pace("env", 5.0, now=0.0)
    q.done("env")
    q.add("env")
    q.promote(5.0)
    assert q.pop() == "env"
    q.done("env")
    q.add("env")  # no new pace asked: at once
    assert q.pop() == "env"


async def test_get_holds_a_paced_key_until_its_time() -> None:
    now = [0.0]
    wq = WorkQueue(clock=lambda: now[0])
    wq.add("env")
    assert await wq.get() == "env"
    wq.pace("env", 30.0)
    wq.done("env")
    wq.add("env")
    getter = asyncio.create_task(wq.get())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not getter.done()
    now[0] = 30.0
    wq.add_after("later", 100.0)  # wakes the waiter: it finds the paced key due
    assert await asyncio.wait_for(getter, 2.0) == "env"


def test_paced_key_is_handed_out_once_the_adds_it_waits_for_came() -> None:
    """A reconcile that waits for N more changes (Result.pace_adds) is not held past the last
    of them: the Nth add ends the hold, however far off its time."""
    q = QueueCore()
    q.add("env")
    assert q.pop() == "env"
    q.pace("env", 30.0, now=0.0, adds=3)
    q.done("env")
    q.add("env")
    q.add("env")
    q.promote(1.0)
    assert q.pop() is None  # two of three: still held
    assert q.next_due() == 30.0
    assert q.add("env") is True  # the third: ready now, waiters look again
    q.promote(1.0)
    assert q.pop() == "env"
    assert q.next_due() is None  # the hold's delayed entry went with it
    q.done("env")
    q.add("env")  # the hold was consumed
    assert q.pop() == "env"


def test_adds_while_in_flight_count_towards_the_pace_adds() -> None:
    q = QueueCore()
    q.add("env")
    assert q.pop() == "env"
    q.add("env")  # changes while the reconcile runs (after its plan)
    q.add("env")
    q.pace("env", 30.0, now=0.0, adds=3)
    assert q.done("env") is True
    q.promote(1.0)
    assert q.pop() is None  # the key is held: one more add to come
    q.add("env")
    assert q.pop() == "env"
    # every change it waited for came while it ran: no hold at all
    q.add("env")
    q.pace("env", 30.0, now=0.0, adds=1)
    assert q.done("env") is True
    assert q.pop() == "env"


def test_a_hold_without_pace_adds_ignores_how_many_adds_came() -> None:
    q = QueueCore()
    q.add("env")
    assert q.pop() == "env"
    q.pace("env", 30.0, now=0.0)
    q.done("env")
    for _ in range(100):
        q.add("env")
    q.promote(29.0)
    assert q.pop() is None
    q.promote(30.0)
    assert q.pop() == "env"


async def test_get_hands_out_a_paced_key_at_its_last_awaited_add() -> None:
    now = [0.0]
    wq = WorkQueue(clock=lambda: now[0])
    wq.add("env")
    assert await wq.get() == "env"
    wq.pace("env", 30.0, adds=2)
    wq.done("env")
    wq.add("env")
    getter = asyncio.create_task(wq.get())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not getter.done()
    wq.add("env")  # the last change it waited for: at once, at time 0
    assert await asyncio.wait_for(getter, 2.0) == "env"


def test_rush_ends_a_pace_hold_and_add_does_not() -> None:
    q = QueueCore()
    q.add("env")
    assert q.pop() == "env"
    q.pace("env", 30.0, now=0.0)
    q.done("env")
    q.add("env")
    assert q.pop() is None  # held
    assert q.rush("env") is True  # the object's own spec changed: at once
    assert q.pop() == "env"
    q.pace("env", 30.0, now=0.0)
    assert q.rush("env") is False  # in flight: once more after done(), held as asked
    q.done("env")
    assert q.pop() is None
    q.promote(30.0)
    assert q.pop() == "env"
