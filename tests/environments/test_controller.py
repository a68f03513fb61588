"""The environment controller on real etcd, with the task side simulated (see fake_tasks.py).

The real task controller and the local Mesos cluster run in test_e2e.py; here Task status is
written by tests.environments.fake_tasks, which makes every task follow its spec.state.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.environments.controller import (
    IDLE_POOL_JOB,
    RUN_NUMBER_KEY,
    EnvironmentReconciler,
)
from controller.environments.expansions import RUNTIME_VALUES_KEY
from controller.runtime.clock import Clock, FakeClock, SystemClock
from controller.runtime.reconciler import Context
from controller.runtime.runner import Controller
from controller.settings import EnvironmentSettings, Settings
from crds.aliecs.expr import to_o2
from crds.errors import ConflictError
from crds.kinds.environment import Environment
from crds.kinds.node import Node, NodeStatus
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Role, Workflow
from crds.labels import ENV_LABEL, IDLE_LABEL, TEARDOWN_FINALIZER
from crds.resource import Resource
from store.etcd import EtcdStore
from store.informer import InformerFactory
from tests.environments.fake_tasks import FakeTaskController
from tests.environments.helpers import fresh, samples, with_calls
from tests.waiting import eventually


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        self.events.append((obj.metadata.name, reason, message))


@dataclass
class Harness:
    store: EtcdStore
    factory: InformerFactory
    sink: Sink
    fake: FakeTaskController
    controllers: list[Controller]

    def start_controller(
        self, *, clock: Clock | None = None, settings: EnvironmentSettings | None = None
    ) -> Controller:
        ctx = Context(
            store=self.store,
            kv=self.store,
            informers=self.factory,
            events=self.sink,
            settings=Settings(environments=settings or EnvironmentSettings()),
            clock=clock or SystemClock(),
        )
        ctl = Controller(EnvironmentReconciler(ctx))
        ctl.attach()
        ctl.start()
        self.controllers.append(ctl)
        return ctl

    async def stop_controller(self, ctl: Controller) -> None:
        await ctl.stop()
        ctl.detach()
        await ctl.reconciler.hooks.close()  # type: ignore[attr-defined]
        self.controllers.remove(ctl)

    def env(self, name: str) -> Environment:
        env = self.factory.informer(Environment).get(name)
        assert env is not None
        return env

    def tasks(self, env: str) -> dict[str, Task]:
        return {
            t.name: t
            for t in self.factory.informer(Task).list()
            if t.metadata.labels.get(ENV_LABEL) == env
        }

    def pids(self, env: str) -> dict[str, int | None]:
        return {n: t.status.pid for n, t in self.tasks(env).items()}

    async def wait_state(self, name: str, state: str, *, within: float = 15.0) -> Environment:
        def reached() -> bool:
            env = self.factory.informer(Environment).get(name)
            return env is not None and env.status.state == state and env.status.transition is None

        await eventually(reached, within=within)
        return self.env(name)

    async def wait_tasks(self, env: str, state: str, *, within: float = 15.0) -> dict[str, Task]:
        """Until every task of `env` shows `state` in its spec and its status. The environment's
        own state follows its critical tasks only: a non-critical one may get there after it."""

        def arrived() -> bool:
            tasks = self.tasks(env).values()
            return all(t.spec.state == state and t.status.state == state for t in tasks)

        await eventually(arrived, within=within)
        return self.tasks(env)

    async def edit(self, name: str, **changes: object) -> None:
        for _ in range(10):
            env = await self.store.get(Environment, name)
            spec = env.spec.model_copy(update=changes)
            try:
                await self.store.update(env.model_copy(update={"spec": spec}))
                return
            except ConflictError:
                continue
        raise AssertionError("could not edit the environment")


@pytest.fixture
async def harness(etcd_store: EtcdStore) -> AsyncIterator[Harness]:
    factory = InformerFactory(etcd_store)
    for kind in (Environment, Task, Workflow):
        factory.informer(kind)
    fake = FakeTaskController(etcd_store, factory.informer(Task))
    h = Harness(etcd_store, factory, Sink(), fake, [])
    factory.start()
    await factory.wait_synced()
    fake.start()
    try:
        yield h
    finally:
        for ctl in list(h.controllers):
            await h.stop_controller(ctl)
        await fake.stop()
        await factory.stop()


def hook_workflow(workflow: Workflow, marker: Path, *, await_: str | None = None) -> Workflow:
    """The sample workflow whose start-of-run hook appends the run number to `marker`."""
    code = f"import sys; open({str(marker)!r}, 'a').write(sys.argv[1] + '\\n')"
    argv = (sys.executable, "-c", code, "{{ run_number }}")
    return with_calls(workflow, command=argv, await_=await_)


async def apply_samples(
    h: Harness,
    marker: Path,
    *,
    names: tuple[str, ...] = ("physics-1",),
    detectors: str = "",
    await_: str | None = None,
) -> None:
    env, workflow, classes = samples()
    for tc in classes.values():
        await h.store.create(tc)
    await h.store.create(hook_workflow(workflow, marker, await_=await_))
    for index, name in enumerate(names):
        spec = env.spec
        if index and detectors:
            spec = spec.model_copy(update={"vars": {**spec.vars, "detectors": detectors}})
        await h.store.create(fresh(env, name=name).model_copy(update={"spec": spec}))


async def run_sample(
    h: Harness,
    marker: Path,
    *,
    await_: str | None = None,
    clock: Clock | None = None,
    settings: EnvironmentSettings | None = None,
) -> Environment:
    """A controller (with `clock` and `settings`) running the samples, once physics-1 is
    RUNNING."""
    h.start_controller(clock=clock, settings=settings)
    await apply_samples(h, marker, await_=await_)
    return await h.wait_state("physics-1", "RUNNING")


async def test_sample_reaches_running_with_a_run_number_from_etcd(
    harness: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    await harness.store.put_raw(f"{harness.store.prefix}/{RUN_NUMBER_KEY}", b"41")
    env = await run_sample(harness, marker)
    assert env.status.run_number == 42
    assert marker.read_text() == "42\n"
    tasks = harness.tasks("physics-1")
    assert set(tasks) == {"physics-1-flp-tpc-readout", "physics-1-flp-tpc-stfb", "physics-1-qc-0"}
    # RUNNING says the critical tasks run; qc (not critical) may still be on its way.
    critical = [t for t in tasks.values() if t.spec.critical]
    assert {t.name for t in critical} == {"physics-1-flp-tpc-readout", "physics-1-flp-tpc-stfb"}
    assert all(t.spec.state == "RUNNING" and t.status.state == "RUNNING" for t in critical)
    tasks = await harness.wait_tasks("physics-1", "RUNNING")
    owner = tasks["physics-1-qc-0"].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid) == ("Environment", "physics-1", env.metadata.uid)
    assert [h.event for h in env.status.history] == ["DEPLOY", "CONFIGURE", "START_ACTIVITY"]
    assert any(reason == "HookSucceeded" for _, reason, _ in harness.sink.events)


async def test_environment_runs_once_its_critical_tasks_do_and_a_late_non_critical_one_joins(
    harness: Harness, tmp_path: Path
) -> None:
    """The transition waits for the critical tasks only; the status counts the late one where
    it is, and it joins the run when it answers (under load the stand-in's status write of
    qc-0 came after the environment's RUNNING; here it is held back on purpose)."""
    late = "physics-1-qc-0"
    harness.fake.hold(late)
    env = await run_sample(harness, tmp_path / "runs.txt")
    assert harness.tasks("physics-1")[late].status.state is None
    assert env.status.task_counts.get("RUNNING") == 2 and env.status.task_total == 3
    harness.fake.release(late)
    tasks = await harness.wait_tasks("physics-1", "RUNNING")
    assert tasks[late].spec.run_number == env.status.run_number
    await eventually(lambda: harness.env("physics-1").status.task_counts == {"RUNNING": 3})


async def test_stop_and_start_again_takes_the_next_run_without_new_processes(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    await harness.wait_tasks("physics-1", "RUNNING")  # qc (not critical) has its pid too
    pids = harness.pids("physics-1")
    await harness.edit("physics-1", state="CONFIGURED")
    env = await harness.wait_state("physics-1", "CONFIGURED")
    assert env.status.last_run_number == 1 and env.status.run_number is None
    await harness.edit("physics-1", state="RUNNING")
    env = await harness.wait_state("physics-1", "RUNNING")
    assert env.status.run_number == 2
    assert harness.pids("physics-1") == pids
    assert (tmp_path / "runs.txt").read_text() == "1\n2\n"


async def test_two_environments_starting_at_once_get_distinct_run_numbers(
    harness: Harness, tmp_path: Path
) -> None:
    harness.start_controller()
    names = ("physics-1", "physics-2")
    await apply_samples(harness, tmp_path / "runs.txt", names=names, detectors='["ITS"]')
    one = await harness.wait_state("physics-1", "RUNNING")
    two = await harness.wait_state("physics-2", "RUNNING")
    assert {one.status.run_number, two.status.run_number} == {1, 2}


async def test_adding_a_detector_while_running_keeps_existing_processes(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    await harness.wait_tasks("physics-1", "RUNNING")  # qc (not critical) has its pid too
    before = {n: (t.metadata.uid, t.status.pid) for n, t in harness.tasks("physics-1").items()}
    await harness.edit("physics-1", vars={"detectors": '["TPC", "ITS"]', "rate": "200"})

    def its_running() -> bool:
        its = harness.tasks("physics-1").get("physics-1-flp-its-readout")
        return its is not None and its.status.state == "RUNNING"

    await eventually(its_running, within=15)
    after = {n: (t.metadata.uid, t.status.pid) for n, t in harness.tasks("physics-1").items()}
    assert {n: after[n] for n in before} == before
    assert harness.env("physics-1").status.run_number == 1


async def test_critical_task_failure_moves_environment_to_error_with_reason(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    await harness.fake.fail("physics-1-flp-tpc-readout", message="killed by signal 9")
    env = await harness.wait_state("physics-1", "ERROR")
    assert "physics-1-flp-tpc-readout" in env.status.message
    assert "signal 9" in env.status.message
    assert env.status.last_run_number == 1


async def test_restarted_controller_resumes_and_never_reuses_run_numbers(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    ctl = harness.controllers[-1]
    await harness.stop_controller(ctl)
    await harness.edit("physics-1", state="CONFIGURED")
    harness.start_controller()
    await harness.wait_state("physics-1", "CONFIGURED")
    await harness.edit("physics-1", state="RUNNING")
    env = await harness.wait_state("physics-1", "RUNNING")
    assert env.status.run_number == 2
    raw = await harness.store.get_raw(f"{harness.store.prefix}/{RUN_NUMBER_KEY}")
    assert raw is not None and raw.value == b"2"


async def test_rate_change_reconfigures_at_next_run_without_new_processes(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    await harness.wait_tasks("physics-1", "RUNNING")  # qc (not critical) has its pid too
    pids = harness.pids("physics-1")
    await harness.edit(
        "physics-1", vars={"detectors": '["TPC"]', "rate": "500"}, state="CONFIGURED"
    )
    await harness.wait_state("physics-1", "CONFIGURED")

    def reconfigured() -> bool:
        task = harness.tasks("physics-1")["physics-1-flp-tpc-readout"]
        return task.spec.properties["rate"] == "500" and task.status.state == "CONFIGURED"

    await eventually(reconfigured, within=15)
    assert harness.pids("physics-1") == pids


async def test_taskclass_change_reaches_the_tasks(harness: Harness, tmp_path: Path) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    qc = await harness.store.get(TaskClass, "qc")
    spec = qc.spec.model_copy(update={"defaults": {"qc_rate": "99"}})
    await harness.store.update(qc.model_copy(update={"spec": spec}))

    def updated() -> bool:
        return harness.tasks("physics-1")["physics-1-qc-0"].spec.properties == {"rate": "99"}

    await eventually(updated, within=15)


async def test_second_environment_wanting_a_held_detector_is_stalled_with_a_reason(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    env, _, _ = samples()
    await harness.store.create(fresh(env, name="physics-2"))

    def stalled() -> bool:
        other = harness.factory.informer(Environment).get("physics-2")
        return other is not None and "TPC (used by physics-1)" in other.status.message

    await eventually(stalled, within=10)
    second = harness.env("physics-2")
    assert second.status.state == "STANDBY" and harness.tasks("physics-2") == {}
    assert harness.env("physics-1").status.detectors == ("TPC",)
    await harness.edit("physics-1", state="DONE")
    await harness.wait_state("physics-1", "DONE")
    second = await harness.wait_state("physics-2", "RUNNING")
    assert second.status.detectors == ("TPC",)


async def test_hook_awaited_at_a_later_step_runs_once(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    await run_sample(harness, marker, await_="after_START_ACTIVITY")
    assert marker.read_text() == "1\n"
    assert [r for _, r, _ in harness.sink.events].count("HookSucceeded") == 1


async def test_a_running_hook_holds_no_worker_and_its_end_resumes_the_transition(
    harness: Harness, tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    code = (
        "import pathlib, sys, time\n"
        f"pathlib.Path({str(started)!r}).write_text(sys.argv[1])\n"
        f"while not pathlib.Path({str(release)!r}).exists():\n"
        "    time.sleep(0.02)\n"
    )
    env, workflow, classes = samples()
    for tc in classes.values():
        await harness.store.create(tc)
    argv = (sys.executable, "-c", code, "{{ run_number }}")
    await harness.store.create(with_calls(workflow, command=argv, timeout="30s"))
    ctl = harness.start_controller()
    await harness.store.create(fresh(env))
    await eventually(started.exists, within=15)
    assert not ctl.queue.core.in_flight("physics-1")  # the hook runs, no worker waits for it
    assert harness.env("physics-1").status.state == "CONFIGURED"
    release.touch()
    env = await harness.wait_state("physics-1", "RUNNING")
    assert started.read_text() == "1" and env.status.run_number == 1
    assert [r for _, r, _ in harness.sink.events].count("HookSucceeded") == 1


async def test_missing_workflow_is_reported_not_crashed(harness: Harness) -> None:
    env, _, _ = samples()
    harness.start_controller()
    await harness.store.create(fresh(env))

    def reported() -> bool:
        seen = harness.factory.informer(Environment).get("physics-1")
        return seen is not None and "workflow 'readout-dataflow' not found" in seen.status.message

    await eventually(reported, within=10)


async def test_idle_tasks_expire_after_the_ttl(harness: Harness, tmp_path: Path) -> None:
    clock = FakeClock()
    settings = EnvironmentSettings(idle_ttl=60)
    await run_sample(harness, tmp_path / "runs.txt", clock=clock, settings=settings)
    ctl = harness.controllers[-1]
    await harness.edit("physics-1", state="DONE")
    await harness.wait_state("physics-1", "DONE")
    tasks = harness.factory.informer(Task)
    idle = [t.name for t in tasks.list(labels={IDLE_LABEL: "true"})]
    assert idle == ["physics-1-flp-tpc-readout"]
    sweep, _queue = ctl.jobs[IDLE_POOL_JOB]
    result = await sweep.run()
    assert result.requeue_after == 60
    assert await harness.store.get(Task, "physics-1-flp-tpc-readout")
    clock.advance(61)
    await sweep.run()
    await eventually(lambda: tasks.get("physics-1-flp-tpc-readout") is None, within=10)


class CrashOnFirstRunNumberWrite:
    """A store whose first status write carrying a new run number fails, as if the controller
    died between allocating the number and recording it."""

    def __init__(self, store: EtcdStore) -> None:
        self._store = store
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def update_status(self, obj: Any) -> Any:
        if not self.crashed and getattr(obj.status, "run_number", None) is not None:
            self.crashed = True
            raise RuntimeError("controller killed before writing the run number")
        return await self._store.update_status(obj)


async def test_run_number_lost_in_a_crash_is_shown_by_the_retry_and_never_skipped(
    harness: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    crashing = CrashOnFirstRunNumberWrite(harness.store)
    ctx = Context(store=crashing, kv=harness.store, informers=harness.factory, events=harness.sink)
    ctl = Controller(EnvironmentReconciler(ctx))
    ctl.attach()
    ctl.start()
    harness.controllers.append(ctl)
    await apply_samples(harness, marker)
    env = await harness.wait_state("physics-1", "RUNNING")
    assert crashing.crashed
    assert env.status.run_number == 1
    assert marker.read_text() == "1\n"
    raw = await harness.store.get_raw(f"{harness.store.prefix}/{RUN_NUMBER_KEY}")
    assert raw is not None and raw.value == b"1"


def logging_call(name: str, trigger: str, log: Path, *, code: int = 0) -> Role:
    """A call role that appends `name` to `log` and exits with `code`."""
    script = f"open({str(log)!r}, 'a').write({name!r} + '\\n'); raise SystemExit({code})"
    call = {"command": [sys.executable, "-c", script], "trigger": trigger}
    return Role.model_validate({"name": name, "call": call})


async def test_failed_start_goes_to_error_and_delete_runs_the_destroy_hooks(
    harness: Harness, tmp_path: Path
) -> None:
    log = tmp_path / "hooks.txt"
    env, workflow, classes = samples()
    for tc in classes.values():
        await harness.store.create(tc)
    roles = (
        *(r for r in workflow.spec.roles if r.call is None),
        logging_call("sor", "before_START_ACTIVITY+10", log, code=1),
        logging_call("go-error", "after_GO_ERROR", log),
        logging_call("destroy", "DESTROY", log),
    )
    spec = workflow.spec.model_copy(update={"roles": roles})
    await harness.store.create(workflow.model_copy(update={"spec": spec}))
    harness.start_controller()
    await harness.store.create(fresh(env))
    failed = await harness.wait_state("physics-1", "ERROR")
    assert failed.status.run_number is None and failed.status.last_run_number == 1
    assert "hook sor failed" in failed.status.message
    assert log.read_text().split() == ["sor", "go-error"]
    assert TEARDOWN_FINALIZER in failed.metadata.finalizers
    await harness.store.delete(Environment, "physics-1")
    await eventually(lambda: harness.factory.informer(Environment).get("physics-1") is None)
    assert log.read_text().split() == ["sor", "go-error", "destroy"]
    assert harness.tasks("physics-1") == {}


async def test_aliecs_runtime_values_and_inventory_reach_the_expansion(
    harness: Harness,
) -> None:
    prefix = f"{harness.store.prefix}/{RUNTIME_VALUES_KEY}"
    await harness.store.put_raw(f"{prefix}/rt-env/trg/ctp/load", b"pp-2026")
    await harness.store.put_raw(f"{prefix}/rt-env-2/trg/ctp/load", b"other environment")
    node = await harness.store.create(Node.model_validate(document("Node", "flp001", {})))
    status = {"hostname": "flp001", "attributes": {"detector": "TPC"}}
    await harness.store.update_status(node.model_copy(update={"status": NodeStatus(**status)}))
    properties = {
        "load": to_o2("{{ runtime.Get('trg/ctp', 'load') }}"),
        "detector": to_o2("{{ inventory.DetectorForHost('flp001') }}"),
    }
    spec = {"command": {"value": "run"}, "properties": properties}
    await harness.store.create(TaskClass.model_validate(document("TaskClass", "rt", spec)))
    roles = [{"name": "r", "task": {"class": "rt"}}]
    await harness.store.create(
        Workflow.model_validate(document("Workflow", "wf", {"roles": roles}))
    )
    env = document("Environment", "rt-env", {"workflow": "wf", "state": "DEPLOYED"})
    await harness.store.create(Environment.model_validate(env))
    harness.start_controller()
    await harness.wait_state("rt-env", "DEPLOYED")
    properties = harness.tasks("rt-env")["rt-env-r"].spec.properties
    assert properties == {"load": "pp-2026", "detector": "TPC"}


async def test_an_environment_naming_a_machine_not_known_yet_deploys_once_its_node_appears(
    harness: Harness,
) -> None:
    """CI saw the controller's Node cache lag the store: the expansion failed on a machine
    the inventory did not hold yet and the environment stayed Stalled for good."""
    properties = {"detector": to_o2("{{ inventory.DetectorForHost('flp002') }}")}
    spec = {"command": {"value": "run"}, "properties": properties}
    await harness.store.create(TaskClass.model_validate(document("TaskClass", "inv", spec)))
    roles = [{"name": "r", "task": {"class": "inv"}}]
    await harness.store.create(
        Workflow.model_validate(document("Workflow", "wf", {"roles": roles}))
    )
    env = document("Environment", "inv-env", {"workflow": "wf", "state": "DEPLOYED"})
    await harness.store.create(Environment.model_validate(env))
    harness.start_controller()

    def stalled() -> bool:
        found = harness.factory.informer(Environment).get("inv-env")
        return found is not None and "no Node has hostname" in found.status.message

    await eventually(stalled, within=15)
    node = await harness.store.create(Node.model_validate(document("Node", "flp002", {})))
    status = {"hostname": "flp002", "attributes": {"detector": "MCH"}}
    await harness.store.update_status(node.model_copy(update={"status": NodeStatus(**status)}))
    await harness.wait_state("inv-env", "DEPLOYED")
    assert harness.tasks("inv-env")["inv-env-r"].spec.properties == {"detector": "MCH"}


def document(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "o2/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}


async def test_fairmq_tasks_get_the_plugin_of_the_controller_settings(harness: Harness) -> None:
    command = {"value": "StfBuilder", "arguments": ["-v"]}
    spec = {"control": "fairmq", "command": command}
    await harness.store.create(TaskClass.model_validate(document("TaskClass", "stfb", spec)))
    roles = [{"name": "b", "task": {"class": "stfb"}}]
    await harness.store.create(
        Workflow.model_validate(document("Workflow", "wf", {"roles": roles}))
    )
    env = document("Environment", "fmq-env", {"workflow": "wf", "state": "DEPLOYED"})
    await harness.store.create(Environment.model_validate(env))
    harness.start_controller(
        settings=EnvironmentSettings(fmq_plugin="OCC", fmq_plugin_search_path="/opt/occ/lib/")
    )
    await harness.wait_state("fmq-env", "DEPLOYED")
    arguments = harness.tasks("fmq-env")["fmq-env-b"].spec.command.arguments
    assert arguments == (
        *("-v", "--id", "fmq-env-b"),
        *("-S", "/opt/occ/lib/", "-P", "OCC", "--color", "false"),
    )
