"""Writes of a sync: ownership-checked apply and the prune steps. Store I/O only, no planning.

Apply is `store.apply`'s (same helpers, field ownership as the GitSource), plus one thing:
the owner label is checked on the very read the compare-and-swap rests on, so two GitSources
never overwrite each other's objects, not even in a race.
"""

from __future__ import annotations

import logging
from typing import Literal

from controller.gitsource.plan import Prune, owned_apply, owner_of, source_manager
from crds.errors import AlreadyExistsError, ConflictError, NotFoundError
from crds.kinds.environment import Environment
from crds.resource import Resource
from store.api import Store
from store.apply import fresh_status, with_record, writes_anything

log = logging.getLogger(__name__)

APPLY_ATTEMPTS = 5

Written = Literal["created", "configured", "unchanged", "conflict"]
UNTOUCHED: frozenset[Written] = frozenset({"unchanged", "conflict"})


async def claim_apply(
    store: Store, obj: Resource, *, source: str, sources: set[str], absent: bool = False
) -> tuple[Written, int]:
    """`store.apply.apply`, with the ownership check made on the very read the CAS rests on:
    an object that another existing GitSource labels as its own is never written. Returns
    what happened and the revision written (0 when nothing was). `absent` (the cache has no
    such object) tries the create first: it is a create-if-absent txn, so it is just as safe
    and saves a read per new object."""
    for _ in range(APPLY_ATTEMPTS):
        current = None if absent else await _get_or_none(store, obj)
        absent = False
        if current is None:
            try:
                new = with_record(fresh_status(obj), manager=source_manager(source))
                created = await store.create(new)
            except AlreadyExistsError:
                continue
            return "created", created.metadata.resource_version or 0
        owner = owner_of(current)
        if owner not in (None, source) and owner in sources:
            return "conflict", 0
        applied = owned_apply(current, obj)
        if not writes_anything(current, applied):
            return "unchanged", 0
        try:
            updated = await store.update(applied)
        except (ConflictError, NotFoundError):
            continue
        return "configured", updated.metadata.resource_version or 0
    raise ConflictError(obj.kind, obj.metadata.name)


async def _get_or_none(store: Store, obj: Resource) -> Resource | None:
    try:
        return await store.get(type(obj), obj.metadata.name)
    except NotFoundError:
        return None


async def prune(store: Store, step: Prune) -> int:
    """Carry out one prune step; 1 when an object was deleted."""
    obj = step.obj
    if step.step == "finish" and isinstance(obj, Environment):
        spec = obj.spec.model_copy(update={"state": "DONE"})
        await store.update(obj.model_copy(update={"spec": spec}))
        log.info("Finishing pruned environment", extra={"object": obj.ref})
        return 0
    if step.step != "delete":
        return 0
    try:
        await store.delete(
            type(obj), obj.metadata.name, resource_version=obj.metadata.resource_version
        )
    except NotFoundError:
        return 0
    log.info("Pruned object", extra={"object": obj.ref})
    return 1
