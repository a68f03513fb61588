"""A launch whose ACCEPT the master has not processed yet, against the explicit
reconciliations that run meanwhile (the periodic one, and the one after an agent's FAILURE):
the master answers "unknown" for a task it has not seen, and an answer given before the ACCEPT
landed is stale by the time the driver reads it. Acting on it sent the Task back to Pending and
launched it again, and the first launch's processes, which came up anyway, were then killed as
strays: every task of one ACCEPT ran twice and a healthy process was killed.

The in-memory Mesos fake plays the master: calls of one type are held at a gate (the master has
not processed them yet), and explicit reconciliations are answered as the master would."""

from __future__ import annotations

import asyncio

from controller.mesos import Disconnected
from controller.tasks.inflight import UNANSWERED_DOUBT, LaunchesInFlight
from crds.errors import MesosUnavailableError
from crds.kinds.task import Task
from mesosapi.models import FrameworkId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.scheduler import (
    Accept,
    Kill,
    Offers,
    Reconcile,
    Revive,
    SchedulerCall,
    Subscribed,
    Update,
)
from tests.tasks.test_framework import Gate, Rig, owned, rigged, running
from tests.tasks.test_placement import offer
from tests.waiting import eventually


def accepted_ids(rig: Rig) -> set[str]:
    """The Mesos task ids of every ACCEPT the master has processed."""
    ids: set[str] = set()
    for call in rig.fake.sent(Accept):
        assert isinstance(call, Accept)
        for op in call.operations:
            ids.update(str(i.task_id) for i in op.launch.task_infos)  # type: ignore[union-attr]
    return ids


class Master:
    """Answers explicit RECONCILEs as the master does: a task it has processed no ACCEPT for
    is unknown (TASK_LOST, REASON_RECONCILIATION)."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.seen = len(rig.fake.calls)
        self.answered = 0

    def answer(self) -> int:
        """Answer the RECONCILEs sent since the last call; how many were answered in all."""
        calls = self.rig.fake.calls
        fresh, self.seen = calls[self.seen :], len(calls)
        for call in fresh:
            if isinstance(call, Reconcile) and call.tasks:
                self.answered += 1
                self._answer(call)
        return self.answered

    def _answer(self, call: Reconcile) -> None:
        rig = self.rig
        known = accepted_ids(rig)
        for item in call.tasks:
            if str(item.task_id) in known:
                continue
            lost = MesosStatus(
                task_id=item.task_id,
                state="TASK_LOST",
                reason="REASON_RECONCILIATION",
                message="Reconciliation: Task is unknown",
                agent_id=item.agent_id,
            )
            rig.fake.push(Update(status=lost))


def cached(rig: Rig, name: str) -> Task:
    task = rig.cache.get(name)
    assert task is not None
    return task


async def one_running(rig: Rig) -> None:
    """One task already running, so a periodic reconcile always has something to ask about."""
    await rig.store.create(owned("old"))
    await eventually(lambda: rig.cache.get("old") is not None)
    rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
    await eventually(lambda: bool(rig.fake.sent(Revive)))
    rig.fake.push(Offers(offers=[offer(1)]))
    await eventually(lambda: bool(rig.fake.sent(Accept)))
    rig.fake.push(running(cached(rig, "old")))
    await eventually(lambda: cached(rig, "old").status.state == "STANDBY")


def reconciled_since(rig: Rig, first: int) -> list[set[str]]:
    """The task ids of each explicit RECONCILE sent since call `first`."""
    return [
        {str(item.task_id) for item in call.tasks}
        for call in rig.fake.calls[first:]
        if isinstance(call, Reconcile) and call.tasks
    ]


async def test_a_reconcile_answered_before_the_accept_landed_does_not_relaunch_the_task() -> None:
    async with rigged(reconcile_period=0.05) as rig:
        await one_running(rig)

        # the new task's launch status is written; its ACCEPT is held before the master
        gate = rig.fake.gates[Accept] = Gate()
        await rig.store.create(owned("new"))
        await eventually(lambda: len(rig.fake.sent(Revive)) >= 2)
        rig.fake.push(Offers(offers=[offer(2)]))
        await asyncio.wait_for(gate.reached.wait(), 5)
        launching = cached(rig, "new")
        first = launching.status.mesos_task_id
        assert launching.status.phase == "Staging" and first is not None

        # periodic reconciles run meanwhile, and the master answers them
        master = Master(rig)
        await eventually(master.answer, until=lambda n: n >= 2)

        gate.set()  # the ACCEPT lands: the process comes up under its first id
        await eventually(lambda: first in accepted_ids(rig))
        rig.fake.push(running(launching))
        await eventually(
            lambda: cached(rig, "new").status,
            until=lambda s: s.phase == "Running" and s.state == "STANDBY",
        )
        assert cached(rig, "new").status.mesos_task_id == first
        assert not rig.fake.sent(Kill), "a healthy process was killed as a stray"
        assert accepted_ids(rig) == {cached(rig, "old").status.mesos_task_id, first}


async def test_an_accept_lost_on_the_way_is_asked_about_on_the_next_stream() -> None:
    """The master may still read an ACCEPT whose call failed, until that stream ends."""
    async with rigged(reconcile_period=0.05) as rig:
        await one_running(rig)
        sent = rig.fake.call

        async def lose_accepts(call: SchedulerCall) -> None:
            if isinstance(call, Accept):
                raise MesosUnavailableError("ACCEPT failed: timed out")
            await sent(call)

        rig.fake.call = lose_accepts  # type: ignore[method-assign]
        await rig.store.create(owned("new"))
        await eventually(lambda: len(rig.fake.sent(Revive)) >= 2)
        rig.fake.push(Offers(offers=[offer(2)]))
        staging = await eventually(
            lambda: rig.cache.get("new"),
            until=lambda t: t is not None and t.status.phase == "Staging",
        )
        assert staging is not None
        lost = staging.status.mesos_task_id
        since = len(rig.fake.calls)
        asked = await eventually(lambda: reconciled_since(rig, since), until=lambda r: len(r) >= 2)
        assert all(lost not in ids for ids in asked)

        rig.fake.push(Disconnected(reason="stream closed by master"))
        since = len(rig.fake.calls)
        rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
        asked = await eventually(lambda: reconciled_since(rig, since))
        assert lost in asked[0]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_launch_is_in_flight_from_before_its_write_until_its_accept_is_answered() -> None:
    launches = LaunchesInFlight(clock=Clock())
    launches.sending(["a.1", "b.1"])
    assert "a.1" in launches and "b.1" in launches
    launches.answered(["a.1", "b.1"])
    assert "a.1" not in launches and "b.1" not in launches


def test_an_accept_lost_on_the_way_is_in_doubt_until_its_stream_ends_or_the_bound() -> None:
    """The master may still read a failed ACCEPT, but only on the stream it was sent on."""
    clock = Clock()
    launches = LaunchesInFlight(clock=clock)
    launches.sending(["a.1", "b.1"])
    launches.unanswered(["a.1"])
    launches.answered(["a.1", "b.1"])
    assert "a.1" in launches and "b.1" not in launches
    clock.now += UNANSWERED_DOUBT
    assert "a.1" not in launches

    launches.sending(["c.1"])
    launches.unanswered(["c.1"])
    launches.stream_ended()
    assert "c.1" not in launches
