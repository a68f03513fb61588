"""The live fields of a task spec and the per-task memos that spare comparing them again.
Pure (controller.environments.taskset decides the writes; these remember what it compared).

A transition over 10,000 tasks writes every task's spec once, then waits for their statuses:
the informer's copy of each write, and each status write after it, would otherwise have its
spec compared with the desired one field by field again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controller.environments.expansion import ExpandedTask, Expansion
from crds.kinds.task import TERMINAL_PHASES, Task, TaskSpec

LIVE_FIELDS = (
    "command",
    "wants",
    "constraints",
    "properties",
    "critical",
    "reusable",
    "role",
    "bind",
    "connect",
)
"""What an update changes in place (applied at the task's next launch or CONFIGURE)."""

__all__ = ["LIVE_FIELDS", "live_changes", "same_inputs", "settle_written"]


def settle_written(expansion: Expansion, written: Iterable[Task]) -> None:
    """Record that the stored tasks `written` (what the store returned for the updates of the
    last plan with `expansion`) need nothing more with the inputs they were built with: a
    written task is the task the plan saw with the spec built for it (the store's CAS on the
    resourceVersion it was planned from), and `_update` of its own result changes nothing. So
    the informer's copy of the write (another object, the same resourceVersion) is passed over
    without comparing its spec field by field again, once per task and transition.

    The memo holds the written object itself: the informer hands on that very object (the
    store's own write, unchecked), and a status write on top of it keeps its spec object, so
    a status answer that arrives before the pass sees the write is settled too (its
    resourceVersion is not the write's: the version alone made such a task converge again).
    The write's live fields are the desired ones: compared already."""
    built = expansion.built
    for task in written:
        entry = built.pop(task.metadata.name, None)
        if entry is None or task.spec is not entry[0] or task.metadata.resource_version is None:
            continue
        _, key, want = entry
        expansion.settled[task.metadata.name] = (task, key, True)
        expansion.live_diffs[want.name] = (task.spec, want.spec, {})
    built.clear()


def live_changes(expansion: Expansion, have: TaskSpec, want: ExpandedTask) -> Mapping[str, object]:
    """The live fields (LIVE_FIELDS) in which the desired spec differs from the task's, read
    only. Kept in `expansion.live_diffs` per task while both specs are the same objects: a
    status write keeps the stored spec object, so a reconcile that only waits for tasks (every
    pass of a transition over 10,000 tasks) compares no field of an unchanged task again."""
    memo = expansion.live_diffs.get(want.name)
    if memo is not None and memo[0] is have and memo[1] is want.spec:
        return memo[2]
    changes = {}
    for name in LIVE_FIELDS:
        value = getattr(want.spec, name)
        if getattr(have, name) != value:
            changes[name] = value
    expansion.live_diffs[want.name] = (have, want.spec, changes)
    return changes


_CONFIGURED = ("CONFIGURED", "RUNNING")


def same_inputs(old: Task, new: Task) -> bool:
    """Whether `new` (a later object of the task `old`) gives `TaskSet._converge` the same
    inputs: the same spec object (a status write keeps it), annotations and deletion stamp,
    and of the status only what it reads (ended or not, configured or not, and the
    properties the process was configured with). A task settled as `old` with the same
    desired task and plan inputs needs nothing as `new`: the status writes of the task
    controller (phases, a state it reaches without a change of what is configured) cost no
    comparison of the spec each."""
    if (
        old.spec is not new.spec
        or old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
    ):
        return False
    was, now = old.status, new.status
    return (
        (was.phase in TERMINAL_PHASES) == (now.phase in TERMINAL_PHASES)
        and (was.state in _CONFIGURED) == (now.state in _CONFIGURED)
        and was.configured_properties == now.configured_properties
        and old.metadata.annotations == new.metadata.annotations
    )
