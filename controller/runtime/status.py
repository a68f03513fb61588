"""Status writing helper: conditions by type, observedGeneration, and no-op writes skipped.

Reconcilers build the new status purely, then call `write_status` (or `write_status_many` for a
batch in few txns), which stamps `observedGeneration` from the object they observed and writes
with its resourceVersion. Every status write of a controller goes through here. A controller
writing a field of another kind's status (a condition on an Environment from the configs
controller) passes `observe=False`: observedGeneration belongs to the object's own controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

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
    are most of its cost. Conditions equal to the present ones cost no copies at all, and a
    stamped condition is shared by every status that gets the same one at the same time (a
    batch of writes stamps the same few conditions with one `now`). The copies are unvalidated
    (crds.copies.replaced): `also` holds values of the fields' own types, the stamps are an int
    and a datetime."""
    update = dict(also or {})
    current = status.conditions
    edited = conditions_set(current, conditions, generation=generation, now=now)
    if edited is not current:
        update["conditions"] = edited
    return replaced(status, update) if update else status


def conditions_set(
    current: tuple[Condition, ...],
    conditions: Iterable[Condition],
    *,
    generation: int,
    now: datetime,
) -> tuple[Condition, ...]:
    """`current` with each of `conditions` set by type, as `with_conditions` sets them: the
    same tuple when none changes."""
    edited: list[Condition] | None = None
    view: Sequence[Condition] = current
    for cond in conditions:
        index = _index(view, cond.type)
        old = view[index] if index >= 0 else None
        if old is not None and _same(old, cond, generation):
            continue
        moved = old is None or old.status != cond.status
        since = now if moved or old is None else old.last_transition_time
        stamped = _stamped(cond, generation, since)
        if edited is None:
            view = edited = list(current)
        if index >= 0:
            edited[index] = stamped
        else:
            edited.append(stamped)
    return current if edited is None else tuple(edited)


_STAMPED: dict[tuple[int, int, datetime | None], tuple[Condition, Condition]] = {}
"""Stamped conditions by (id of the unstamped one, generation, lastTransitionTime); each entry
holds the unstamped condition too, so its id is not reused while the entry lives."""
STAMPED_MEMO = 4096


def _stamped(cond: Condition, generation: int, since: datetime | None) -> Condition:
    """`cond` stamped with the generation and transition time: one copy per distinct stamp,
    not one per status (conditions are frozen: sharing them is safe)."""
    key = (id(cond), generation, since)
    memo = _STAMPED.get(key)
    if memo is not None and memo[0] is cond:
        return memo[1]
    stamped = replaced(cond, {"observed_generation": generation, "last_transition_time": since})
    if len(_STAMPED) >= STAMPED_MEMO:
        _STAMPED.clear()
    _STAMPED[key] = (cond, stamped)
    return stamped


def _index(conditions: Sequence[Condition], type_: str) -> int:
    """The position of the condition of `type_` (crds.conditions order), or -1."""
    for index, cond in enumerate(conditions):
        if cond.type == type_:
            return index
    return -1


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
    store: Store,
    changes: Iterable[tuple[R, Status]],
    *,
    observe: bool = True,
    compared: bool = False,
) -> BatchResult[R]:
    """`write_status` for many objects in few txns (their conditions already set). Unchanged
    ones are not sent: they lead `written`, as they were. `compared`: the caller sends only
    statuses it found changed (the task status writer does, for each write), so they are not
    compared again: a comparison costs as much as the copy that follows it."""
    unchanged: list[R] = []
    send: list[R] = []
    for obj, status in changes:
        new = observed(status, obj) if observe else status
        if not compared and new == obj.status:
            unchanged.append(obj)
        else:
            send.append(replaced(obj, {"status": new}))
    if not send:
        return BatchResult(written=unchanged)
    result = await store.update_status_many(send)
    return replace(result, written=[*unchanged, *result.written])
