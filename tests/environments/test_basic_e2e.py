# ruff: noqa: F811  (the fixtures of test_e2e are imported, then requested by name)
"""Basic tasks and task hooks on the real stack (local Mesos, real executor): hand-written o2
equivalents of ControlWorkflows' resources-cleanup (basic run-to-completion tasks on every
host) and o2-roc-config (here as task hooks on every FLP agent) run to DONE without ERROR."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.labels import HOOK_LABEL
from crds.manifest import parse_documents
from store.api import Store
from tests.environments.test_e2e import (  # noqa: F401  (fixtures)
    cluster,
    controllers,
    localmesos_factory,
    manager,
    manager_factory,
    reached,
    store,
    wait_env,
)
from tests.mesos_fixture import LocalMesosProcess
from tests.stack import ManagerProcess
from tests.waiting import eventually

HOSTS = '["flp-tpc", "flp-its"]'

CLASSES = """
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {{name: {name}}}
spec:
  control: basic
  command:
    value: /bin/sh
    arguments: ["-c", "echo {{{{ task_name }}}} >> {marks}/{name}; exit {code}"]
  wants: {{cpus: 0.1, memory: 16}}
"""

CLEANUP = """
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {name: resources-cleanup}
spec:
  roles:
    - name: "host-{{ it }}"
      for: {range: "{{ hosts }}", var: it}
      constraints: [{attribute: hostname, value: "{{ it }}"}]
      roles:
        - name: fairmq-shmmonitor
          task: {class: shm-cleanup, timeout: 10s}
        - name: o2-roc-cleanup
          task: {class: roc-cleanup, timeout: 10s}
"""

ROC_CONFIG = """
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {name: o2-roc-config}
spec:
  roles:
    - name: "host-{{ it }}"
      for: {range: "{{ hosts }}", var: it}
      constraints: [{attribute: hostname, value: "{{ it }}"}]
      roles:
        - name: roc-config
          task: {class: roc-config, trigger: before_START_ACTIVITY, timeout: 40s, critical: CRIT}
        - name: roc-status
          task: {class: roc-status}
"""


def environment(name: str, workflow: str, state: str = "RUNNING") -> Environment:
    text = f"""
apiVersion: o2/v1alpha1
kind: Environment
metadata: {{name: {name}}}
spec: {{workflow: {workflow}, state: {state}, vars: {{hosts: '{HOSTS}'}}}}
"""
    (env,) = parse_documents(text, source="test")
    assert isinstance(env, Environment)
    return env


async def apply(store: Store, text: str) -> None:
    for doc in parse_documents(text, source="test"):
        await store.create(doc)


async def apply_class(store: Store, name: str, marks: Path, code: int = 0) -> None:
    await apply(store, CLASSES.format(name=name, marks=marks, code=code))


def ran(marks: Path, name: str) -> list[str]:
    path = marks / name
    return sorted(path.read_text().split()) if path.exists() else []


def stopped_run(env: Environment) -> bool:
    """CONFIGURED again after a run (the STOP_ACTIVITY that the basic tasks' ends caused)."""
    events = [h.event for h in env.status.history]
    return reached("CONFIGURED")(env) and "STOP_ACTIVITY" in events


def no_error(env: Environment) -> bool:
    return all(h.to_state != "ERROR" for h in env.status.history)


async def test_resources_cleanup_runs_basic_tasks_to_done_without_error(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess, tmp_path: Path
) -> None:
    """A critical basic task exiting 0 (or 3: AliECS only records the code) ends its part of
    the run; once all have ended the run stops, and nothing is relaunched (it used to go to
    ERROR, and `o2 recover` relaunched the finished tasks forever)."""
    await apply_class(store, "shm-cleanup", tmp_path, code=3)
    await apply_class(store, "roc-cleanup", tmp_path)
    await apply(store, CLEANUP)
    await store.create(environment("cleanup", "resources-cleanup"))
    stopped = await wait_env(store, stopped_run, within=90)
    assert no_error(stopped), stopped.status.history
    events = [h.event for h in stopped.status.history]
    assert events == ["DEPLOY", "CONFIGURE", "START_ACTIVITY", "STOP_ACTIVITY"]
    assert (await store.get(Environment, "cleanup")).spec.state == "CONFIGURED"
    tasks = {t.name: t for t in (await store.list(Task)).items}
    assert {t.status.hostname for t in tasks.values()} == {"flp-tpc", "flp-its"}
    assert {n: t.status.exit_code for n, t in tasks.items()} == {
        "cleanup-host-flp-tpc-fairmq-shmmonitor": 3,
        "cleanup-host-flp-its-fairmq-shmmonitor": 3,
        "cleanup-host-flp-tpc-o2-roc-cleanup": 0,
        "cleanup-host-flp-its-o2-roc-cleanup": 0,
    }
    assert all(t.status.phase == "Running" for t in tasks.values())  # never relaunched
    launches = {n: t.status.mesos_task_id for n, t in tasks.items()}
    assert ran(tmp_path, "roc-cleanup") == sorted(n for n in tasks if "roc" in n)  # once each

    await edit_env(store, "cleanup", state="DONE")
    done = await wait_env(store, reached("DONE"), within=60)
    assert no_error(done)
    assert ran(tmp_path, "roc-cleanup") == sorted(n for n in tasks if "roc" in n)
    assert all(launches.values())


async def edit_env(store: Store, name: str, **changes: object) -> None:
    env = await store.get(Environment, name)
    await store.update(env.model_copy(update={"spec": env.spec.model_copy(update=changes)}))


class HookTasks:
    """Every hook Task seen with its command ended (BASIC_TASK_TERMINATED), with its agent and
    exit code (they go back to STANDBY for the next firing)."""

    def __init__(self) -> None:
        self.ended: dict[str, tuple[str | None, int | None]] = {}

    async def watch(self, store: Store) -> None:
        start = (await store.list(Task)).revision + 1
        async for event in store.watch(Task, start_revision=start):
            task = event.obj
            hook = task is not None and HOOK_LABEL in task.metadata.labels
            if task is not None and hook and task.status.terminated:
                self.ended[task.name] = (task.status.hostname, task.status.exit_code)


async def hook_tasks(store: Store) -> dict[str, Task]:
    return {t.name: t for t in (await store.list(Task, labels={HOOK_LABEL: "roc"})).items}


def gone(tasks: dict[str, Task]) -> bool:
    return not tasks


async def test_roc_config_task_hooks_run_on_each_flp_agent_then_done(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess, tmp_path: Path
) -> None:
    hooks = HookTasks()
    watcher = asyncio.get_running_loop().create_task(hooks.watch(store))
    try:
        await apply_class(store, "roc-config", tmp_path)
        await apply_class(store, "roc-status", tmp_path)
        await apply(store, ROC_CONFIG.replace("CRIT", "true"))
        await store.create(environment("roc", "o2-roc-config", state="CONFIGURED"))
        await wait_env(store, reached("CONFIGURED"), within=90)
        placed = await wait_for_hook_tasks(store)  # deployed with the environment, as AliECS
        assert {t.status.hostname for t in placed.values()} == {"flp-tpc", "flp-its"}
        assert ran(tmp_path, "roc-config") == []  # placed, not run before the trigger
        launches = {n: t.status.mesos_task_id for n, t in placed.items()}

        await edit_env(store, "roc", state="RUNNING")
        stopped = await wait_env(store, stopped_run, within=60)
        assert no_error(stopped), stopped.status.history
        assert ran(tmp_path, "roc-config") == [
            "roc-host-flp-its-roc-config",
            "roc-host-flp-tpc-roc-config",
        ]
        hosts = {name.split("-host-")[1][:7]: where for name, (where, _) in hooks.ended.items()}
        assert hosts == {"flp-tpc": "flp-tpc", "flp-its": "flp-its"}
        assert {code for _, code in hooks.ended.values()} == {0}
        after = await hook_tasks(store)
        assert {n: t.status.mesos_task_id for n, t in after.items()} == launches  # same launch
        assert {t.spec.state for t in after.values()} == {"STANDBY"}  # ready for the next
        await edit_env(store, "roc", state="DONE")
        assert no_error(await wait_env(store, reached("DONE"), within=60))
        await eventually(lambda: hook_tasks(store), until=gone, within=60)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def wait_for_hook_tasks(store: Store) -> dict[str, Task]:
    """The two roc-config hook Tasks once both are placed and in STANDBY."""

    def ready(tasks: dict[str, Task]) -> bool:
        states = [(t.status.phase, t.status.state) for t in tasks.values()]
        return len(tasks) == 2 and set(states) == {("Running", "STANDBY")}

    return await eventually(lambda: hook_tasks(store), until=ready, interval=0.2, within=60)


async def test_critical_task_hook_exiting_nonzero_fails_the_transition_into_error(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess, tmp_path: Path
) -> None:
    await apply_class(store, "roc-config", tmp_path, code=2)
    await apply_class(store, "roc-status", tmp_path)
    await apply(store, ROC_CONFIG.replace("CRIT", "true"))
    await store.create(environment("roc", "o2-roc-config"))
    failed = await wait_env(store, reached("ERROR"), within=60)
    assert "roc-config" in failed.status.message and "code 2" in failed.status.message
    assert any(h.event == "START_ACTIVITY" and h.result == "Failed" for h in failed.status.history)
    assert ran(tmp_path, "roc-status") == []  # the run never started: no basic task ran
    before = {t.name: t.status.mesos_task_id for t in (await store.list(Task)).items}

    await edit_env(store, "roc", recover_request=1, state="DEPLOYED")
    recovered = await wait_env(store, reached("DEPLOYED"), within=60)
    assert recovered.status.recovered_request == 1
    after = {t.name: t.status.mesos_task_id for t in (await store.list(Task)).items}
    assert after == before  # live basic tasks are not relaunched by RECOVER


async def test_non_critical_task_hook_failure_is_only_reported(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess, tmp_path: Path
) -> None:
    await apply_class(store, "roc-config", tmp_path, code=2)
    await apply_class(store, "roc-status", tmp_path)
    await apply(store, ROC_CONFIG.replace("CRIT", "false"))
    await store.create(environment("roc", "o2-roc-config"))
    stopped = await wait_env(store, stopped_run, within=60)
    assert no_error(stopped)
    assert len(ran(tmp_path, "roc-config")) == 2


SLOW_HOOK = """
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {{name: slow-config}}
spec:
  control: basic
  command:
    value: /bin/sh
    arguments: ["-c", "echo started >> {marks}/slow; sleep 60; echo finished >> {marks}/slow"]
  wants: {{cpus: 0.1, memory: 16}}
---
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {{name: slow-hook}}
spec:
  roles:
    - name: roc-status
      task: {{class: roc-status}}
    - name: slow
      task: {{class: slow-config, trigger: before_START_ACTIVITY, timeout: 3s}}
"""


async def test_task_hook_past_its_timeout_is_stopped_and_fails_the_transition(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess, tmp_path: Path
) -> None:
    """The timeout counts from the trigger (the Task was placed at DEPLOY): the command is
    stopped (killed) at 3 s, the hook fails, and its Task waits in STANDBY again."""
    await apply_class(store, "roc-status", tmp_path)
    await apply(store, SLOW_HOOK.format(marks=tmp_path))
    await store.create(environment("roc", "slow-hook"))
    failed = await wait_env(store, reached("ERROR"), within=60)
    assert "timed out after 3s" in failed.status.message
    start = next(h for h in failed.status.history if h.event == "START_ACTIVITY")
    assert start.result == "Failed" and (start.duration_seconds or 0) < 30
    assert (tmp_path / "slow").read_text().split() == ["started"]  # started once, not finished

    def back_in_standby(tasks: dict[str, Task]) -> bool:
        return [(t.spec.state, t.status.state) for t in tasks.values()] == [("STANDBY", "STANDBY")]

    await eventually(lambda: hook_tasks(store), until=back_in_standby, interval=0.2, within=60)
