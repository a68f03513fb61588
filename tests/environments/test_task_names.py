"""A reconcile asks the Task cache about the names of the tasks it creates, one by one: the
names of every Task (`plan`'s `taken`, for a desired name another owner holds) are not
gathered into a set at each reconcile of a large environment (O(all tasks) for none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.environments.expansions import TaskNames
from crds.kinds.task import Task
from store.informer import Informer
from tests.environments.test_controller import Harness, harness, run_sample

__all__ = ["harness"]


async def test_reconciles_gather_no_task_names(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed: list[int] = []
    real = Informer.names

    def names(self: Informer[Task]) -> list[str]:
        if self.kind is Task:
            listed.append(len(self))
        return real(self)

    monkeypatch.setattr(Informer, "names", names)
    env = await run_sample(harness, tmp_path / "runs.txt")
    assert [h.event for h in env.status.history] == ["DEPLOY", "CONFIGURE", "START_ACTIVITY"]
    assert listed == []  # before: one list of every Task name per reconcile
    taken = TaskNames(harness.factory.informer(Task))
    assert "physics-1-qc-0" in taken
    assert "physics-1-nothing" not in taken
