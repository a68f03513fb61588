"""The tasks table's rows from the stored JSON equal the rows of the model for the same bytes:
for what o2 writes, for defaults left out, and for documents only the model's lax mode reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from crds.kinds.task import Task, TaskStatus
from crds.labels import ROLE_LABEL
from gui.feed import project_task
from gui.rawtasks import task_row
from store import codec
from tests.gui.samples import task

KEY = "/o2/registry/tasks/t-1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def stored(obj: Task) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(codec.encode(codec.prepare_create(obj, now=NOW)))
    return doc


def model_row(value: bytes) -> dict[str, Any] | None:
    try:
        return project_task(codec.decode(Task, value, key=KEY, mod_revision=42))
    except Exception:
        return None


def running() -> Task:
    base = task("t-1", state="RUNNING", labels={"o2.dev/detector": "TPC"})
    status = TaskStatus(
        phase="Running", state="RUNNING", hostname="flp-001", pid=0, message="up since 10:00"
    )
    return base.model_copy(
        update={"status": status, "spec": base.spec.model_copy(update={"critical": False})}
    )


def edited(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`doc` with the field at `path` (dotted) set to `value`, or removed when `value` is ..."""
    *parents, last = path.split(".")
    at = doc
    for step in parents:
        at = at[step]
    if value is ...:
        at.pop(last, None)
    else:
        at[last] = value
    return doc


CASES: list[tuple[str, Any]] = [
    ("metadata.labels", ...),
    ("status", ...),
    ("status.state", None),
    ("status.pid", None),
    ("spec.environment", None),
    ("spec.environment", ...),
    ("spec.state", ...),
    ("spec.critical", ...),
    ("spec.role", ...),
    ("metadata.labels", {"o2.environment/name": "physics-1", "det": "TPC"}),  # renamed
    ("metadata.labels", {"o2.role": "a", "o2.dev/role": "b"}),
    ("status.pid", "12"),  # the model's lax mode reads it: 12
    ("spec.critical", "false"),
    ("status.phase", "Gone"),  # unreadable, by the model too
    ("spec.taskClass", 7),
    ("spec.taskClass", ...),
    ("metadata.name", "t-2"),  # not the key's name
    ("status.message", None),
    ("kind", "Node"),
]


@pytest.mark.parametrize("sample", [running, lambda: task("t-1")], ids=["running", "new"])
@pytest.mark.parametrize(("path", "value"), CASES, ids=[f"{p}={v!r}" for p, v in CASES])
def test_the_raw_row_equals_the_model_row_for_the_same_document(
    sample: Any, path: str, value: Any
) -> None:
    value_bytes = json.dumps(edited(stored(sample()), path, value)).encode()
    assert task_row(KEY, value_bytes, 42) == model_row(value_bytes)


@pytest.mark.parametrize("sample", [running, lambda: task("t-1")], ids=["running", "new"])
def test_the_raw_row_of_a_stored_task_is_its_projection(sample: Any) -> None:
    obj = sample()
    value = codec.encode(codec.prepare_create(obj, now=NOW))
    row = task_row(KEY, value, 42)
    assert row is not None and row == model_row(value)
    assert row["rv"] == 42 and row["name"] == "t-1"


def test_a_legacy_label_key_is_shown_under_its_new_name() -> None:
    value = json.dumps(edited(stored(task("t-1")), "metadata.labels", {"o2.role": "a"})).encode()
    row = task_row(KEY, value, 42)
    assert row is not None and row["labels"] == {ROLE_LABEL: "a"}


@pytest.mark.parametrize("value", [b"", b"not json", b"[]", b'{"metadata": 3}'])
def test_garbage_gives_no_row(value: bytes) -> None:
    assert task_row(KEY, value, 42) is None
