"""The Tasks a pass creates: one validated, the others its copies with their own metadata and
spec (validating 10,000 Tasks and copying each desired spec twice was most of a DEPLOY's
first plan), as validation would make them."""

from __future__ import annotations

from typing import Any

import pytest

from controller.environments.plan import plan
from crds.kinds.task import Task
from tests.environments.helpers import T0, samples


def test_a_deploy_validates_one_task_and_creates_what_validation_makes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, workflow, classes = samples()
    validated: list[str] = []
    real = Task.__init__

    def counting(self: Task, **data: Any) -> None:
        validated.append(data["metadata"].name)
        real(self, **data)

    monkeypatch.setattr(Task, "__init__", counting)
    result = plan(env, workflow, classes, [], now=T0)
    assert len(result.create) == 3
    assert len(validated) == 1  # before: one per created task
    monkeypatch.undo()
    for task in result.create:
        again = Task(metadata=task.metadata, spec=task.spec)
        assert task == again
        assert task.model_dump(exclude_unset=True) == again.model_dump(exclude_unset=True)
        assert (
            task.model_dump_json()
            == Task.model_validate_json(task.model_dump_json()).model_dump_json()
        )
        assert task.metadata.owner_references[0].uid == env.metadata.uid
    first, *rest = result.create
    assert all(t.metadata.owner_references[0] is first.metadata.owner_references[0] for t in rest)
