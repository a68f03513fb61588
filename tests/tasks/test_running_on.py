"""A periodic reconciliation's TASK_RUNNING about a task that runs on, and a periodic task
table's row about it, are found to say nothing new without the status copy folding them in
would make (status.running_on, status.report_quiet): the same answer as
`update_if_mine(status, update=update) == status` (`report_if_mine`), for every kind of
difference."""

from __future__ import annotations

import itertools

import pytest

from controller.tasks import status as st
from controller.tasks.facts import ProcessFacts, encode_facts
from crds.kinds.task import TaskStatus
from mesosapi.models import AgentId, TaskId
from mesosapi.models import TaskStatus as MesosStatus
from mesosapi.o2messages import TaskReport
from tests.tasks.test_control_passes import standing_by
from tests.tasks.test_framework import Rig, rigged, stored
from tests.tasks.test_quiet_updates import acks, row_of, table, update
from tests.waiting import eventually

MINE = "t.launch-1"


def statuses(phases: tuple[str, ...] = ("Running",)) -> list[TaskStatus]:
    out = []
    for phase, state, pid, reason, message, agent, last, digest in itertools.product(
        phases,
        ("STANDBY", "CONFIGURED", None),
        (100, None),
        ("", "x"),
        ("", "m"),
        ("a1", None),
        ("t1", None),
        ("d1", None),
    ):
        out.append(
            TaskStatus(
                phase=phase,  # type: ignore[arg-type]
                state=state,
                pid=pid,
                reason=reason,
                message=message,
                agent_id=agent,
                mesos_task_id=MINE,
                last_transition_id=last,
                configured_properties=digest,
            )
        )
    return out


def updates() -> list[MesosStatus]:
    out = []
    for task_id, pid, occ, agent, data in itertools.product(
        (MINE, "t.launch-0"), (100, 101, None), ("STANDBY", "RUNNING", None), ("a1", None), (1, 0)
    ):
        facts = encode_facts(ProcessFacts(pid=pid, occ_state=occ)) if data else None
        out.append(
            MesosStatus(
                task_id=TaskId(task_id),
                state="TASK_RUNNING",
                agent_id=AgentId(agent) if agent else None,
                data=facts,
            )
        )
    return out


def test_running_on_answers_as_the_copy_would() -> None:
    cases = 0
    for status, upd in itertools.product(statuses(), updates()):
        same = st.update_if_mine(status, update=upd) == status
        assert st.running_on(status, upd) == same, (status, upd)
        cases += same
    assert 0 < cases < len(statuses()) * len(updates())  # both answers were put to it


def rows() -> list[TaskReport]:
    out = []
    for task_id, phase, state, pid, last in itertools.product(
        (MINE, "t.launch-0"),
        ("starting", "running", "exited"),
        ("STANDBY", "CONFIGURED", "RUNNING", ""),
        (100, 101, None),
        ("t1", "t2", ""),
    ):
        row = TaskReport(
            task_id=task_id,
            control="direct",
            phase=phase,
            state=state,
            pid=pid,  # type: ignore[arg-type]
        )
        out.append(row.model_copy(update={"last_transition_id": last}))
    return out


def test_report_quiet_answers_as_the_copy_would() -> None:
    cases = 0
    everything = statuses(("Staging", "Running", "Failed"))
    for status, row in itertools.product(everything, rows()):
        same = st.report_if_mine(status, row=row) == status
        assert st.report_quiet(status, row) == same, (status, row)
        cases += same
    assert 0 < cases < len(everything) * len(rows())


async def test_a_quiet_reconciliation_answer_makes_no_status_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each of a reconciliation's TASK_RUNNING about a task running on cost a copy of its status
    (on_update), only to be compared with the stored one and dropped."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        task = await stored(rig, "a")
        copies = _status_copies(monkeypatch)
        rig.fake.push(update(task, pid=100, uuid=b"quiet-reconcile1", reconciliation=True))
        await _acked(rig, b"quiet-reconcile1")
        assert copies == []
        rig.fake.push(update(task, pid=101, uuid=b"a-new-process-id"))  # says something new
        await _acked(rig, b"a-new-process-id")
        assert copies


async def test_a_quiet_table_row_makes_no_status_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each row of a periodic task table about a task that runs on cost a copy of its status
    (on_report), only to be compared with the stored one and dropped."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        a, b = await stored(rig, "a"), await stored(rig, "b")
        copies = _status_copies(monkeypatch)
        rig.fake.push(table(row_of(a), row_of(b)))
        rig.fake.push(table(row_of(a), row_of(b, state="CONFIGURED"), sequence=2))
        await eventually(lambda: rig.cache.get("b").status.state == "CONFIGURED")  # type: ignore[union-attr]
        assert len(copies) >= 1  # "b"'s new state was folded in
        assert all(c.mesos_task_id == b.status.mesos_task_id for c in copies)  # type: ignore[attr-defined]


def _status_copies(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The statuses controller.tasks.status copies (`replaced`) from now on."""
    copies: list[object] = []
    real = st.replaced

    def counting(obj: object, changes: object) -> object:
        copies.append(obj)
        return real(obj, changes)  # type: ignore[arg-type]

    monkeypatch.setattr(st, "replaced", counting)
    return copies


async def _acked(rig: Rig, uuid: bytes) -> None:
    await eventually(lambda: uuid in acks(rig))
