"""GitSource sync end to end: real git repositories, real etcd, the in-process manager."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.manager import Manager
from crds.conditions import get_condition
from crds.errors import NotFoundError
from crds.kinds.environment import Environment, EnvironmentSpec, EnvironmentStatus
from crds.kinds.gitsource import GitSource
from crds.kinds.taskclass import TaskClass
from crds.labels import COMMIT_ANNOTATION, SOURCE_LABEL
from crds.meta import ObjectMeta
from store.etcd import EtcdStore
from tests.gitops.conftest import (
    Repo,
    env_yaml,
    gitsource,
    reconciler,
    synced,
    taskclass_yaml,
    wait_events,
    wait_until,
)
from tests.waiting import eventually


async def test_committed_environment_is_created_with_source_label_and_commit_annotation(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("envs/physics.yaml", env_yaml("physics-1"))
    repo.write("envs/classes.yaml", taskclass_yaml("readout"))
    repo.write("README.md", "not a manifest")
    sha = repo.commit()
    await etcd_store.create(gitsource("flp", repo.path, path="envs"))
    gs = await synced(etcd_store, "flp")
    env = await etcd_store.get(Environment, "physics-1")
    assert env.metadata.annotations[COMMIT_ANNOTATION] == sha
    labelled = await etcd_store.list(Environment, labels={SOURCE_LABEL: "flp"})
    assert [e.metadata.name for e in labelled.items] == ["physics-1"]
    assert gs.status.last_applied_commit == sha
    assert gs.status.sync == "Synced"
    assert [(e.kind, e.name) for e in gs.status.inventory] == [
        ("TaskClass", "readout"),
        ("Environment", "physics-1"),
    ]
    # the controller may sync on creation, before the request: counts add up either way
    assert gs.status.last_sync is not None
    assert gs.status.last_sync.created + gs.status.last_sync.unchanged == 2
    # no environment controller runs here: the environment has no status yet
    assert gs.status.health == "Progressing"
    assert any("2 created" in e.spec.message for e in await wait_events(etcd_store, "Synced"))


async def hand_edit(
    store: EtcdStore, name: str, *, state: str, label: tuple[str, str] | None = None
) -> int:
    """A hand edit as `etcdctl put` would make it: raw JSON, straight into the key."""
    key = store.key_for(Environment, name)
    raw = await store.get_raw(key)
    assert raw is not None
    doc = json.loads(raw.value)
    doc["spec"]["state"] = state
    if label is not None:
        doc["metadata"]["labels"][label[0]] = label[1]
    return await store.put_raw(key, json.dumps(doc).encode())


async def test_new_commit_within_one_interval_is_applied_without_a_sync_request(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("env.yaml", env_yaml("physics-1"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path, interval="1s"))
    await wait_until(etcd_store, Environment, "physics-1", lambda o: o is not None)
    repo.write("env.yaml", env_yaml("physics-1", state="CONFIGURED"))
    sha = repo.commit()
    env = await wait_until(
        etcd_store,
        Environment,
        "physics-1",
        lambda o: o is not None and o.metadata.annotations.get(COMMIT_ANNOTATION) == sha,
    )
    assert isinstance(env, Environment) and env.spec.state == "CONFIGURED"


async def test_changed_spec_state_is_followed_and_untouched_objects_are_not_rewritten(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("env.yaml", env_yaml("physics-1"))
    repo.write("tc.yaml", taskclass_yaml("readout"))
    first = repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    tc_before = await etcd_store.get(TaskClass, "readout")
    repo.write("env.yaml", env_yaml("physics-1", state="RUNNING"))
    second = repo.commit()
    gs = await synced(etcd_store, "flp")
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.state == "RUNNING"
    assert env.metadata.annotations[COMMIT_ANNOTATION] == second
    tc_after = await etcd_store.get(TaskClass, "readout")
    assert tc_after.metadata.resource_version == tc_before.metadata.resource_version
    assert tc_after.metadata.annotations[COMMIT_ANNOTATION] == first
    assert gs.status.last_sync is not None
    assert (gs.status.last_sync.configured, gs.status.last_sync.unchanged) == (1, 1)


async def test_deleted_file_prunes_only_inventory_objects(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("a.yaml", env_yaml("env-a"))
    repo.write("b.yaml", env_yaml("env-b"))
    repo.commit()
    foreign = Environment(metadata=ObjectMeta(name="by-hand"), spec=EnvironmentSpec(workflow="w"))
    foreign = await etcd_store.create(foreign)
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    repo.remove("b.yaml")
    repo.commit()
    gs = await synced(etcd_store, "flp")
    with pytest.raises(NotFoundError):
        await etcd_store.get(Environment, "env-b")
    assert [e.name for e in gs.status.inventory] == ["env-a"]
    assert gs.status.last_sync is not None and gs.status.last_sync.pruned == 1
    kept = await etcd_store.get(Environment, "by-hand")
    assert kept.metadata.resource_version == foreign.metadata.resource_version


async def test_pruned_environment_with_status_is_moved_to_done_then_deleted(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("env.yaml", env_yaml("physics-1", state="CONFIGURED"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    env = await etcd_store.get(Environment, "physics-1")
    running = EnvironmentStatus(state="CONFIGURED", observed_generation=env.metadata.generation)
    await etcd_store.update_status(env.model_copy(update={"status": running}))
    repo.remove("env.yaml")
    repo.commit()
    gs = await synced(etcd_store, "flp")
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.state == "DONE"
    assert [(c.action, c.name) for c in gs.status.pending] == [("prune", "physics-1")]
    assert gs.status.sync == "OutOfSync"
    # the environment controller reaches DONE: the GitSource (watching its label) deletes it
    done = EnvironmentStatus(state="DONE", observed_generation=env.metadata.generation)
    await etcd_store.update_status(env.model_copy(update={"status": done}))
    await wait_until(etcd_store, Environment, "physics-1", lambda o: o is None)
    final = await wait_until(
        etcd_store, GitSource, "flp", lambda o: o is not None and o.status.sync == "Synced"
    )
    assert isinstance(final, GitSource) and final.status.inventory == ()


async def test_hand_edit_is_reported_out_of_sync_then_restored_by_self_heal(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    """Drift is a hand edit of a field git names (spec.state); a label git does not name is
    another writer's and stays (field ownership, crds.ownership)."""
    repo.write("env.yaml", env_yaml("physics-1"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path, selfHeal=False))
    await synced(etcd_store, "flp")
    await hand_edit(etcd_store, "physics-1", state="RUNNING", label=("team", "night-shift"))
    gs = await wait_until(
        etcd_store, GitSource, "flp", lambda o: o is not None and o.status.sync == "OutOfSync"
    )
    assert isinstance(gs, GitSource)
    assert [(d.name, d.message) for d in gs.status.drift] == [("physics-1", "spec.state")]
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "RUNNING"
    gs = await etcd_store.get(GitSource, "flp")
    healing = gs.spec.model_copy(update={"self_heal": True})
    await etcd_store.update(gs.model_copy(update={"spec": healing}))
    await wait_until(
        etcd_store,
        Environment,
        "physics-1",
        lambda o: o is not None and o.spec.state == "STANDBY",
    )
    kept = await etcd_store.get(Environment, "physics-1")
    assert kept.metadata.labels["team"] == "night-shift"
    healed = await wait_until(
        etcd_store, GitSource, "flp", lambda o: o is not None and o.status.sync == "Synced"
    )
    assert isinstance(healed, GitSource) and healed.status.drift == ()
    restored = await wait_events(etcd_store, "DriftRestored")
    assert "environment/physics-1: spec.state" in restored[0].spec.message


async def test_broken_document_applies_nothing_and_fixing_it_recovers(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("env.yaml", env_yaml("physics-1"))
    good = repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    repo.write("env.yaml", env_yaml("physics-1", state="RUNNING"))
    repo.write("more.yaml", env_yaml("env-2") + "---\n" + env_yaml("env-3", extra=", colour: red"))
    bad = repo.commit()
    gs = await synced(etcd_store, "flp")
    assert gs.status.last_applied_commit == good
    assert gs.status.last_attempted_commit == bad
    assert gs.status.sync == "OutOfSync"
    message = gs.status.message
    assert bad[:12] in message
    assert "more.yaml: document 2: Environment/env-3: spec.colour: unknown field" in message
    stalled = get_condition(gs.status.conditions, "Stalled")
    assert stalled is not None and stalled.reason == "InvalidManifests"
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "STANDBY"
    with pytest.raises(NotFoundError):
        await etcd_store.get(Environment, "env-2")
    warnings = await wait_events(etcd_store, "InvalidManifests")
    assert warnings[0].spec.type == "Warning" and "spec.colour" in warnings[0].spec.message
    # the last good commit stays in effect: a hand edit is still restored to it
    edited = await hand_edit(etcd_store, "physics-1", state="CONFIGURED")
    await wait_until(
        etcd_store,
        Environment,
        "physics-1",
        lambda o: o is not None and (o.metadata.resource_version or 0) > edited,
    )
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "STANDBY"
    still = await etcd_store.get(GitSource, "flp")
    assert (still.status.last_applied_commit, still.status.last_attempted_commit) == (good, bad)
    repo.write("more.yaml", env_yaml("env-2"))
    fixed = repo.commit()
    gs = await synced(etcd_store, "flp")
    assert gs.status.last_applied_commit == fixed
    assert gs.status.sync == "Synced"
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "RUNNING"
    await etcd_store.get(Environment, "env-2")


async def test_second_source_claiming_an_object_gets_a_conflict_and_nothing_flaps(
    etcd_store: EtcdStore, manager: Manager, make_repo: Callable[[str], Repo]
) -> None:
    first, second = make_repo("first"), make_repo("second")
    first.write("env.yaml", env_yaml("shared", state="CONFIGURED"))
    first.commit()
    second.write("env.yaml", env_yaml("shared", state="RUNNING"))
    second.write("own.yaml", env_yaml("only-second"))
    second.commit()
    await etcd_store.create(gitsource("first", first.path))
    await synced(etcd_store, "first")
    owned = await etcd_store.get(Environment, "shared")
    await etcd_store.create(gitsource("second", second.path))
    gs = await synced(etcd_store, "second")
    conflict = get_condition(gs.status.conditions, "Conflict")
    assert conflict is not None and conflict.status == "True"
    assert "environment/shared is managed by gitsource/first" in conflict.message
    assert [(e.name) for e in gs.status.inventory] == ["only-second"]
    for _ in range(3):  # both keep syncing: the object never changes hands
        await synced(etcd_store, "first")
        again = await synced(etcd_store, "second")
    shared = await etcd_store.get(Environment, "shared")
    assert shared.metadata.resource_version == owned.metadata.resource_version
    assert shared.metadata.labels[SOURCE_LABEL] == "first"
    assert again.status.sync == "OutOfSync"


async def test_noop_resync_writes_nothing_to_etcd(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    for i in range(5):
        repo.write(f"env-{i}.yaml", env_yaml(f"env-{i}"))
    repo.write("tc.yaml", taskclass_yaml("readout"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path, interval="1s"))
    await wait_until(
        etcd_store, GitSource, "flp", lambda o: o is not None and o.status.sync == "Synced"
    )
    rec = reconciler(manager)
    await eventually(lambda: "flp" in rec._fetched, within=5)
    await wait_events(etcd_store, "Synced")  # the first sync's Event is written
    before = await etcd_store.ping()
    fetched = rec._fetched["flp"].at
    # two interval-driven resyncs (fetch + plan) go by
    await eventually(lambda: rec._fetched["flp"].at > fetched, within=5)
    second = rec._fetched["flp"].at
    await eventually(lambda: rec._fetched["flp"].at > second, within=5)
    await manager.recorder.flush()
    assert await etcd_store.ping() == before


async def test_resyncs_while_the_newest_commit_is_invalid_write_nothing(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("env.yaml", env_yaml("physics-1"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    repo.write("env.yaml", env_yaml("physics-1", state="NOWHERE"))
    repo.commit()
    gs = await synced(etcd_store, "flp")
    assert gs.status.sync == "OutOfSync"
    await wait_events(etcd_store, "InvalidManifests")
    before = await etcd_store.ping()
    rec = reconciler(manager)
    for _ in range(3):  # as the interval or a managed object's change would trigger them
        await rec.reconcile("flp")
    await manager.recorder.flush()
    assert await etcd_store.ping() == before


async def test_health_follows_managed_environments_status(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("env.yaml", env_yaml("physics-1", state="RUNNING"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    gs = await synced(etcd_store, "flp")
    assert gs.status.health == "Progressing"  # no environment controller has reported yet
    for state, health in (("RUNNING", "Healthy"), ("ERROR", "Degraded")):
        env = await etcd_store.get(Environment, "physics-1")
        status = EnvironmentStatus(state=state, observed_generation=env.metadata.generation)
        await etcd_store.update_status(env.model_copy(update={"status": status}))
        # an environment controller writes status: the GitSource follows, watch-driven
        seen = await wait_health(etcd_store, health)
    ready = get_condition(seen.status.conditions, "Ready")
    assert ready is not None and ready.status == "False"


async def wait_health(store: EtcdStore, health: str) -> GitSource:
    def pred(obj: GitSource | None) -> bool:
        return obj is not None and obj.status.health == health

    seen = await wait_until(store, GitSource, "flp", pred)
    assert seen is not None
    return seen


async def test_plain_directory_source_is_synced_by_content(
    etcd_store: EtcdStore, manager: Manager, tmp_path: Path
) -> None:
    folder = tmp_path / "manifests"
    (folder / "envs").mkdir(parents=True)
    (folder / "envs" / "env.yaml").write_text(env_yaml("physics-1"))
    await etcd_store.create(gitsource("dir", folder, path="envs"))
    first = await synced(etcd_store, "dir")
    assert first.status.last_applied_commit is not None
    assert first.status.last_applied_commit.startswith("dir-")
    again = await synced(etcd_store, "dir")
    assert again.status.last_applied_commit == first.status.last_applied_commit
    (folder / "envs" / "env.yaml").write_text(env_yaml("physics-1", state="DEPLOYED"))
    changed = await synced(etcd_store, "dir")
    assert changed.status.last_applied_commit != first.status.last_applied_commit
    env = await etcd_store.get(Environment, "physics-1")
    assert env.spec.state == "DEPLOYED"
    assert env.metadata.annotations[COMMIT_ANNOTATION] == changed.status.last_applied_commit


async def test_unreachable_repository_keeps_the_last_commit_in_effect(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("env.yaml", env_yaml("physics-1"))
    good = repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    repo.path.rename(repo.path.with_name("moved"))
    gs = await synced(etcd_store, "flp")
    stalled = get_condition(gs.status.conditions, "Stalled")
    assert stalled is not None and stalled.reason == "FetchFailed"
    assert gs.status.last_applied_commit == good
    assert str(repo.path) in gs.status.message
    edited = await hand_edit(etcd_store, "physics-1", state="RUNNING")
    await wait_until(
        etcd_store,
        Environment,
        "physics-1",
        lambda o: o is not None and (o.metadata.resource_version or 0) > edited,
    )
    assert (await etcd_store.get(Environment, "physics-1")).spec.state == "STANDBY"
