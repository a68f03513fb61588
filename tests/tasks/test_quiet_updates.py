"""A Mesos update or an executor's task-table row that says nothing new about a stored status
(each periodic reconciliation's TASK_RUNNING and each periodic table, about every live task; an
agent's resend of an update already written) queues no status change and asks for no look (an
update is acknowledged at once). One that does say something still goes through the status
writer (an update is acknowledged after its write) and wakes its task. About a status with a
change queued or in flight: tests.tasks.test_quiet_while_written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller.tasks.facts import ProcessFacts, encode_facts
from crds.kinds.task import Task
from mesosapi.models import AgentId, ExecutorId, TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.o2messages import TaskReport, TaskTableReport, encode
from mesosapi.scheduler import Acknowledge, Message, Update
from tests.tasks.test_control_passes import answer, requests, set_spec_state, standing_by
from tests.tasks.test_framework import Rig, rigged, stored
from tests.waiting import eventually


def count_patches(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the name of every status change queued with the writer."""
    patched: list[str] = []
    writer = rig.framework._writer
    real = writer.patch

    def counting(name: str, fn: Callable[..., object], **kw: object) -> None:
        patched.append(name)
        real(name, fn, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "patch", counting)
    return patched


EVERY = ("<every task>",)


def record_wakes(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """From now on, the names of every wake of the control loop (EVERY for a look at all)."""
    woken: list[tuple[str, ...]] = []
    wakeups = rig.framework._wakeups
    real = wakeups.wake

    def recording(*names: str, every: bool = False) -> None:
        woken.append(EVERY if every else names)
        real(*names, every=every)

    monkeypatch.setattr(wakeups, "wake", recording)
    return woken


def update(task: Task, *, pid: int, uuid: bytes | None, reconciliation: bool = False) -> Update:
    assert task.status.mesos_task_id is not None
    return Update(
        status=MesosStatus(
            task_id=TaskId(task.status.mesos_task_id),
            state="TASK_RUNNING",
            agent_id=AgentId("a1"),
            uuid=uuid,
            data=encode_facts(ProcessFacts(pid=pid, occ_state="STANDBY")),
            reason="REASON_RECONCILIATION" if reconciliation else None,
        )
    )


def acks(rig: Rig) -> list[bytes | None]:
    return [c.uuid for c in rig.fake.sent(Acknowledge) if isinstance(c, Acknowledge)]


async def test_a_reconciliation_answer_about_a_running_task_queues_no_status_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        task = await stored(rig, "a")
        assert task.status.pid == 100
        patched = count_patches(rig, monkeypatch)
        woken = record_wakes(rig, monkeypatch)
        writes = rig.framework._writer.writes
        rig.fake.push(update(task, pid=100, uuid=None, reconciliation=True))
        rig.fake.push(update(task, pid=100, uuid=b"resent-update-01"))
        await eventually(lambda: b"resent-update-01" in acks(rig))
        assert patched == []
        assert woken == []
        assert rig.framework._writer.writes == writes
        assert (await stored(rig, "a")).status == task.status


async def test_an_update_that_says_something_new_is_written_then_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        task = await stored(rig, "a")
        patched = count_patches(rig, monkeypatch)
        rig.fake.push(update(task, pid=101, uuid=b"a-new-process-id"))
        await eventually(lambda: b"a-new-process-id" in acks(rig))
        assert patched == ["a"]
        assert (await stored(rig, "a")).status.pid == 101


def table(*rows: TaskReport, sequence: int = 1) -> Message:
    report = TaskTableReport(sequence=sequence, tasks=rows)
    return Message(
        agent_id=AgentId("a1"), executor_id=ExecutorId("o2-executor"), data=encode(report)
    )


def row_of(task: Task, **changes: object) -> TaskReport:
    status = task.status
    row = TaskReport(
        task_id=str(status.mesos_task_id),
        control="direct",
        phase="running",
        state=status.state or "",
        pid=status.pid,
        last_transition_id=status.last_transition_id or "",
    )
    return row.model_copy(update=changes)


async def test_a_periodic_table_that_says_what_the_status_says_queues_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        a, b = await stored(rig, "a"), await stored(rig, "b")
        patched = count_patches(rig, monkeypatch)
        woken = record_wakes(rig, monkeypatch)
        rig.fake.push(table(row_of(a), row_of(b)))
        rig.fake.push(table(row_of(a), row_of(b, state="CONFIGURED"), sequence=2))
        await eventually(lambda: patched == ["b"])
        await eventually(lambda: (_state_of(rig, "b")) == "CONFIGURED")
        # "b": its row's wake, and its look once written (ControlLedger.write_settled: RESET due)
        assert {names for names in woken if names} == {("b",)}
        assert () not in woken and EVERY not in woken  # nothing new: no call, no look at all
        assert (await stored(rig, "a")).status == a.status


def _state_of(rig: Rig, name: str) -> str | None:
    task = rig.cache.get(name)
    return task.status.state if task is not None else None


async def test_a_reconciliation_or_table_during_a_transition_adds_no_write_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between a new desired state and the executor's answer, a periodic reconciliation's
    TASK_RUNNING and a periodic table say nothing new but the generation, which the answer's
    write stamps: each is taken at once (an update acknowledged), with no write of its own
    (there was one per task, then the answer's: 8,400 puts more at 50,000 tasks, START)."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        await set_spec_state(rig, "a", "CONFIGURED")
        await eventually(lambda: bool(requests(rig)))
        task = await stored(rig, "a")
        assert task.status.observed_generation != task.metadata.generation
        patched = count_patches(rig, monkeypatch)
        writes = rig.framework._writer.writes
        rig.fake.push(update(task, pid=100, uuid=None, reconciliation=True))
        rig.fake.push(table(row_of(task)))
        rig.fake.push(update(task, pid=100, uuid=b"resent-in-transit"))
        await eventually(lambda: b"resent-in-transit" in acks(rig))
        assert patched == []
        ((_, request),) = requests(rig)
        answer(rig, request)
        await eventually(lambda: _state_of(rig, "a") == "CONFIGURED")
        await rig.framework._writer.settled(["a"])
        after = await stored(rig, "a")
        assert after.status.observed_generation == after.metadata.generation
        assert rig.framework._writer.writes == writes + 1  # the answer's, with the generation


async def test_a_new_generation_that_needs_no_transition_is_stamped_by_the_next_update(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spec change that sends nothing (new properties, the same state) has no answer to
    stamp it: the next reconciliation answer writes the new generation, as before."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        task = await stored(rig, "a")
        spec = task.spec.model_copy(update={"properties": {"mode": "new"}})
        await rig.store.update(task.model_copy(update={"spec": spec}))
        await eventually(lambda: _generation_of(rig, "a") > task.metadata.generation)
        task = await stored(rig, "a")
        patched = count_patches(rig, monkeypatch)
        rig.fake.push(update(task, pid=100, uuid=b"stamps-the-spec-"))
        await eventually(lambda: b"stamps-the-spec-" in acks(rig))
        assert patched == ["a"]
        after = await stored(rig, "a")
        assert after.status.observed_generation == after.metadata.generation
        assert requests(rig) == []


def _generation_of(rig: Rig, name: str) -> int:
    task = rig.cache.get(name)
    return task.metadata.generation if task is not None else 0
