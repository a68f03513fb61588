"""A task whose agent is simply not in this offer round is not unschedulable: it gets no
FailedScheduling Event and no status write until it has waited `unoffered_grace` for that agent
(a 10,000-task deploy on a loaded machine made thousands of both)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from controller.tasks.base import FINALIZER
from controller.tasks.queue import Group
from crds.kinds.common import Constraint
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.meta import ObjectMeta
from mesosapi.models import FrameworkId, OfferId
from mesosapi.scheduler import Accept, Decline, Offers, Revive, Subscribed
from tests.pilots.factories import node
from tests.tasks.harness import sample_task
from tests.tasks.test_framework import Rig, rigged
from tests.tasks.test_placement import offer
from tests.waiting import eventually


def pinned(name: str, detector: str) -> Task:
    """A Task pinned to the agent of `detector`, with the kill finalizer (launchable)."""
    task = sample_task(name, constraints=(Constraint(attribute="detector", value=detector),))
    meta = task.metadata.model_copy(update={"finalizers": (FINALIZER,)})
    return task.model_copy(update={"metadata": meta})


async def _round(rig: Rig, *agents: tuple[int, str], tag: str) -> None:
    """One offer round from `agents` (number, detector), once the framework answered it."""
    offers = [
        offer(n, attrs={"detector": d}).model_copy(update={"id": OfferId(f"o{n}-{tag}")})
        for n, d in agents
    ]
    rig.fake.push(Offers(offers=offers))
    ids = {o.id for o in offers}

    def answered() -> bool:
        calls = [*rig.fake.sent(Decline), *rig.fake.sent(Accept)]
        return ids <= {i for c in calls for i in c.offer_ids}  # type: ignore[attr-defined]

    await eventually(answered)


async def _subscribe_with_agents(rig: Rig) -> None:
    rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
    await eventually(lambda: rig.fake.connected)
    await _round(rig, (1, "A"), (2, "B"), tag="first")  # nothing pending: both declined


async def test_a_task_waiting_for_its_agents_next_offer_is_not_reported_unschedulable() -> None:
    async with rigged(unplaced_grace=0.0) as rig:
        await _subscribe_with_agents(rig)
        await rig.store.create(pinned("on-b", "B"))
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")  # agent B is not in this round
        await _round(rig, (1, "A"), tag="third")
        assert rig.framework.unschedulable_reason("on-b") is None
        assert ("on-b", "FailedScheduling") not in rig.events.reasons
        waiting = rig.framework.view("on-b")
        assert waiting is not None and waiting.status.message == ""
        await _round(rig, (2, "B"), tag="fourth")
        await eventually(lambda: rig.framework.view("on-b").status.phase == "Staging")  # type: ignore[union-attr]
        assert ("on-b", "FailedScheduling") not in rig.events.reasons


async def test_a_task_no_agent_can_host_or_whose_agent_stays_away_is_reported() -> None:
    async with rigged(unplaced_grace=0.0, unoffered_grace=0.0) as rig:
        await _subscribe_with_agents(rig)
        await rig.store.create(pinned("on-b", "B"))
        await rig.store.create(pinned("on-c", "C"))  # no agent has detector=C
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")
        await eventually(lambda: rig.framework.unschedulable_reason("on-b") is not None)
        assert rig.framework.unschedulable_reason("on-b") == "no agent has detector=B"
        assert rig.framework.unschedulable_reason("on-c") == "no agent has detector=C"
        assert ("on-b", "FailedScheduling") in rig.events.reasons
        assert ("on-c", "FailedScheduling") in rig.events.reasons


async def test_a_round_looks_at_each_pending_task_once(monkeypatch: Any) -> None:
    """A round asks per shape whether its offers can host it: the tasks pinned to an agent
    that is not in the round are not looked at one by one (10,000 pending tasks were looked
    at on every round, 3 times each before)."""
    from controller.tasks.writer import StatusWriter

    looked: list[str] = []
    real = StatusWriter.view

    def counted(writer: StatusWriter, name: str) -> Task | None:
        looked.append(name)
        return real(writer, name)

    monkeypatch.setattr(StatusWriter, "view", counted)
    async with rigged(unplaced_grace=0.0) as rig:
        await _subscribe_with_agents(rig)
        for i in range(40):
            await rig.store.create(pinned(f"on-b-{i}", "B"))
        await eventually(lambda: len(rig.framework._backlog.pending()) == 40)
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        looked.clear()
        await _round(rig, (1, "A"), tag="second")  # agent B is not in this round
        per_task = Counter(n for n in looked if n.startswith("on-b-"))
        # one task of the shape, for why it fits none (and whether any is left)
        assert sum(per_task.values()) <= 5
        assert rig.framework._offers.tried == 0


async def test_a_task_that_only_async_nodes_could_host_is_reported_without_waiting_for_them() -> (
    None
):
    """An async node's offers go to its pilot only: a task that only such a node could host
    waits for no offer of it, and is reported at once, so the pilot controller can reclaim
    the node. (It waited `unoffered_grace`, 30 s: the chaos soak's pilots environment, whose
    nodes were both async, stayed in DEPLOY past the soak's convergence bound.)"""
    async with rigged(unplaced_grace=0.0) as rig:
        async_b = node("host-2", mode="async", detector="B")
        meta = ObjectMeta(name="host-2")
        await rig.store.create(async_b.model_copy(update={"metadata": meta}))
        await _subscribe_with_agents(rig)
        await rig.store.create(pinned("on-b", "B"))
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")  # B is not in this round (nor would serve)
        await eventually(lambda: rig.framework.unschedulable_reason("on-b") is not None)
        assert ("on-b", "FailedScheduling") in rig.events.reasons


async def test_a_round_tries_what_its_offers_can_take_not_every_pending_task(
    monkeypatch: Any,
) -> None:
    """1,000 tasks pinned to 50 detectors wait; a round with the offers of 2 agents, each
    holding at most 12 tasks, tries 2 x (12 + 1) tasks (the one more finds the offer full and
    says why) and looks at a few more, not at the 1,000 (every one, before)."""
    from controller.tasks.writer import StatusWriter

    looked: list[str] = []
    real = StatusWriter.view

    def counted(writer: StatusWriter, name: str) -> Task | None:
        looked.append(name)
        return real(writer, name)

    async with rigged(unplaced_grace=0.0) as rig:
        detectors = [f"D{n}" for n in range(50)]
        rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
        await eventually(lambda: rig.fake.connected)
        await _round(rig, *enumerate(detectors), tag="first")  # all have offered once
        for d in detectors:
            for i in range(20):
                await rig.store.create(pinned(f"{d.lower()}-{i}", d))
        await eventually(lambda: len(rig.framework._backlog.pending()) == 1000)
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        monkeypatch.setattr(StatusWriter, "view", counted)
        # 12 tasks of 64 MB fit (with the executor's 32 MB) in 800 MB
        offers = [
            offer(n, mem=800, ports=(31000, 31099), attrs={"detector": detectors[n]}).model_copy(
                update={"id": OfferId(f"o{n}-second")}
            )
            for n in (3, 7)
        ]
        rig.fake.push(Offers(offers=offers))
        await eventually(lambda: len(rig.fake.sent(Accept)) == 2)
        assert len(looked) < 200
        assert rig.framework._offers.tried == 2 * 13
        placed = {
            info.name
            for accept in rig.fake.sent(Accept)
            for op in accept.operations  # type: ignore[attr-defined]
            for info in op.launch.task_infos
        }
        assert len(placed) == 24 and all(n.split("-")[0] in ("d3", "d7") for n in placed)


async def test_a_full_look_at_offer_interest_views_only_tasks_not_revived_for(
    monkeypatch: Any,
) -> None:
    """Every few seconds the control loop looks at all tasks; the offer interest then views
    only the pending tasks no REVIVE was sent for (it viewed every pending task: ~0.3 s a look
    with 10,000 pending)."""
    from controller.tasks.backlog import Backlog

    asked: list[int | None] = []
    real = Backlog.pending

    def counted(backlog: Backlog, names: Any = None) -> list[Task]:
        names = None if names is None else list(names)
        asked.append(None if names is None else len(names))
        return real(backlog, names)

    async with rigged() as rig:
        await _subscribe_with_agents(rig)
        for i in range(100):
            await rig.store.create(pinned(f"on-b-{i}", "B"))
        await eventually(lambda: len(rig.framework._backlog.pending()) == 100)
        await rig.framework._offers.update_interest()  # REVIVE for all of them (spaced out)
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await eventually(
            lambda: rig.framework._offers._revived_for >= {f"on-b-{i}" for i in range(100)}
        )
        monkeypatch.setattr(Backlog, "pending", counted)
        revives = len(rig.fake.sent(Revive))
        await rig.framework._offers.update_interest()
        assert asked and all(n is not None and n <= 5 for n in asked)
        assert len(rig.fake.sent(Revive)) == revives  # nothing new: no REVIVE


async def test_a_reported_task_is_not_reported_again_each_round(monkeypatch: Any) -> None:
    """Once reported, a task is looked at again only when its reason changes: no status
    change is queued for it on every later round (at 50,000 pending they piled up in the
    status writer and each round re-applied them all)."""
    from controller.tasks.writer import StatusWriter

    patched: list[str] = []
    real = StatusWriter.patch

    def counted(writer: StatusWriter, name: str, fn: Any, **kw: Any) -> None:
        patched.append(name)
        real(writer, name, fn, **kw)

    monkeypatch.setattr(StatusWriter, "patch", counted)
    async with rigged(unplaced_grace=0.0, unoffered_grace=0.0) as rig:
        await _subscribe_with_agents(rig)
        for i in range(20):
            await rig.store.create(pinned(f"on-c-{i}", "C"))  # no agent has detector=C
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")
        await eventually(lambda: rig.framework.unschedulable_reason("on-c-19") is not None)
        first = Counter(patched)
        await _round(rig, (1, "A"), tag="third")
        await _round(rig, (2, "B"), tag="fourth")
        assert Counter(patched) == first  # the same reason: nothing queued again


async def test_a_task_whose_registered_agent_has_not_offered_yet_this_term_waits_for_it() -> None:
    """After a (re)subscription the master offers each agent in turn: a task pinned to a ready
    Node whose agent has not offered yet waits `unoffered_grace` for it (50,000 tasks pinned to
    500 agents were reported unschedulable, 46,000 Events, before their agents' first offers)."""
    async with rigged(unplaced_grace=0.0) as rig:
        registered = node("host-3", detector="C")
        await rig.store.create(
            registered.model_copy(update={"metadata": ObjectMeta(name="host-3")})
        )
        await _subscribe_with_agents(rig)  # agents A and B offer; C's agent not yet
        await rig.store.create(pinned("on-c", "C"))
        await rig.store.create(pinned("on-d", "D"))  # no Node, no agent has detector=D
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")
        await eventually(lambda: rig.framework.unschedulable_reason("on-d") is not None)
        await _round(rig, (1, "A"), tag="third")
        assert rig.framework.unschedulable_reason("on-c") is None
        assert ("on-c", "FailedScheduling") not in rig.events.reasons
        await _round(rig, (3, "C"), tag="fourth")
        await eventually(lambda: rig.framework.view("on-c").status.phase == "Staging")  # type: ignore[union-attr]
        assert ("on-c", "FailedScheduling") not in rig.events.reasons


async def test_the_agents_a_shape_waits_for_are_worked_out_once_not_each_round(
    monkeypatch: Any,
) -> None:
    """Which agents outside a round could host a group is kept across rounds: with 50,000
    tasks pinned to 500 agents (1,000 groups) asking every known agent's offer per group and
    round was most of an idle round's cost. A round then asks only whether one is offering."""
    from controller.tasks import placement

    asked: list[str] = []
    real = placement.value_meets

    def counted(value: str | None, constraint: Constraint) -> bool:
        asked.append(constraint.value)
        return real(value, constraint)

    monkeypatch.setattr(placement, "value_meets", counted)
    looked: list[str] = []  # the groups whose due tasks a round worked out
    real_due = Group.due

    def due(group: Group, cutoff: float) -> list[str]:
        looked.append(group.shape.constraints[0].value)
        return real_due(group, cutoff)

    monkeypatch.setattr(Group, "due", due)
    async with rigged(unplaced_grace=0.0) as rig:
        await _subscribe_with_agents(rig)
        for detector in ("B", "C"):  # C: no agent, no Node (reported, like on-c below)
            for i in range(3):
                await rig.store.create(pinned(f"on-{detector.lower()}-{i}", detector))
        await eventually(lambda: len(rig.framework._backlog.pending()) == 6)
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")  # B is not in this round: its tasks wait
        await eventually(lambda: rig.framework.unschedulable_reason("on-c-0") is not None)
        asked.clear()
        looked.clear()
        for tag in ("third", "fourth", "fifth"):
            await _round(rig, (1, "A"), tag=tag)
        assert "B" not in asked  # agent B's offer is not asked about again
        assert "B" not in looked  # nor B's group, none of whose tasks waited 30 s yet
        assert all(rig.framework.unschedulable_reason(f"on-b-{i}") is None for i in range(3))
        await _round(rig, (2, "B"), tag="sixth")
        await eventually(lambda: rig.framework.view("on-b-2").status.phase == "Staging")  # type: ignore[union-attr]


async def test_a_node_change_voids_the_agents_a_shape_waits_for() -> None:
    """The agents a group waits for are worked out anew when a Node changes: agent B's node
    turning async (its offers serve pilots only) leaves a task pinned to B nobody to wait for,
    and it is reported at the next round."""
    async with rigged(unplaced_grace=0.0) as rig:
        await _subscribe_with_agents(rig)
        await rig.store.create(pinned("on-b", "B"))
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")  # B is not in this round: on-b waits
        await _round(rig, (1, "A"), tag="third")
        assert rig.framework.unschedulable_reason("on-b") is None
        async_b = node("host-2", mode="async", detector="B")
        await rig.store.create(async_b.model_copy(update={"metadata": ObjectMeta(name="host-2")}))
        await eventually(lambda: rig.framework._offers._nodes.get("host-2") is not None)
        await _round(rig, (1, "A"), tag="fourth")
        await eventually(lambda: rig.framework.unschedulable_reason("on-b") is not None)
        assert ("on-b", "FailedScheduling") in rig.events.reasons


async def test_a_cordon_voids_the_agents_a_shape_waits_for() -> None:
    """A cordoned agent is waited for by nobody: a task pinned to B is reported once B's Node
    is cordoned, though B was an agent it waited for a round before."""
    async with rigged(unplaced_grace=0.0) as rig:
        plain_b = node("host-2", detector="B")
        await rig.store.create(plain_b.model_copy(update={"metadata": ObjectMeta(name="host-2")}))
        await _subscribe_with_agents(rig)
        await rig.store.create(pinned("on-b", "B"))
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        await _round(rig, (1, "A"), tag="second")
        assert rig.framework.unschedulable_reason("on-b") is None
        stored = await rig.store.get(Node, "host-2")
        cordoned = stored.model_copy(
            update={"spec": stored.spec.model_copy(update={"unschedulable": True})}
        )
        await rig.store.update(cordoned)
        await eventually(
            lambda: rig.framework._offers._nodes.get("host-2").spec.unschedulable  # type: ignore[union-attr]
        )
        await _round(rig, (1, "A"), tag="third")
        await eventually(lambda: rig.framework.unschedulable_reason("on-b") is not None)
