"""The offer book: placement of pending Tasks, launches (status first, then one ACCEPT per
offer), DECLINE filters, REVIVE/SUPPRESS. Decisions in controller.tasks.placement (pure); this
part owns only the state of our offer interest (suppressed, revived for whom, when)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from functools import partial

from controller.tasks import placement
from controller.tasks import status as st
from controller.tasks.backlog import Backlog
from controller.tasks.inflight import LaunchesInFlight
from controller.tasks.launch import task_info
from controller.tasks.modes import async_agents, place_by_mode
from controller.tasks.shared import Shared
from controller.tasks.writer import StatusFn
from crds.errors import MesosUnavailableError
from crds.fairmq import bound_addresses
from crds.kinds.node import Node, effective_mode
from crds.kinds.task import Task, is_pilot
from crds.meta import utcnow
from mesosapi.models import Offer, TaskInfo
from store.informer import CacheEvent, Informer

log = logging.getLogger(__name__)


class OfferBook:
    """The offer side of the framework."""

    def __init__(
        self,
        shared: Shared,
        *,
        backlog: Backlog,
        nodes: Informer[Node],
        launches: LaunchesInFlight,
    ) -> None:
        self._shared = shared
        self._backlog = backlog
        self._nodes = nodes
        self._launches = launches
        self._suppressed: bool | None = None
        """Whether the master holds our SUPPRESS (None: not known, e.g. after a subscribe)."""
        self._revived_for: set[str] = set()
        self._last_revive = -1e9
        self._wake_timer: asyncio.TimerHandle | None = None
        self._wake_later_names: set[str] = set()
        """Tasks whose REVIVE waits for `revive_interval` (see `_wake_later`)."""
        self._offered: dict[str, Offer] = {}
        """Agent id -> its last offer this term: what each agent that offers looks like."""
        self.signatures = placement.Signatures()
        """Pending tasks' demands, remembered across rounds (see placement.Signatures)."""

    def on_subscribed(self) -> None:
        """A (re)subscription: the master's view of our suppression is not known."""
        self._suppressed = None

    def on_disconnected(self) -> None:
        """The connection is gone: so are the master's suppression and our revives, and the
        master refuses the calls of that stream (no failed ACCEPT can land any more)."""
        self._suppressed = None
        self._revived_for = set()
        self._launches.stream_ended()

    def on_node_change(self, event: CacheEvent[Node]) -> None:
        """A cordon lifted, or a node's mode changed: pending tasks deserve fresh offers at once."""
        old, new = event.old, event.new
        if (
            old is None
            or new is None
            or old.spec != new.spec
            or effective_mode(old) != effective_mode(new)
        ):
            self._revived_for = set()
            self._shared.wake()

    async def on_offers(self, offers: list[Offer]) -> None:
        """Place what fits, launch, decline the rest with a filter. Tasks that became pending
        while this ran were not considered, and the filters our ACCEPT/DECLINE install undo a
        REVIVE the master processed before them (calls travel on several connections, so it
        may even have been sent after them): such tasks get a fresh REVIVE, else they would
        wait for the filter to expire (5 s, or 60 s when idle)."""
        pending = self._backlog.pending()
        self._offered.update((o.agent_id, o) for o in offers)
        try:
            await self._answer_offers(offers, pending)
        finally:
            late = {t.name for t in self._backlog.pending_besides({t.name for t in pending})}
            if late & self._revived_for:
                self._revived_for -= late
                self._shared.wake(*late)
        if not self._backlog.any_pending():
            await self.update_interest()  # nothing pending any more: SUPPRESS

    async def update_interest(self, names: Iterable[str] | None = None) -> None:
        """REVIVE when new tasks are pending (it also clears our DECLINE filters), SUPPRESS
        when none is (no offer hoarding). Revives are spaced by `revive_interval`."""
        client = self._shared.link.client
        if client is None:
            return
        pending = {t.name for t in self._backlog.pending(names)}
        fresh = pending - self._revived_for
        now = asyncio.get_running_loop().time()
        if fresh and (
            self._suppressed is not False
            or now - self._last_revive >= self._shared.config.revive_interval
        ):
            await client.revive()
            log.info("Revived offers", extra={"pending": len(pending), "new": len(fresh)})
            self._suppressed = False
            self._last_revive = now
            self._revived_for = pending if names is None else self._revived_for | pending
        elif fresh:  # spaced out: come back once the interval has passed, not at the next tick
            self._wake_later(self._last_revive + self._shared.config.revive_interval - now, fresh)
        elif names is None and not pending and self._suppressed is not True:
            await client.suppress()
            log.info("Suppressed offers: nothing pending")
            self._suppressed = True
            self._revived_for = set()

    # ---- placing --------------------------------------------------------------------------

    async def _answer_offers(self, offers: list[Offer], pending: list[Task]) -> None:
        client = self._shared.link.require()
        if not pending:
            await client.decline(
                [o.id for o in offers], refuse_seconds=self._shared.config.idle_refuse_seconds
            )
            return
        self.signatures.keep(t.name for t in pending)
        plan = place_by_mode(
            pending,
            offers,
            nodes=self._nodes.list(),
            executor_id=self._shared.executor.executor_id,
            cordoned=self._cordoned(),
            unique_taken=self._unique_taken(offers) if _any_unique(pending) else {},
            signatures=self.signatures,
        )
        self._note_unplaced(plan.unplaced, offers)
        by_offer = plan.by_offer()
        offers_by_id = {o.id: o for o in offers}
        for offer_id, placed in by_offer.items():
            await self._launch(offers_by_id[offer_id], placed)
        unused = [o.id for o in offers if o.id not in by_offer]
        if unused:
            await client.decline(unused, refuse_seconds=self._shared.config.refuse_seconds)

    def _cordoned(self) -> set[str]:
        out: set[str] = set()
        for node in self._nodes.list():
            if node.spec.unschedulable:
                out.add(node.status.hostname or node.name)
                if node.status.agent_id:
                    out.add(node.status.agent_id)
        return out

    def _unique_taken(self, offers: list[Offer]) -> dict[tuple[str, str], set[str]]:
        attrs: dict[str, dict[str, str]] = {}
        for node in self._nodes.list():
            if node.status.agent_id:
                attrs[node.status.agent_id] = {
                    **node.status.attributes,
                    "hostname": node.status.hostname,
                }
        for offer in offers:
            attrs[offer.agent_id] = {
                **{a.name: a.as_text() for a in offer.attributes},
                "hostname": offer.hostname,
            }
        taken: dict[tuple[str, str], set[str]] = {}
        for task in self._shared.roster.live():
            agent = attrs.get(task.status.agent_id or "")
            for c in task.spec.constraints:
                if c.operator == "UNIQUE" and agent is not None and c.attribute in agent:
                    taken.setdefault((task.spec.task_class, c.attribute), set()).add(
                        agent[c.attribute]
                    )
        return taken

    def _note_unplaced(self, unplaced: dict[str, str], offers: list[Offer]) -> None:
        """Say why a task fits nowhere (condition, message, Event) once it has fit none of the
        offers for `unplaced_grace` s: one round holds the offers of some agents only, and a
        task whose agent simply comes in the next round is not unschedulable (a 10,000-task
        deploy pinned to detectors made 6,000 such Events and as many status writes). A task
        that only an agent which has offered before (and is not in this round) can host waits
        `unoffered_grace` s: its agent's next offer comes once our earlier answer's filter
        ends, and later still while a large deploy keeps the rounds slow."""
        if not unplaced:
            return
        now = asyncio.get_running_loop().time()
        config = self._shared.config
        asyncs = async_agents(self._nodes.list())
        waits = _AgentWait(self._offered, offers, cordoned=self._cordoned(), asyncs=asyncs)
        for name, why in unplaced.items():
            task = self._shared.roster.view(name)
            if task is None:
                continue
            first = self._backlog.first_misfit(name, now=now)
            reported = self._backlog.unschedulable_reason(name)
            if reported is None and now - first < config.unplaced_grace:
                continue
            if reported is None and now - first < config.unoffered_grace and waits(task):
                continue
            if reported != why:
                log.info("Task cannot be placed", extra={"task": name, "reason": why})
                self._shared.events.event(
                    task, reason="FailedScheduling", message=why, warning=True
                )
            self._backlog.unschedulable(name, why)
            self._shared.writer.patch(name, partial(st.with_message, message=why))

    async def _launch(self, offer: Offer, placed: list[placement.Placed]) -> None:
        """Write each task's launch status first, then ONE ACCEPT with every task that got
        written (a crash in between leaves Staging tasks that reconciliation sends back).
        From before the write until the master answers the ACCEPT the launches are in flight,
        and reconciliation leaves them out (see controller.tasks.inflight)."""
        changes, infos = self._prepare(offer, placed)
        ids = [str(info.task_id) for info in infos.values()]
        self._launches.sending(ids)
        accepting: list[str] = []
        try:
            written = await self._shared.writer.write_now(changes)
            launch = [info for name, info in infos.items() if name in written]
            for missed in changes.keys() - written:  # still pending: it deserves a REVIVE
                self._revived_for.discard(missed)
                self._shared.wake(missed)
            client = self._shared.link.require()
            if not launch:
                await client.decline([offer.id], refuse_seconds=self._shared.config.refuse_seconds)
                return
            accepting = [str(info.task_id) for info in launch]
            await client.launch(
                [offer.id], launch, refuse_seconds=self._shared.config.refuse_seconds
            )
        except (MesosUnavailableError, asyncio.CancelledError):
            self._launches.unanswered(accepting)  # lost on the way, or may still land
            raise
        finally:
            self._launches.answered(ids)  # the others: answered, or never sent
        log.info(
            "Launched tasks",
            extra={"agent": offer.agent_id, "hostname": offer.hostname, "tasks": len(launch)},
        )

    def _prepare(
        self, offer: Offer, placed: list[placement.Placed]
    ) -> tuple[dict[str, StatusFn], dict[str, TaskInfo]]:
        """Each placed task's launch status change and TaskInfo (a new Mesos task id each)."""
        changes: dict[str, StatusFn] = {}
        infos: dict[str, TaskInfo] = {}
        for p in placed:
            task = self._shared.roster.view(p.task)
            if task is None:
                continue
            mesos_id = f"{task.name}.{uuid.uuid4().hex[:10]}"
            infos[p.task] = task_info(
                task,
                mesos_id=mesos_id,
                offer=offer,
                allocation=p.allocation,
                executor=self._shared.executor,
            )
            channels = bound_addresses(
                task.spec.bind,
                hostname=offer.hostname,
                ports=p.allocation.ports[task.spec.wants.ports :],
                launch_id=mesos_id,
            )
            changes[p.task] = partial(
                st.launched,
                mesos_task_id=mesos_id,
                agent_id=offer.agent_id,
                hostname=offer.hostname,
                ports=tuple(p.allocation.ports[: task.spec.wants.ports]),
                channels=channels,
                executor_id=self._shared.executor.executor_id,
                now=utcnow(),
            )
            self._backlog.placed(p.task)
        return changes, infos

    def _wake_later(self, delay: float, names: set[str]) -> None:
        self._wake_later_names |= names
        if self._wake_timer is None or self._wake_timer.cancelled():
            loop = asyncio.get_running_loop()
            self._wake_timer = loop.call_later(max(delay, 0.0), self._timer_wake)

    def _timer_wake(self) -> None:
        names, self._wake_later_names = self._wake_later_names, set()
        self._wake_timer = None
        if names:
            self._shared.wake(*names)


class _AgentWait:
    """Whether a task that fit none of this round's offers waits for an agent outside the
    round: one that offered before this term, is not cordoned, meets all its constraints
    (UNIQUE ones are judged when its offer comes) and is of the task's mode (an async node's
    offers serve only its pilot, a sync node's never a pilot: controller.tasks.modes; a task
    that only async nodes could host is reported at once, which is what a reclaim waits for).
    Answered once per mode and set of constraints."""

    def __init__(
        self,
        known: dict[str, Offer],
        offers: list[Offer],
        *,
        cordoned: set[str],
        asyncs: set[str],
    ) -> None:
        offered = {o.agent_id for o in offers}
        self._asyncs = asyncs
        self._others = [
            o
            for agent, o in known.items()
            if agent not in offered and agent not in cordoned and o.hostname not in cordoned
        ]
        self._answers: dict[tuple[bool, tuple[tuple[str, str, str], ...]], bool] = {}

    def __call__(self, task: Task) -> bool:
        constraints = task.spec.constraints
        if not constraints:
            return False
        pilot = is_pilot(task)
        key = (pilot, tuple((c.attribute, c.operator, c.value) for c in constraints))
        answer = self._answers.get(key)
        if answer is None:
            answer = any(
                self._on_async(o) == pilot
                and all(placement.satisfies(o, c, task=task, taken={}) for c in constraints)
                for o in self._others
            )
            self._answers[key] = answer
        return answer

    def _on_async(self, offer: Offer) -> bool:
        return offer.agent_id in self._asyncs or offer.hostname in self._asyncs


def _any_unique(tasks: list[Task]) -> bool:
    return any(c.operator == "UNIQUE" for t in tasks for c in t.spec.constraints)
