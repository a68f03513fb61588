"""The cluster's checkpoint: what a restarted cluster needs to adopt the executors the previous
one left running (agent ids and ports, frameworks, executors with their pids, tasks with their
unacknowledged updates), as Mesos agents recover from theirs.

Written once, when the cluster exits keeping its executors (`LocalCluster.stop(
keep_executors=True)`, SIGUSR1), to `<work dir>/checkpoint.json`; read and removed by the next
start on the same work dir, so a later crash never adopts stale state. File I/O and /proc only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import procutil
from localmesos.model import Executor, ExecutorState, Json, Task
from localmesos.resources import Resources

if TYPE_CHECKING:
    from localmesos.agent import Agent
    from localmesos.master import Master

log = logging.getLogger(__name__)

FILE = "checkpoint.json"
VERSION = 1


def path(work_dir: Path) -> Path:
    return work_dir / FILE


# -- writing ------------------------------------------------------------------------------------


def _executor_json(executor: Executor) -> Json:
    return {
        "executor_id": executor.executor_id,
        "framework_id": executor.framework_id,
        "info": executor.info,
        "container_id": executor.container_id,
        "directory": executor.directory,
        "pid": executor.pid,
        "start": procutil.start_time(executor.pid) if executor.pid is not None else None,
        "token": executor.token,
    }


def _task_json(task: Task) -> Json:
    return {
        "task_id": task.task_id,
        "framework_id": task.framework_id,
        "executor_id": task.executor_id,
        "info": task.info,
        "state": task.state,
        "status_update_state": task.status_update_state,
        "pending": list(task.pending),
        "seen_uuids": sorted(task.seen_uuids),
        "delivered": task.delivered,
        "group": task.group,
    }


def _agent_json(agent: Agent) -> Json:
    """Hollow agents keep only their id: their executors live in this process and end with it."""
    executors = [] if agent.hollow else list(agent.executors.values())
    return {
        "agent_id": agent.agent_id,
        "hostname": agent.spec.hostname,
        "hollow": agent.hollow,
        "port": agent.port,
        "executors": [
            _executor_json(e) for e in executors if e.state is not ExecutorState.TERMINATED
        ],
        "tasks": [] if agent.hollow else [_task_json(t) for t in agent.tasks.values()],
    }


def save(master: Master, agents: list[Agent], work_dir: Path) -> Path:
    """Write the checkpoint (atomically: a half-written one is never read)."""
    doc = {
        "version": VERSION,
        "frameworks": [
            {"framework_id": fw.framework_id, "info": fw.info} for fw in master.frameworks.values()
        ],
        "agents": [_agent_json(a) for a in agents if not a.dead],
    }
    target = path(work_dir)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(target)
    return target


# -- recovering ---------------------------------------------------------------------------------


@dataclass
class Recovered:
    """What `restore` found, for `LocalCluster.start` to adopt once the agents serve again."""

    executors: list[tuple[Agent, Executor]]
    frameworks: int


def load(work_dir: Path) -> Json | None:
    """The checkpoint the previous cluster left in `work_dir` (removed: it is used once)."""
    target = path(work_dir)
    try:
        doc = json.loads(target.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        log.warning("Ignoring an unreadable checkpoint", extra={"path": str(target), "error": exc})
        doc = None
    target.unlink()
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        return None
    return doc


def _still_running(raw: Json) -> int | None:
    """The executor's pid if that very process (same start time) still runs, else None."""
    pid, start = raw.get("pid"), raw.get("start")
    if pid is None or start is None or procutil.start_time(int(pid)) != int(start):
        return None
    return int(pid)


def _executor(agent: Agent, raw: Json) -> Executor:
    return Executor(
        executor_id=str(raw["executor_id"]),
        framework_id=str(raw["framework_id"]),
        agent_id=agent.agent_id,
        info=raw["info"],
        resources=Resources.from_json(raw["info"].get("resources")),
        container_id=str(raw["container_id"]),
        directory=str(raw["directory"]),
        state=ExecutorState.RECOVERING,
        pid=_still_running(raw),
        token=raw.get("token"),
    )


def _task(agent: Agent, raw: Json) -> Task:
    task = Task(
        task_id=str(raw["task_id"]),
        framework_id=str(raw["framework_id"]),
        agent_id=agent.agent_id,
        executor_id=str(raw["executor_id"]),
        info=raw["info"],
        resources=Resources.from_json(raw["info"].get("resources")),
        state=str(raw["state"]),
        status_update_state=raw.get("status_update_state"),
        delivered=bool(raw.get("delivered")),
        group=raw.get("group"),
    )
    task.pending.extend(raw.get("pending") or [])
    task.seen_uuids.update(raw.get("seen_uuids") or [])
    return task


def _kill_orphans(raw_agent: Json) -> None:
    """Executors of an agent (or framework) this cluster no longer has: nobody could ever
    control them, so they go (by pid, only while the pid still names that process)."""
    for raw in raw_agent.get("executors") or []:
        pid = _still_running(raw)
        if pid is not None:
            log.warning("Killing an executor nobody can adopt", extra={"pid": pid})
            procutil.kill_group(pid)


def _restore_agent(master: Master, agent: Agent, raw_agent: Json) -> list[Executor]:
    agent.agent_id = str(raw_agent["agent_id"])
    if not agent.hollow:
        agent.port = int(raw_agent["port"])
    executors: list[Executor] = []
    for raw in raw_agent.get("executors") or []:
        if raw["framework_id"] not in master.frameworks:
            _kill_orphans({"executors": [raw]})
            continue
        executor = _executor(agent, raw)
        agent.ledger.claim(executor.resources)
        executors.append(executor)
    by_key = {e.key: e for e in executors}
    for raw in raw_agent.get("tasks") or []:
        fw = master.frameworks.get(str(raw["framework_id"]))
        if fw is None:
            continue
        task = _task(agent, raw)
        if not task.terminal:
            agent.ledger.claim(task.resources)
        agent.tasks[(task.framework_id, task.task_id)] = task
        fw.tasks[task.task_id] = task
        owner = by_key.get((task.framework_id, task.executor_id))
        if owner is not None:
            owner.tasks[task.task_id] = task
    return executors


def restore(master: Master, agents: list[Agent], doc: Json) -> Recovered:
    """Before the agents serve: their ids and ports, the frameworks, executors and tasks.
    Agents are matched by hostname (the same agents file or flags as before)."""
    for raw in doc.get("frameworks") or []:
        master.recover_framework(str(raw["framework_id"]), raw["info"])
    by_host = {(a.spec.hostname, a.hollow): a for a in agents}
    found: list[tuple[Agent, Executor]] = []
    for raw_agent in doc.get("agents") or []:
        agent = by_host.pop((str(raw_agent["hostname"]), bool(raw_agent["hollow"])), None)
        if agent is None:
            _kill_orphans(raw_agent)
            continue
        found += [(agent, e) for e in _restore_agent(master, agent, raw_agent)]
    log.info(
        "Recovered from the checkpoint",
        extra={"frameworks": len(master.frameworks), "executors": len(found)},
    )
    return Recovered(executors=found, frameworks=len(master.frameworks))
