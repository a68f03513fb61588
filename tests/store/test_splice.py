"""codec.spliced: a status write's bytes from its status alone, onto the bytes this store wrote
for its base, are exactly what encoding the whole object gives; or None (encode it whole)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal

import pytest
from pydantic import Field, computed_field

from crds.kinds import Environment, Task
from crds.kinds.common import Command, Wants
from crds.kinds.task import TaskSpec, TaskStatus
from crds.meta import ObjectMeta, Status
from crds.resource import Resource
from store import codec
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.store.widget import Widget, WidgetStatus, widget

WHEN = datetime(2026, 12, 7, 13, 21, 5, 123456, tzinfo=UTC)


def _task(**status: object) -> Task:
    return Task(
        metadata=ObjectMeta(
            name="physics-1-flp-00001-readout",
            labels={"o2.dev/environment": "physics-1", "note": 'quote " and \\ ☃'},
            annotations={"o2.dev/why": "détecteur"},
            uid="9b0c",
            generation=4,
            creation_timestamp=WHEN,
            finalizers=("o2.dev/cleanup",),
        ),
        spec=TaskSpec(
            environment="physics-1",
            role="flp-00001.readout",
            task_class="readout",
            command=Command(value="o2-readout-exe", arguments=("--rate", "1e3", "ü")),
            wants=Wants(cpus=0.1, memory=64, ports=2),
            properties={"rate": "0.30000000000000004", "status": "{}", "empty": ""},
            run_number=None,
        ),
        status=TaskStatus.model_validate(status),
    )


STATUSES: list[dict[str, object]] = [
    {},
    {"phase": "Running", "state": "RUNNING", "hostname": "flp-001", "pid": 7, "ports": [1, 2]},
    {"phase": "Failed", "exit_code": -9, "message": 'killed: ☠ "quoted"\n', "reason": ""},
    {"phase": "Finished", "terminated": True, "channels": {"status": "tcp://a:1", "x": ""}},
    {
        "phase": "Running",
        "observed_generation": 3,
        "conditions": [
            {"type": "Ready", "status": "True", "last_transition_time": WHEN},
            {"type": "Stalled", "status": "False", "message": "√2 = 1.4142135623730951"},
        ],
    },
]


@pytest.mark.parametrize("before", STATUSES)
@pytest.mark.parametrize("after", STATUSES)
def test_a_spliced_task_status_write_is_byte_identical_to_its_encoding(
    before: dict[str, object], after: dict[str, object]
) -> None:
    base = _task(**before)
    own = codec.encode_unstamped(base)
    merged, changed = codec.merge_status(base, _task(**after))
    codec.set_revision(merged, None)
    assert codec.spliced(own, merged) == codec.encode_unstamped(merged) == codec.encode(merged)
    assert changed == (before != after)


def test_other_kinds_splice_byte_identically() -> None:
    base = widget("w", labels={"a": "b"})
    merged = base.model_copy(update={"status": WidgetStatus(phase="Ready ✓")})
    assert codec.spliced(codec.encode(base), merged) == codec.encode(merged)
    env = Environment.model_validate(
        {"metadata": {"name": "e"}, "spec": {"workflow": "w", "vars": {"status": "{x}"}}}
    )
    moved = env.model_copy(
        update={"status": env.status.model_copy(update={"message": "ok", "run_number": 2})}
    )
    spliced = codec.spliced(codec.encode(env), moved)
    assert spliced is not None and spliced == codec.encode(moved)


class _NestedStatus(Status):
    parts: dict[str, dict[str, int]] = Field(default_factory=dict)


class _Nested(Resource):
    KIND: ClassVar[str] = "Nested"
    kind: Literal["Nested"] = "Nested"
    spec: dict[str, dict[str, int]] = Field(default_factory=dict)
    status: _NestedStatus = Field(default_factory=_NestedStatus)


def test_bytes_that_hold_the_status_key_twice_are_not_spliced() -> None:
    """A map's key "status" with an object value, in the status or the spec: the top-level
    status is not told apart from it by a search, so the write encodes whole."""
    base = _Nested(metadata=ObjectMeta(name="n"))
    in_status = base.model_copy(
        update={"status": _NestedStatus(parts={"x": {}, "status": {"a": 1}})}
    )
    in_spec = base.model_copy(update={"spec": {"x": {}, "status": {"b": 2}}})
    plain = base.model_copy(update={"status": _NestedStatus(parts={"x": {"a": 1}})})
    assert codec.spliced(codec.encode(base), plain) == codec.encode(plain)
    assert codec.spliced(codec.encode(in_status), plain) is None
    assert codec.spliced(codec.encode(in_spec), in_spec) is None


class _SubStatus(WidgetStatus):
    extra_field: str = "x"


class _Computed(Widget):
    @computed_field  # type: ignore[prop-decorator]
    @property
    def after(self) -> str:
        return "after the status"


def test_what_encodes_otherwise_is_not_spliced() -> None:
    base = widget("w")
    own = codec.encode(base)
    sub = base.model_copy(update={"status": _SubStatus(phase="x")})
    assert codec.spliced(own, sub) is None  # encoded inside as the declared type
    computed = _Computed.model_validate(base.model_dump())
    assert codec.spliced(codec.encode(computed), computed) is None


async def test_status_writes_splice_onto_the_stores_own_bytes_and_etcd_holds_each_encoding(
    encodes: list[str],
) -> None:
    store = MemoryStore()
    tasks = [await store.create(_task(**STATUSES[0]).model_copy()) for _ in range(1)]
    tasks += [
        await store.create(
            _task(**STATUSES[1]).model_copy(
                update={"metadata": ObjectMeta(name=f"t{i}", labels={"i": str(i)})}
            )
        )
        for i in range(4)
    ]
    encodes.clear()
    for status in STATUSES[2:]:
        result = await store.update_status_many(
            [t.model_copy(update={"status": TaskStatus.model_validate(status)}) for t in tasks]
        )
        assert result.ok
        tasks = list(result.written)
        single = await store.update_status(
            tasks[0].model_copy(update={"status": tasks[0].status.model_copy(update={"pid": 1})})
        )
        tasks[0] = single
    assert encodes == []  # every write spliced
    for task in tasks:
        kv, _ = await store.kv.get(store.key_for(Task, task.name))
        assert kv is not None and kv.value == codec.encode(task)
        fresh = codec.decode(Task, kv.value, key=kv.key, mod_revision=kv.mod_revision)
        assert fresh == task and codec.encode(fresh) == kv.value


async def test_a_base_read_from_etcd_is_encoded_whole(encodes: list[str]) -> None:
    """Bytes read back (another writer's layout may differ) are never spliced onto."""
    store = MemoryStore()
    created = await store.create(_task())
    cold = ResourceStore(store.kv)  # the same data, nothing cached
    read = await cold.get(Task, created.name)
    encodes.clear()
    written = await cold.update_status(
        read.model_copy(update={"status": TaskStatus(phase="Running")})
    )
    assert written.status.phase == "Running" and encodes == [written.name]
