"""store.compact: what it visits (only fields that can hold something to share) and that a
compacted copy stays equal to a fresh decode of the same bytes."""

from __future__ import annotations

import sys

from crds.copies import replaced
from crds.kinds.task import Task, TaskStatus
from crds.meta import Condition, ObjectMeta
from hack.bench.informer_bench import running_task
from store import codec
from store.compact import _plan, compact


def test_fields_of_ints_and_times_are_not_visited() -> None:
    """A Task's status, metadata and conditions: ints, times and tuples of ints hold nothing
    to share, and compacting a whole object does not look at them (a fifth of its cost)."""
    status, _ = _plan(TaskStatus)
    assert {"pid", "exit_code", "signal", "ports", "started_at", "observed_generation"}.isdisjoint(
        status
    )
    assert {"conditions", "hostname", "state", "message", "channels", "agent_id"} <= set(status)
    meta, unique = _plan(ObjectMeta)
    assert set(meta) == {"name", "uid", "labels", "annotations", "finalizers", "owner_references"}
    assert unique == {"name", "uid"}
    condition, _ = _plan(Condition)
    assert set(condition) == {"type", "status", "reason", "message"}


def _fresh(raw: bytes) -> Task:
    return Task.model_validate_json(raw)


def test_a_compacted_copy_equals_a_fresh_decode() -> None:
    """A whole decode, and an update compacted against its previous copy: equal to a fresh
    decode of their bytes, with the same bytes, and the strings that repeat shared."""
    raws = [codec.encode(running_task(i)) for i in range(3)]
    copies = [_fresh(raw) for raw in raws]
    for copy in copies:
        compact(copy)
    for copy, raw in zip(copies, raws, strict=True):
        assert copy == _fresh(raw)
        assert codec.encode(copy) == raw
    assert copies[0].spec.command.value is copies[1].spec.command.value
    old = copies[0]
    message = "".join(["lost ", "contact"])  # built at run time: not interned
    ready = Condition(type="Ready", status="False", reason="".join(["Lo", "st"]), message=message)
    status = old.status.model_copy(update={"message": message, "conditions": (ready,)})
    update = replaced(old, {"status": status})
    raw = codec.encode(update)
    compact(update, old)
    assert update == _fresh(raw)
    assert codec.encode(update) == raw
    assert update.status.message is sys.intern("lost contact")
    assert update.status.conditions[0].reason is sys.intern("Lost")
    assert update.status.__pydantic_fields_set__ is old.status.__pydantic_fields_set__


def test_a_value_of_another_type_in_an_inert_field_stays_as_it_is() -> None:
    """An unvalidated copy (crds.copies.replaced) could put any value in an int field: it is
    not looked at, and stays the very same value."""
    task = running_task(1)
    odd = "".join(["12", "34"])
    copy = replaced(task, {"status": replaced(task.status, {"pid": odd})})
    compact(copy)
    pid: object = copy.status.pid
    assert pid is odd
