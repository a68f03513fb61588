"""Read-modify-write of one object with compare-and-swap, re-read and retried on conflict."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from crds.errors import ConflictError
from crds.resource import Resource
from store.api import Store

R = TypeVar("R", bound=Resource)

CAS_ATTEMPTS = 8
"""Conflicts mean someone else wrote in between; a few re-reads settle it."""


async def update_spec(
    store: Store,
    kind: type[R],
    name: str,
    *,
    mutate: Callable[[R], R],
    attempts: int = CAS_ATTEMPTS,
) -> R:
    """Apply `mutate` to the stored object and write it back (CAS). `mutate` may raise to
    refuse; it is called again on every retry with the fresh copy. Unchanged writes are
    skipped by the store (the stored object comes back)."""
    for attempt in range(attempts):
        current = await store.get(kind, name)
        wanted = mutate(current)
        try:
            return await store.update(wanted)
        except ConflictError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
