"""What a watched status write costs the store and an informer: decoded from its status alone
when the rest of its bytes are a cached object's, compacted only where it changed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from crds.kinds.task import Task
from crds.labels import ENV_LABEL
from crds.meta import Condition
from hack.bench.informer_bench import running_task
from store import codec
from store import compact as compact_module
from store.api import WatchEvent
from store.informer import LABEL_INDEX, Informer
from store.memory import MemoryStore
from store.resources import ResourceStore

Decode = Callable[..., Task]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Revisions of every whole-value decode the store makes from here on."""
    calls: list[int] = []
    whole: Decode = codec.decode

    def counting(kind: type[Task], raw: bytes, *, key: str, mod_revision: int) -> Task:
        calls.append(mod_revision)
        return whole(kind, raw, key=key, mod_revision=mod_revision)

    monkeypatch.setattr(codec, "decode", counting)
    return calls


def with_state(task: Task, state: str, message: str = "") -> Task:
    status = task.status.model_copy(update={"state": state, "message": message})
    return codec.replaced(task, {"status": status})


async def watched(store: ResourceStore, start: int, count: int) -> list[WatchEvent[Task]]:
    events: list[WatchEvent[Task]] = []
    stream = store.watch(Task, start_revision=start)
    async for event in stream:
        events.append(event)
        if len(events) == count:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    return events


async def test_own_status_writes_delivered_late_are_not_decoded_whole(decodes: list[int]) -> None:
    """A busy manager's watch delivers a status write after its next write to the same task:
    the first is decoded from its status alone onto the cached newer object (sharing its
    metadata and spec), and the cache keeps the newer one, which the second event gets."""
    store = MemoryStore(prefix="/late")
    created = await store.create(running_task(1))
    first = await store.update_status(with_state(created, "CONFIGURED", "configured"))
    second = await store.update_status(with_state(first, "RUNNING"))
    decodes.clear()
    late, last = await watched(store, (first.metadata.resource_version or 0), 2)
    assert decodes == []
    assert late.obj == first and late.obj is not None
    assert late.obj.metadata.resource_version == first.metadata.resource_version
    assert late.obj.spec is second.spec
    assert last.obj is second


async def test_another_process_status_write_is_decoded_from_its_status_alone(
    decodes: list[int],
) -> None:
    """The same for status writes of another process (its own store on the same etcd): the
    value decodes from its status onto the object this store last read of the task."""
    ours = MemoryStore(prefix="/theirs")
    theirs = ResourceStore(ours.kv, prefix=ours.prefix)
    await theirs.create(running_task(1))
    (listed,) = (await ours.list(Task)).items
    written = await theirs.update_status(with_state(listed, "CONFIGURED", "by them"))
    decodes.clear()
    (event,) = await watched(ours, written.metadata.resource_version or 0, 1)
    assert decodes == []
    assert event.obj == written
    assert event.obj is not None and event.obj.spec is listed.spec


def test_a_status_alone_decodes_as_the_whole_value() -> None:
    """Onto an object with the same bytes before the status, the status alone gives what the
    whole value decodes to, whatever the status holds (a message quoting JSON included)."""
    key = "/o2/registry/tasks/" + running_task(1).name
    base = codec.decode(Task, codec.encode(running_task(1)), key=key, mod_revision=5)
    ready = Condition(type="Ready", status="True", message='{"status":{"a":1}},"status":{')
    status = base.status.model_copy(
        update={"message": ',"status":{"x"}', "conditions": (ready,), "ports": ()}
    )
    raw = codec.encode(codec.replaced(base, {"status": status}))
    onto = codec.decode_onto(base, raw, codec.status_split(raw), mod_revision=9)
    assert onto == codec.decode(Task, raw, key=key, mod_revision=9)
    assert onto is not None and onto.spec is base.spec


def test_bytes_after_the_status_are_never_taken_for_a_status() -> None:
    """A value with more after its status (e.g. a second `spec` someone wrote by hand) is no
    status alone: decode_onto refuses it, and such a cached value is no base."""
    task = running_task(1)
    key = "/o2/registry/tasks/" + task.name
    raw = codec.encode(task)
    other = b',"spec":{"taskClass":"other","command":{"value":"x"}}}'
    trailing = raw[:-1] + other
    base = codec.decode(Task, raw, key=key, mod_revision=5)
    assert codec.decode_onto(base, trailing, codec.status_split(trailing), mod_revision=6) is None
    odd = codec.decode(Task, trailing, key=key, mod_revision=5)
    assert odd.spec.task_class == "other"
    from store.rawkv import ObjectCache

    cache = ObjectCache()
    cache.put(key, odd, trailing)
    assert cache.base_for(key, codec.encode(with_state(task, "RUNNING"))) is None
    cache.put(key, base, raw)
    found = cache.base_for(key, codec.encode(with_state(task, "RUNNING")))
    assert found is not None and found[0] is base


def test_a_status_update_interns_only_what_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The informer compacts an update against the copy it replaces: values that are the very
    same objects are skipped, and a new value is interned even in a copy that kept the old
    field-name set (which once passed for 'compacted already')."""
    interned: list[str] = []

    def counting(text: str) -> str:
        interned.append(text)
        return sys.intern(text)

    inf = Informer(MemoryStore(), Task)
    old = codec.set_revision(running_task(1), 1)
    inf._apply_put(old.name, old)
    monkeypatch.setattr(compact_module, "_intern", counting)
    message = "".join(["lost ", "contact"])  # built at run time: not interned
    status = codec.replaced(old.status, {"message": message})  # keeps the shared field set
    meta = codec.replaced(old.metadata, {"resource_version": 2})
    inf._apply_put(old.name, codec.replaced(old, {"status": status, "metadata": meta}))
    assert interned == [message]
    cached = inf.get(old.name)
    assert cached is not None and cached.status.message is sys.intern("lost contact")


class _CountingDict(dict[str, str]):
    reads = 0

    def items(self) -> Any:
        type(self).reads += 1
        return super().items()


def test_an_update_with_the_same_labels_builds_no_label_pairs() -> None:
    """The label and owner indexes read only the metadata's labels and ownerReferences: an
    update that keeps them (the same dict) does not rebuild their index values."""
    inf = Informer(MemoryStore(), Task)
    old = codec.set_revision(running_task(1), 1)
    inf._apply_put(old.name, old)
    labels = _CountingDict(old.metadata.labels)
    object.__setattr__(old.metadata, "labels", labels)
    meta = codec.replaced(old.metadata, {"resource_version": 2})
    _CountingDict.reads = 0
    inf._apply_put(old.name, codec.replaced(old, {"metadata": meta}))
    assert _CountingDict.reads == 0
    assert inf._indexes[LABEL_INDEX][f"{ENV_LABEL}=bench"] == {old.name}
