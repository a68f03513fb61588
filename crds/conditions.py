"""kstatus-style condition helpers (Ready, Reconciling, Stalled). Pure: callers pass `now`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from crds.meta import Condition

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


def set_condition(
    conditions: Sequence[Condition], new: Condition, *, now: datetime
) -> tuple[Condition, ...]:
    """Replace the condition of `new.type` (or append it), keeping the order of the others.

    `lastTransitionTime` moves to `now` only when the status changes (or the condition is new);
    a change of reason or message alone keeps the old transition time, as in Kubernetes.
    """
    old = get_condition(conditions, new.type)
    if old is not None and old.status == new.status:
        stamped = new.model_copy(update={"last_transition_time": old.last_transition_time})
    else:
        stamped = new.model_copy(update={"last_transition_time": now})
    if old is None:
        return (*conditions, stamped)
    return tuple(stamped if c.type == new.type else c for c in conditions)


def remove_condition(conditions: Sequence[Condition], type_: str) -> tuple[Condition, ...]:
    """The conditions without the one of `type_` (unchanged when absent)."""
    return tuple(c for c in conditions if c.type != type_)


def get_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of `type_`, or None."""
    for cond in conditions:
        if cond.type == type_:
            return cond
    return None


def condition_status(conditions: Sequence[Condition], type_: str) -> str:
    """ "True", "False" or "Unknown" (also when the condition is absent)."""
    cond = get_condition(conditions, type_)
    return cond.status if cond is not None else "Unknown"


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    """Whether the condition of `type_` is present with status "True"."""
    return condition_status(conditions, type_) == "True"


def is_ready(conditions: Sequence[Condition], *, generation: int | None = None) -> bool:
    """Ready=True, and (when `generation` is given) observed at that generation or later."""
    cond = get_condition(conditions, READY)
    if cond is None or cond.status != "True":
        return False
    return generation is None or cond.observed_generation >= generation
