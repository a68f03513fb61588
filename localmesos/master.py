"""The master: framework registry, failover timers, offers and allocation, update forwarding."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import uuid
from typing import TYPE_CHECKING

from localmesos.config import AuthConfig, Timers
from localmesos.model import (
    MESOS_VERSION,
    FilterVerdict,
    Framework,
    Json,
    Offer,
    Task,
    get_value,
    now,
    strip_status,
)
from localmesos.resources import Resources
from localmesos.streams import EventStream

if TYPE_CHECKING:
    from localmesos.agent import Agent

log = logging.getLogger(__name__)

FILTER_CAP = 365 * 24 * 3600.0


class SubscribeRefused(Exception):
    """SUBSCRIBE answered with 200 + ERROR + close (Mesos does not use 4xx for this)."""


class Master:
    def __init__(
        self, *, timers: Timers, host: str = "127.0.0.1", auth: AuthConfig | None = None
    ) -> None:
        self.master_id = str(uuid.uuid4())
        self.timers = timers
        self.auth = auth or AuthConfig()
        self.host = host
        self.port = 0
        self.start_time = now()
        self.agents: dict[str, Agent] = {}
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: dict[str, Framework] = {}
        self.offers: dict[str, Offer] = {}
        self._next_framework = 0
        self._next_offer = 0
        self._next_agent = 0
        self._allocation_pending = False
        self._rotation = 0
        self.up = True
        """False while the master process is down (localmesos.failover)."""
        self.changed = asyncio.Event()  # set on every event sent and state change (for waiters)

    # -- ids ------------------------------------------------------------------------------------

    def new_agent_id(self) -> str:
        agent_id = f"{self.master_id}-S{self._next_agent}"
        self._next_agent += 1
        return agent_id

    def _new_framework_id(self) -> str:
        fid = f"{self.master_id}-{self._next_framework:04d}"
        self._next_framework += 1
        return fid

    def _new_offer_id(self) -> str:
        oid = f"{self.master_id}-O{self._next_offer}"
        self._next_offer += 1
        return oid

    def new_identity(self) -> None:
        """A restarted master is a new master: new id (so new offer and framework ids)."""
        self.master_id = str(uuid.uuid4())
        self.start_time = now()
        self._next_framework = 0
        self._next_offer = 0

    def master_info(self) -> Json:
        ip_int = struct.unpack("<I", socket.inet_aton(self.host))[0]
        return {
            "id": self.master_id,
            "ip": ip_int,
            "port": self.port,
            "pid": f"master@{self.host}:{self.port}",
            "hostname": self.host,
            "version": MESOS_VERSION,
            "address": {"hostname": self.host, "ip": self.host, "port": self.port},
            "capabilities": [{"type": "AGENT_UPDATE"}],
        }

    # -- events ---------------------------------------------------------------------------------

    def send(self, fw: Framework, event: Json) -> None:
        fw.send(event)
        self.changed.set()

    def notify(self) -> None:
        self.changed.set()

    # -- subscription and failover ---------------------------------------------------------------

    def subscribe(self, body: Json) -> tuple[Framework, EventStream]:
        info = dict((body.get("subscribe") or {}).get("framework_info") or {})
        if not info.get("user") or not info.get("name"):
            raise SubscribeRefused("FrameworkInfo must have user and name")
        fid = get_value(info, "id") or get_value(body, "framework_id")
        if fid is not None and fid in self.completed_frameworks:
            raise SubscribeRefused("Framework has been removed")
        stream = EventStream(
            name=f"framework {fid}", heartbeat_interval=self.timers.heartbeat_interval
        )
        fw = self.frameworks.get(fid) if fid else None
        failover = fw is not None
        if fw is None:
            fid = fid or self._new_framework_id()
            info["id"] = {"value": fid}
            fw = Framework(framework_id=fid, info=info)
            self.frameworks[fid] = fw
            log.info(
                "Framework registered", extra={"framework": fid, "framework_name": info.get("name")}
            )
        else:
            self._failover(fw, info)
        fw.stream, fw.connected, fw.active = stream, True, True
        subscribed = {
            "framework_id": {"value": fw.framework_id},
            "heartbeat_interval_seconds": self.timers.heartbeat_interval,
            "master_info": self.master_info(),
        }
        self.send(fw, {"type": "SUBSCRIBED", "subscribed": subscribed})
        self.send(fw, {"type": "HEARTBEAT"})
        if failover:
            for agent in self.agents.values():
                agent.resend_updates(fw.framework_id)
        self.request_allocation()
        return fw, stream

    def _failover(self, fw: Framework, info: Json) -> None:
        if fw.failover_handle is not None:
            fw.failover_handle.cancel()
            fw.failover_handle = None
        if fw.stream is not None and not fw.stream.closed:
            fw.stream.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
            fw.stream.close()
        for key in ("user", "checkpoint", "principal"):  # not changeable on re-subscribe
            if key in fw.info:
                info[key] = fw.info[key]
        info["id"] = {"value": fw.framework_id}
        fw.info = info
        fw.suppressed = False
        self._reclaim_offers(fw)
        log.info("Framework re-subscribed", extra={"framework": fw.framework_id})

    def disconnected(self, fw: Framework, stream: EventStream) -> None:
        """The framework's stream ended; start its failover timer."""
        if fw.stream is not stream or fw.framework_id not in self.frameworks:
            return
        fw.connected = fw.active = False
        fw.unregistered_time = now()
        self.notify()
        self._reclaim_offers(fw)
        timeout = fw.failover_timeout
        log.info(
            "Framework disconnected", extra={"framework": fw.framework_id, "failover": timeout}
        )
        loop = asyncio.get_running_loop()
        fw.failover_handle = loop.call_later(timeout, self._failover_expired, fw)

    def recover_framework(self, framework_id: str, info: Json) -> Framework:
        """A framework the previous cluster knew (from its checkpoint): disconnected until it
        re-subscribes with its id, removed when its failover timeout runs out, as any other."""
        fw = Framework(framework_id=framework_id, info=info, unregistered_time=now())
        self.frameworks[framework_id] = fw
        loop = asyncio.get_running_loop()
        fw.failover_handle = loop.call_later(fw.failover_timeout, self._failover_expired, fw)
        return fw

    def _failover_expired(self, fw: Framework) -> None:
        fw.failover_handle = None
        if not fw.connected:
            log.info("Framework failover timeout", extra={"framework": fw.framework_id})
            self.remove_framework(fw)

    def remove_framework(self, fw: Framework) -> None:
        """TEARDOWN or failover timeout: shut down its executors, its tasks become KILLED."""
        self.frameworks.pop(fw.framework_id, None)
        self.completed_frameworks[fw.framework_id] = fw
        fw.connected = fw.active = False
        if fw.failover_handle is not None:
            fw.failover_handle.cancel()
        if fw.stream is not None:
            fw.stream.close()
        self._reclaim_offers(fw)
        for agent in self.agents.values():
            agent.remove_framework(fw.framework_id)
        for task in list(fw.tasks.values()) + list(fw.unreachable_tasks.values()):
            task.state = task.status_update_state = "TASK_KILLED"
            fw.completed_tasks.append(task)
        fw.tasks.clear()
        fw.unreachable_tasks.clear()
        log.info("Framework removed", extra={"framework": fw.framework_id})
        self.notify()

    # -- offers ---------------------------------------------------------------------------------

    def _reclaim_offers(self, fw: Framework) -> None:
        for offer in [o for o in self.offers.values() if o.framework_id == fw.framework_id]:
            self.drop_offer(offer)

    def drop_offer(self, offer: Offer) -> None:
        self.offers.pop(offer.offer_id, None)
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.ledger.drop_offer(offer.resources)

    def rescind_agent_offers(self, agent_id: str) -> None:
        for offer in [o for o in self.offers.values() if o.agent_id == agent_id]:
            self.drop_offer(offer)
            fw = self.frameworks.get(offer.framework_id)
            if fw is not None:
                self.send(
                    fw, {"type": "RESCIND", "rescind": {"offer_id": {"value": offer.offer_id}}}
                )

    def add_filter(
        self, fw: Framework, agent_id: str, resources: Resources, seconds: float
    ) -> None:
        if seconds <= 0 or resources.is_empty():
            return
        until = now() + min(seconds, FILTER_CAP)
        fw.filters.setdefault(agent_id, []).append((resources, until))

    def _filtered(self, fw: Framework, agent_id: str, available: Resources, at: float) -> bool:
        """Whether a live filter refuses `available`. An allocation round asks this for every
        agent: the verdict is kept until the agent's resources, its filters or the time of the
        first expiry move, so an unchanged agent costs no resource arithmetic."""
        filters = fw.filters.get(agent_id)
        if not filters:
            return False
        verdict = fw.filter_verdicts.get(agent_id)
        if verdict is not None and verdict.holds(available, filters, at):
            return verdict.refused
        if any(t <= at for _, t in filters):
            filters = fw.filters[agent_id] = [(r, t) for r, t in filters if t > at]
        refused = any(r.contains(available) for r, _ in filters)
        until = min((t for _, t in filters), default=float("inf"))
        fw.filter_verdicts[agent_id] = FilterVerdict(
            available, filters, len(filters), until, refused
        )
        return refused

    def request_allocation(self) -> None:
        if not self._allocation_pending:
            self._allocation_pending = True
            asyncio.get_running_loop().call_soon(self.allocate)

    def allocate(self) -> None:
        self._allocation_pending = False
        fws = [f for f in self.frameworks.values() if f.connected and f.active and not f.suppressed]
        if not fws:
            return
        self._rotation = (self._rotation + 1) % len(fws)
        fws = fws[self._rotation :] + fws[: self._rotation]
        at = now()
        for fw in fws:
            batch = [self._make_offer(fw, a, at) for a in self.agents.values() if a.reachable]
            offers = [o for o in batch if o is not None]
            if offers:
                self.send(fw, {"type": "OFFERS", "offers": {"offers": offers}})

    def _make_offer(self, fw: Framework, agent: Agent, at: float) -> Json | None:
        available = agent.ledger.available()
        if not available.offerable() or self._filtered(fw, agent.agent_id, available, at):
            return None
        offer = Offer(self._new_offer_id(), fw.framework_id, agent.agent_id, available)
        self.offers[offer.offer_id] = offer
        agent.ledger.offer(available)
        return {
            "id": {"value": offer.offer_id},
            "framework_id": {"value": fw.framework_id},
            "agent_id": {"value": agent.agent_id},
            "hostname": agent.spec.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.spec.hostname, "ip": self.host, "port": agent.port},
                "path": f"/slave({agent.index})",
            },
            "allocation_info": {"role": fw.offer_role},
            "resources": available.to_json(allocation_role=fw.offer_role),
            "attributes": agent.attributes_json(),
            "executor_ids": agent.executor_ids_json(fw.framework_id),
        }

    async def allocation_loop(self) -> None:
        """Periodic allocation picks up expired filters (Mesos' allocation_interval)."""
        while True:
            await asyncio.sleep(self.timers.allocation_interval)
            self.allocate()

    # -- status updates -------------------------------------------------------------------------

    def forward_update(self, task: Task, status: Json) -> None:
        """An agent forwards the head of a task's update stream (a reliable update, with uuid);
        while the master is down it goes nowhere (the agent retries, and resends on return)."""
        if not self.up:
            return
        task.status_update_state = status["state"]
        if task.statuses and task.statuses[-1]["state"] == status["state"]:
            task.statuses.pop()  # Mesos' updateTask: one entry per run of a state (retries)
        task.statuses.append(strip_status(status))
        fw = self.frameworks.get(task.framework_id)
        if fw is not None:
            self.send(fw, {"type": "UPDATE", "update": {"status": status}})

    def master_update(self, fw: Framework, task_id: str, state: str, **fields: object) -> None:
        """An unreliable update generated by the master: no uuid, never acknowledged."""
        status: Json = {
            "task_id": {"value": task_id},
            "state": state,
            "source": "SOURCE_MASTER",
            "timestamp": now(),
        }
        status.update({k: v for k, v in fields.items() if v is not None})
        self.send(fw, {"type": "UPDATE", "update": {"status": status}})

    def task_completed(self, task: Task) -> None:
        """The terminal update was acknowledged: the master forgets the task."""
        fw = self.frameworks.get(task.framework_id)
        if fw is not None and fw.tasks.pop(task.task_id, None) is not None:
            fw.completed_tasks.append(task)

    def executor_lost(
        self, *, framework_id: str, agent_id: str, executor_id: str, status: int
    ) -> None:
        fw = self.frameworks.get(framework_id)
        if fw is not None:
            failure = {
                "agent_id": {"value": agent_id},
                "executor_id": {"value": executor_id},
                "status": status,
            }
            self.send(fw, {"type": "FAILURE", "failure": failure})

    # -- agent loss -----------------------------------------------------------------------------

    def agent_unreachable(self, agent: Agent) -> None:
        """Mesos order: UPDATE (LOST or UNREACHABLE, no uuid) per task, RESCIND, FAILURE."""
        at = now()
        for fw in list(self.frameworks.values()):
            for task in [t for t in fw.tasks.values() if t.agent_id == agent.agent_id]:
                self._task_unreachable(fw, task, at)
        self.rescind_agent_offers(agent.agent_id)
        for fw in list(self.frameworks.values()):
            self.send(fw, {"type": "FAILURE", "failure": {"agent_id": {"value": agent.agent_id}}})
        log.warning("Agent unreachable", extra={"agent": agent.agent_id})

    def _task_unreachable(self, fw: Framework, task: Task, at: float) -> None:
        del fw.tasks[task.task_id]
        if task.terminal:
            fw.completed_tasks.append(task)
            return
        state = "TASK_UNREACHABLE" if fw.partition_aware else "TASK_LOST"
        self.master_update(
            fw,
            task.task_id,
            state,
            reason="REASON_AGENT_REMOVED",
            message="Agent is unreachable",
            agent_id={"value": task.agent_id},
            executor_id={"value": task.executor_id},
            unreachable_time={"nanoseconds": int(at * 1e9)} if fw.partition_aware else None,
        )
        task.unreachable_time = at
        fw.unreachable_tasks[task.task_id] = task

    def agent_reregistered(self, agent: Agent) -> None:
        """A partitioned agent came back: its tasks are known again (Mesos >= 1.5 keeps them)."""
        for fw in self.frameworks.values():
            for task in [t for t in fw.unreachable_tasks.values() if t.agent_id == agent.agent_id]:
                del fw.unreachable_tasks[task.task_id]
                task.unreachable_time = None
                fw.tasks[task.task_id] = task
        log.info("Agent re-registered", extra={"agent": agent.agent_id})
        self.request_allocation()

    def stop(self) -> None:
        for fw in list(self.frameworks.values()):
            if fw.failover_handle is not None:
                fw.failover_handle.cancel()
            if fw.stream is not None:
                fw.stream.close()
