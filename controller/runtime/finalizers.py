"""Finalizer helpers: add/remove with compare-and-swap, and foreground deletion. Store-only I/O.

Every write carries the caller's resourceVersion, so a finalizer is never added to or removed
from a copy that changed meanwhile (ConflictError: re-read and retry). No finalizer is added to
an object that is already being deleted, as in Kubernetes.
"""

from __future__ import annotations

from typing import TypeVar

from crds.errors import ConflictError, NotFoundError
from crds.resource import Resource
from store.api import Store

R = TypeVar("R", bound=Resource)

FOREGROUND_DELETION = "foregroundDeletion"
"""While an owner carries it, the garbage collector deletes its dependents and then removes it."""

ORPHAN = "orphan"
"""While an owner carries it, the collector removes the owner from its dependents'
ownerReferences (they survive) and then removes it."""


def has_finalizer(obj: Resource, finalizer: str) -> bool:
    return finalizer in obj.metadata.finalizers


def with_finalizers(obj: R, finalizers: tuple[str, ...]) -> R:
    meta = obj.metadata.model_copy(update={"finalizers": finalizers})
    return obj.model_copy(update={"metadata": meta})


async def add_finalizer(store: Store, obj: R, finalizer: str) -> R:
    """Add `finalizer` (CAS on obj's resourceVersion); a no-op when present or deleting."""
    if has_finalizer(obj, finalizer) or obj.metadata.deletion_timestamp is not None:
        return obj
    return await store.update(with_finalizers(obj, (*obj.metadata.finalizers, finalizer)))


async def remove_finalizer(store: Store, obj: R, finalizer: str) -> R | None:
    """Remove `finalizer` (CAS); returns None when that removal deleted the object."""
    if not has_finalizer(obj, finalizer):
        return obj
    remaining = tuple(f for f in obj.metadata.finalizers if f != finalizer)
    updated = await store.update(with_finalizers(obj, remaining))
    if not remaining and obj.metadata.deletion_timestamp is not None:
        return None
    return updated


async def delete_foreground(store: Store, kind: type[R], name: str, *, attempts: int = 5) -> None:
    """Delete `kind/name` so that it disappears only after its blocking dependents are gone."""
    await _delete_with(store, kind, name, FOREGROUND_DELETION, attempts=attempts)


async def delete_orphan(store: Store, kind: type[R], name: str, *, attempts: int = 5) -> None:
    """Delete `kind/name` but keep its dependents (the collector drops their references)."""
    await _delete_with(store, kind, name, ORPHAN, attempts=attempts)


async def _delete_with(
    store: Store, kind: type[R], name: str, finalizer: str, *, attempts: int
) -> None:
    for _ in range(attempts):
        obj = await store.get(kind, name)
        try:
            marked = await add_finalizer(store, obj, finalizer)
            await store.delete(kind, name, resource_version=marked.metadata.resource_version)
            return
        except ConflictError:
            continue
        except NotFoundError:
            return
    raise ConflictError(kind.KIND, name)
