"""During a transition over N tasks most of them have a status change queued or in flight (the
executor's answer being written) when a periodic reconciliation, a periodic task table or a
resent answer comes in. One that says what the status will say once that write is in (the
writer's view) queues no change of its own and asks for no look: an update is acknowledged once
the write in flight is in. One that says something new still goes through the writer."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import pytest

from controller.tasks import status as st
from crds.kinds.task import Task, TaskStatus
from mesosapi.models import AgentId, ExecutorId
from mesosapi.o2messages import ControlRequest, ControlResults, TransitionResult, encode
from mesosapi.scheduler import Message, Reconcile
from store.api import BatchResult
from tests.tasks.test_control_passes import (
    answer,
    count_views,
    requests,
    set_spec_state,
    standing_by,
)
from tests.tasks.test_framework import Rig, rigged, stored
from tests.tasks.test_quiet_updates import (
    acks,
    count_patches,
    record_wakes,
    row_of,
    table,
    update,
)
from tests.tasks.test_running_on import MINE, statuses
from tests.waiting import eventually


def hold_status_writes(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """From now on every status write waits in the store until the event is set."""
    gate = asyncio.Event()
    real = rig.store.update_status_many

    async def held(objs: Sequence[Task]) -> BatchResult[Task]:
        await gate.wait()
        return await real(objs)

    monkeypatch.setattr(rig.store, "update_status_many", held)
    return gate


async def test_a_resent_update_of_a_change_being_written_waits_for_that_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        task = await stored(rig, "a")
        writer = rig.framework._writer
        gate = hold_status_writes(rig, monkeypatch)
        patched = count_patches(rig, monkeypatch)
        writes, before = writer.writes, len(acks(rig))
        rig.fake.push(update(task, pid=101, uuid=b"a-new-process-id"))
        await eventually(lambda: patched == ["a"] and writer.writing("a"))
        woken = record_wakes(rig, monkeypatch)
        rig.fake.push(update(task, pid=101, uuid=b"resent-of-it-001"))
        rig.fake.push(update(task, pid=101, uuid=None, reconciliation=True))
        await asyncio.sleep(0.1)
        assert patched == ["a"]  # no change of their own, and no look
        assert woken == []
        assert acks(rig)[before:] == []  # neither is acknowledged before the write is in
        gate.set()
        await eventually(
            lambda: set(acks(rig)[before:]) == {b"a-new-process-id", b"resent-of-it-001"}
        )
        assert writer.writes == writes + 1
        assert (await stored(rig, "a")).status.pid == 101


async def test_a_table_row_saying_what_is_being_written_queues_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        a, b = await stored(rig, "a"), await stored(rig, "b")
        writer = rig.framework._writer
        gate = hold_status_writes(rig, monkeypatch)
        patched = count_patches(rig, monkeypatch)
        rig.fake.push(update(a, pid=101, uuid=b"a-new-process-id"))
        rig.fake.push(update(b, pid=201, uuid=b"b-new-process-id"))
        await eventually(lambda: sorted(patched) == ["a", "b"] and writer.writing("b"))
        woken = record_wakes(rig, monkeypatch)
        rig.fake.push(table(row_of(a, pid=101), row_of(b, pid=202)))
        await eventually(lambda: "b" in patched[2:])
        await asyncio.sleep(0.05)
        assert sorted(patched) == ["a", "b", "b"]  # "b"'s row says something new
        assert {names for names in woken if names} == {("b",)}
        gate.set()
        await eventually(lambda: rig.cache.get("b").status.pid == 202)  # type: ignore[union-attr]
        assert (await stored(rig, "a")).status.pid == 101


def _results(request: ControlRequest, state: str) -> Message:
    results = tuple(
        TransitionResult(task_id=i.task_id, transition_id=i.transition_id, ok=True, state=state)
        for i in request.items
    )
    reply = ControlResults(request_id=request.request_id, results=results)
    return Message(
        agent_id=AgentId("a1"), executor_id=ExecutorId("o2-executor"), data=encode(reply)
    )


async def test_an_answer_the_status_holds_already_queues_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request resent after its deadline is answered again (the executor keeps its answer
    by transition id): the second answer, while the first is being written or once it is in,
    costs no status change."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        await set_spec_state(rig, "a", "CONFIGURED")
        await eventually(lambda: bool(requests(rig)))
        ((_, request),) = requests(rig)
        writer = rig.framework._writer
        gate = hold_status_writes(rig, monkeypatch)
        patched = count_patches(rig, monkeypatch)
        answer(rig, request)
        await eventually(lambda: patched == ["a"] and writer.writing("a"))
        rig.fake.push(_results(request, "CONFIGURED"))  # while the first is being written
        await asyncio.sleep(0.05)
        assert patched == ["a"]
        gate.set()
        await eventually(lambda: rig.cache.get("a").status.state == "CONFIGURED")  # type: ignore[union-attr]
        await writer.settled(["a"])
        writes = writer.writes
        rig.fake.push(_results(request, "CONFIGURED"))  # once it is in
        await asyncio.sleep(0.05)
        assert patched == ["a"]
        assert writer.writes == writes
        rig.fake.push(_results(request, "STANDBY"))  # says something new: written
        await eventually(lambda: patched == ["a", "a"])


def results() -> list[tuple[TransitionResult, str | None]]:
    out = []
    for task_id, ok, retryable, state, message, digest in itertools.product(
        (MINE, "t.launch-0"),
        (True, False),
        (True, False),
        ("STANDBY", "CONFIGURED", "RUNNING", "ERROR", ""),
        ("", "m"),
        ("d1", "d2", None),
    ):
        for transition in ("t1", "t2"):
            result = TransitionResult(
                task_id=task_id,
                transition_id=transition,
                ok=ok,
                retryable=retryable,
                state=state,
                message=message,
            )
            out.append((result, digest))
    return out


def test_result_quiet_answers_as_the_copy_would() -> None:
    everything: list[TaskStatus] = []
    for status in statuses(("Running", "Failed")):
        everything.append(status)
        everything.append(status.model_copy(update={"terminated": True}))
        everything.append(status.model_copy(update={"message": "transition t1 refused"}))
    cases = 0
    for status, (result, digest) in itertools.product(everything, results()):
        same = st.result_if_mine(status, result=result, configured_digest=digest) == status
        assert st.result_quiet(status, result, configured_digest=digest) == same, (status, result)
        cases += same
    assert 0 < cases < len(everything) * len(results())


async def test_the_periodic_reconciliation_views_only_tasks_being_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The periodic reconciliation walks the tasks once (explicit reconciliation and the
    table requests from the same walk) and asks the writer for a view (a copy with the queued
    changes applied) only of a task that has a change queued or in flight."""
    async with rigged(full_pass=600.0, reconcile_period=0.1) as rig:
        await standing_by(rig)
        writer = rig.framework._writer
        gate = hold_status_writes(rig, monkeypatch)
        viewed = count_views(monkeypatch, rig)
        reconciles = len(rig.fake.sent(Reconcile))
        await eventually(lambda: len(rig.fake.sent(Reconcile)) > reconciles)
        await asyncio.sleep(0.05)
        assert viewed == []
        writer.patch("a", lambda status: status.model_copy(update={"message": "held"}))
        await eventually(lambda: writer.writing("a"))
        reconciles = len(rig.fake.sent(Reconcile))
        await eventually(lambda: len(rig.fake.sent(Reconcile)) > reconciles)
        (last,) = rig.fake.sent(Reconcile)[-1:]
        assert isinstance(last, Reconcile) and len(last.tasks) == 2
        assert set(viewed) == {"a"}
        assert len(viewed) <= len(rig.fake.sent(Reconcile)) - reconciles + 1
        gate.set()


async def test_a_view_is_not_kept_once_its_write_is_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """A walk over every task no longer views the tasks not being written (which dropped
    their stale view memos): the memo of a view goes when the changes it shows are taken into
    a write and when that write is over, not at some later view (a copy per task kept)."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        writer = rig.framework._writer
        gate = hold_status_writes(rig, monkeypatch)
        writer.patch("a", lambda status: status.model_copy(update={"message": "held"}))
        first = writer.view("a")
        assert first is not None and first.status.message == "held" and "a" in writer._views
        await eventually(lambda: writer.writing("a") and "a" not in writer._pending)
        assert "a" not in writer._views  # taken into the write
        assert writer.view("a") is not None and "a" in writer._views
        gate.set()
        await writer.settled(["a"])
        assert "a" not in writer._views
