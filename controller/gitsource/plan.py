"""GitSource sync planning: desired objects + inventory + live objects -> actions. Pure.

Rules (the controller only carries them out):
- Every desired object gets the `o2.dev/gitsource: <source>` label and the `o2.dev/commit`
  annotation. The annotation names the commit the object's content was last applied from: an
  object a new commit does not change keeps its old annotation, so a commit touching one file
  writes one object, not all of them.
- A live object labelled with another GitSource that exists is that source's: it is a conflict
  here and is never written (the first owner keeps it, nothing flaps). An unlabelled object, or
  one whose owning GitSource is gone, is adopted.
- At the commit already applied, a difference is drift (a hand edit): restored when selfHeal,
  else only reported. At a new commit the whole commit is applied.
- Prune touches only inventory entries that left the source and still carry our label. An
  Environment is pruned in two steps: spec.state is set to DONE, and it is deleted once its
  status.state is DONE, or at once when it has no status (no environment controller has seen it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from crds.conditions import get_condition
from crds.kinds.environment import Environment
from crds.kinds.gitsource import (
    DriftEntry,
    HealthState,
    InventoryEntry,
    PendingChange,
)
from crds.labels import APPLIED_PREFIX, COMMIT_ANNOTATION, SOURCE_LABEL
from crds.resource import Resource, apply_rank
from store.apply import applied_onto

R = TypeVar("R", bound=Resource)
ObjKey = tuple[str, str]
"""(kind, name)."""

TEMPLATE_KINDS = frozenset({"TaskClass", "Workflow", "ComponentConfig"})
"""Kinds no controller reconciles: healthy as soon as they exist."""
DONE = "DONE"


def kind_rank(kind: str) -> int:
    """Apply order, dependencies first (as `o2 apply`); prune runs in reverse."""
    return apply_rank(kind)


def key_of(obj: Resource) -> ObjKey:
    return (obj.kind, obj.metadata.name)


PruneStep = Literal["delete", "finish", "wait"]


@dataclass(frozen=True)
class Prune:
    """An inventory object that left the source: delete it, finish it (Environment), or wait."""

    step: PruneStep
    obj: Resource


@dataclass(frozen=True)
class Plan:
    apply: tuple[Resource, ...] = ()
    """Objects to create or update, stamped, in apply order."""
    prune: tuple[Prune, ...] = ()
    """Objects leaving, in prune (reverse) order."""
    changes: tuple[PendingChange, ...] = ()
    """Every difference between the source and etcd, whether acted on or not."""
    drift: tuple[DriftEntry, ...] = ()
    """Managed objects changed by hand at the applied commit."""
    conflicts: tuple[PendingChange, ...] = ()
    """Desired objects owned by another GitSource."""
    inventory: tuple[InventoryEntry, ...] = ()
    """What this source manages after the plan is carried out."""
    pending: tuple[PendingChange, ...] = ()
    """What stays different once the plan is carried out: conflicts, unhealed drift, and
    Environments on their way out."""
    healed: tuple[DriftEntry, ...] = ()
    """The drift entries that `apply` restores."""
    unchanged: int = 0
    creates: int = 0
    updates: int = 0


def stamp(obj: R, *, source: str, commit: str) -> R:
    """`obj` with the source label and the commit annotation."""
    meta = obj.metadata.model_copy(
        update={
            "labels": {**obj.metadata.labels, SOURCE_LABEL: source},
            "annotations": {**obj.metadata.annotations, COMMIT_ANNOTATION: commit},
        }
    )
    return obj.model_copy(update={"metadata": meta})


def source_manager(source: str) -> str:
    """The field manager a GitSource applies as (crds.ownership)."""
    return f"gitsource.{source}"


def owned_apply(current: R, manifest: R) -> R:
    """What applying `manifest` writes over `current`, as its GitSource (owner label): only
    the fields git names change, so a field another writer set that git does not name (the
    state `o2 stop` asked for, a label `o2 label` added) is neither drift nor reverted."""
    source = manifest.metadata.labels.get(SOURCE_LABEL, "")
    return applied_onto(current, manifest, manager=source_manager(source), policy="force")


def diff_paths(live: Resource, desired: Resource) -> tuple[str, ...]:
    """Wire paths of spec, labels and annotations that differ (what apply would write)."""
    paths: list[str] = []
    _walk("spec", _wire(live.spec), _wire(desired.spec), paths)
    for name, lv, dv in (
        ("labels", live.metadata.labels, desired.metadata.labels),
        ("annotations", live.metadata.annotations, desired.metadata.annotations),
    ):
        paths.extend(
            f"metadata.{name}.{k}"
            for k in sorted(set(lv) | set(dv))
            if lv.get(k) != dv.get(k) and not k.startswith(APPLIED_PREFIX)
        )
    return tuple(paths)


def _wire(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _walk(path: str, old: Any, new: Any, out: list[str]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            _walk(f"{path}.{k}", old.get(k), new.get(k), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (o, n) in enumerate(zip(old, new, strict=True)):
            _walk(f"{path}[{i}]", o, n, out)
        return
    out.append(path)


def owner_of(obj: Resource) -> str | None:
    return obj.metadata.labels.get(SOURCE_LABEL)


def plan_sync(
    desired: Sequence[Resource],
    *,
    source: str,
    commit: str,
    applied_commit: str | None,
    inventory: Iterable[InventoryEntry],
    live: Mapping[ObjKey, Resource],
    sources: Collection[str],
    self_heal: bool,
    prune: bool,
) -> Plan:
    """What to do so etcd equals `desired` at `commit`, for GitSource `source`."""
    b = _Builder()
    same_commit = applied_commit == commit
    for obj in sorted(desired, key=lambda o: kind_rank(o.kind)):
        b.desired(
            obj,
            live.get(key_of(obj)),
            source=source,
            commit=commit,
            sources=sources,
            same_commit=same_commit,
            self_heal=self_heal,
        )
    wanted = {key_of(o) for o in desired}
    leaving = [e for e in inventory if (e.kind, e.name) not in wanted]
    for entry in sorted(leaving, key=lambda e: (-kind_rank(e.kind), e.name)):
        b.leaving(entry, live.get((entry.kind, entry.name)), source=source, prune=prune)
    return b.build()


@dataclass
class _Builder:
    apply: list[Resource] = field(default_factory=list)
    prune: list[Prune] = field(default_factory=list)
    changes: list[PendingChange] = field(default_factory=list)
    drift: list[DriftEntry] = field(default_factory=list)
    healed: list[DriftEntry] = field(default_factory=list)
    conflicts: list[PendingChange] = field(default_factory=list)
    pending: list[PendingChange] = field(default_factory=list)
    inventory: list[InventoryEntry] = field(default_factory=list)
    unchanged: int = 0
    creates: int = 0
    updates: int = 0

    def desired(
        self,
        obj: Resource,
        current: Resource | None,
        *,
        source: str,
        commit: str,
        sources: Collection[str],
        same_commit: bool,
        self_heal: bool,
    ) -> None:
        kind, name = key_of(obj)
        owner = owner_of(current) if current is not None else None
        if current is not None and owner not in (None, source) and owner in sources:
            change = PendingChange(
                action="conflict", kind=kind, name=name, message=f"managed by gitsource/{owner}"
            )
            self.conflicts.append(change)
            self.changes.append(change)
            self.pending.append(change)
            return
        self.inventory.append(InventoryEntry(kind=kind, name=name))
        if current is None:
            self._change(
                stamp(obj, source=source, commit=commit), "create", (), same_commit, self_heal
            )
            return
        kept = current.metadata.annotations.get(COMMIT_ANNOTATION, commit)
        paths = diff_paths(current, owned_apply(current, stamp(obj, source=source, commit=kept)))
        if not paths:
            self.unchanged += 1
            return
        target = stamp(obj, source=source, commit=commit)
        paths = diff_paths(current, owned_apply(current, target))
        self._change(target, "configure", paths, same_commit, self_heal)

    def _change(
        self,
        target: Resource,
        action: Literal["create", "configure"],
        paths: tuple[str, ...],
        same_commit: bool,
        self_heal: bool,
    ) -> None:
        kind, name = key_of(target)
        change = PendingChange(action=action, kind=kind, name=name, paths=paths)
        self.changes.append(change)
        if same_commit:
            what = "deleted" if action == "create" else ", ".join(paths)
            entry = DriftEntry(kind=kind, name=name, message=what)
            self.drift.append(entry)
            if not self_heal:
                self.pending.append(change)
                return
            self.healed.append(entry)
        self.apply.append(target)
        if action == "create":
            self.creates += 1
        else:
            self.updates += 1

    def leaving(
        self, entry: InventoryEntry, current: Resource | None, *, source: str, prune: bool
    ) -> None:
        if current is None or owner_of(current) != source or not prune:
            return  # gone, taken over by someone else, or kept on purpose: forget it
        change = PendingChange(action="prune", kind=entry.kind, name=entry.name)
        self.changes.append(change)
        step = prune_step(current)
        self.prune.append(Prune(step=step, obj=current))
        if step != "delete":
            self.inventory.append(entry)
            self.pending.append(change)

    def build(self) -> Plan:
        return Plan(
            apply=tuple(self.apply),
            prune=tuple(self.prune),
            changes=tuple(self.changes),
            drift=tuple(self.drift),
            conflicts=tuple(self.conflicts),
            inventory=tuple(sorted(self.inventory, key=lambda e: (kind_rank(e.kind), e.name))),
            pending=tuple(self.pending),
            unchanged=self.unchanged,
            creates=self.creates,
            updates=self.updates,
            healed=tuple(self.healed),
        )


def prune_step(obj: Resource) -> PruneStep:
    """delete, or for an Environment still alive: finish (spec.state DONE) then wait for it."""
    if obj.metadata.deletion_timestamp is not None:
        return "wait"  # finalizers are running; it disappears by itself
    if not isinstance(obj, Environment) or not has_status(obj) or obj.status.state == DONE:
        return "delete"
    return "wait" if obj.spec.state == DONE else "finish"


def has_status(obj: Resource) -> bool:
    """Whether any controller has written this object's status."""
    return obj.status.observed_generation > 0 or bool(obj.status.conditions)


def health_of(obj: Resource | None) -> HealthState:
    """kstatus-style health of one managed object (missing from the cache: Progressing)."""
    if obj is None:
        return "Progressing"
    if isinstance(obj, Environment):
        return _environment_health(obj)
    conds = obj.status.conditions
    stalled = get_condition(conds, "Stalled")
    ready = get_condition(conds, "Ready")
    if stalled is not None and stalled.status == "True":
        return "Degraded"
    if ready is not None:
        current = ready.observed_generation >= obj.metadata.generation
        return "Healthy" if ready.status == "True" and current else "Progressing"
    if obj.kind in TEMPLATE_KINDS or has_status(obj):
        return "Healthy"
    return "Progressing"


def _environment_health(env: Environment) -> HealthState:
    if env.status.state == "ERROR":
        return "Degraded"
    if env.status.observed_generation < env.metadata.generation:
        return "Progressing"
    return "Healthy" if env.status.state == env.spec.state else "Progressing"


def aggregate_health(states: Iterable[HealthState]) -> HealthState:
    """Degraded if any is, else Progressing if any is, else Healthy."""
    seen = set(states)
    for worst in ("Degraded", "Progressing"):
        if worst in seen:
            return worst
    return "Healthy"


def settle(plan: Plan, untouched: Collection[ObjKey]) -> Plan:
    """The plan without objects a live re-read found already equal (the cache lagged), so
    they are reported neither as drift nor as changes."""
    if not untouched:
        return plan
    gone = set(untouched)

    def keep(kind: str, name: str) -> bool:
        return (kind, name) not in gone

    return replace(
        plan,
        apply=tuple(o for o in plan.apply if keep(*key_of(o))),
        changes=tuple(
            c
            for c in plan.changes
            if c.action not in {"create", "configure"} or keep(c.kind, c.name)
        ),
        drift=tuple(d for d in plan.drift if keep(d.kind, d.name)),
        healed=tuple(d for d in plan.healed if keep(d.kind, d.name)),
        unchanged=plan.unchanged + len(gone),
    )
