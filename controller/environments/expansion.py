"""What an expansion yields: the desired tasks, the hooks, and what they were derived from.
Pure data (controller.environments.expand builds it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from controller.environments.observed import Observed
from crds.kinds.task import Task, TaskSpec
from crds.moments import Moment


@dataclass(frozen=True)
class ExpandedTask:
    """One desired task: its resource name, expanded role path and resolved spec."""

    name: str
    path: str
    spec: TaskSpec
    template: str = ""
    """The unexpanded role path (`flp-{{ detector }}.readout`): what copies have in common."""
    unwired: str = ""
    """Why its data-flow channels cannot be resolved yet (a peer not placed): it may not be
    configured until they are (controller.environments.wiring)."""

    @cached_property
    def digest(self) -> str:
        """properties_digest(spec.properties), computed once: the controller keeps an
        expansion across reconciles, and every reconcile compares each task with it."""
        return _shared_digest(self.spec.properties)


def properties_digest(properties: Mapping[str, str]) -> str:
    """The digest the task controller records in status.configuredProperties at CONFIGURE."""
    text = json.dumps(dict(properties), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


DIGESTS_LIMIT = 4096
_digests: dict[tuple[tuple[str, str], ...], str] = {}


def _shared_digest(properties: Mapping[str, str]) -> str:
    """`properties_digest`, remembered by the properties themselves: the tasks of a role share
    them (one JSON dump and sha256 per distinct set, not one per task of an environment of
    10,000: most of its first plan). Bounded: forgotten all at once past DIGESTS_LIMIT sets."""
    key = tuple(properties.items())
    digest = _digests.get(key)
    if digest is None:
        if len(_digests) >= DIGESTS_LIMIT:
            _digests.clear()
        digest = _digests[key] = properties_digest(properties)
    return digest


@dataclass(frozen=True)
class Hook:
    """One call role, rendered; `error` is set instead of `argv` when it could not be rendered
    (e.g. it uses `run_number` before a run exists); it counts as failed only when it is due."""

    path: str
    argv: tuple[str, ...]
    trigger: Moment
    await_: Moment
    timeout: float
    critical: bool
    error: str = ""
    env: tuple[tuple[str, str], ...] = ()
    """What the workflow sets in the hook's environment (`call.env`, rendered), in order."""
    task: TaskSpec | None = None
    """A task hook (a task role with `trigger`): the Task to run to completion, placed by its
    constraints on an agent, instead of `argv` on the controller host."""
    func: str = ""
    """The plugin function (`dcs.StartOfRun`) of a `func:` call, instead of `argv`."""
    vars: tuple[tuple[str, str], ...] = ()
    """A `func:` call's variable stack: every variable of its role, rendered (those that do
    not render are left out), and the `__call_*` facts AliECS gives its calls."""
    returns: str = ""
    """A `func:` call's `return`: the variable that receives the function's output."""

    @property
    def what(self) -> str:
        """What it runs, for messages: the function call, the task's command or the argv."""
        if self.func:
            return f"{self.func}()"
        if self.task is not None:
            return " ".join(("task", self.task.command.value, *self.task.command.arguments))
        return " ".join(self.argv)


@dataclass(frozen=True)
class Expansion:
    """The desired tasks (in tree order, by name) and hooks of an environment."""

    tasks: dict[str, ExpandedTask]
    hooks: tuple[Hook, ...]
    detectors: tuple[str, ...] = ()
    config_refs: Mapping[str, str] = field(default_factory=dict)
    """What the tasks' `config()` calls resolved to, for status.configVersions: `<component>/
    <entry>` -> comma-separated `name@version` refs (controller.configs.resolve)."""
    auto_stop: float | None = None
    """Seconds a run lasts before the controller stops it (`auto_stop_enabled` true and
    `auto_stop_timeout` a duration, as the workflow's top level sets them); None: no limit."""
    start_arguments: Mapping[str, str] = field(default_factory=dict)
    """What tasks receive at START besides the run number (controller.environments.startargs)."""
    includes: Mapping[str, int] = field(default_factory=dict)
    """The Workflows its include roles used, name -> resourceVersion: a change to one of them
    changes the expansion (the controller re-expands the environments that use it)."""
    wired: dict[str, tuple[object, ExpandedTask]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """controller.environments.wiring's memo: per task, the peer addresses it was wired with
    and the result, so a reconcile that finds them unchanged reuses the task (and its digest)."""
    live_diffs: dict[str, tuple[TaskSpec, TaskSpec, Mapping[str, object]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """controller.environments.taskset's memo: per task name, the stored spec and the desired
    one last compared and how their live fields differ (kept by `wire`'s copies, as both
    specs are compared by identity)."""
    settled: dict[str, tuple[Task, tuple[object, ...], bool]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """controller.environments.taskset's memo: per task name, the stored task (by identity) and
    the inputs of the pass that found nothing to change in it: a pass with the same ones
    changes nothing in it either, and skips it (every pass while a deploy waits for 10,000
    tasks looked at each one; most did not change since the previous pass), and whether this
    controller wrote it (`settle_written`: another copy of that version is the same task)."""

    built: dict[str, tuple[TaskSpec, tuple[object, ...], ExpandedTask]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """controller.environments.taskset's record of the last plan's updates: per task name, the
    spec built, the settle key and the desired task (`settle_written` moves the written ones
    to `settled`: the objects the store returned, which the informer hands on)."""

    observed: Observed = field(default_factory=Observed, compare=False, repr=False)
    """The tasks as the last plan with this expansion saw them (controller.environments.
    observed): the next pass works on the changed ones."""

    def task_memos(self) -> dict[str, Any]:
        """The per-task memos above (`wired`, `live_diffs`, `settled`, `built`, `observed`), for an
        expansion with the very same `tasks` (expand's `tasks_from`: a new run number or run
        time re-renders the hooks and START arguments only). They depend on the desired tasks
        and the observed ones, and on the START arguments only through the settle keys, which
        hold them: the next plan goes on from the last one's view instead of walking every task
        again (twice per transition over 10,000 tasks)."""
        return {
            "wired": self.wired,
            "live_diffs": self.live_diffs,
            "settled": self.settled,
            "built": self.built,
            "observed": self.observed,
        }

    @cached_property
    def has_channels(self) -> bool:
        """Whether any desired task binds or connects a channel (computed once)."""
        return any(t.spec.bind or t.spec.connect for t in self.tasks.values())

    def roles(self) -> list[str]:
        """Task role paths, in tree order."""
        return [t.path for t in self.tasks.values()]
