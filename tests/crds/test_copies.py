"""crds.copies.replaced: the unvalidated copy the store's merges and the task controller use
gives what validating the changed fields would, with model_copy's fields set, and never
shares a mutable slot (extra, private) or the fields-set of the model it copies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr

from crds.copies import replaced
from crds.kinds import Task
from crds.kinds.common import Command, Wants
from crds.kinds.task import TaskSpec, TaskStatus
from crds.meta import ObjectMeta
from store import codec


def _task() -> Task:
    return Task(
        metadata=ObjectMeta(
            name="physics-1-flp-00001-readout",
            labels={"o2.io/env": "physics-1"},
            uid="u-1",
            generation=3,
            creation_timestamp=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        ),
        spec=TaskSpec(
            environment="physics-1",
            role="flp-00001.readout",
            task_class="readout",
            command=Command(value="o2-readout-exe", arguments=("--detector", "TPC")),
            wants=Wants(cpus=0.25, memory=512, ports=2),
            properties={"rate": "1e3", "name": "détecteur ☃", "empty": ""},
        ),
        status=TaskStatus(phase="Running", state="CONFIGURED", hostname="flp-001", pid=7),
    )


def _cases() -> list[tuple[BaseModel, dict[str, Any]]]:
    task = _task()
    meta, spec, status = task.metadata, task.spec, task.status
    return [
        (task, {}),
        (task, {"status": status.model_copy(update={"phase": "Finished", "pid": None})}),
        (task, {"spec": spec.model_copy(update={"run_number": 2}), "metadata": meta}),
        (meta, {}),
        (meta, {"resource_version": 12}),
        (
            meta,
            {
                "labels": {"a": "ü"},
                "annotations": {},
                "finalizers": ("o2.dev/cleanup",),
                "owner_references": (),
                "generation": 4,
            },
        ),
        (spec, {"properties": {}, "state": "RUNNING", "run_number": None}),
        (status, {"phase": "Lost", "hostname": "flp-ü", "message": ""}),
    ]


@pytest.mark.parametrize(("model", "changes"), _cases())
def test_a_copy_equals_the_validated_model_and_model_copys_fields_set(
    model: BaseModel, changes: dict[str, Any]
) -> None:
    before = model.model_dump()
    copied = replaced(model, changes)
    validated = type(model).model_validate({**model.model_dump(), **changes})
    assert copied == validated
    assert copied.model_dump() == validated.model_dump()
    assert copied.__pydantic_fields_set__ == model.model_copy(update=changes).model_fields_set
    assert model.model_dump() == before  # the original is untouched
    if isinstance(copied, Task) and isinstance(validated, Task):
        assert codec.encode(copied) == codec.encode(validated)


def test_the_copy_owns_its_fields_set_once_it_adds_to_it() -> None:
    meta = _task().metadata
    set_before = set(meta.__pydantic_fields_set__)
    copied = replaced(meta, {"annotations": {"a": "b"}})
    assert "annotations" in copied.__pydantic_fields_set__
    assert meta.__pydantic_fields_set__ == set_before and "annotations" not in set_before
    assert replaced(meta, {"name": meta.name}).__pydantic_fields_set__ == set_before


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    size: int = 1
    _seen: list[int] = PrivateAttr(default_factory=list)


def test_extra_and_private_values_are_copied_not_shared() -> None:
    loose = _Loose.model_validate({"size": 2, "colour": "red"})
    loose._seen.append(1)
    copied = replaced(loose, {"size": 3})
    assert (copied.size, copied.model_extra, copied._seen) == (3, {"colour": "red"}, [1])
    assert copied.__pydantic_extra__ is not loose.__pydantic_extra__
    assert copied.__pydantic_private__ is not loose.__pydantic_private__
