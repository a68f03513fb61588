"""Test-only kind (Gadget, unregistered: plural `gadgets`) and reconcilers the tests run.

Loaded by in-process tests and by manager subprocesses (`--controller tests.runtime.gadget:…`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

from controller.gc import GarbageCollector
from controller.runtime.reconciler import Context, Reconciler, Result, Watch
from controller.runtime.status import write_status
from crds.errors import FencedError
from crds.meta import O2Model, ObjectMeta, OwnerReference, Status
from crds.resource import Resource

log = logging.getLogger("tests.gadget")


class GadgetSpec(O2Model):
    value: int = 0
    delay: float = 0.0
    """Test-only: the reconciler blocks its process this long before writing, so a test can
    freeze it (SIGSTOP) between reading and writing."""


class GadgetStatus(Status):
    writer: str = ""
    seen: int = 0


class Gadget(Resource):
    KIND: ClassVar[str] = "Gadget"
    kind: Literal["Gadget"] = "Gadget"
    spec: GadgetSpec = Field(default_factory=GadgetSpec)
    status: GadgetStatus = Field(default_factory=GadgetStatus)


def gadget(
    name: str,
    *,
    value: int = 0,
    delay: float = 0.0,
    labels: dict[str, str] | None = None,
    owners: Sequence[Resource] = (),
    block: bool = False,
) -> Gadget:
    refs = tuple(
        OwnerReference(
            kind=o.kind, name=o.metadata.name, uid=o.metadata.uid, block_owner_deletion=block
        )
        for o in owners
    )
    meta = ObjectMeta(name=name, labels=labels or {}, owner_references=refs)
    return Gadget(metadata=meta, spec=GadgetSpec(value=value, delay=delay))


class GadgetReconciler(Reconciler):
    """Writes status.writer = this manager's identity and status.seen = spec.value."""

    name = "gadget"
    kind = Gadget
    workers = 4

    async def reconcile(self, key: str) -> Result:
        obj = self.ctx.cache(Gadget).get(key)
        if obj is None:
            return Result()
        log.info("Reconcile start", extra={"key": key, "value": obj.spec.value})
        if obj.spec.delay:
            time.sleep(obj.spec.delay)  # noqa: ASYNC251 - blocking on purpose: freeze the loop
        identity = self.ctx.identity
        status = obj.status.model_copy(update={"writer": identity, "seen": obj.spec.value})
        # shielded so that the write is attempted even if leadership loss cancels this reconcile
        await asyncio.shield(self._write(obj, status))
        log.info("Reconcile done", extra={"key": key, "value": obj.spec.value})
        return Result()

    async def _write(self, obj: Gadget, status: GadgetStatus) -> None:
        try:
            await write_status(self.ctx.store, obj, status)
        except FencedError:
            log.info("Fenced write", extra={"key": obj.metadata.name})
            raise


class GadgetGC(GarbageCollector):
    """The garbage collector, also covering the test kind."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.models["Gadget"] = Gadget

    def watches(self) -> Sequence[Watch]:
        return [Watch(model, self._keys) for model in self.models.values()]


class FencedOnce(Reconciler):
    """Raises FencedError on its first reconcile; records the leadership term of every call."""

    name = "fenced-once"
    kind = Gadget
    terms: ClassVar[list[int]] = []

    async def reconcile(self, key: str) -> Result:
        fence = getattr(self.ctx.store, "fence", None)
        FencedOnce.terms.append(fence.create_revision if fence else 0)
        if len(FencedOnce.terms) == 1:
            raise FencedError(fence.key if fence else "?")
        return Result()
