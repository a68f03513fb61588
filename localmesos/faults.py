"""Fault injection for tests (agent death, partition, restart; executor kill), with the events
Mesos would produce. Reached through LocalCluster and the /localmesos/ control endpoints."""

from __future__ import annotations

import logging

from localmesos import procs
from localmesos.agent import Agent
from localmesos.model import ExecutorState

log = logging.getLogger(__name__)


def die(agent: Agent) -> None:
    """The agent host dies: its executors' process groups are killed, nothing is reported."""
    was_reachable = agent.reachable
    agent.dead = True
    agent.reachable = False
    for executor in list(agent.executors.values()):
        procs.kill_group(executor.pid)
        executor.state = ExecutorState.TERMINATED
        if executor.stream is not None:
            executor.stream.close()
    for task in agent.tasks.values():
        agent.updates.cancel(task)
    agent.executors.clear()
    if was_reachable:  # a partitioned agent was already reported
        agent.master.agent_unreachable(agent)


def kill_executor(agent: Agent, executor_id: str) -> list[str]:
    """Test control: the executor process dies (SIGKILL to its session); the agent reaps it
    and reports as for any executor exit. Returns the framework ids it was found under."""
    found = [e for e in agent.executors.values() if e.executor_id == executor_id]
    for executor in found:
        if executor.hollow is not None:
            executor.hollow.ctx.exit(9)
        else:
            procs.kill_group(executor.pid)
    return [e.framework_id for e in found]


def begin_restart(agent: Agent) -> None:
    """The agent process goes down (its HTTP server is stopped by the caller). As Mesos'
    agent recovery: executors of checkpointing frameworks live on and must re-subscribe
    within the recovery timeout; the others are killed, their tasks LOST (GONE if PA)."""
    for executor in list(agent.executors.values()):
        if executor.hollow is not None or executor.state is ExecutorState.TERMINATED:
            continue
        fw = agent.master.frameworks.get(executor.framework_id)
        if fw is not None and fw.info.get("checkpoint"):
            agent.expect_resubscription(executor)
        else:
            executor.failure_reason = "REASON_AGENT_RESTARTED"
            executor.failure_state = (
                "TASK_GONE" if fw is not None and fw.partition_aware else "TASK_LOST"
            )
            procs.kill_group(executor.pid)
        if executor.stream is not None:
            executor.stream.close()


def end_restart(agent: Agent) -> None:
    """The agent is back (same id and port): pending updates are resent at once."""
    agent.updates.resend(agent.tasks.values())
    log.info("Agent restarted", extra={"agent": agent.agent_id, "port": agent.port})


def partition(agent: Agent) -> None:
    if agent.reachable and not agent.dead:
        agent.reachable = False
        agent.master.agent_unreachable(agent)


def restore(agent: Agent) -> None:
    """End a partition: re-register and resend the head update of every task stream."""
    if agent.reachable or agent.dead:
        return
    agent.reachable = True
    agent.master.agent_reregistered(agent)
    agent.updates.resend(agent.tasks.values())
