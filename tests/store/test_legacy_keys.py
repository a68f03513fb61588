"""Objects stored with pre-`o2.dev/` keys are read, selected, written and finalized as migrated.

On MemoryStore and on real etcd, as the contract suite: the legacy value is written raw, as an
older o2 left it in etcd.
"""

from __future__ import annotations

import json

import pytest

from crds.errors import NotFoundError
from crds.labels import ENV_LABEL, KILL_TASK_FINALIZER, LEGACY, ROLE_LABEL
from store.informer import Informer
from store.resources import ResourceStore
from tests.store.widget import Widget

LEGACY_VALUE = {
    "apiVersion": "o2/v1alpha1",
    "kind": "Widget",
    "metadata": {
        "name": "w1",
        "uid": "uid-w1",
        "generation": 1,
        "labels": {"o2.environment/name": "physics-1", "o2.role": "readout", "app": "tpc"},
        "annotations": {"o2.idle-since": "2026-01-01T00:00:00+00:00"},
        "finalizers": ["o2.tasks/kill"],
    },
    "spec": {"size": 1},
}


async def _put_legacy(store: ResourceStore) -> str:
    key = store.key_for(Widget, "w1")
    await store.put_raw(key, json.dumps(LEGACY_VALUE).encode())
    return key


def _stored_keys(raw: bytes) -> set[str]:
    meta = json.loads(raw)["metadata"]
    return {*meta.get("labels", {}), *meta.get("annotations", {}), *meta.get("finalizers", [])}


async def test_a_legacy_object_reads_with_the_new_keys(store: ResourceStore) -> None:
    await _put_legacy(store)
    got = await store.get(Widget, "w1")
    assert got.metadata.labels == {ENV_LABEL: "physics-1", ROLE_LABEL: "readout", "app": "tpc"}
    assert got.metadata.annotations == {LEGACY["o2.idle-since"]: "2026-01-01T00:00:00+00:00"}
    assert got.metadata.finalizers == (KILL_TASK_FINALIZER,)


async def test_legacy_and_new_selector_keys_both_select_a_legacy_object(
    store: ResourceStore,
) -> None:
    await _put_legacy(store)
    for key in ("o2.environment/name", ENV_LABEL):
        found = await store.list(Widget, labels={key: "physics-1"})
        assert [w.metadata.name for w in found.items] == ["w1"]
    assert not (await store.list(Widget, labels={"o2.environment/name": "other"})).items


async def test_an_informer_selects_a_legacy_object_by_either_key(store: ResourceStore) -> None:
    await _put_legacy(store)
    informer = Informer(store, Widget)
    informer.start()
    try:
        await informer.wait_synced()
        for key in ("o2.role", ROLE_LABEL):
            assert [w.metadata.name for w in informer.list(labels={key: "readout"})] == ["w1"]
    finally:
        await informer.stop()


async def test_a_no_op_write_leaves_the_legacy_value_and_a_change_stores_new_keys(
    store: ResourceStore,
) -> None:
    key = await _put_legacy(store)
    before = await store.get_raw(key)
    assert before is not None
    stored = await store.get(Widget, "w1")
    assert await store.update(stored) == stored
    unchanged = await store.get_raw(key)
    assert unchanged is not None and unchanged.mod_revision == before.mod_revision
    resized = stored.model_copy(update={"spec": stored.spec.model_copy(update={"size": 2})})
    written = await store.update(resized)
    raw = await store.get_raw(key)
    assert raw is not None and raw.mod_revision == written.metadata.resource_version
    assert _stored_keys(raw.value).isdisjoint(LEGACY)
    assert KILL_TASK_FINALIZER in _stored_keys(raw.value)


async def test_removing_the_renamed_finalizer_completes_a_legacy_objects_deletion(
    store: ResourceStore,
) -> None:
    await _put_legacy(store)
    await store.delete(Widget, "w1")
    deleting = await store.get(Widget, "w1")
    assert deleting.metadata.deletion_timestamp is not None
    meta = deleting.metadata.model_copy(update={"finalizers": ()})
    await store.update(deleting.model_copy(update={"metadata": meta}))
    with pytest.raises(NotFoundError):
        await store.get(Widget, "w1")
