"""The environment controller's plan() CPU per transition, pure (no etcd, no Mesos).

    .venv/bin/python -m hack.bench.transition_plan_bench [--size 10000] [--chunks 4]

The environments_bench shape (`manifests`) walked DEPLOY, CONFIGURE, START_ACTIVITY,
STOP_ACTIVITY as the controller walks it: each plan's creates and spec updates come back as
the informer sees them (decoded from their bytes, with a new resourceVersion; the written
objects, created and updated, go to taskset.settle_written as the controller's store writes
return them), the task controller's answers as status-only writes (the same spec object) in
`--chunks` chunks with a plan after each; expansions cached as
controller.environments.expansions does (hooks-only re-expansions when the run number or run
times change). Prints plan() CPU seconds per
transition less the garbage collector's passes (the manager tunes those: controller.__main__),
the number of plans and of expansions. Hooks are taken as run at once.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
from typing import Any

from controller.environments import taskset
from controller.environments.expand import expand
from controller.environments.expansion import Expansion, properties_digest
from controller.environments.plan import Plan, plan
from controller.environments.status import with_run_number
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from hack.bench.environments_shape import _now, manifests
from procutil.gc import tune_gc
from store import codec

WALK = (
    ("DEPLOY", "DEPLOYED"),
    ("CONFIGURE", "CONFIGURED"),
    ("START_ACTIVITY", "RUNNING"),
    ("STOP_ACTIVITY", "CONFIGURED"),
)


class Walk:
    def __init__(self, size: int, chunks: int) -> None:
        taskclasses, self.workflow, self.env = manifests(size)
        self.classes = {c.name: c for c in taskclasses}
        self.chunks = chunks
        self.tasks: dict[str, Task] = {}  # the informer's objects, in creation order
        self.versions = itertools.count(100)
        self.expansion: Expansion | None = None
        self.hooks_key: object = None
        self.expansions = 0
        self.cpu = 0.0
        self.gc = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.gc += time.process_time() - self._gc_started

    def _expansion(self) -> Expansion:
        status = self.env.status
        key = (
            status.run_number,
            tuple(sorted(status.plugin_vars.items())),
            tuple(sorted(status.runtime_vars.items())),
        )
        if self.expansion is None or key != self.hooks_key:
            self.expansions += 1
            run = status.run_number
            self.expansion = expand(
                self.env, self.workflow, self.classes, run_number=run, tasks_from=self.expansion
            )
            self.hooks_key = key
        return self.expansion

    def _stored(self, task: Task) -> Task:
        """The write of `task`'s spec as returned by the store; the informer's copy is kept."""
        old = self.tasks.get(task.name)
        if old is not None:
            task = codec.replaced(task, {"status": old.status})
        version = next(self.versions)
        key = f"/o2/tasks/{task.name}"
        self.tasks[task.name] = codec.decode(
            Task, codec.encode(task), key=key, mod_revision=version
        )
        return codec.with_revision(task, version)

    def step(self) -> Plan:
        expansion = self._expansion()
        tasks, taken = list(self.tasks.values()), set(self.tasks)
        collected = self.gc
        started = time.process_time()
        result = plan(
            self.env, self.workflow, self.classes, tasks, now=_now(), expansion=expansion,
            taken=taken,
        )  # fmt: skip
        self.cpu += time.process_time() - started - (self.gc - collected)
        created = [self._stored(codec.prepare_create(t, now=_now())) for t in result.create]
        written = [*created, *(self._stored(task) for task in result.update)]
        collected = self.gc
        started = time.process_time()
        settle = getattr(taskset, "settle_written", None)  # absent before it existed
        if settle is not None:
            settle(expansion, written)
        self.cpu += time.process_time() - started - (self.gc - collected)
        status = result.status
        if result.allocate_run_number:
            status = with_run_number(status, 1, started_ms="1700000000000", started_by="bench")
        self.env = self.env.model_copy(update={"status": status})
        return result

    def answer(self) -> None:
        """The task controller's status writes, in chunks, a plan after each."""
        names = [
            n
            for n, t in self.tasks.items()
            if t.spec.state != t.status.state or t.status.phase != "Running"
        ]
        size = max(1, len(names) // self.chunks + 1)
        for start in range(0, len(names), size):
            for name in names[start : start + size]:
                self.tasks[name] = self._answered(self.tasks[name])
            self.step()

    def _answered(self, task: Task) -> Task:
        update: dict[str, Any] = {"state": task.spec.state}
        if task.status.phase != "Running":
            update.update(phase="Running", hostname="h")
        if task.spec.state in ("CONFIGURED", "RUNNING"):
            update["configured_properties"] = properties_digest(task.spec.properties)
        meta = codec.replaced(task.metadata, {"resource_version": next(self.versions)})
        status = codec.replaced(task.status, update)
        return codec.replaced(task, {"status": status, "metadata": meta})

    def transition(self, state: str) -> tuple[float, int]:
        spec = self.env.spec.model_copy(update={"state": state})
        self.env = Environment.model_validate(self.env.model_copy(update={"spec": spec}))
        self.cpu, self.expansions = 0.0, 0
        for _ in range(200):
            result = self.step()
            if self.env.status.state == state and self.env.status.transition is None:
                return self.cpu, self.expansions
            busy = result.create or result.update or result.allocate_run_number
            if not busy and result.requeue_after != 0.0:
                self.answer()
        raise RuntimeError(f"the walk to {state} did not end: {self.env.status.transition}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--chunks", type=int, default=4)
    args = parser.parse_args(argv)
    tune_gc()
    walk = Walk(args.size, args.chunks)
    print(f"{'tasks':>6}  {'transition':<15} {'plan cpu s':>10} {'expansions':>10}")
    for event, state in WALK:
        cpu, expansions = walk.transition(state)
        print(f"{args.size:>6}  {event:<15} {cpu:>10.3f} {expansions:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
