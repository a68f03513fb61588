"""Which pending tasks an offer round tries: per shape, as many as its offers can hold plus
one, in line order, at most the round's limit; a shape no offer can host is not tried."""

from __future__ import annotations

from controller.tasks.base import FINALIZER
from controller.tasks.modes import split_offers
from controller.tasks.placement import place
from controller.tasks.queue import Candidates
from controller.tasks.rounds import select
from crds.kinds.common import Constraint
from crds.kinds.task import Task
from tests.tasks.test_placement import EXECUTOR, offer, task


def _pinned(name: str, detector: str, *, memory: int = 64) -> Task:
    made = task(
        name, memory=memory, constraints=(Constraint(attribute="detector", value=detector),)
    )
    meta = made.metadata.model_copy(update={"finalizers": (FINALIZER,)})
    return made.model_copy(update={"metadata": meta})


def _line(tasks: list[Task]) -> tuple[Candidates, dict[str, Task]]:
    line = Candidates()
    for t in tasks:
        line.add(t.name, t)
    return line, {t.name: t for t in tasks}


def test_a_round_tries_per_shape_what_its_offers_hold_plus_one_in_line_order() -> None:
    tasks = [_pinned(f"a{i}", "A") for i in range(10)] + [_pinned(f"b{i}", "B") for i in range(10)]
    line, by_name = _line(tasks)
    # 4 cpus: 8 tasks of 0.5 cpus at most (the executor's share leaves room for 7)
    offers = [offer(1, attrs={"detector": "A"})]
    split = split_offers(offers, nodes=[], cordoned=set())
    chosen = select(line.groups(), split, launchable=by_name.get)
    assert [t.name for t in chosen.tasks] == [f"a{i}" for i in range(9)]
    hosted = {e.group.shape.constraints[0].value: e.hosted for e in chosen.tried}
    assert hosted == {"A": True, "B": False}
    plan = place(chosen.tasks, offers, executor_id=EXECUTOR)
    everything = place(tasks, offers, executor_id=EXECUTOR)
    assert plan.placed == everything.placed  # the same launches as trying every task
    assert {n: plan.unplaced[n] for n in ("a7", "a8")} == {
        n: everything.unplaced[n] for n in ("a7", "a8")
    }


def test_the_round_limit_leaves_tasks_untried_and_their_offers_unfiltered() -> None:
    tasks = [_pinned(f"a{i}", "A", memory=1) for i in range(6)]
    tasks += [_pinned(f"b{i}", "B", memory=1) for i in range(6)]
    line, by_name = _line(sorted(tasks, key=lambda t: t.name[1:]))  # a0 b0 a1 b1 ...
    offers = [
        offer(1, cpus=100, attrs={"detector": "A"}),
        offer(2, cpus=100, attrs={"detector": "B"}),
    ]
    split = split_offers(offers, nodes=[], cordoned=set())
    chosen = select(line.groups(), split, launchable=by_name.get, limit=5)
    assert [t.name for t in chosen.tasks] == ["a0", "b0", "a1", "b1", "a2"]
    assert all(e.untried for e in chosen.tried)
    assert chosen.again == {offers[0].id, offers[1].id}  # answered without a filter


def test_a_candidate_that_gains_the_finalizer_joins_the_end_of_the_line() -> None:
    line = Candidates()
    bare = task("x")
    line.add("x", bare)
    mark = line.mark()
    assert line.since(mark) == []
    owned = bare.model_copy(
        update={"metadata": bare.metadata.model_copy(update={"finalizers": (FINALIZER,)})}
    )
    line.add("x", owned)
    assert line.since(mark) == ["x"]
    line.add("x", owned)  # the same copy again: nothing new
    assert line.since(line.mark()) == []
