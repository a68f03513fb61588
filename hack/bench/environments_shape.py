"""The environments_bench shape and its pure part (no I/O): the manifests of N tasks over A
detectors (hollow agents), and `pure`, the expand/steady-state plan times of N tasks. See
hack.bench.environments_bench for the bench; other benches and tests build the same shape.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from controller.environments.expand import expand
from controller.environments.plan import plan
from controller.environments.taskset import properties_digest
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.labels import ENV_LABEL

Json = dict[str, Any]
WALK = (
    ("DEPLOY", "DEPLOYED"),
    ("CONFIGURE", "CONFIGURED"),
    ("START_ACTIVITY", "RUNNING"),
    ("STOP_ACTIVITY", "CONFIGURED"),
)
TRANSITIONS = tuple(event for event, _ in WALK)
AGENTS = 50
CONTROLLERS = (
    "controller.tasks.controller:TaskReconciler",
    "controller.environments.controller:EnvironmentReconciler",
)
SPLIT = {"manager-environments": CONTROLLERS[1:], "manager-tasks": CONTROLLERS[:1]}
"""--split: the environment and the task controller in two managers, each with its own lease;
the rows' manager CPU and RSS are the two processes' sums (each is in `cpu_seconds`, `rss_kb`)."""


def manifests(size: int, agents: int = AGENTS) -> tuple[list[TaskClass], Workflow, Environment]:
    """The shape for `size` tasks over `agents` detectors (one per hollow agent)."""
    if size % (2 * agents):
        raise ValueError(f"--sizes: {size} is not a multiple of {2 * agents} (2 x --agents)")
    classes = [
        TaskClass.model_validate(
            {
                "kind": "TaskClass",
                "metadata": {"name": name},
                "spec": {
                    "control": "direct",
                    "command": {"value": "o2-sample-task", "arguments": ["--role", name]},
                    "wants": {"cpus": 0.1, "memory": 64, "ports": 1},
                    "defaults": {"rate": "100"},
                    "properties": {"rate": "{{ rate }}", "detector": "{{ detector }}"},
                },
            }
        )
        for name in ("readout", "stfbuilder")
    ]
    replicas = "{{ replicas }}"
    workflow = Workflow.model_validate(
        {
            "kind": "Workflow",
            "metadata": {"name": "bench"},
            "spec": {
                "roles": [
                    {
                        "name": "flp-{{ detector }}",
                        "for": {"range": "{{ detectors }}", "var": "detector"},
                        "constraints": [{"attribute": "detector", "value": "{{ detector }}"}],
                        "roles": [
                            {"name": "readout", "task": {"class": "readout"}, "replicas": replicas},
                            {"name": "stfb", "task": {"class": "stfbuilder"}, "replicas": replicas},
                        ],
                    },
                    {
                        "name": "sor",
                        "call": {
                            "command": ["echo", "start-of-run", "{{ run_number }}"],
                            "trigger": "before_START_ACTIVITY+10",
                            "timeout": "10s",
                            "critical": True,
                        },
                    },
                ]
            },
        }
    )
    env_vars = {
        "detectors": json.dumps(_detectors(agents)),
        "replicas": str(size // (2 * agents)),
    }
    env = Environment.model_validate(
        {
            "kind": "Environment",
            "metadata": {"name": f"bench-{size}"},
            "spec": {"workflow": "bench", "state": "DEPLOYED", "vars": env_vars},
        }
    )
    return classes, workflow, env


def _detectors(agents: int = AGENTS) -> list[str]:
    return [f"d{i:02d}" for i in range(agents)]


def agents_yaml(agents: int = AGENTS) -> str:
    """Hollow agents, one per detector, each with room for 640 tasks (cpus 64 at 0.1 each):
    the default 50 hold 10,000 tasks at 200 each, 500 hold 50,000 at 100 each."""
    return "".join(
        f"- {{hostname: flp-{d}, hollow: true, attributes: {{detector: {d}}},\n"
        f'   resources: {{cpus: 64, mem: 65536, ports: "[31000-31999]"}}}}\n'
        for d in _detectors(agents)
    )


def _agents_file(work: Path, agents: int = AGENTS) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "agents.yaml"
    path.write_text(agents_yaml(agents))
    return path


# ---- part 1: pure ---------------------------------------------------------------------------


def pure(size: int, agents: int = AGENTS) -> Json:
    taskclasses, workflow, env = manifests(size, agents)
    classes = {c.name: c for c in taskclasses}
    expand_times, plan_times = [], []
    for _ in range(3):
        started = time.perf_counter()
        expansion = expand(env, workflow, classes, run_number=None)
        expand_times.append(time.perf_counter() - started)
    tasks = [_running(t.spec, t.name, env=env.name) for t in expansion.tasks.values()]
    status = env.status.model_copy(update={"state": "RUNNING", "run_number": 1})
    spec = env.spec.model_copy(update={"state": "RUNNING"})
    steady = env.model_copy(update={"spec": spec, "status": status})
    for _ in range(3):
        started = time.perf_counter()
        plan(steady, workflow, classes, tasks, now=_now(), expansion=expansion)
        plan_times.append(time.perf_counter() - started)
    return {
        "tasks": size,
        "expand_ms": statistics.median(expand_times) * 1000,
        "plan_ms": statistics.median(plan_times) * 1000,
    }


def _running(spec: Any, name: str, *, env: str) -> Task:
    """An owned task of `env`, RUNNING with its desired properties: nothing to change."""
    from crds.meta import ObjectMeta

    spec = spec.model_copy(update={"state": "RUNNING", "run_number": 1, "environment": env})
    task = Task(metadata=ObjectMeta(name=name, labels={ENV_LABEL: env}), spec=spec)
    status = task.status.model_copy(
        update={
            "phase": "Running",
            "state": "RUNNING",
            "configured_properties": properties_digest(spec.properties),
        }
    )
    return task.model_copy(update={"status": status})


def _now() -> Any:
    from crds.meta import utcnow

    return utcnow()
