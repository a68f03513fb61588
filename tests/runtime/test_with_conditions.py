"""with_conditions: conditions by type and other status fields set in one copy of the status,
with lastTransitionTime moving only when a condition's status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.runtime.status import condition, with_conditions
from controller.tasks import finish as fin
from crds.kinds.task import TaskStatus
from tests.model_copies import count_model_copies

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def base() -> TaskStatus:
    first = with_conditions(
        TaskStatus(),
        [condition("Ready", False, reason="Pending"), condition("Stalled", False, reason="")],
        generation=1,
        now=T0,
    )
    return first


def test_a_new_reason_keeps_the_transition_time_and_the_other_fields_come_along() -> None:
    status = with_conditions(
        base(),
        [condition("Ready", False, reason="Staging", message="launching")],
        generation=2,
        now=T1,
        also={"observed_generation": 2, "phase": "Staging"},
    )
    ready, stalled = status.conditions
    assert (ready.type, ready.reason, ready.message) == ("Ready", "Staging", "launching")
    assert (ready.last_transition_time, ready.observed_generation) == (T0, 2)
    assert (stalled.type, stalled.last_transition_time, stalled.observed_generation) == (
        "Stalled",
        T0,
        1,
    )
    assert (status.observed_generation, status.phase) == (2, "Staging")


def test_a_status_change_moves_the_transition_time_and_a_new_type_is_appended() -> None:
    status = with_conditions(
        base(),
        [
            condition("Ready", True, reason="InDesiredState"),
            condition("Scheduled", True, reason="Placed"),
        ],
        generation=1,
        now=T1,
    )
    assert [(c.type, c.status, c.last_transition_time) for c in status.conditions] == [
        ("Ready", "True", T1),
        ("Stalled", "False", T0),
        ("Scheduled", "True", T1),
    ]


def test_nothing_to_change_returns_the_same_status_uncopied() -> None:
    status = base()
    same = with_conditions(
        status, [condition("Ready", False, reason="Pending")], generation=1, now=T1
    )
    assert same is status


def test_a_task_status_write_makes_no_validated_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every status write of every task comes through here: the conditions and the status are
    copied unvalidated (a pydantic model_copy per condition was most of a write's CPU), and the
    unchanged ones are the same objects. The result is what validation would give."""
    copies = count_model_copies(monkeypatch)
    old = base()
    status = with_conditions(
        old,
        [condition("Ready", True, reason="InDesiredState"), condition("Stalled", False, reason="")],
        generation=2,
        now=T1,
        also={"observed_generation": 2, "phase": "Running"},
    )
    assert copies == []
    assert TaskStatus.model_validate(status.model_dump()) == status
    assert status.conditions[0].last_transition_time == T1
    assert status.conditions[1].observed_generation == 2


def test_task_conditions_are_shared_between_statuses_that_have_them() -> None:
    status = TaskStatus(phase="Running", state="RUNNING", agent_id="a1", hostname="flp-1")
    first = fin.conditions_of(status, desired="RUNNING")
    again = fin.conditions_of(status.model_copy(update={"pid": 7}), desired="RUNNING")
    assert [c.type for c in first] == ["Ready", "Scheduled", "Stalled"]
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert first[1].message == "on flp-1" and first[0].status == "True"


def test_a_batch_of_status_writes_stamps_each_shared_condition_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch of writes moves many tasks to the same conditions at one `now`: the stamped
    conditions are shared, so each status costs one copy (its own), not one per condition."""
    import controller.runtime.status as rs

    copied: list[str] = []
    real = rs.replaced

    def counting(model: Any, changes: dict[str, Any]) -> Any:
        copied.append(type(model).__name__)
        return real(model, changes)

    monkeypatch.setattr(rs, "replaced", counting)
    olds = [base().model_copy(update={"pid": pid}) for pid in range(1000)]
    copied.clear()
    news = []
    for pid, old in enumerate(olds):
        running = TaskStatus(phase="Running", state="RUNNING", agent_id="a1", hostname="h", pid=pid)
        conds = fin.conditions_of(running, desired="RUNNING")
        news.append(with_conditions(old, conds, generation=2, now=T1, also={"phase": "Running"}))
    assert copied.count("TaskStatus") == 1000
    assert copied.count("Condition") <= 3
    assert all(n.conditions[0] is news[0].conditions[0] for n in news)
    assert [(c.type, c.last_transition_time) for c in news[7].conditions] == [
        ("Ready", T1),
        ("Stalled", T0),
        ("Scheduled", T1),
    ]
