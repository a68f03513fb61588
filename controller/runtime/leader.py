"""Leader election on `<prefix>/leases/<manager>` through an etcd lease, with write fencing.

The leader key is created only if absent, attached to a lease the leader keeps alive. Its
create_revision is the Fence: every controller write compares it, so a deposed leader that is
still running (paused, partitioned) cannot write. Standbys watch the key and campaign as soon
as it disappears. Talks to etcd only through store.api.RuntimeKV.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from crds.errors import NotFoundError
from store.api import Fence, RawValue, RuntimeKV

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaderConfig:
    """client-go/controller-runtime defaults: 15 s lease, 10 s renew deadline, 2 s retry."""

    ttl: int = 15
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeadershipLost(Exception):
    """This process no longer holds the leader key."""


class LeaderElector:
    """Campaign for one key; hold it until the lease cannot be renewed or the key changes."""

    def __init__(
        self, kv: RuntimeKV, key: str, identity: str, *, config: LeaderConfig | None = None
    ) -> None:
        self.kv = kv
        self.key = key
        self.identity = identity
        self.config = config or LeaderConfig()
        self.lease: int | None = None
        self.fence: Fence | None = None

    @property
    def is_leader(self) -> bool:
        return self.fence is not None

    async def campaign(self) -> Fence:
        """Block until this process holds the key; returns the fence for its writes."""
        while True:
            try:
                fence = await self._try_acquire()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Leader election attempt failed", extra=self._extra(error=str(exc)))
                await asyncio.sleep(self.config.retry_period)
                continue
            if fence is not None:
                self.fence = fence
                log.info("Became leader", extra=self._extra(revision=fence.create_revision))
                return fence

    async def _try_acquire(self) -> Fence | None:
        held = await self.kv.get_raw(self.key)
        if held is not None:
            await self._wait_for_vacancy(held)
            return None
        lease = await self.kv.grant_lease(self.config.ttl)
        revision = await self.kv.create_raw(self.key, self.identity.encode(), lease=lease)
        if revision is None:
            await self.kv.revoke_lease(lease)
            return None
        self.lease = lease
        return Fence(self.key, revision)

    async def _wait_for_vacancy(self, held: RawValue) -> None:
        """Watch the key until it is deleted; re-check at least once per lease TTL."""
        log.info("Standing by", extra=self._extra(holder=held.value.decode(errors="replace")))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(float(self.config.ttl)):
                stream = self.kv.watch_raw(self.key, start_revision=held.mod_revision + 1)
                async for _key, value, _rev in stream:
                    if value is None:
                        return

    async def hold(self) -> None:
        """Keep the lease alive; returns when leadership is lost (never returns normally else)."""
        assert self.fence is not None and self.lease is not None
        tasks = [
            asyncio.create_task(self._watch_key(self.fence)),
            asyncio.create_task(self._keepalive(self.lease)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            log.warning("Lost leadership", extra=self._extra())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.fence = None

    async def _keepalive(self, lease: int) -> None:
        loop = asyncio.get_running_loop()
        last_ok = loop.time()
        while True:
            await asyncio.sleep(self.config.retry_period)
            budget = max(0.05, last_ok + self.config.renew_deadline - loop.time())
            try:
                async with asyncio.timeout(budget):  # a hung etcd call must not outlast it
                    ttl = await self.kv.refresh_lease(lease)
            except NotFoundError:
                log.warning("Leader lease expired", extra=self._extra(lease=lease))
                return
            except Exception as exc:
                if loop.time() - last_ok >= self.config.renew_deadline:
                    log.warning("Lease not renewed in time", extra=self._extra(error=str(exc)))
                    return
                continue
            if ttl <= 0:
                return
            last_ok = loop.time()

    async def _watch_key(self, fence: Fence) -> None:
        """Returns when the key is deleted or re-created by someone else."""
        while True:
            try:
                stream = self.kv.watch_raw(self.key, start_revision=fence.create_revision + 1)
                async for _key, value, _rev in stream:
                    if value is None or value.create_revision != fence.create_revision:
                        return
            except asyncio.CancelledError:
                raise
            except Exception:
                held = await self._held_safely()
                if held is False:
                    return
                await asyncio.sleep(self.config.retry_period)

    async def _held_safely(self) -> bool | None:
        """True/False when the key could be read, None when etcd is unreachable."""
        assert self.fence is not None
        try:
            held = await self.kv.get_raw(self.key)
        except Exception:
            return None
        return held is not None and held.create_revision == self.fence.create_revision

    async def resign(self) -> None:
        """Give the key up now (graceful shutdown): a standby takes over at once."""
        lease, self.lease, self.fence = self.lease, None, None
        if lease is not None:
            with contextlib.suppress(Exception):  # unrevoked, the lease expires after its TTL
                async with asyncio.timeout(self.config.renew_deadline):
                    await self.kv.revoke_lease(lease)
            log.info("Resigned leadership", extra=self._extra())

    def _extra(self, **more: object) -> dict[str, object]:
        return {"lease_key": self.key, "identity": self.identity, **more}
