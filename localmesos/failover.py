"""A restart of the master process inside the running cluster, as a Mesos master failover.

The master keeps frameworks' connections, offers, filters, its task table and the removed
frameworks only in memory, so a restarted master starts without them. The agents (real and
hollow) keep running their executors and tasks, and keep their status update streams: updates
produced meanwhile wait at the agent. When the master is back, every agent re-registers with
its tasks and the frameworks they belong to (master.cpp `recoverFramework`): those frameworks
are known again, disconnected, with no failover timer (Mesos starts one only once a framework
that subscribed to this master disconnects), until their scheduler re-subscribes with its id;
it gets SUBSCRIBED with the same id, the unacknowledged updates are resent and offers resume.
A framework no agent reported is accepted on re-subscription too (its id is not refused: the
new master knows no removed frameworks).

Here the agents re-register before the master serves again, so the new master never answers
a reconciliation while agents are still re-registering (Mesos answers nothing then). An agent
partitioned at the time keeps its tasks unreachable until it is restored, as before.
Pure bookkeeping on the master's records; the HTTP side is `LocalCluster.restart_master`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from localmesos.model import Framework, Json, now

if TYPE_CHECKING:
    from localmesos.master import Master

log = logging.getLogger(__name__)


def go_down(master: Master) -> None:
    """The master process is gone: its streams end, everything it kept in memory goes."""
    master.up = False
    for fw in master.frameworks.values():
        if fw.failover_handle is not None:
            fw.failover_handle.cancel()
            fw.failover_handle = None
        if fw.stream is not None:
            fw.stream.close()  # what the scheduler sees: its event stream ends
            fw.stream = None
        fw.connected = fw.active = False
        fw.unregistered_time = now()
        fw.tasks.clear()
        fw.unreachable_tasks.clear()
        fw.completed_tasks.clear()
        fw.filters.clear()
    for offer in list(master.offers.values()):  # no RESCIND: nobody is there to send it
        master.drop_offer(offer)
    master.completed_frameworks.clear()
    master.notify()
    log.warning("Master down", extra={"master": master.master_id})


def _reported_frameworks(master: Master) -> dict[str, Json]:
    """The FrameworkInfo of every framework a live agent runs executors or tasks of (agents
    keep it with them; here it is the one the old master held)."""
    infos: dict[str, Json] = {}
    for agent in master.agents.values():
        if agent.dead:
            continue
        ids = {fid for fid, _ in agent.tasks} | {fid for fid, _ in agent.executors}
        for fid in ids:
            fw = master.frameworks.get(fid)
            if fw is not None:
                infos[fid] = fw.info
    return infos


def come_back(master: Master) -> int:
    """A new master (new id) rebuilt from its agents' re-registration, before it serves.
    Returns how many tasks the agents reported."""
    master.new_identity()
    infos = _reported_frameworks(master)
    master.frameworks = {
        fid: Framework(framework_id=fid, info=info, unregistered_time=now())
        for fid, info in infos.items()
    }
    count = 0
    for agent in master.agents.values():
        if agent.dead:
            continue
        for (fid, tid), task in agent.tasks.items():
            fw = master.frameworks.get(fid)
            if fw is None:  # its framework was removed: the agent forgets it meanwhile
                continue
            if agent.reachable:
                fw.tasks[tid] = task
            elif not task.terminal:
                fw.unreachable_tasks[tid] = task
            count += 1
    master.up = True
    for agent in master.agents.values():
        if agent.reachable and not agent.dead:
            agent.updates.resend(agent.tasks.values())
    master.request_allocation()
    master.notify()
    log.info(
        "Master recovered: agents re-registered",
        extra={"master": master.master_id, "frameworks": len(infos), "tasks": count},
    )
    return count
