"""splice.spec_spliced: a spec write's bytes from its spec alone, onto the bytes this store
wrote for its base (the generation's digits replaced), are exactly what encoding the whole
object gives; or None (encoded whole, its base checked), e.g. when the merge moved more of the
metadata, or the spec did not move in bytes as the merge found it did."""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest
from pydantic import Field

from crds.kinds import Environment, Task
from crds.kinds.task import TaskStatus
from crds.meta import O2Model, ObjectMeta
from crds.resource import Resource
from store import codec, splice
from store.memory import MemoryStore
from tests.store.test_splice import STATUSES, _NestedStatus, _task
from tests.store.widget import resized, widget

SPECS: list[dict[str, object]] = [
    {"state": "RUNNING"},
    {"properties": {"status": "{}", "x": 'a "quoted" ☃'}, "run_number": 7},
    {"command": {"value": "o2-other", "arguments": ["--status", '{"generation":1}']}},
]


def _merged(base: Task, spec: dict[str, object], **meta: object) -> Task:
    wanted = base.model_copy(
        update={
            "metadata": base.metadata.model_copy(update=meta) if meta else base.metadata,
            "spec": base.spec.model_validate(base.spec.model_dump() | spec),
        }
    )
    merged, changed, _ = codec.merge_update(base, wanted)
    assert changed
    return codec.set_revision(merged, None)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("generation", [1, 4, 9, 99, 12345])
def test_a_spliced_spec_write_is_byte_identical_to_its_encoding(
    status: dict[str, object], spec: dict[str, object], generation: int
) -> None:
    base = codec.with_meta(_task(**status), generation=generation)
    merged = _merged(base, spec)
    assert merged.metadata.generation == generation + 1
    raw = splice.spec_spliced(codec.encode_unstamped(base), base, merged)
    assert raw is not None
    assert raw == codec.encode_unstamped(merged) == codec.encode(merged)


def test_other_kinds_splice_a_spec_write_byte_identically() -> None:
    base = widget("w", labels={"a": "b", "c": "d"})
    merged = codec.set_revision(codec.merge_update(base, resized(base, 3))[0], None)
    assert splice.spec_spliced(codec.encode(base), base, merged) == codec.encode(merged)
    env = Environment.model_validate(
        {
            "metadata": {"name": "e", "generation": 10},
            "spec": {"workflow": "w", "vars": {"status": "{x}"}},
            "status": {"message": "ok", "runNumber": 2},
        }
    )
    spec = env.spec.model_copy(update={"vars": {"a": "1"}})
    moved = codec.merge_update(env, env.model_copy(update={"spec": spec}))[0]
    raw = splice.spec_spliced(codec.encode(env), env, codec.set_revision(moved, None))
    assert raw is not None and raw == codec.encode(moved)


def test_a_write_that_moves_more_of_the_metadata_is_not_spliced() -> None:
    base = _task()
    own = codec.encode_unstamped(base)
    moves: list[dict[str, object]] = [
        {"labels": {**base.metadata.labels, "x": "y"}},
        {"labels": dict(reversed(base.metadata.labels.items()))},  # equal, encoded otherwise
        {"annotations": {}},
        {"finalizers": ()},
    ]
    for meta in moves:
        assert splice.spec_spliced(own, base, _merged(base, SPECS[0], **meta)) is None
    merged = _merged(base, SPECS[0])
    assert splice.spec_spliced(own, base, codec.set_revision(merged, 3)) is None  # stamped
    same = codec.set_revision(codec.with_meta(base, generation=5), None)
    assert splice.spec_spliced(own, base, same) is None  # not a spec write: no bump


def test_a_spec_that_encodes_as_the_bases_is_not_spliced() -> None:
    """The merge found the spec changed, its bytes did not: the base was changed in place."""
    base = _task()
    merged = _merged(base, SPECS[0])
    stale = codec.encode_unstamped(codec.with_meta(merged, generation=4))  # already its spec
    assert splice.spec_spliced(stale, base, merged) is None


class _Spec(O2Model):
    parts: dict[str, dict[str, int]] = Field(default_factory=dict)


class _Kind(Resource):
    KIND: ClassVar[str] = "Parts"
    kind: Literal["Parts"] = "Parts"
    spec: _Spec = Field(default_factory=_Spec)
    status: _NestedStatus = Field(default_factory=_NestedStatus)


def test_bytes_with_the_status_key_twice_are_not_spliced() -> None:
    base = _Kind(
        metadata=ObjectMeta(name="p", generation=1),
        spec=_Spec(parts={"x": {}, "status": {"a": 1}}),
    )
    merged = codec.merge_update(base, base.model_copy(update={"spec": _Spec()}))[0]
    assert splice.spec_spliced(codec.encode(base), base, codec.set_revision(merged, None)) is None
    plain = base.model_copy(update={"spec": _Spec(parts={"x": {"a": 1}})})
    merged = codec.merge_update(plain, base)[0]
    raw = splice.spec_spliced(codec.encode(plain), plain, codec.set_revision(merged, None))
    assert raw is not None and raw == codec.encode(merged)


async def test_a_transitions_writes_splice_and_etcd_holds_each_encoding(
    encodes: list[str],
) -> None:
    """A transition's writes in turn, as the controllers make them: each task's spec, then
    its status, on what the last write returned; etcd holds each object's own encoding."""
    store = MemoryStore()
    created = await store.create_many(
        [
            _task(**STATUSES[i % len(STATUSES)]).model_copy(
                update={"metadata": ObjectMeta(name=f"t{i}", labels={"i": str(i)})}
            )
            for i in range(6)
        ]
    )
    tasks = list(created.written)
    encodes.clear()
    for round_ in range(len(STATUSES)):
        state = ("CONFIGURED", "RUNNING")[round_ % 2]
        result = await store.update_many(
            [
                t.model_copy(update={"spec": t.spec.model_copy(update={"state": state})})
                for t in tasks
            ]
        )
        assert result.ok and all(t.spec.state == state for t in result.written)
        moved = [STATUSES[(i + round_ + 1) % len(STATUSES)] for i in range(len(tasks))]
        result = await store.update_status_many(
            [
                t.model_copy(update={"status": TaskStatus.model_validate(status)})
                for t, status in zip(result.written, moved, strict=True)
            ]
        )
        tasks = list(result.written)
        spec = tasks[0].spec.model_copy(update={"run_number": round_ + 2})
        tasks[0] = await store.update(tasks[0].model_copy(update={"spec": spec}))
    assert encodes == []  # every write spliced
    for task in tasks:
        kv, _ = await store.kv.get(store.key_for(Task, task.name))
        assert kv is not None and kv.value == codec.encode(task)
        fresh = codec.decode(Task, kv.value, key=kv.key, mod_revision=kv.mod_revision)
        assert fresh == task and codec.encode(fresh) == kv.value
    assert tasks[0].metadata.generation == 1 + 2 * len(STATUSES)
