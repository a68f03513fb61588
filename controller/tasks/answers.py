"""After a subscription: which live tasks Mesos has not answered for yet. Once every one has been
answered (by the explicit reconciliation, or an update resent by a re-registered executor) and
those answers' status writes are in, the reconciled record is put, once
(controller.runtime.reconciled): until then, a Task's status may still be what an earlier
controller saw. No write per task: an answer rides on the status write it causes, if any."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from controller.tasks.base import task_name_of
from controller.tasks.writer import StatusWriter
from crds.errors import O2Error
from crds.kinds.task import TaskStatus
from mesosapi.models import TaskStatus as MesosStatus

log = logging.getLogger(__name__)


class Answers:
    """`begin` at SUBSCRIBED, `answer` for each update, `end` when the subscription ends."""

    def __init__(
        self,
        writer: StatusWriter,
        *,
        record: Callable[[], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._writer = writer
        self._record = record
        self._spawn = spawn
        self._awaiting: set[str] = set()
        self._names: set[str] = set()
        self._open = False

    def begin(self, task_ids: Iterable[str]) -> None:
        """The live tasks asked about; with none, the record is put at once."""
        self._awaiting = set(task_ids)
        self._names = {task_name_of(task_id) for task_id in self._awaiting}
        self._open = True
        self._check()

    def answer(self, update: MesosStatus) -> None:
        """An update about one of them counts once its status write (queued just before, by
        MesosUpdates) has been answered by etcd, or found needless."""
        task_id = update.task_id
        if not self._open or task_id not in self._awaiting:
            return
        self._writer.patch(task_name_of(task_id), _unchanged, then=lambda: self._written(task_id))

    def end(self) -> None:
        self._open = False
        self._awaiting.clear()
        self._names = set()

    def _written(self, task_id: str) -> None:
        self._awaiting.discard(task_id)
        self._check()

    def _check(self) -> None:
        if self._open and not self._awaiting:
            self._open = False
            self._spawn(self._put(self._names))

    async def _put(self, names: set[str]) -> None:
        """After the cache shows the answers' writes: a controller reading the same cache that
        sees the record sees them too."""
        try:
            await self._writer.settled(names)
            await self._record()
        except O2Error as exc:
            log.warning("Could not record the reconciliation", extra={"error": str(exc)})


def _unchanged(status: TaskStatus) -> TaskStatus:
    return status
