"""Status writing helper: conditions by type, observedGeneration, and no-op writes skipped.

Reconcilers build the new status purely, then call `write_status` (or `write_status_many` for a
batch in few txns), which stamps `observedGeneration` from the object they observed and writes
with its resourceVersion. Every status write of a controller goes through here. A controller
writing a field of another kind's status (a condition on an Environment from the configs
controller) passes `observe=False`: observedGeneration belongs to the object's own controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from crds.conditions import get_condition
from crds.copies import replaced
from crds.meta import Condition, Status, utcnow
from crds.resource import Resource
from store.api import BatchResult, Store

R = TypeVar("R", bound=Resource)
S = TypeVar("S", bound=Status)


def observed(status: S, obj: Resource) -> S:
    """`status` with observedGeneration set to the generation that was reconciled."""
    return replaced(status, {"observed_generation": obj.metadata.generation})


def with_conditions(
    status: S,
    conditions: Iterable[Condition],
    *,
    generation: int,
    now: datetime,
    also: Mapping[str, object] | None = None,
) -> S:
    """Set each condition by type (lastTransitionTime only moves when its status changes), and
    the fields in `also`, in one copy of `status`: a task status write runs this, and copies
    are most of its cost. Conditions equal to the present ones cost no copies at all. The
    copies are unvalidated (crds.copies.replaced): `also` holds values of the fields' own
    types, the stamps are an int and a datetime."""
    current = tuple(status.conditions)
    changed = False
    for cond in conditions:
        old = get_condition(current, cond.type)
        if old is not None and _same(old, cond, generation):
            continue
        moved = old is None or old.status != cond.status
        since = now if moved or old is None else old.last_transition_time
        stamped = replaced(cond, {"observed_generation": generation, "last_transition_time": since})
        current = _put(current, stamped)
        changed = True
    update = dict(also or {})
    if changed:
        update["conditions"] = current
    return replaced(status, update) if update else status


def _put(conditions: tuple[Condition, ...], new: Condition) -> tuple[Condition, ...]:
    """`new` in place of the condition of its type, or appended (crds.conditions order)."""
    if get_condition(conditions, new.type) is None:
        return (*conditions, new)
    return tuple(new if c.type == new.type else c for c in conditions)


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
    observe: bool = True,
) -> R:
    """Write `status` (+ conditions, observedGeneration) for `obj`; skipped when unchanged."""
    generation = obj.metadata.generation
    stamped = observed(status, obj) if observe else status
    new = with_conditions(stamped, conditions, generation=generation, now=now or utcnow())
    if new == obj.status:
        return obj
    return await store.update_status(obj.model_copy(update={"status": new}))


async def write_status_many(
    store: Store, changes: Iterable[tuple[R, Status]], *, observe: bool = True
) -> BatchResult[R]:
    """`write_status` for many objects in few txns (their conditions already set). Unchanged
    ones are not sent: they lead `written`, as they were."""
    unchanged: list[R] = []
    send: list[R] = []
    for obj, status in changes:
        new = observed(status, obj) if observe else status
        if new == obj.status:
            unchanged.append(obj)
        else:
            send.append(replaced(obj, {"status": new}))
    if not send:
        return BatchResult(written=unchanged)
    result = await store.update_status_many(send)
    return replace(result, written=[*unchanged, *result.written])
