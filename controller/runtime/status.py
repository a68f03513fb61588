"""Status writing helper: conditions by type, observedGeneration, and no-op writes skipped.

Reconcilers build the new status purely, then call `write_status`, which stamps
`observedGeneration` from the object they observed and writes with its resourceVersion.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from crds.conditions import get_condition, set_condition
from crds.meta import Condition, Status, utcnow
from crds.resource import Resource
from store.api import Store

R = TypeVar("R", bound=Resource)
S = TypeVar("S", bound=Status)


def observed(status: S, obj: Resource) -> S:
    """`status` with observedGeneration set to the generation that was reconciled."""
    return status.model_copy(update={"observed_generation": obj.metadata.generation})


def with_conditions(
    status: S, conditions: Iterable[Condition], *, generation: int, now: datetime
) -> S:
    """Set each condition by type (lastTransitionTime only moves when its status changes).
    Conditions equal to the present ones cost no copies (the common case of a busy writer)."""
    current = tuple(status.conditions)
    changed = False
    for cond in conditions:
        old = get_condition(current, cond.type)
        if old is not None and _same(old, cond, generation):
            continue
        stamped = cond.model_copy(update={"observed_generation": generation})
        current = set_condition(current, stamped, now=now)
        changed = True
    return status.model_copy(update={"conditions": current}) if changed else status


def _same(old: Condition, new: Condition, generation: int) -> bool:
    return (
        old.status == new.status
        and old.reason == new.reason
        and old.message == new.message
        and old.observed_generation == generation
    )


def condition(type_: str, ok: bool | None, *, reason: str, message: str = "") -> Condition:
    """A condition from a tri-state: True, False or None (Unknown)."""
    status = "Unknown" if ok is None else ("True" if ok else "False")
    return Condition(type=type_, status=status, reason=reason, message=message)


async def write_status(
    store: Store,
    obj: R,
    status: Status,
    *,
    conditions: Iterable[Condition] = (),
    now: datetime | None = None,
) -> R:
    """Write `status` (+ conditions, observedGeneration) for `obj`; skipped when unchanged."""
    generation = obj.metadata.generation
    new = with_conditions(
        observed(status, obj), conditions, generation=generation, now=now or utcnow()
    )
    if new == obj.status:
        return obj
    return await store.update_status(obj.model_copy(update={"status": new}))
