"""Garbage collector: cascades deletion along ownerReferences (background, foreground, orphan).

Background: a dependent none of whose owners exist any more (by uid) is deleted. The owner's
absence is confirmed with a live read before deleting, so a lagging cache never kills the
dependent of a freshly created owner; an owner whose stored value is unreadable counts as
present. Foreground: an owner being deleted with the `foregroundDeletion` finalizer gets its
dependents deleted, and loses the finalizer once no dependent with blockOwnerDeletion remains.
Orphan: an owner being deleted with the `orphan` finalizer is dropped from its dependents'
ownerReferences (they survive), then loses the finalizer. Keys are `<Kind>/<name>`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from controller.runtime.finalizers import FOREGROUND_DELETION, ORPHAN, remove_finalizer
from controller.runtime.reconciler import Context, Reconciler, Result, Watch
from crds.errors import NotFoundError, UnreadableObjectError
from crds.meta import OwnerReference
from crds.resource import Resource, all_kinds
from store.informer import CacheEvent

log = logging.getLogger(__name__)


def gc_key(obj: Resource) -> str:
    return f"{obj.kind}/{obj.metadata.name}"


class GarbageCollector(Reconciler):
    name = "garbage-collector"
    workers = 4
    resync_period = 3600.0

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.models: dict[str, type[Resource]] = {info.kind: info.model for info in all_kinds()}

    def watches(self) -> Sequence[Watch]:
        return [Watch(model, self._keys) for model in self.models.values()]

    def _keys(self, event: CacheEvent[Any]) -> Iterable[str]:
        obj = event.obj
        keys: list[str] = []
        if event.type == "DELETED":
            keys.extend(gc_key(d) for d in self.dependents(obj.metadata.uid))
            keys.extend(f"{ref.kind}/{ref.name}" for ref in obj.metadata.owner_references)
            return keys
        if obj.metadata.owner_references or _propagating(obj):
            keys.append(gc_key(obj))
        return keys

    def resync_keys(self) -> Iterable[str]:
        for model in self.models.values():
            for obj in self.ctx.cache(model).list():
                if obj.metadata.owner_references or _propagating(obj):
                    yield gc_key(obj)

    def dependents(self, uid: str) -> list[Resource]:
        found: list[Resource] = []
        for model in self.models.values():
            found.extend(self.ctx.cache(model).by_owner(uid))
        return found

    async def reconcile(self, key: str) -> Result:
        kind, _, name = key.partition("/")
        model = self.models.get(kind)
        if model is None:
            return Result()
        obj = self.ctx.cache(model).get(name)
        if obj is None:
            return Result()
        if _deleting_with(obj, ORPHAN):
            await self._orphan_dependents(obj)
        elif _deleting_with(obj, FOREGROUND_DELETION):
            await self._finish_foreground(obj)
        elif obj.metadata.owner_references and obj.metadata.deletion_timestamp is None:
            await self._collect_if_orphaned(obj)
        return Result()

    async def _collect_if_orphaned(self, obj: Resource) -> None:
        for ref in obj.metadata.owner_references:
            if self._maybe_present_in_cache(ref) or await self._present_in_store(ref):
                return
        await self._delete(obj, reason="all owners are gone")

    def _maybe_present_in_cache(self, ref: OwnerReference) -> bool:
        model = self.models.get(ref.kind)
        if model is None:
            return True  # an owner kind we do not know: never collect on a guess
        informer = self.ctx.cache(model)
        owner = informer.get(ref.name)
        if ref.name in informer.unreadable:
            return True
        return owner is not None and owner.metadata.uid == ref.uid

    async def _present_in_store(self, ref: OwnerReference) -> bool:
        """The live check before deleting: the cache may lag behind a new owner."""
        model = self.models[ref.kind]
        try:
            owner = await self.ctx.store.get(model, ref.name)
        except NotFoundError:
            return False
        except UnreadableObjectError:
            return True
        return owner.metadata.uid == ref.uid

    async def _finish_foreground(self, owner: Resource) -> None:
        uid = owner.metadata.uid
        blocking = 0
        for dep in self.dependents(uid):
            if dep.metadata.deletion_timestamp is None:
                await self._delete(dep, reason=f"foreground deletion of {owner.ref}")
            if any(r.uid == uid and r.block_owner_deletion for r in dep.metadata.owner_references):
                blocking += 1
        if blocking:
            log.info("Owner waits", extra={"object": owner.ref, "blocking": blocking})
            return
        await remove_finalizer(self.ctx.store, owner, FOREGROUND_DELETION)
        log.info("Foreground deletion finished", extra={"object": owner.ref})

    async def _orphan_dependents(self, owner: Resource) -> None:
        uid = owner.metadata.uid
        for dep in self.dependents(uid):
            refs = tuple(r for r in dep.metadata.owner_references if r.uid != uid)
            meta = dep.metadata.model_copy(update={"owner_references": refs})
            await self.ctx.store.update(dep.model_copy(update={"metadata": meta}))
        await remove_finalizer(self.ctx.store, owner, ORPHAN)
        log.info("Dependents orphaned", extra={"object": owner.ref})

    async def _delete(self, obj: Resource, *, reason: str) -> None:
        try:
            await self.ctx.store.delete(
                type(obj), obj.metadata.name, resource_version=obj.metadata.resource_version
            )
        except NotFoundError:
            return
        log.info("Garbage-collected", extra={"object": obj.ref, "reason": reason})


def _deleting_with(obj: Resource, finalizer: str) -> bool:
    return obj.metadata.deletion_timestamp is not None and finalizer in obj.metadata.finalizers


def _propagating(obj: Resource) -> bool:
    """An owner whose deletion the collector must carry on (foreground or orphan)."""
    return _deleting_with(obj, FOREGROUND_DELETION) or _deleting_with(obj, ORPHAN)
