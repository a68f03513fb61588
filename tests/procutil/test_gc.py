"""procutil.gc: the survivors of each collection are frozen (never walked again by the
automatic passes), and cyclic garbage is still freed: made after a freeze by the young pass,
among frozen objects by the whole pass that the freezer's thread runs."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator

import pytest

from procutil.gc import LONG_LIVED_THRESHOLDS, Freezer, tune_gc
from tests.waiting import eventually


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture
def restored_gc() -> Iterator[list[Freezer]]:
    thresholds = gc.get_threshold()
    started: list[Freezer] = []
    try:
        yield started
    finally:
        for freezer in started:
            freezer.stop()
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def walked_by_each_collection() -> tuple[list[int], Callable[[str, dict[str, int]], None]]:
    """The objects each collection is about to walk (its generations), and the callback."""
    sizes: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            sizes.append(sum(len(gc.get_objects(g)) for g in range(info["generation"] + 1)))

    return sizes, note


def test_collections_stay_cheap_with_a_big_long_lived_heap(restored_gc: list[Freezer]) -> None:
    restored_gc.append(tune_gc(every=3600))
    assert gc.get_threshold() == LONG_LIVED_THRESHOLDS
    gc.set_threshold(1_000, 10, 20)  # small young passes, many of them
    cache = [[i] for i in range(100_000)]  # long-lived containers, as the informer caches
    gc.collect(0)  # they survive a young pass
    assert gc.get_freeze_count() >= len(cache)
    sizes, note = walked_by_each_collection()
    gc.callbacks.insert(0, note)
    try:
        for _ in range(40):  # the old setting: a middle pass (over the cache) every 10
            churn = [[i] for i in range(1_500)]
            del churn
    finally:
        gc.callbacks.remove(note)
    assert len(sizes) >= 30
    assert max(sizes) < 10_000, sizes  # each walks the young objects only, never the cache
    del cache


def test_cyclic_garbage_made_after_the_freeze_is_freed_by_the_young_pass(
    restored_gc: list[Freezer],
) -> None:
    restored_gc.append(tune_gc(every=3600))
    a, ref = cycle()
    del a
    gc.collect(0)
    assert ref() is None


def test_cyclic_garbage_of_frozen_objects_is_freed_by_the_whole_pass(
    restored_gc: list[Freezer],
) -> None:
    freezer = tune_gc(every=3600)
    restored_gc.append(freezer)
    a, ref = cycle()
    gc.collect(0)  # it survives a pass: frozen
    assert freezer.frozen >= 1
    del a
    gc.collect(0)
    assert ref() is not None  # the young passes do not walk it
    assert freezer.whole_pass() >= 2
    assert ref() is None
    assert freezer.frozen == 0


async def test_the_freezers_thread_runs_the_whole_pass_after_a_freeze(
    restored_gc: list[Freezer],
) -> None:
    freezer = tune_gc(every=0.05)
    restored_gc.append(freezer)
    a, ref = cycle()
    gc.collect(0)
    del a
    await eventually(lambda: ref() is None and freezer.whole_passes >= 1)


def test_the_whole_pass_comes_after_a_long_time_and_only_after_a_freeze(
    restored_gc: list[Freezer],
) -> None:
    gc.freeze()
    freezer = Freezer(600)  # not started: no callback, no thread
    restored_gc.append(freezer)
    assert not freezer.due(1000.0, 0.0)  # nothing frozen since the last whole pass
    freezer.frozen = 1
    assert freezer.due(601.0, 0.0)  # the last whole pass 601 s ago
    assert not freezer.due(10.0, 0.0)
    grown = [[i] for i in range(4 * gc.get_freeze_count() + 1)]
    gc.freeze()
    freezer.frozen = 100
    assert not freezer.due(10.0, 0.0)  # a heap grown fourfold waits too (not in a DEPLOY)
    del grown
