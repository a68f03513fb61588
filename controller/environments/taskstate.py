"""What one task counts as for a plan, against its desired task: its state, whether it is
ready at a target, configured with stale properties, off a state, or failed. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crds.kinds.task import TERMINAL_PHASES, Task
from crds.labels import CONFIGURED_WITH

if TYPE_CHECKING:
    from controller.environments.expansion import ExpandedTask


def task_state(task: Task) -> str:
    """What a task counts as: its phase once the process ended, else its OCC state or phase."""
    if task.status.phase in TERMINAL_PHASES:
        return task.status.phase
    return task.status.state or task.status.phase


def ready(have: Task | None, want: ExpandedTask, target: str) -> bool:
    """Whether `have` is at `target` as `want` needs (configured with its properties)."""
    if have is None or have.status.phase != "Running" or have.status.state != target:
        return False
    return target not in ("CONFIGURED", "RUNNING") or not stale(have, want)


def stale(have: Task, want: ExpandedTask) -> bool:
    """The process was configured with other properties than the desired ones (as
    taskset.configured_digest, without hashing when neither digest is known: same
    properties, same digest)."""
    known = have.status.configured_properties
    if known is None:
        known = have.metadata.annotations.get(CONFIGURED_WITH)
    if known is None:
        return have.spec.properties != want.spec.properties
    return known != want.digest


def off(have: Task | None, want: ExpandedTask, state: str) -> bool:
    """`have` is live and not at `state` as `want` needs (what leaving a state waits out)."""
    if have is None or have.status.phase in TERMINAL_PHASES:
        return False
    return have.status.state != state or stale(have, want)


def failed(have: Task) -> bool:
    """`have` failed (OCC ERROR or its process ended) while it was not asked to be DONE."""
    if have.spec.state == "DONE":
        return False
    return have.status.state == "ERROR" or have.status.phase in TERMINAL_PHASES


def same_facts(old: Task, new: Task) -> bool:
    """Whether `new`, a spec write on `old`, counts as `old` does in every answer above (they
    read the status, spec.state as DONE or not, spec.properties and the CONFIGURED_WITH
    annotation): an Observed view need not derive them again (controller.environments.observed)."""
    if new.status is not old.status or (new.spec.state == "DONE") != (old.spec.state == "DONE"):
        return False
    fresh, props = new.spec.properties, old.spec.properties
    if fresh is not props and fresh != props:
        return False
    return new.metadata.annotations.get(CONFIGURED_WITH) == old.metadata.annotations.get(
        CONFIGURED_WITH
    )
