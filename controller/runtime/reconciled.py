"""The task controller's record that Mesos answered for every live task after its latest
subscription, and a follower of that record for the controllers whose status reflects tasks.

The record is one raw key, `<prefix>/runtime/mesos/reconciled`, put once per subscription (a new
leader, or a re-subscription) after the status writes of those answers; its mod revision is the
proof a reader compares (crds Environment `status.reconciledRevision`). Talks to etcd only
through store.api.RuntimeKV.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from crds.errors import CompactedError
from store.api import RuntimeKV

log = logging.getLogger(__name__)

RECONCILED_KEY = "runtime/mesos/reconciled"
RETRY_MIN = 0.5
RETRY_MAX = 10.0
"""Back-off bounds (seconds) between two attempts to follow the record after a failure."""


def reconciled_key(prefix: str) -> str:
    return f"{prefix}/{RECONCILED_KEY}"


class ReconciledFollower:
    """The newest record's revision (`revision`, 0 before any), kept by a watch that runs for
    one leadership term (`start`/`stop`); `changed` is called with each new revision."""

    def __init__(
        self,
        kv: RuntimeKV,
        key: str,
        *,
        changed: Callable[[int], None],
        floor: Callable[[], int],
    ) -> None:
        """`floor`: a revision already seen (an informer's), from which to watch while the
        record is absent: it is recent, and no put after the read is missed."""
        self._kv = kv
        self._key = key
        self._changed = changed
        self._floor = floor
        self._task: asyncio.Task[None] | None = None
        self.revision = 0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="reconciled-follower")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _follow(self) -> None:
        """Read the record, then watch it; a failed read or watch is retried with back-off
        (a watch that ends is resumed from the last revision seen; one whose revision was
        compacted reads the record again and watches from the oldest revision etcd keeps)."""
        delay = RETRY_MIN
        since = self._floor()
        while True:
            try:
                await self._read_and_watch(max(since, self.revision))
                delay = RETRY_MIN
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any broken read or stream: retried, never the term's end
                if isinstance(exc, CompactedError) and exc.compact_revision > since:
                    since = exc.compact_revision
                    continue
                log.warning("Following the reconciled record failed", extra={"error": str(exc)})
                await asyncio.sleep(delay)  # back-off between attempts, not polling
                delay = min(delay * 2, RETRY_MAX)

    async def _read_and_watch(self, since: int) -> None:
        held = await self._kv.get_raw(self._key)
        if held is not None:
            self._seen(held.mod_revision)
            since = max(since, held.mod_revision)
        stream = self._kv.watch_raw(self._key, start_revision=since + 1)
        async for _key, value, revision in stream:
            if value is not None:
                self._seen(revision)

    def _seen(self, revision: int) -> None:
        if revision > self.revision:
            self.revision = revision
            self._changed(revision)
