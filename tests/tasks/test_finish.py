"""The status finisher: conditions and observedGeneration of every Task status write, as
`with_conditions` sets them, worked out once per distinct case in a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.runtime import status as rs
from controller.runtime.status import with_conditions
from controller.tasks import finish as fin
from controller.tasks.finish import StatusFinisher
from crds.kinds.task import Task, TaskStatus
from tests.tasks.harness import sample_task

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=3)


def _task(name: str, *, state: str = "RUNNING", generation: int = 2) -> Task:
    task = sample_task(name, state=state)
    meta = task.metadata.model_copy(update={"generation": generation})
    return task.model_copy(update={"metadata": meta})


def _old_finish(task: Task, status: TaskStatus, now: datetime, unplaced: str | None) -> TaskStatus:
    """What the framework's finish did before the finisher: the reference."""
    conds = fin.conditions_of(status, desired=task.spec.state, unplaced=unplaced)
    generation = task.metadata.generation
    return with_conditions(
        status, conds, generation=generation, now=now, also={"observed_generation": generation}
    )


STATUSES = [
    TaskStatus(),
    TaskStatus(phase="Staging", agent_id="a1", hostname="flp-1", message="launching on flp-1"),
    TaskStatus(phase="Running", state="STANDBY", agent_id="a1", hostname="flp-1", pid=7),
    TaskStatus(phase="Running", state="RUNNING", agent_id="a2", pid=8),
    TaskStatus(phase="Failed", state="ERROR", agent_id="a1", hostname="flp-1", message="boom"),
]


@pytest.mark.parametrize("unplaced", [None, "no agent with detector TPC"])
def test_the_finisher_sets_what_with_conditions_set(unplaced: str | None) -> None:
    """Through two batches (each its own `now`), from a fresh status and from the previous
    batch's result: the same statuses as the conditions set one status at a time."""
    finish = StatusFinisher(lambda name: unplaced)
    for i, status in enumerate(STATUSES):
        for generation in (1, 2):
            task = _task(f"t{i}", generation=generation)
            first = finish(task, status, T0)
            assert first == _old_finish(
                task, status, T0, unplaced if status.phase == "Pending" else None
            )
            moved = first.model_copy(update={"state": "RUNNING", "phase": "Running"})
            again = finish(_task(f"t{i}", generation=generation + 1), moved, T1)
            expected = _old_finish(_task(f"t{i}", generation=generation + 1), moved, T1, None)
            assert again == expected
            assert finish(task, first, T1) is first  # nothing to change: not even a copy


def test_a_batch_works_out_the_conditions_once_and_its_statuses_share_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transition brings a batch of tasks on one host to the same conditions: they are
    worked out once, and every status of the batch holds the same tuple; in the next batch
    those statuses' conditions are found by identity (once more for the whole batch)."""
    worked: list[int] = []
    real = rs.conditions_set

    def counting(*args: object, **kwargs: object) -> object:
        worked.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fin, "conditions_set", counting)
    finish = StatusFinisher(lambda name: None)
    olds = [
        TaskStatus(phase="Running", state="STANDBY", agent_id="a1", hostname="h", pid=pid)
        for pid in range(500)
    ]
    olds = [
        finish(_task(f"t{i}", state="STANDBY", generation=1), s, T0) for i, s in enumerate(olds)
    ]
    worked.clear()
    news = [
        finish(_task(f"t{i}", state="CONFIGURED"), s.model_copy(update={"state": "CONFIGURED"}), T1)
        for i, s in enumerate(olds)
    ]
    assert len(worked) == 1
    assert all(n.conditions is news[0].conditions for n in news)
    ready = news[0].conditions[0]
    assert (ready.reason, ready.observed_generation, ready.last_transition_time) == (
        "InDesiredState",
        2,
        T0,  # Ready was True before: its transition time stays
    )
    assert [n.pid for n in news] == list(range(500))
    assert all(n.observed_generation == 2 for n in news)
