"""Read-only JSON views: /master/state, /master/slaves, GET_AGENTS, the test-control state. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localmesos.model import MESOS_VERSION, Executor, Framework, Json, Task
from localmesos.resources import Resources

if TYPE_CHECKING:
    from localmesos.agent import Agent
    from localmesos.master import Master

BUILD = {
    "build_date": "2020-11-24 00:00:00",
    "build_time": 1606176000.0,
    "build_user": "localmesos",
    "git_sha": "localmesos",
    "git_tag": MESOS_VERSION,
}


def version() -> Json:
    return {"version": MESOS_VERSION, **BUILD}


def _flat_attributes(agent: Agent) -> Json:
    return {k: v for k, v in sorted(agent.spec.attributes.items())}


def agent_json(master: Master, agent: Agent) -> Json:
    """One agent of /master/slaves (o2 polls it every 5 s): its ledger holds what its
    outstanding offers sum to, so no walk of every agent's offers per agent."""
    offered = agent.ledger.offered
    return {
        "id": agent.agent_id,
        "hostname": agent.spec.hostname,
        "port": agent.port,
        "pid": agent.pid,
        "attributes": _flat_attributes(agent),
        "registered_time": agent.registered_time,
        "resources": agent.ledger.total.to_flat(),
        "used_resources": agent.ledger.used.to_flat(),
        "offered_resources": offered.to_flat(),
        "reserved_resources": {},
        "unreserved_resources": agent.ledger.total.to_flat(),
        "active": agent.reachable,
        "deactivated": False,
        "version": MESOS_VERSION,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        "localmesos_hollow": agent.hollow,
    }


def slaves(master: Master) -> Json:
    live = [a for a in master.agents.values() if a.reachable]
    return {"slaves": [agent_json(master, a) for a in live], "recovered_slaves": []}


def task_json(task: Task) -> Json:
    return {
        "id": task.task_id,
        "name": str(task.info.get("name", task.task_id)),
        "framework_id": task.framework_id,
        "executor_id": task.executor_id,
        "slave_id": task.agent_id,
        "state": task.state,
        "resources": task.resources.to_flat(),
        "role": "*",
        "statuses": [
            {
                k: v
                for k, v in s.items()
                if k
                in (
                    "state",
                    "timestamp",
                    "message",
                    "reason",
                    "source",
                    "healthy",
                    "container_status",
                )
            }
            for s in task.statuses
        ],
        "labels": (task.info.get("labels") or {}).get("labels", []),
    }


def executor_json(executor: Executor) -> Json:
    return {
        "executor_id": executor.executor_id,
        "framework_id": executor.framework_id,
        "slave_id": executor.agent_id,
        "name": str(executor.info.get("name", "")),
        "command": executor.info.get("command", {}),
        "resources": executor.resources.to_flat(),
        "directory": executor.directory,
        "container_id": executor.container_id,
        "state": executor.state.value,
        "pid": executor.pid,
    }


def framework_json(master: Master, fw: Framework) -> Json:
    info = fw.info
    offers = [o for o in master.offers.values() if o.framework_id == fw.framework_id]
    used = Resources()
    for task in fw.tasks.values():
        if not task.terminal:
            used = used + task.resources
    executors = [
        e
        for a in master.agents.values()
        for e in a.executors.values()
        if e.framework_id == fw.framework_id
    ]
    return {
        "id": fw.framework_id,
        "name": info.get("name", ""),
        "pid": "",
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "principal": info.get("principal", ""),
        "roles": info.get("roles", [info.get("role", "*")]),
        "capabilities": [c.get("type") for c in info.get("capabilities", [])],
        "active": fw.active,
        "connected": fw.connected,
        "recovered": False,
        "failover_timeout": fw.failover_timeout,
        "checkpoint": bool(info.get("checkpoint", False)),
        "registered_time": fw.registered_time,
        "unregistered_time": fw.unregistered_time,
        "used_resources": used.to_flat(),
        "offered_resources": sum((o.resources for o in offers), Resources()).to_flat(),
        "tasks": [task_json(t) for t in fw.tasks.values()],
        "unreachable_tasks": [task_json(t) for t in fw.unreachable_tasks.values()],
        "completed_tasks": [task_json(t) for t in fw.completed_tasks],
        "offers": [
            {
                "id": o.offer_id,
                "framework_id": o.framework_id,
                "slave_id": o.agent_id,
                "resources": o.resources.to_flat(),
            }
            for o in offers
        ],
        "executors": [executor_json(e) for e in executors],
        "labels": (info.get("labels") or {}).get("labels", []),
    }


def state(master: Master) -> Json:
    live = [a for a in master.agents.values() if a.reachable]
    info = master.master_info()
    return {
        **version(),
        "start_time": master.start_time,
        "elected_time": master.start_time,
        "id": master.master_id,
        "pid": info["pid"],
        "hostname": master.host,
        "capabilities": ["AGENT_UPDATE"],
        "activated_slaves": float(len(live)),
        "deactivated_slaves": 0.0,
        "unreachable_slaves": float(len(master.agents) - len(live)),
        "leader": info["pid"],
        "leader_info": info,
        "log_dir": "",
        "flags": {
            "heartbeat_interval": f"{master.timers.heartbeat_interval:g}secs",
            "allocation_interval": f"{master.timers.allocation_interval:g}secs",
        },
        "slaves": [agent_json(master, a) for a in live],
        "recovered_slaves": [],
        "frameworks": [framework_json(master, f) for f in master.frameworks.values()],
        "completed_frameworks": [
            framework_json(master, f) for f in master.completed_frameworks.values()
        ],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def get_agents(master: Master) -> Json:
    """The v1 operator GET_AGENTS response."""
    agents = []
    for agent in master.agents.values():
        if not agent.reachable:
            continue
        agents.append(
            {
                "active": True,
                "agent_info": agent.agent_info(),
                "pid": agent.pid,
                "registered_time": {"nanoseconds": int(agent.registered_time * 1e9)},
                "total_resources": agent.ledger.total.to_json(),
                "allocated_resources": agent.ledger.used.to_json(),
                "offered_resources": agent.ledger.offered.to_json(),
                "version": MESOS_VERSION,
            }
        )
    return {"type": "GET_AGENTS", "get_agents": {"agents": agents, "recovered_agents": []}}


def _v1_task(task: Task) -> Json:
    out: Json = {
        "name": str(task.info.get("name", task.task_id)),
        "task_id": {"value": task.task_id},
        "framework_id": {"value": task.framework_id},
        "executor_id": {"value": task.executor_id},
        "agent_id": {"value": task.agent_id},
        "state": task.state,
        "resources": task.resources.to_json(),
        "statuses": list(task.statuses),
    }
    if task.status_update_state:
        out["status_update_state"] = task.status_update_state
    return out


def get_tasks(master: Master) -> Json:
    """The v1 operator GET_TASKS response."""
    frameworks = list(master.frameworks.values())
    return {
        "type": "GET_TASKS",
        "get_tasks": {
            "tasks": [_v1_task(t) for f in frameworks for t in f.tasks.values()],
            "unreachable_tasks": [
                _v1_task(t) for f in frameworks for t in f.unreachable_tasks.values()
            ],
            "completed_tasks": [_v1_task(t) for f in frameworks for t in f.completed_tasks],
        },
    }


def _v1_framework(fw: Framework) -> Json:
    return {
        "framework_info": fw.info,
        "active": fw.active,
        "connected": fw.connected,
        "recovered": False,
        "registered_time": {"nanoseconds": int(fw.registered_time * 1e9)},
    }


def get_frameworks(master: Master) -> Json:
    """The v1 operator GET_FRAMEWORKS response."""
    return {
        "type": "GET_FRAMEWORKS",
        "get_frameworks": {
            "frameworks": [_v1_framework(f) for f in master.frameworks.values()],
            "completed_frameworks": [
                _v1_framework(f) for f in master.completed_frameworks.values()
            ],
        },
    }


def control_state(master: Master) -> Json:
    """The test-control view: every agent (also lost ones), executors, unacked update streams."""
    agents = []
    for agent in master.agents.values():
        agents.append(
            {
                "id": agent.agent_id,
                "hostname": agent.spec.hostname,
                "port": agent.port,
                "hollow": agent.hollow,
                "reachable": agent.reachable,
                "dead": agent.dead,
                "executors": [executor_json(e) for e in agent.executors.values()],
                "tasks": [
                    {
                        **task_json(t),
                        "pending_updates": [
                            {"state": u["state"], "uuid": u.get("uuid")} for u in t.pending
                        ],
                    }
                    for t in agent.tasks.values()
                ],
                "available": agent.ledger.available().to_flat(),
                "exit_statuses": list(agent.exit_statuses),
            }
        )
    return {
        "master_id": master.master_id,
        "agents": agents,
        "frameworks": [framework_json(master, f) for f in master.frameworks.values()],
        "completed_frameworks": list(master.completed_frameworks),
    }
