"""What a plan reads of an environment's tasks, kept up to date across passes. Pure.

A transition over 10,000 tasks is planned tens of times while it waits for them, and between
two passes few tasks change. `Observed` lives on an expansion (the controller keeps one per
environment while its inputs are the same) and remembers the task objects the last pass saw
(informer objects: a write replaces a task's object, never changes it). A pass compares the
objects by identity (in C: set operations on their ids) and does per-task work only for the
tasks whose object changed, or whose desired task did: the counts by state and by role, the
tasks by role path, the critical failures, the tasks a transition waits for, and the tasks the
last pass found nothing to change in (`TaskSet.changes` passes over them while the target,
run and reconfigure rule stay the same).

A new expansion starts a new `Observed` (a full walk); so do another environment, a role
held by two tasks (ambiguous: the full computation decides as before, in list order), and
every FULL_EVERY passes, a bound on how long any mistake in this bookkeeping could last.
"""

from __future__ import annotations

import heapq
import operator
from collections import Counter
from collections.abc import Sequence
from itertools import compress
from typing import TYPE_CHECKING

from controller.environments.taskstate import failed, off, ready, same_facts, stale, task_state
from crds.kinds.task import Task

if TYPE_CHECKING:
    from controller.environments.expansion import ExpandedTask, Expansion

FULL_EVERY = 64
"""Passes after which the view is rebuilt from scratch (a safety net)."""
_CONFIGURED = frozenset({"CONFIGURED", "RUNNING"})
ROLE_SUMMARY_LIMIT = 200
"""Above this many task role paths, status.roles is summarized per unexpanded path."""

__all__ = ["FULL_EVERY", "ROLE_SUMMARY_LIMIT", "Observed"]


class Observed:
    """An environment's tasks as the last pass saw them, and what a plan derives from them."""

    def __init__(self) -> None:
        self.visited = 0
        """Tasks (desired or observed) the last sync looked at one by one: the work a pass
        costs beyond comparing object identities."""
        self.passes = 0
        self._reset(("", ""))

    def _reset(self, owner: tuple[str, str]) -> None:
        self._owner = owner
        self._seen: Sequence[Task] = ()
        self.by_name: dict[str, Task] = {}
        """The tasks of this incarnation (see taskset.of_this_incarnation), by name."""
        self.mine: dict[str, Task] = {}
        """Those whose spec.environment is this environment's, by role path."""
        self._roles: Counter[str] = Counter()
        self._dups = 0
        self.counts: Counter[str] = Counter()
        self._want_ids: dict[int, ExpandedTask] = {}
        self.wants: dict[str, ExpandedTask] = {}
        """The desired tasks by role path (as wired this pass)."""
        self.order: dict[str, int] = {}
        self._group: dict[str, str] = {}
        """Role path -> its unexpanded path, when there are more than ROLE_SUMMARY_LIMIT."""
        self.groups: dict[str, Counter[str]] = {}
        """Unexpanded path -> task counts by state (with `_group` only)."""
        self.extra_roles = 0
        """Tasks whose role no desired task has (being dropped)."""
        self._dirty: set[str] = set()
        self.failing: set[str] = set()
        self.waiting: set[int] = set()
        """Indices (in `order`) of the desired tasks a transition to `waiting_for` waits for."""
        self._paths: list[str] = []
        self.waiting_for: str | None = None
        self.unsettled: set[str] = set()
        """Role paths whose (task, desired task) may need a change at `settled_key`: all but
        those a pass with these inputs found nothing to change in since they last changed."""
        self.settled_key: tuple[object, ...] | None = None
        self.settled_now: bool | None = None
        self.now_sensitive: set[str] = set()
        """Role paths settled while stale: the only ones whose writes depend on whether a
        reconfigure is allowed now (the `now_ok` input of `settle_for`)."""
        self.unwanted: set[str] = set()
        """Role paths of this environment's tasks that no desired task has."""
        self.unwired: set[str] = set()
        """Role paths of the desired tasks whose channels cannot be resolved yet."""
        self.basic: set[str] = set()
        """Role paths of the desired `basic` tasks (safe_to_stop needs one)."""
        self.critical: set[int] = set()
        """Indices (in `order`) of the desired critical tasks (those a transition waits for)."""
        self.loose: set[str] = set()
        """Role paths of the desired tasks that are not critical."""
        self.off_for: str | None = None
        self.off: set[str] = set()
        """Role paths whose live task is not at `off_for` with its desired properties."""
        self._wants_seen: object = None
        self.passes = 0

    # ---- sync ----------------------------------------------------------------------------------

    def sync_tasks(self, uid: str, name: str, tasks: Sequence[Task]) -> list[Task] | None:
        """Take this pass's tasks; their incarnation's ones, or None when a role is held by two
        (the caller computes everything from `tasks` then)."""
        self.passes += 1
        if (uid, name) != self._owner or self.passes > FULL_EVERY or self._dups:
            self._reset((uid, name))
            self.passes = 1
        self.visited = 0
        gone, new = _changed(self._seen, tasks)
        if len(gone) == len(new):  # in place: the old and new object of each task, paired
            left = [not swapped for swapped in map(self._swap, gone, new)]
            gone, new = list(compress(gone, left)), list(compress(new, left))
        for task in gone:
            self._forget(task)
        for task in new:
            self._learn(task)
        self._seen = list(tasks)  # the caller may change its list
        if self._dups:
            return None
        return list(self.by_name.values())

    def sync_wants(self, expansion: Expansion) -> None:
        """Take this pass's desired tasks (wired), then refresh what depends on changed pairs."""
        if expansion.tasks is not self._wants_seen:  # wiring copies the tasks
            self._wants_seen = expansion.tasks
            wants = list(expansion.tasks.values())
            if not self.order:
                self._first(wants)
            current = dict(zip(map(id, wants), wants, strict=True))
            for new in current.keys() - self._want_ids.keys():
                want = current[new]
                self.wants[want.path] = want
                self._dirty.add(want.path)
                if want.unwired:
                    self.unwired.add(want.path)
                else:
                    self.unwired.discard(want.path)
                if want.spec.control == "basic":
                    self.basic.add(want.path)
                else:
                    self.basic.discard(want.path)
                if want.spec.critical:
                    self.critical.add(self.order[want.path])
                    self.loose.discard(want.path)
                else:
                    self.critical.discard(self.order[want.path])
                    self.loose.add(want.path)
            self._want_ids = current
        for path in self._dirty:
            self._refresh(path)
        self._dirty.clear()

    def _first(self, wants: Sequence[ExpandedTask]) -> None:
        self.order = {w.path: i for i, w in enumerate(wants)}
        self._paths = [w.path for w in wants]
        self.unwanted = set(self.mine.keys() - self.order.keys())
        if len(wants) > ROLE_SUMMARY_LIMIT:
            self._group = {w.path: w.template or w.path for w in wants}
            self._regroup()

    def _regroup(self) -> None:
        self.groups = {g: Counter() for g in dict.fromkeys(self._group.values())}
        self.extra_roles = 0
        for task in self.by_name.values():
            self._count_group(task, 1)

    def _count_group(self, task: Task, delta: int) -> None:
        if not self._group:
            return
        group = self._group.get(task.spec.role)
        if group is None:
            self.extra_roles += delta
        else:
            self.groups[group][task_state(task)] += delta

    def _learn(self, task: Task) -> None:
        uid = self._owner[0]
        if uid and not _not_owned_by_another(task, uid):
            return
        self.visited += 1
        self.by_name[task.name] = task
        self.counts[task_state(task)] += 1
        self._count_group(task, 1)
        if task.spec.environment != self._owner[1]:
            return
        role = task.spec.role
        self._roles[role] += 1
        if self._roles[role] > 1:
            self._dups += 1
        self.mine[role] = task
        self._dirty.add(role)
        if self.order and role not in self.order:
            self.unwanted.add(role)

    def _swap(self, old: Task, new: Task) -> bool:
        """A task's object replaced by a write that leaves it where it was in this view (same
        name, owners, environment and role: every status write, a spec write that changes none
        of those): its counts move, it is marked changed; `_forget` then `_learn` otherwise.
        Returns whether it did (False: nothing done).

        A spec write that keeps the status object (the store's merge of this controller's
        write, which the informer hands on as its echo) and what the facts read (same_facts)
        is only left for the settle check: nothing `_refresh` derives moved (a transition over
        10,000 tasks refreshed each task for its spec echo)."""
        name = old.metadata.name
        if new.metadata.name != name or self.by_name.get(name) is not old:
            return False
        owners, spec, fresh = old.metadata.owner_references, old.spec, new.spec
        theirs = new.metadata.owner_references
        if theirs is not owners and theirs != owners:
            return False
        if fresh is not spec and (fresh.environment != spec.environment or fresh.role != spec.role):
            return False
        mine = spec.environment == self._owner[1]
        if mine and self.mine.get(spec.role) is not old:
            return False
        self.visited += 1
        self.by_name[name] = new
        before = after = ""
        if new.status is not old.status:
            before, after = task_state(old), task_state(new)
        if before != after:
            self.counts[before] -= 1
            self.counts[after] += 1
            group = self._group.get(spec.role) if self._group else None
            if group is not None:  # else counted in extra_roles either way
                self.groups[group][before] -= 1
                self.groups[group][after] += 1
        if mine:
            self.mine[spec.role] = new
            (self.unsettled if same_facts(old, new) else self._dirty).add(spec.role)
        return True

    def _forget(self, task: Task) -> None:
        if self.by_name.get(task.name) is not task:
            return  # another incarnation's
        self.visited += 1
        del self.by_name[task.name]
        self.counts[task_state(task)] -= 1
        self._count_group(task, -1)
        if task.spec.environment != self._owner[1]:
            return
        role = task.spec.role
        self._roles[role] -= 1
        if self.mine.get(role) is task:
            del self.mine[role]
            self.unwanted.discard(role)
        self._dirty.add(role)

    def _refresh(self, path: str) -> None:
        """Re-derive the facts of the desired task at `path` and its task."""
        want = self.wants.get(path)
        if want is None:
            return
        self.visited += 1
        self.unsettled.add(path)
        have = self.mine.get(path)
        if have is not None and want.spec.critical and failed(have):
            self.failing.add(path)
        else:
            self.failing.discard(path)
        target = self.waiting_for
        if target is not None and want.spec.critical and not ready(have, want, target):
            self.waiting.add(self.order[path])
        else:
            self.waiting.discard(self.order[path])
        if self.off_for is not None and off(have, want, self.off_for):
            self.off.add(path)
        else:
            self.off.discard(path)

    # ---- reads ---------------------------------------------------------------------------------

    def in_order(self, paths: set[str]) -> list[str]:
        """`paths` in the expansion's order: the order filtered (in C) when they are many
        (every path, at the first pass of a transition), else sorted."""
        if len(paths) * 16 > len(self._paths):
            return list(filter(paths.__contains__, self._paths))
        return sorted(paths, key=self.order.__getitem__)

    def settle_for(self, key: tuple[object, ...], *, now_ok: bool) -> list[str]:
        """The role paths to look at in a pass with inputs `key` and `now_ok`, in order: all
        of them when `key` changed; when only `now_ok` did (a transition into RUNNING ends,
        and with it the leave to reconfigure at once), those settled while stale."""
        if key != self.settled_key:
            self.settled_key, self.settled_now = key, now_ok
            self.unsettled = set(self.order)
            self.now_sensitive.clear()
        elif now_ok != self.settled_now:
            self.settled_now = now_ok
            self.unsettled |= self.now_sensitive
        return self.in_order(self.unsettled)

    def settled(self, path: str, have: Task, want: ExpandedTask) -> None:
        """`path` needs nothing at the current inputs (noted stale: see `now_sensitive`)."""
        self.unsettled.discard(path)
        if stale(have, want):
            self.now_sensitive.add(path)
        else:
            self.now_sensitive.discard(path)

    def not_ready(self, target: str, first: int) -> tuple[int, list[str]]:
        """How many tasks a transition to `target` (not DONE) waits for, and the names of the
        `first` of them in order."""
        if target != self.waiting_for:
            self.waiting = self._waiting_toward(target)
            self.waiting_for = target
        out = []
        for path in map(self._paths.__getitem__, heapq.nsmallest(first, self.waiting)):
            have = self.mine.get(path)
            out.append(have.name if have is not None else self.wants[path].name)
        return len(self.waiting), out

    def _waiting_toward(self, target: str) -> set[int]:
        """The critical tasks not ready for `target`. Another transition's target before: the
        tasks ready for it are at its state, so not at `target`: only those it waited for are
        looked at (a transition over 10,000 tasks started with a look at every one)."""
        before = self.waiting_for
        if before is None or before == "DONE":
            return {
                self.order[p]
                for p, w in self.wants.items()
                if w.spec.critical and not ready(self.mine.get(p), w, target)
            }
        waiting = set(self.critical)
        for index in self.waiting:
            path = self._paths[index]
            if ready(self.mine.get(path), self.wants[path], target):
                waiting.discard(index)
        return waiting

    def configured_at(self, state: str) -> bool:
        """Whether every live task of a desired one is at `state` with its desired
        properties (kept per task from then on, as `not_ready`)."""
        if state != self.off_for:
            self.off = self._off_at(state)
            self.off_for = state
        return not self.off

    def _off_at(self, state: str) -> set[str]:
        """The role paths whose live task is not at `state` (CONFIGURED or RUNNING) with its
        desired properties. At the end of a transition to `state`, a critical task it does not
        wait for is ready (there, configured as desired): only the others are looked at."""
        if state != self.waiting_for or state not in _CONFIGURED:
            return {p for p, w in self.wants.items() if off(self.mine.get(p), w, state)}
        paths = [*self.loose, *map(self._paths.__getitem__, self.waiting)]
        return {p for p in paths if off(self.mine.get(p), self.wants[p], state)}

    def state_counts(self) -> dict[str, int]:
        """Task counts by task_state()."""
        return {state: n for state, n in self.counts.items() if n}

    def template_counts(self) -> dict[str, dict[str, int]] | None:
        """Task counts by state per unexpanded path, in the expansion's order; None when the
        summary is per expanded path, or some task's role is wanted by none (status computes
        those from the tasks)."""
        if not self._group or self.extra_roles:
            return None
        return {g: {s: n for s, n in c.items() if n} for g, c in self.groups.items()}


def _changed(before: Sequence[Task], after: Sequence[Task]) -> tuple[list[Task], list[Task]]:
    """The objects of `before` not in `after`, and those of `after` not in `before`, by
    identity; compared in place (in C) while the lists are as long: the informer's list keeps
    a task's place when its object is replaced. Objects that only moved come out on both
    sides, which cancels out."""
    if len(before) == len(after):
        moved = list(map(operator.is_not, before, after))
        return list(compress(before, moved)), list(compress(after, moved))
    old = dict(zip(map(id, before), before, strict=True))
    new = dict(zip(map(id, after), after, strict=True))
    return [old[i] for i in old.keys() - new.keys()], [new[i] for i in new.keys() - old.keys()]


def _not_owned_by_another(task: Task, uid: str) -> bool:
    owners = [r.uid for r in task.metadata.owner_references if r.kind == "Environment"]
    return not owners or uid in owners
