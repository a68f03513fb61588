"""The offer book: placement of pending Tasks, launches (status first, then one ACCEPT per
offer), DECLINE filters, REVIVE/SUPPRESS. Decisions in controller.tasks.placement (pure); this
part owns only the state of our offer interest (suppressed, revived for whom, when)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from functools import partial

from controller.tasks import placement, rounds
from controller.tasks import status as st
from controller.tasks.backlog import Backlog
from controller.tasks.inflight import LaunchesInFlight
from controller.tasks.launch import launch_suffixes, task_info
from controller.tasks.modes import Split, async_agents, place_by_mode, split_offers
from controller.tasks.rounds import Tried
from controller.tasks.shared import Shared
from controller.tasks.waits import AgentWaits
from controller.tasks.writer import StatusFn
from crds.errors import MesosCallError, MesosUnavailableError
from crds.fairmq import bound_addresses
from crds.kinds.node import Node, effective_mode
from crds.kinds.task import Task
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
        self.waits = AgentWaits()
        """Which agents could host each group, across rounds (see controller.tasks.waits)."""
        self.signatures = placement.Signatures()
        """Tried tasks' demands, remembered across rounds (see placement.Signatures)."""
        self.tried = 0
        """Tasks handed to placement, over all rounds: what the rounds cost (see
        controller.tasks.rounds)."""

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
        self.waits.node_changed(old, new)  # readiness, attributes, mode or cordon
        if (
            old is None
            or new is None
            or old.spec != new.spec
            or effective_mode(old) != effective_mode(new)
        ):
            self._revived_for = set()
            self._shared.wake(every=True)

    async def on_offers(self, offers: list[Offer]) -> None:
        """Place what fits, launch, decline the rest with a filter. Tasks that became pending
        while this ran were not considered, and the filters our ACCEPT/DECLINE install undo a
        REVIVE the master processed before them (calls travel on several connections, so it
        may even have been sent after them): such tasks get a fresh REVIVE, else they would
        wait for the filter to expire (5 s, or 60 s when idle)."""
        mark = self._backlog.mark()
        self.waits.offered(self._offered, offers)
        self._offered.update((o.agent_id, o) for o in offers)
        try:
            await self._answer_offers(offers)
        finally:  # the late ones are looked at only when one of them was revived for
            if self._backlog.pending_since(mark, among=self._revived_for):
                late = {t.name for t in self._backlog.pending_since(mark)}
                self._revived_for -= late
                self._shared.wake(*late)
        if not self._backlog.any_pending():
            await self.update_interest()  # nothing pending any more: SUPPRESS

    async def update_interest(self, names: Iterable[str] | None = None) -> None:
        """REVIVE when new tasks are pending (it also clears our DECLINE filters), SUPPRESS
        when none is (no offer hoarding). Revives are spaced by `revive_interval`. A full look
        (`names` None) views only the candidates no REVIVE was sent for, not every pending
        task: with 10,000 pending it ran every few seconds and cost ~0.3 s each."""
        client = self._shared.link.client
        if client is None:
            return
        if names is None:
            self._revived_for = self._backlog.still_waiting(self._revived_for)
            fresh = {t.name for t in self._backlog.pending_besides(self._revived_for)}
            waiting = bool(fresh) or self._backlog.any_pending()
        else:  # those revived for already are not looked at (all of a deploy's, on each wake)
            revived = self._revived_for
            fresh = {t.name for t in self._backlog.pending(n for n in names if n not in revived)}
            waiting = True
        now = asyncio.get_running_loop().time()
        if fresh and (
            self._suppressed is not False
            or now - self._last_revive >= self._shared.config.revive_interval
        ):
            await client.revive()
            log.info("Revived offers", extra={"new": len(fresh)})
            self._suppressed = False
            self._last_revive = now
            self._revived_for |= fresh
        elif fresh:  # spaced out: come back once the interval has passed, not at the next tick
            self._wake_later(self._last_revive + self._shared.config.revive_interval - now, fresh)
        elif names is None and not waiting and self._suppressed is not True:
            await client.suppress()
            log.info("Suppressed offers: nothing pending")
            self._suppressed = True
            self._revived_for = set()

    # ---- placing --------------------------------------------------------------------------

    async def _answer_offers(self, offers: list[Offer]) -> None:
        client = self._shared.link.require()
        if not self._backlog.any_pending():
            await client.decline(
                [o.id for o in offers], refuse_seconds=self._shared.config.idle_refuse_seconds
            )
            return
        nodes, cordoned = self._nodes.list(), self._cordoned()
        split = split_offers(offers, nodes=nodes, cordoned=cordoned)
        chosen = rounds.select(self._backlog.groups(), split, launchable=self._backlog.launchable)
        self.tried += len(chosen.tasks)
        self.signatures.keep(t.name for t in chosen.tasks)
        plan = place_by_mode(
            chosen.tasks,
            offers,
            nodes=nodes,
            executor_id=self._shared.executor.executor_id,
            cordoned=cordoned,
            unique_taken=self._unique_taken(offers) if _any_unique(chosen.tasks) else {},
            signatures=self.signatures,
        )
        self._note_unplaced(chosen.tried, plan.unplaced, split, offers)
        by_offer = plan.by_offer()
        offers_by_id = {o.id: o for o in offers}
        again = chosen.again
        refuse = self._shared.config.refuse_seconds
        await self._launch(
            [
                (offers_by_id[offer_id], placed, 0.0 if offer_id in again else refuse)
                for offer_id, placed in by_offer.items()
            ]
        )
        unused = [o.id for o in offers if o.id not in by_offer]
        if soon := [i for i in unused if i in again]:
            await client.decline(soon, refuse_seconds=0.0)
        if later := [i for i in unused if i not in again]:
            await client.decline(later, refuse_seconds=refuse)

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

    def _note_unplaced(
        self, tried: list[Tried], unplaced: dict[str, str], split: Split, offers: list[Offer]
    ) -> None:
        """Say why a task fits none of the offers (condition, message, Event) once it has fit
        none for `unplaced_grace` s: one round holds the offers of some agents only, and a
        task whose agent simply comes in the next round is not unschedulable (a 10,000-task
        deploy pinned to detectors made 6,000 such Events and as many status writes). A task
        that only an agent which has offered before (and is not in this round) can host waits
        `unoffered_grace` s: its agent's next offer comes once our earlier answer's filter
        ends, and later still while a large deploy keeps the rounds slow. Per group: only its
        tasks that just fit nothing, are due, or whose reason changed are looked at."""
        now = asyncio.get_running_loop().time()
        config = self._shared.config
        nodes = self._nodes.list()
        waits = self.waits.round(
            self._offered, offers, cordoned=split.blocked, asyncs=async_agents(nodes), nodes=nodes
        )
        short, long = now - config.unplaced_grace, now - config.unoffered_grace
        for entry in tried:
            group = entry.group
            cutoff = short
            oldest = group.oldest()
            if not (group.fresh or group.reported):
                if oldest is None or oldest > cutoff:
                    continue  # nothing new, nobody due, nothing reported: nothing to look at
                if oldest > long and waits(group):
                    continue  # all wait for an agent outside the round, none that long yet
            why_of = _reasons(entry, unplaced, split, self._backlog.launchable)
            group.stamp(why_of, now=now)
            oldest = group.oldest()
            if oldest is not None and oldest <= cutoff and waits(group):
                cutoff = now - config.unoffered_grace
            due = group.due(cutoff)
            outdated: list[str] = []
            if group.shape.unique:
                outdated = group.outdated(None)
            elif (now_why := _first(why_of, group.reported)) is not None:
                outdated = group.outdated(now_why)
            for name in [*due, *outdated]:  # viewed only when it has a reason to report:
                why = why_of(name)  # those left untried by the round's limit have none
                if why is not None and (task := self._backlog.launchable(name)) is not None:
                    self._unschedulable(task, why)

    def _unschedulable(self, task: Task, why: str) -> None:
        if self._backlog.unschedulable_reason(task.name) != why:
            log.info("Task cannot be placed", extra={"task": task.name, "reason": why})
            self._shared.events.event(task, reason="FailedScheduling", message=why, warning=True)
        self._backlog.unschedulable(task.name, why)
        self._shared.writer.patch(task.name, partial(st.with_message, message=why))

    async def _launch(self, launches: list[tuple[Offer, list[placement.Placed], float]]) -> None:
        """Write the launch status of every task placed this round first, in one batch (one
        write per round, not per offer), then ONE ACCEPT per offer with its tasks that got
        written (a crash in between leaves Staging tasks that reconciliation sends back).
        From before the write until the master answers the ACCEPT the launches are in flight,
        and reconciliation leaves them out (see controller.tasks.inflight). An ACCEPT the
        master refuses does not keep the round's other offers from theirs."""
        if not launches:
            return
        changes: dict[str, StatusFn] = {}
        sends: list[tuple[Offer, dict[str, TaskInfo], float]] = []
        for offer, placed, refuse in launches:
            sends.append((offer, self._prepare(offer, placed, changes), refuse))
            await asyncio.sleep(0)  # a turn for others between offers, as the writes gave
        ids = [str(info.task_id) for _, infos, _ in sends for info in infos.values()]
        self._launches.sending(ids)
        accepting: list[str] = []
        refused: MesosCallError | None = None
        try:
            written = await self._shared.writer.write_now(changes)
            for missed in changes.keys() - written:  # still pending: it deserves a REVIVE
                self._revived_for.discard(missed)
                self._shared.wake(missed)
            client = self._shared.link.require()
            for offer, infos, refuse in sends:
                launch = [info for name, info in infos.items() if name in written]
                if not launch:
                    await client.decline([offer.id], refuse_seconds=refuse)
                    continue
                accepting = [str(info.task_id) for info in launch]
                try:
                    await client.launch([offer.id], launch, refuse_seconds=refuse)
                except MesosCallError as exc:
                    refused = refused or exc
                    continue
                finally:
                    self._launches.answered(accepting)
                accepting = []
                log.info(
                    "Launched tasks",
                    extra={
                        "agent": offer.agent_id,
                        "hostname": offer.hostname,
                        "tasks": len(launch),
                    },
                )
        except (MesosUnavailableError, asyncio.CancelledError):
            self._launches.unanswered(accepting)  # lost on the way, or may still land
            raise
        finally:
            self._launches.answered(ids)  # the others: answered, or never sent
        if refused is not None:
            raise refused

    def _prepare(
        self,
        offer: Offer,
        placed: list[placement.Placed],
        changes: dict[str, StatusFn],
    ) -> dict[str, TaskInfo]:
        """Each placed task's TaskInfo (a new Mesos task id each); its launch status change
        goes into `changes`."""
        infos: dict[str, TaskInfo] = {}
        executor_id = self._shared.executor.executor_id
        now = utcnow()
        suffixes = launch_suffixes(len(placed))
        for p, suffix in zip(placed, suffixes, strict=True):
            task = self._shared.roster.view(p.task)
            if task is None:
                continue
            mesos_id = f"{task.name}.{suffix}"
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
                executor_id=executor_id,
                now=now,
            )
            self._backlog.placed(p.task)
        return infos

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


def _reasons(
    entry: Tried, unplaced: dict[str, str], split: Split, launchable: Callable[[str], Task | None]
) -> Callable[[str], str | None]:
    """Why each of the group's tasks fit nothing this round (None: placed, or not tried): a
    task tried has placement's reason; the others of its shape share the reason of the first
    tried one that fit nothing, or, when no offer can host the shape, placement's reason for
    any one of them (computed once, when asked)."""
    tried = set(entry.names)
    if entry.hosted:
        shared = None if entry.group.shape.unique else _first(unplaced.get, entry.names)

        def why_tried(name: str) -> str | None:
            return unplaced.get(name) if name in tried else shared

        return why_tried
    memo: list[str] = []

    def why_unhosted(name: str) -> str | None:
        if not memo:
            task = launchable(name)
            if task is None:
                return NOT_PENDING
            memo.append(split.why_unplaced(task))
        return memo[0]

    return why_unhosted


NOT_PENDING = "not waiting for a launch"
"""A shape's misfit whose reason was not worked out: it is never reported (only tasks waiting
for a launch are)."""


def _first(why_of: Callable[[str], str | None], names: Iterable[str]) -> str | None:
    return next((why for n in names if (why := why_of(n)) is not None), None)


def _any_unique(tasks: list[Task]) -> bool:
    return any(c.operator == "UNIQUE" for t in tasks for c in t.spec.constraints)
