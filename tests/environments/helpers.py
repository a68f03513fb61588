"""Test helpers: the sample manifests, and a pure stand-in for the task controller."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from controller.environments.expand import expand
from controller.environments.expansion import Expansion, Hook
from controller.environments.plan import (
    Plan,
    plan,
    properties_digest,
    with_run_number,
)
from controller.environments.runvars import millis
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Role, Workflow
from crds.labels import ENV_LABEL, IDLE_LABEL
from crds.manifest import parse_documents

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "manifests" / "samples"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def samples() -> tuple[Environment, Workflow, dict[str, TaskClass]]:
    docs = []
    for name in ("taskclasses", "workflow-readout-dataflow", "environment-physics-1"):
        path = SAMPLES / f"{name}.yaml"
        docs += parse_documents(path.read_text(), source=str(path))
    classes = {d.name: d for d in docs if isinstance(d, TaskClass)}
    workflow = next(d for d in docs if isinstance(d, Workflow))
    env = next(d for d in docs if isinstance(d, Environment))
    meta = env.metadata.model_copy(update={"uid": "uid-env", "generation": 1})
    return env.model_copy(update={"metadata": meta}), workflow, classes


def fresh(env: Environment, *, name: str | None = None) -> Environment:
    """`env` as a new object to create (no uid, generation 0), renamed when `name` is given."""
    changes: dict[str, object] = {"uid": "", "generation": 0}
    if name is not None:
        changes["name"] = name
    return env.model_copy(update={"metadata": env.metadata.model_copy(update=changes)})


def with_calls(workflow: Workflow, **changes: object) -> Workflow:
    """`workflow` with `changes` applied to the `call` of every call role (top level)."""
    roles = tuple(
        r if r.call is None else r.model_copy(update={"call": r.call.model_copy(update=changes)})
        for r in workflow.spec.roles
    )
    return workflow.model_copy(update={"spec": workflow.spec.model_copy(update={"roles": roles})})


def with_spec(env: Environment, **changes: object) -> Environment:
    meta = env.metadata.model_copy(update={"generation": env.metadata.generation + 1})
    return env.model_copy(update={"spec": env.spec.model_copy(update=changes), "metadata": meta})


def with_vars(env: Environment, **values: str) -> Environment:
    return with_spec(env, vars={**env.spec.vars, **values})


@dataclass
class Sim:
    """Plays the environment controller's loop and the task controller's part, in memory.

    Tasks reach their spec.state at once (DONE = exited) and get a pid at creation; with
    `report_digest` they also report the properties digest at CONFIGURE. `fail_hooks` names
    hook paths whose run fails.
    """

    env: Environment
    workflow: Workflow
    classes: Mapping[str, TaskClass]
    tasks: dict[str, Task] = field(default_factory=dict)
    run_counter: int = 0
    next_pid: int = 100
    now: datetime = T0
    hooks_run: list[Hook] = field(default_factory=list)
    fail_hooks: set[str] = field(default_factory=set)
    frozen: set[str] = field(default_factory=set)
    plans: list[Plan] = field(default_factory=list)
    report_digest: bool = False
    """Whether the simulated task controller reports status.configuredProperties."""

    def pids(self) -> dict[str, int | None]:
        return {n: t.status.pid for n, t in self.tasks.items()}

    def owned(self) -> dict[str, Task]:
        """The tasks labelled with this environment, by role path."""
        return {
            t.spec.role: t
            for t in self.tasks.values()
            if t.metadata.labels.get(ENV_LABEL) == self.env.name
        }

    def step(self) -> Plan:
        from controller.environments.plan import hooks_failed

        owned = [
            t for t in self.tasks.values() if t.metadata.labels.get(ENV_LABEL) == self.env.name
        ]
        idle = [t for t in self.tasks.values() if t.metadata.labels.get(IDLE_LABEL) == "true"]
        p = plan(
            self.env,
            self.workflow,
            self.classes,
            owned,
            idle=idle,
            taken=set(self.tasks),
            now=self.now,
        )
        self.plans.append(p)
        for t in p.delete:
            del self.tasks[t.name]
        for t in p.create:
            meta = t.metadata.model_copy(update={"uid": f"uid-{t.name}", "generation": 1})
            self.tasks[t.name] = t.model_copy(update={"metadata": meta})
        for t in p.update:
            self.tasks[t.name] = t
        status = p.status
        if p.allocate_run_number:
            self.run_counter += 1
            status = with_run_number(status, self.run_counter, started_ms=millis(self.now))
        if p.auto_stop:  # the controller's part: the operator's STOP, from the timer
            self.env = with_spec(self.env, state="CONFIGURED")
            return p
        self.hooks_run.extend(p.start_hooks)
        failures = [(h, "exit code 1") for h in p.await_hooks if h.path in self.fail_hooks]
        if failures:
            status = hooks_failed(
                self.env, failures, now=self.now, status=status, progress=p.transition
            )
        self.env = self.env.model_copy(update={"status": status})
        self._tasks_follow()
        self.now += timedelta(seconds=1)
        return p

    def _tasks_follow(self) -> None:
        for name, task in list(self.tasks.items()):
            if name in self.frozen or task.status.phase in ("Failed", "Lost", "Killed"):
                continue
            update: dict[str, object] = {"phase": "Running", "state": task.spec.state}
            if task.status.pid is None:
                update["pid"] = self.next_pid
                self.next_pid += 1
            configuring = task.status.state in (None, "STANDBY")
            if self.report_digest and configuring and task.spec.state in ("CONFIGURED", "RUNNING"):
                update["configured_properties"] = properties_digest(task.spec.properties)
            if task.spec.state == "DONE":
                update["phase"] = "Finished"
            self.tasks[name] = task.model_copy(
                update={"status": task.status.model_copy(update=update)}
            )

    def settle(self, limit: int = 40) -> Environment:
        """Reconcile until nothing changes (or `limit` rounds)."""
        for _ in range(limit):
            before = (self.env.status, dict(self.tasks))
            p = self.step()
            busy = p.create or p.update or p.delete or p.start_hooks or p.allocate_run_number
            quiet = not (busy or p.auto_stop)
            if (
                quiet
                and before[0].state == self.env.status.state
                and self.env.status.transition is None
            ):
                break
        return self.env

    def set_spec(self, **changes: object) -> None:
        self.env = with_spec(self.env, **changes)

    def set_vars(self, **values: str) -> None:
        self.env = with_vars(self.env, **values)

    def break_task(self, name: str, *, phase: str = "Failed", message: str = "killed") -> None:
        task = self.tasks[name]
        status = task.status.model_copy(update={"phase": phase, "message": message})
        self.tasks[name] = task.model_copy(update={"status": status})
        self.frozen.add(name)


def with_hooks(workflow: Workflow, *hooks: tuple[str, str], critical: bool = True) -> Workflow:
    """`workflow` plus one top-level call role per (name, trigger), running `echo <name>`."""
    roles = tuple(
        Role.model_validate(
            {
                "name": name,
                "call": {"command": ["echo", name], "trigger": trigger, "critical": critical},
            }
        )
        for name, trigger in hooks
    )
    spec = workflow.spec.model_copy(update={"roles": (*workflow.spec.roles, *roles)})
    return workflow.model_copy(update={"spec": spec})


def running_sim() -> tuple[Sim, Expansion]:
    """The sample environment settled at RUNNING, and its expansion at that run."""
    env, workflow, classes = samples()
    sim = Sim(env, workflow, classes)
    settled = sim.settle()
    assert settled.status.state == "RUNNING"
    return sim, expand(settled, workflow, classes, run_number=settled.status.run_number)
