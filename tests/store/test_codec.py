"""Pure store rules: key layout, stored encoding, and the update/status merge properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crds.errors import UnreadableObjectError
from store import codec
from tests.store.widget import Widget, WidgetStatus, widget

NOW = datetime(2026, 1, 1, tzinfo=UTC)
labels = st.dictionaries(st.sampled_from(["a", "b", "team"]), st.sampled_from(["x", "y"]))


def stored(size: int = 1, **kw: object) -> Widget:
    obj = codec.prepare_create(widget("w", size=size, **kw), now=NOW)  # type: ignore[arg-type]
    return codec.with_revision(obj, 10)


def test_key_layout_is_the_documented_public_interface() -> None:
    assert codec.registry_key("/o2", Widget, "a") == "/o2/registry/widgets/a"
    assert codec.registry_prefix("/o2", Widget) == "/o2/registry/widgets/"
    assert codec.runtime_key("/o2", "run-number") == "/o2/runtime/run-number"
    assert codec.lease_key("/o2", "controller") == "/o2/leases/controller"


def test_real_kinds_use_their_registered_plural() -> None:
    from crds.kinds import Environment, TaskClass

    assert codec.registry_key("/o2", TaskClass, "x") == "/o2/registry/taskclasses/x"
    assert codec.registry_key("/o2", Environment, "x") == "/o2/registry/environments/x"


def test_encode_is_compact_camel_case_without_resource_version() -> None:
    obj = stored()
    raw = codec.encode(obj)
    data = json.loads(raw)
    assert "resourceVersion" not in data["metadata"]
    assert "creationTimestamp" in data["metadata"]
    assert b" " not in raw.replace(b"o2/v1alpha1", b"")
    again = codec.decode(Widget, raw, key="/o2/registry/widgets/w", mod_revision=42)
    assert again.metadata.resource_version == 42
    assert again == codec.with_revision(obj, 42)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b'{"metadata": {}}',
        b'{"kind": "Other", "metadata": {"name": "x"}}',
        b'{"kind": "Widget", "metadata": {"name": "not-x"}}',
    ],
)
def test_garbage_decodes_to_unreadable_naming_the_key(raw: bytes) -> None:
    with pytest.raises(UnreadableObjectError) as info:
        codec.decode(Widget, raw, key="/o2/registry/widgets/x", mod_revision=1)
    assert info.value.key == "/o2/registry/widgets/x"


@given(size=st.integers(1, 3), new_size=st.integers(1, 3), old=labels, new=labels)
def test_generation_moves_only_with_spec(
    size: int, new_size: int, old: dict[str, str], new: dict[str, str]
) -> None:
    current = stored(size, labels=old)
    desired = widget("w", size=new_size, labels=new).model_copy(
        update={"status": WidgetStatus(phase="caller-status-is-ignored")}
    )
    merged, changed, remove = codec.merge_update(current, desired)
    assert merged.metadata.generation == current.metadata.generation + (size != new_size)
    assert changed == (size != new_size or old != new)
    assert merged.status == current.status
    assert merged.metadata.uid == current.metadata.uid
    assert not remove


@given(phase=st.sampled_from(["", "Running"]), size=st.integers(1, 3))
def test_status_merge_never_touches_spec_or_generation(phase: str, size: int) -> None:
    current = stored(1)
    desired = widget("w", size=size).model_copy(update={"status": WidgetStatus(phase=phase)})
    merged, changed = codec.merge_status(current, desired)
    assert merged.spec == current.spec
    assert merged.metadata == current.metadata
    assert changed == (phase != "")


def test_dropping_the_last_finalizer_of_a_deleting_object_means_remove() -> None:
    marked, _ = codec.mark_deleted(stored(finalizers=("f",)), now=NOW)
    _, changed, remove = codec.merge_update(marked, widget("w"))
    assert changed and remove
    _, _, keep = codec.merge_update(stored(finalizers=("f",)), widget("w"))
    assert not keep


def test_same_model_agrees_with_equality_field_by_field() -> None:
    from crds.kinds.task import TaskStatus
    from crds.meta import Condition
    from store.codec import same_model

    ready = Condition(type="Ready", status="True", reason="InDesiredState")
    base = TaskStatus(phase="Running", state="CONFIGURED", conditions=(ready,))
    variants = [
        base,
        base.model_copy(update={"state": "RUNNING"}),
        base.model_copy(update={"conditions": (ready.model_copy(update={"message": "x"}),)}),
        base.model_copy(update={"conditions": ()}),
        TaskStatus(phase="Running", state="CONFIGURED", conditions=(ready,)),
    ]
    for a in variants:
        for b in variants:
            assert same_model(a, b) == (a == b)
