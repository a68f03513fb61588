"""The owned Task set of an environment: desired vs observed -> create, update, delete. Pure.

- A task is matched to its desired slot by role path (spec.role), so an adopted idle task with
  another environment's name still fills the slot. When the desired name is held by a task of
  someone else (typically one adopted by another environment), the new task's name gets the
  first 8 characters of the environment's uid as a suffix (stable for this environment).
- Replace (delete, then create on a later pass): only when the class or control mode changed.
  Command, resources and constraints are updated in place and apply at the next launch.
- Reconfigure: a task is stale when the properties its process was configured with differ from
  the desired ones: status.configuredProperties when the task controller reports it, else the
  `o2.dev/configured-with` annotation this controller records when it changes the properties of a
  configured task. A stale task whose reconfigure is allowed now is sent to STANDBY (RESET),
  then back to the target (CONFIGURE with the new spec.properties).
- Dropped tasks go to DONE, then are deleted once stopped. At EXIT, reusable tasks are sent to
  STANDBY and released to the idle pool (no owner, no environment, label o2.dev/idle=true and an
  `o2.dev/idle-since` annotation); a new environment adopts an idle task of the same class,
  resolved command and constraints (hence host) instead of creating one.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from controller.environments.expansion import ExpandedTask, Expansion, properties_digest
from controller.environments.idlepool import adoptable, expired_idle, released
from controller.environments.livefields import LIVE_FIELDS as _LIVE_FIELDS
from controller.environments.livefields import live_changes, same_inputs, settle_written
from controller.environments.observed import Observed
from controller.environments.taskstate import ready, stale
from crds.copies import replaced
from crds.kinds.environment import Environment
from crds.kinds.task import TERMINAL_PHASES, Task, TaskSpec
from crds.labels import (
    CONFIGURED_WITH,
    ENV_LABEL,
    IDLE_LABEL,
    IDLE_SINCE,
    KILL_TASK_FINALIZER,
    ROLE_LABEL,
)
from crds.meta import ObjectMeta, OwnerReference
from crds.names import join_label

_ADOPT_FIELDS = ("task_class", "control", "command", "constraints", "bind")
"""What an idle task must share to be adopted; `bind` too: its addresses were allocated at its
launch, for its inbound channels."""
_ALIVE = frozenset({"STANDBY", "CONFIGURED", "RUNNING"})

__all__ = [
    "Changes",
    "TaskSet",
    "configured_digest",
    "drop",
    "expired_idle",
    "live_changes",
    "properties_digest",
    "settle_written",
    "stale",
]


@dataclass
class Changes:
    """Task writes decided by one pass."""

    create: list[Task] = field(default_factory=list)
    update: list[Task] = field(default_factory=list)
    delete: list[Task] = field(default_factory=list)


def of_this_incarnation(env: Environment, tasks: Sequence[Task]) -> list[Task]:
    """`tasks` less those owned by another Environment of the same name: one deleted and
    created again before the garbage collector removed its tasks. Taking them over would drive
    processes that have exited (EXIT) or that the collector is about to kill; the new
    environment creates its own tasks instead (their names get its uid as a suffix while the
    old ones exist)."""
    uid = env.metadata.uid
    if not uid:
        return list(tasks)
    return [t for t in tasks if _not_owned_by_another(t, uid)]


def _not_owned_by_another(task: Task, uid: str) -> bool:
    owners = [r.uid for r in task.metadata.owner_references if r.kind == "Environment"]
    return not owners or uid in owners


@dataclass(frozen=True)
class TaskSet:
    """The desired tasks of `env` next to the observed ones (owned) and the idle pool."""

    env: Environment
    expansion: Expansion
    owned: Sequence[Task]
    idle: Sequence[Task] = ()
    now: datetime | None = None
    taken: Container[str] = frozenset()
    """Names of all existing Tasks (asked about the names of the tasks created): a desired
    name held by another owner gets a suffix."""
    view: Observed | None = None
    """`owned` and `expansion` as kept across passes (synced by the caller): when given, the
    answers below cost the tasks that changed since the last pass, not all of them."""

    @cached_property
    def _mine(self) -> dict[str, Task]:
        if self.view is not None:
            return self.view.mine
        return {t.spec.role: t for t in self.owned if t.spec.environment == self.env.name}

    def by_role(self) -> dict[str, Task]:
        """The owned tasks of this environment by role path (computed once)."""
        return self._mine

    def observed(self, want: ExpandedTask) -> Task | None:
        return self.by_role().get(want.path)

    def changes(self, *, target: str | None, cap: bool, reconfigure_now: bool) -> Changes:
        """Writes that move every task toward `target` (None: keep; cap: RUNNING->CONFIGURED).
        A task settled by an earlier pass with the same inputs (`_update_unless_settled`'s
        memo) is passed over here, without a call per task: the same stored task object meets
        the same branches of `_converge` again."""
        if self.view is not None:
            return self._changes_seen(self.view, target, cap=cap, now_ok=reconfigure_now)
        out = Changes()
        mine = self.by_role()
        names = {t.metadata.name for t in self.owned}
        pool = [t for t in self.idle if adoptable(t)]
        for want in self.expansion.tasks.values():
            have = mine.get(want.path)
            if have is not None:
                if self._settled(have, want, target, cap, reconfigure_now):
                    continue  # as _update_unless_settled finds: nothing to do
                self._converge(have, want, target, cap=cap, now_ok=reconfigure_now, out=out)
            elif target not in (None, "DONE") and want.name not in names:
                out_task = self._adopt(want, target, pool) or self._new(want, target)
                (out.update if out_task.metadata.resource_version else out.create).append(out_task)
        wanted = {w.path for w in self.expansion.tasks.values()}
        for path, have in mine.items():
            if path not in wanted:
                drop(have, out, release=False, now=self.now)
        return out

    def _changes_seen(
        self, view: Observed, target: str | None, *, cap: bool, now_ok: bool
    ) -> Changes:
        """`changes`, for the desired tasks `view` does not know settled with these inputs:
        those without a task, and those whose task or desired task changed since the pass
        that found nothing to change in them."""
        out = Changes()
        pool = [t for t in self.idle if adoptable(t)]
        todo = view.settle_for((target, cap, *self._run_inputs(target, cap)), now_ok=now_ok)
        view.visited += len(todo)
        for path in todo:
            want, have = view.wants[path], view.mine.get(path)
            if have is None:
                if target not in (None, "DONE") and want.name not in view.by_name:
                    task = self._adopt(want, target, pool) or self._new(want, target)
                    if task.metadata.resource_version:
                        out.update.append(task)
                    else:  # made as `_update` leaves it: settled once created (settle_written)
                        out.create.append(task)
                        key = self._key(want, target, cap, now_ok)
                        self.expansion.built[task.metadata.name] = (task.spec, key, want)
                continue
            if self._settled(have, want, target, cap, now_ok):
                view.settled(path, have, want)  # e.g. the echo of this controller's own write
                continue
            before = len(out.update) + len(out.delete)
            self._converge(have, want, target, cap=cap, now_ok=now_ok, out=out)
            if len(out.update) + len(out.delete) == before:
                view.settled(path, have, want)
        for path in list(view.unwanted):
            drop(view.mine[path], out, release=False, now=self.now)
        return out

    def _key(
        self, want: ExpandedTask, target: str | None, cap: bool, now_ok: bool
    ) -> tuple[object, ...]:
        """Everything `_update` reads besides the task: the settle memo's key."""
        run, args = self._run_inputs(target, cap)
        return (want.spec, want.digest, want.unwired, target, cap, now_ok, run, args)

    def _run_inputs(self, target: str | None, cap: bool) -> tuple[object, object]:
        """The run number and START arguments, where `_update` may read them: only a task
        left RUNNING or sent there (target None or RUNNING, no cap) is given them; toward
        another target they are no input (the run number's end at STOP changes no key)."""
        if cap or target not in (None, "RUNNING"):
            return None, None
        return self.env.status.run_number, self.expansion.start_arguments

    def _settled(
        self, have: Task, want: ExpandedTask, target: str | None, cap: bool, now_ok: bool
    ) -> bool:
        """Whether `expansion.settled` knows `have` needs nothing with these inputs: a pass
        found nothing to change in this very object, or this controller wrote it (the object
        the store returned for the spec built here: `settle_written`), or it is a later object
        of one of those with the same inputs (a status write), or a copy of the same version."""
        memo = self.expansion.settled.get(have.metadata.name)
        if memo is None:
            return False
        token = memo[0]
        if token is have:
            return memo[1] == self._key(want, target, cap, now_ok)
        version = have.metadata.resource_version
        if memo[2] and token.metadata.resource_version == version and token.spec is not have.spec:
            # Another copy of this controller's write (decoded again: the same stored version).
            # Its live fields are the desired ones, known for its spec object from now on.
            if memo[1] != self._key(want, target, cap, now_ok):
                return False
            self.expansion.live_diffs[want.name] = (have.spec, want.spec, {})
        elif not same_inputs(token, have) or memo[1] != self._key(want, target, cap, now_ok):
            return False  # a write since changed an input (a status write keeps the spec)
        self.expansion.settled[have.metadata.name] = (have, memo[1], False)
        return True

    def _converge(
        self,
        have: Task,
        want: ExpandedTask,
        target: str | None,
        *,
        cap: bool,
        now_ok: bool,
        out: Changes,
    ) -> None:
        if have.spec.task_class != want.spec.task_class or have.spec.control != want.spec.control:
            out.delete.append(have)
        elif target == "DONE":
            drop(have, out, release=have.spec.reusable, now=self.now)
        elif have.spec.state == "DONE":
            # Dropped, then wanted again before it was gone: its process exits (or has
            # exited) and cannot come back; a new task takes the slot once it is deleted.
            if have.metadata.deletion_timestamp is None:
                out.delete.append(have)
        elif target == "STANDBY" and have.status.phase in TERMINAL_PHASES:
            out.delete.append(have)  # RECOVER and DEPLOY replace dead processes
        else:
            self._update_unless_settled(have, want, target, cap=cap, now_ok=now_ok, out=out)

    def _update_unless_settled(
        self,
        have: Task,
        want: ExpandedTask,
        target: str | None,
        *,
        cap: bool,
        now_ok: bool,
        out: Changes,
    ) -> None:
        """`_update`, skipped when the same stored task (object) met the same desired spec,
        digest, wiring, target, run and START arguments last time and needed nothing:
        everything `_update` reads is in that key. An update it builds is kept in
        `expansion.built` with the key: once written, the stored task needs nothing more
        with the same inputs (`settle_written`). Both callers asked `_settled` already."""
        key = self._key(want, target, cap, now_ok)
        before = len(out.update)
        self._update(have, want, target, cap=cap, now_ok=now_ok, out=out)
        if len(out.update) == before:
            self.expansion.settled[have.name] = (have, key, False)
        else:
            self.expansion.settled.pop(have.name, None)
            self.expansion.built[have.name] = (out.update[-1].spec, key, want)

    def _update(
        self,
        have: Task,
        want: ExpandedTask,
        target: str | None,
        *,
        cap: bool,
        now_ok: bool,
        out: Changes,
    ) -> None:
        notes = _track_configured(have, want)
        tracked = have
        if notes is not None:
            tracked = replaced(have, {"metadata": replaced(have.metadata, {"annotations": notes})})
        state: str = have.spec.state
        if cap:
            state = "CONFIGURED" if state == "RUNNING" else state
        elif target is not None:
            state = _with_reconfigure(tracked, want, target, reconfigure_now=now_ok)
            if have.status.state not in ("CONFIGURED", "RUNNING"):
                state = _held(state, want)
        run = self.env.status.run_number if state == "RUNNING" else have.spec.run_number
        starting = state == "RUNNING" and (have.spec.state != state or run != have.spec.run_number)
        args = self._start_arguments if starting else have.spec.start_arguments
        changes = live_changes(self.expansion, have.spec, want)
        if args != have.spec.start_arguments:
            changes = {**changes, "start_arguments": args}
        if state != have.spec.state or run != have.spec.run_number or changes:
            # built once, unvalidated: every value is a validated spec's or a state name
            spec = replaced(have.spec, {**changes, "state": state, "run_number": run})
            out.update.append(replaced(tracked, {"spec": spec}))
        elif tracked is not have:
            out.update.append(tracked)

    def _new(self, want: ExpandedTask, target: str) -> Task:
        """A Task created with the task controller's kill finalizer already on: the create txn
        writes it, so the task controller needs no second write before launching it."""
        name = want.name
        if name in self.taken:  # e.g. adopted by another environment from an earlier one
            name = join_label(name, self.env.metadata.uid[:8] or "new")
        meta = ObjectMeta(
            name=name,
            labels={ENV_LABEL: self.env.name, ROLE_LABEL: want.path},
            owner_references=(self._owner,),
            finalizers=(KILL_TASK_FINALIZER,),
        )
        spec = self._spec(want, want.spec, target)
        made = self._made
        if made:  # as validating Task(...) again: only metadata and spec differ
            return replaced(made[0], {"metadata": meta, "spec": spec})
        made.append(Task(metadata=meta, spec=spec))
        return made[0]

    @cached_property
    def _made(self) -> list[Task]:
        """The first Task `_new` made in this pass, validated: the others are its copies with
        their own metadata and spec (and its default status, which frozen models may share)."""
        return []

    def _adopt(self, want: ExpandedTask, target: str, pool: list[Task]) -> Task | None:
        for index, idle in enumerate(pool):
            if all(getattr(idle.spec, f) == getattr(want.spec, f) for f in _ADOPT_FIELDS):
                del pool[index]
                labels = {k: v for k, v in idle.metadata.labels.items() if k != IDLE_LABEL}
                notes = {k: v for k, v in idle.metadata.annotations.items() if k != IDLE_SINCE}
                meta = idle.metadata.model_copy(
                    update={
                        "labels": {**labels, ENV_LABEL: self.env.name, ROLE_LABEL: want.path},
                        "annotations": notes,
                        "owner_references": (self._owner,),
                    }
                )
                spec = self._spec(want, idle.spec, target)
                return idle.model_copy(update={"metadata": meta, "spec": spec})
        return None

    def _spec(self, want: ExpandedTask, base: TaskSpec, target: str) -> TaskSpec:
        """`base` with the desired live fields, state and run (unvalidated, as model_copy
        copies: every value is a validated spec's, the environment's name or a state)."""
        target = _held(target, want)
        run = self.env.status.run_number if target == "RUNNING" else None
        changes: dict[str, object] = {f: getattr(want.spec, f) for f in _LIVE_FIELDS}
        changes["start_arguments"] = self._start_arguments if target == "RUNNING" else {}
        changes.update(environment=self.env.name, state=target, run_number=run)
        return replaced(base, changes)

    @cached_property
    def _start_arguments(self) -> dict[str, str]:
        """What tasks receive at START besides the run number (the expansion's, by value: one
        copy per pass, which the specs it builds share, as frozen models share values)."""
        return dict(self.expansion.start_arguments)

    @cached_property
    def _owner(self) -> OwnerReference:
        """The environment as the owner of its tasks (one object per pass, which they share)."""
        return OwnerReference(
            kind="Environment",
            name=self.env.name,
            uid=self.env.metadata.uid,
            controller=True,
            block_owner_deletion=True,
        )

    def critical_failure(self) -> str:
        """Why a critical task failed ("" when none did)."""
        mine = self.by_role()
        wants: Iterable[ExpandedTask] = self.expansion.tasks.values()
        if self.view is not None:
            failing = self.view.in_order(self.view.failing)
            wants = [self.view.wants[p] for p in failing[:1]]
        for want in wants:
            have = mine.get(want.path)
            if have is None or not want.spec.critical or have.spec.state == "DONE":
                continue
            if have.status.state == "ERROR" or have.status.phase in TERMINAL_PHASES:
                why = have.status.message or have.status.reason or have.status.phase
                what = have.status.state or have.status.phase
                return f"critical task {have.name} ({want.path}) is {what}: {why}"
        return ""

    def safe_to_stop(self) -> bool:
        """AliECS's IsSafeToStop, when a basic task's end asks for it: every task is RUNNING,
        and every basic task's process has ended (status.terminated); there is one at least."""
        if self.view is not None and not self.view.basic:
            return False  # no basic task: no look at every task of each steady pass
        mine = self.by_role()
        basic = False
        for want in self.expansion.tasks.values():
            have = mine.get(want.path)
            if have is None or have.status.phase != "Running" or have.status.state != "RUNNING":
                return False
            if want.spec.control == "basic":
                basic = True
                if not have.status.terminated:
                    return False
        return basic

    def configured_at(self, state: str) -> bool:
        """Every live owned task of a desired one is at `state` with its desired properties."""
        if self.view is not None:
            return self.view.configured_at(state)
        for want in self.expansion.tasks.values():
            have = self.observed(want)
            if have is None or have.status.phase in TERMINAL_PHASES:
                continue
            if have.status.state != state or stale(have, want):
                return False
        return True

    def unwired(self) -> list[str]:
        """`<task>: why` for each desired task whose channels cannot be resolved yet."""
        if self.view is not None:
            wants = [self.view.wants[p] for p in self.view.in_order(self.view.unwired)]
            return [f"{w.name}: {w.unwired}" for w in wants]
        return [f"{w.name}: {w.unwired}" for w in self.expansion.tasks.values() if w.unwired]

    def waiting(self, target: str, *, first: int) -> tuple[int, list[str]]:
        """How many tasks a transition to `target` still waits for, and the names of the
        `first` of them (`not_ready`, counting only the changed tasks with a view)."""
        if self.view is None or target == "DONE":
            names = self.not_ready(target)
            return len(names), names[:first]
        return self.view.not_ready(target, first)

    def not_ready(self, target: str) -> list[str]:
        """Names of the tasks a transition to `target` still waits for."""
        mine = self.by_role()
        if target == "DONE":
            return [t.name for t in mine.values()]
        waiting = []
        for want in self.expansion.tasks.values():
            have = mine.get(want.path)
            if want.spec.critical and not ready(have, want, target):
                waiting.append(have.name if have is not None else want.name)
        return waiting


def _held(state: str, want: ExpandedTask) -> str:
    """STANDBY instead of a configured state while the task's channels are unresolved: a
    process configured without its peers' addresses could not move data."""
    return "STANDBY" if want.unwired and state in ("CONFIGURED", "RUNNING") else state


def _with_reconfigure(have: Task, want: ExpandedTask, target: str, *, reconfigure_now: bool) -> str:
    """`target`, or STANDBY while a reconfigure (RESET, then CONFIGURE) is due and allowed."""
    if target not in ("CONFIGURED", "RUNNING") or not stale(have, want):
        return target
    if have.status.state not in ("CONFIGURED", "RUNNING") or not reconfigure_now:
        return target
    return "STANDBY"


def configured_digest(task: Task) -> str:
    """The digest of the properties the process was configured with, best known: what the task
    controller reported, else what this controller recorded before changing them, else the
    current spec.properties."""
    if task.status.configured_properties is not None:
        return task.status.configured_properties
    recorded = task.metadata.annotations.get(CONFIGURED_WITH)
    return recorded if recorded is not None else properties_digest(task.spec.properties)


def _track_configured(have: Task, want: ExpandedTask) -> dict[str, str] | None:
    """The task's annotations, with CONFIGURED_WITH recorded before its properties change while
    it is configured, and dropped once it is not configured any more (its next CONFIGURE uses
    spec.properties); None when they stay as they are (the common case: no copy). Not needed
    when the task controller reports configuredProperties."""
    notes = have.metadata.annotations
    recorded = CONFIGURED_WITH in notes
    configured = have.status.state in ("CONFIGURED", "RUNNING")
    if have.status.configured_properties is None and configured:
        if recorded or have.spec.properties == want.spec.properties:
            return None
        return {**notes, CONFIGURED_WITH: properties_digest(have.spec.properties)}
    if not recorded:
        return None
    return {k: v for k, v in notes.items() if k != CONFIGURED_WITH}


def drop(have: Task, out: Changes, *, release: bool, now: datetime | None = None) -> None:
    """Stop a task that is no longer wanted, then delete it (or release it to the idle pool)."""
    alive = have.status.phase not in TERMINAL_PHASES and have.status.state in _ALIVE
    if release and alive:
        if have.status.state == "STANDBY":
            out.update.append(released(have, now=now))
        elif have.spec.state != "STANDBY":
            out.update.append(_with_state(have, "STANDBY"))
    elif alive and have.spec.state != "DONE":
        out.update.append(_with_state(have, "DONE"))
    elif not alive or have.status.state == "DONE":
        out.delete.append(have)


def _with_state(task: Task, state: str) -> Task:
    return replaced(task, {"spec": replaced(task.spec, {"state": state})})
