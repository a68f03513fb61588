"""Launches the master may not have processed yet, which reconciliation must not ask about.

A Task's launch status (its new Mesos task id) is written before the ACCEPT that launches it.
The master answers an explicit reconciliation of a task id it has not seen with "unknown"
(TASK_LOST / TASK_GONE / TASK_UNKNOWN, REASON_RECONCILIATION), and the driver reads that as "the
launch never reached Mesos" and sends the Task back to Pending. That is right only when the
RECONCILE reached the master after the ACCEPT did. Calls travel on several connections and the
answer waits in the event stream behind the offer round that sends the ACCEPT, so a RECONCILE
sent between the status write and the ACCEPT's answer gets an answer that is stale when read:
the Task would be launched again while the first launch comes up, and the first launch's
processes would then be killed as strays. So such a launch is left out of every explicit
reconciliation until its ACCEPT is answered: a Mesos task id is new with each launch, hence no
RECONCILE about it can be sent before its ACCEPT was processed, and every answer about it holds.

An ACCEPT answered (202, or refused) was processed by the master. One whose call failed on the
way (timeout, broken connection) may still be processed later, but only on the subscription it
was sent on: the master refuses calls of an older stream. It stays out of reconciliation until
that subscription ends, or for `UNANSWERED_DOUBT` seconds at most (after that the master has read
it or never will, and a Staging task must not wait for a reconnect to be launched again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

UNANSWERED_DOUBT = 30.0
"""Seconds an ACCEPT whose call failed on the way is taken to be still on its way (three times
the scheduler client's call timeout)."""


class LaunchesInFlight:
    """Mesos task ids whose ACCEPT may not have reached the master yet."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sending: set[str] = set()
        self._unanswered: dict[str, float] = {}
        """Id -> until when its failed ACCEPT may still land (on the current stream only)."""

    def __contains__(self, mesos_id: str) -> bool:
        if mesos_id in self._sending:
            return True
        until = self._unanswered.get(mesos_id)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._unanswered[mesos_id]
        return False

    def sending(self, ids: Iterable[str]) -> None:
        """These launches' status is about to be written and their ACCEPT sent."""
        self._sending.update(ids)

    def answered(self, ids: Iterable[str]) -> None:
        """The master answered their ACCEPT, or it was never sent: it knows what it will know."""
        self._sending.difference_update(ids)

    def unanswered(self, ids: Iterable[str]) -> None:
        """Their ACCEPT's call failed on the way (or was cancelled): it may still land."""
        until = self._clock() + UNANSWERED_DOUBT
        for mesos_id in ids:
            self._sending.discard(mesos_id)
            self._unanswered[mesos_id] = until

    def stream_ended(self) -> None:
        """The subscription the failed ACCEPTs were sent on is over: the master refuses its
        calls from now on (a later RECONCILE goes on a new stream, after its SUBSCRIBE)."""
        self._unanswered.clear()
