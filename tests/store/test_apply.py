"""Declarative apply onto both stores, and reading manifest paths from disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crds.errors import ValidationError
from store.apply import apply, read_manifest_paths
from store.memory import MemoryStore
from store.resources import ResourceStore
from tests.store.widget import Widget, WidgetStatus, widget

SAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "samples"


async def test_apply_creates_then_reports_unchanged_then_configured(store: ResourceStore) -> None:
    manifest = widget("a", size=2, labels={"team": "x"})
    assert await apply(store, manifest) == "created"
    assert await apply(store, manifest) == "unchanged"
    bigger = manifest.model_copy(update={"spec": manifest.spec.model_copy(update={"size": 3})})
    assert await apply(store, bigger) == "configured"
    stored = await store.get(Widget, "a")
    assert (stored.spec.size, stored.metadata.generation) == (3, 2)


async def test_apply_never_writes_status_or_trusts_resource_version(store: ResourceStore) -> None:
    created = await store.create(widget("a"))
    running = await store.update_status(
        created.model_copy(update={"status": WidgetStatus(phase="Running")})
    )
    manifest = widget("a", size=5).model_copy(update={"status": WidgetStatus(phase="Hacked")})
    meta = manifest.metadata.model_copy(update={"resource_version": 1, "uid": "forged"})
    assert await apply(store, manifest.model_copy(update={"metadata": meta})) == "configured"
    stored = await store.get(Widget, "a")
    assert stored.status.phase == "Running"
    assert stored.metadata.uid == running.metadata.uid
    fresh = widget("b").model_copy(update={"status": WidgetStatus(phase="Hacked")})
    assert await apply(store, fresh) == "created"
    assert (await store.get(Widget, "b")).status.phase == ""


async def test_dry_run_writes_nothing(store: ResourceStore) -> None:
    assert await apply(store, widget("a"), dry_run=True) == "created"
    assert (await store.list(Widget)).items == []
    await store.create(widget("a"))
    assert await apply(store, widget("a", size=9), dry_run=True) == "configured"
    assert (await store.get(Widget, "a")).spec.size == 1


async def test_samples_apply_and_round_trip_as_unchanged() -> None:
    from crds.manifest import parse_documents

    store = MemoryStore()
    objs = [o for s, t in read_manifest_paths([SAMPLES]) for o in parse_documents(t, source=s)]
    assert objs
    for obj in objs:
        assert await apply(store, obj) == "created"
    for obj in objs:  # what `o2 get -o json` prints, fed back
        stored = await store.get(type(obj), obj.metadata.name)
        wire = json.dumps(stored.to_wire())
        (again,) = parse_documents(wire, source="<stdin>")
        assert await apply(store, again) == "unchanged"


def test_read_manifest_paths_walks_directories_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.yml").write_text("b")
    (tmp_path / "a.yaml").write_text("a")
    (tmp_path / "c.json").write_text("c")
    (tmp_path / "notes.txt").write_text("skip")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text("skip")
    single = tmp_path / "b" / "two.yml"
    sources = read_manifest_paths([tmp_path, single])
    assert [Path(s).relative_to(tmp_path).as_posix() for s, _ in sources] == [
        "a.yaml",
        "b/two.yml",
        "c.json",
        "b/two.yml",
    ]
    assert [t for _, t in sources] == ["a", "b", "c", "b"]


def test_read_manifest_paths_names_a_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ValidationError, match=r"nope\.yaml"):
        read_manifest_paths([missing])


async def test_reapplied_environment_never_takes_back_a_recover_request(
    store: ResourceStore,
) -> None:
    from crds.kinds.environment import Environment, EnvironmentSpec
    from crds.meta import ObjectMeta

    manifest = Environment(
        metadata=ObjectMeta(name="physics-1"),
        spec=EnvironmentSpec(workflow="readout", state="RUNNING"),
    )
    assert await apply(store, manifest) == "created"
    stored = await store.get(Environment, "physics-1")
    bumped = stored.spec.model_copy(update={"recover_request": 1})  # `o2 recover`
    await store.update(stored.model_copy(update={"spec": bumped}))
    assert await apply(store, manifest) == "unchanged"  # the sample says nothing about it
    assert (await store.get(Environment, "physics-1")).spec.recover_request == 1
    paused = manifest.model_copy(
        update={"spec": manifest.spec.model_copy(update={"state": "CONFIGURED"})}
    )
    assert await apply(store, paused) == "configured"
    after = await store.get(Environment, "physics-1")
    assert (after.spec.state, after.spec.recover_request) == ("CONFIGURED", 1)
