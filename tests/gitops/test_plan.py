"""Sync planning rules, pure: ownership, drift, the commit annotation, prune order and health."""

from __future__ import annotations

from collections.abc import Sequence

from controller.gitsource.plan import (
    Plan,
    aggregate_health,
    health_of,
    key_of,
    plan_sync,
    prune_step,
    stamp,
)
from crds.kinds.environment import Environment, EnvironmentSpec, EnvironmentStatus
from crds.kinds.gitsource import InventoryEntry
from crds.kinds.taskclass import TaskClass
from crds.labels import COMMIT_ANNOTATION, SOURCE_LABEL
from crds.manifest import parse_resource
from crds.meta import ObjectMeta
from crds.resource import Resource


def env(name: str, *, state: str = "STANDBY", labels: dict[str, str] | None = None) -> Environment:
    return Environment(
        metadata=ObjectMeta(name=name, labels=labels or {}),
        spec=EnvironmentSpec(workflow="readout", state=state),
    )


def taskclass(name: str) -> TaskClass:
    obj = parse_resource(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "TaskClass",
            "metadata": {"name": name},
            "spec": {"command": {"value": "/bin/true"}},
        }
    )
    assert isinstance(obj, TaskClass)
    return obj


def live(*objs: Resource) -> dict[tuple[str, str], Resource]:
    return {key_of(o): o for o in objs}


def plan(
    desired: Sequence[Resource],
    *objs: Resource,
    commit: str = "c2",
    applied: str | None = "c1",
    inventory: Sequence[tuple[str, str]] = (),
    sources: Sequence[str] = ("src",),
    self_heal: bool = True,
    prune: bool = True,
) -> Plan:
    return plan_sync(
        desired,
        source="src",
        commit=commit,
        applied_commit=applied,
        inventory=[InventoryEntry(kind=k, name=n) for k, n in inventory],
        live=live(*objs),
        sources=set(sources),
        self_heal=self_heal,
        prune=prune,
    )


def test_new_objects_are_created_stamped_dependencies_first() -> None:
    result = plan([env("e1"), taskclass("tc")])
    assert [key_of(o) for o in result.apply] == [("TaskClass", "tc"), ("Environment", "e1")]
    created = result.apply[1]
    assert created.metadata.labels[SOURCE_LABEL] == "src"
    assert created.metadata.annotations[COMMIT_ANNOTATION] == "c2"
    assert (result.creates, result.updates, result.drift) == (2, 0, ())


def test_object_unchanged_by_a_new_commit_keeps_its_commit_and_is_not_written() -> None:
    stored = stamp(env("e1"), source="src", commit="c1")
    result = plan([env("e1")], stored, commit="c2", applied="c1")
    assert result.apply == ()
    assert result.unchanged == 1


def test_object_changed_by_a_new_commit_is_configured_with_the_new_commit() -> None:
    stored = stamp(env("e1"), source="src", commit="c1")
    result = plan([env("e1", state="RUNNING")], stored, commit="c2", applied="c1")
    assert [o.metadata.annotations[COMMIT_ANNOTATION] for o in result.apply] == ["c2"]
    assert [c.paths for c in result.changes] == [
        ("spec.state", f"metadata.annotations.{COMMIT_ANNOTATION}")
    ]
    assert result.drift == ()


def test_hand_edit_at_the_applied_commit_is_drift_healed_only_with_self_heal() -> None:
    edited = stamp(env("e1", state="RUNNING"), source="src", commit="c1")
    kept = plan([env("e1")], edited, commit="c1", applied="c1", self_heal=False)
    assert [(d.name, d.message) for d in kept.drift] == [("e1", "spec.state")]
    assert kept.apply == ()
    assert [c.name for c in kept.pending] == ["e1"]
    healed = plan([env("e1")], edited, commit="c1", applied="c1", self_heal=True)
    assert [o.spec.state for o in healed.apply if isinstance(o, Environment)] == ["STANDBY"]
    assert healed.healed == healed.drift
    assert healed.pending == ()


def test_object_owned_by_another_existing_source_is_a_conflict_never_written() -> None:
    theirs = stamp(env("e1"), source="other", commit="x")
    result = plan([env("e1", state="RUNNING")], theirs, sources=("src", "other"))
    assert result.apply == ()
    assert [(c.action, c.message) for c in result.conflicts] == [
        ("conflict", "managed by gitsource/other")
    ]
    assert result.inventory == ()


def test_unlabelled_object_or_one_of_a_deleted_source_is_adopted() -> None:
    by_hand = env("e1")
    orphan = stamp(env("e2"), source="deleted-source", commit="x")
    result = plan([env("e1"), env("e2")], by_hand, orphan)
    assert sorted(o.metadata.name for o in result.apply) == ["e1", "e2"]
    assert all(o.metadata.labels[SOURCE_LABEL] == "src" for o in result.apply)


def test_prune_touches_only_our_inventory_in_reverse_kind_order() -> None:
    ours_env = stamp(env("gone-env"), source="src", commit="c1")
    ours_tc = stamp(taskclass("gone-tc"), source="src", commit="c1")
    taken = stamp(env("taken"), source="other", commit="x")
    never = env("never-in-inventory")
    result = plan(
        [],
        ours_env,
        ours_tc,
        taken,
        never,
        inventory=[("TaskClass", "gone-tc"), ("Environment", "gone-env"), ("Environment", "taken")],
        sources=("src", "other"),
    )
    assert [(p.step, key_of(p.obj)) for p in result.prune] == [
        ("delete", ("Environment", "gone-env")),
        ("delete", ("TaskClass", "gone-tc")),
    ]
    assert result.inventory == ()


def test_prune_disabled_forgets_objects_without_deleting_them() -> None:
    ours = stamp(env("gone"), source="src", commit="c1")
    result = plan([], ours, inventory=[("Environment", "gone")], prune=False)
    assert result.prune == ()
    assert result.inventory == ()


def with_status(obj: Environment, *, state: str) -> Environment:
    status = EnvironmentStatus(state=state, observed_generation=1)
    return obj.model_copy(update={"status": status})


def test_environment_is_pruned_through_done() -> None:
    assert prune_step(env("never-seen")) == "delete"
    assert prune_step(with_status(env("live"), state="RUNNING")) == "finish"
    assert prune_step(with_status(env("live", state="DONE"), state="CONFIGURED")) == "wait"
    assert prune_step(with_status(env("live", state="DONE"), state="DONE")) == "delete"


def test_environment_on_its_way_out_stays_in_inventory_and_pending() -> None:
    running = with_status(stamp(env("e1"), source="src", commit="c1"), state="RUNNING")
    assert isinstance(running, Environment)
    result = plan([], running, inventory=[("Environment", "e1")])
    assert [p.step for p in result.prune] == ["finish"]
    assert [e.name for e in result.inventory] == ["e1"]
    assert [(c.action, c.name) for c in result.pending] == [("prune", "e1")]


def test_environment_health_follows_its_state() -> None:
    base = env("e1", state="RUNNING").model_copy(
        update={"metadata": ObjectMeta(name="e1", generation=1)}
    )
    assert health_of(with_status(base, state="RUNNING")) == "Healthy"
    assert health_of(with_status(base, state="CONFIGURED")) == "Progressing"
    assert health_of(with_status(base, state="ERROR")) == "Degraded"
    assert health_of(base) == "Progressing"  # no controller has seen it
    assert health_of(taskclass("tc")) == "Healthy"
    assert health_of(None) == "Progressing"


def test_health_aggregates_to_the_worst() -> None:
    assert aggregate_health([]) == "Healthy"
    assert aggregate_health(["Healthy", "Progressing"]) == "Progressing"
    assert aggregate_health(["Progressing", "Degraded", "Healthy"]) == "Degraded"
