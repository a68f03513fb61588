# ruff: noqa: F811  (the fixtures of test_e2e are imported, then requested by name)
"""The run's times on the real stack (local Mesos, real executor): a `direct` stand-in built from
AliECS's occ.proto gets at START the run_start_time_ms the Environment's status shows, and a
hook at after_STOP_ACTIVITY sees the run_end_time_ms the STOP set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crds.kinds.environment import Environment
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

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tests" / "executor" / "programs" / "occ_standin.py"

MANIFESTS = """
apiVersion: o2/v1alpha1
kind: TaskClass
metadata: {{name: standin}}
spec:
  control: direct
  command:
    value: {python}
    arguments: ["{standin}", "--mode", "direct"]
    env: {{PYTHONPATH: "{repo}", STANDIN_LOG: "{log}"}}
  wants: {{cpus: 0.1, memory: 32, ports: 1}}
---
apiVersion: o2/v1alpha1
kind: Workflow
metadata: {{name: times}}
spec:
  roles:
    - name: readout
      task: {{class: standin}}
    - name: eor
      call:
        command: ["/bin/sh", "-c", "echo $0 $1 >> {seen}", "{{{{ run_end_time_ms }}}}",
                  "{{{{ run_start_time_ms }}}}"]
        trigger: after_STOP_ACTIVITY
---
apiVersion: o2/v1alpha1
kind: Environment
metadata: {{name: times-1}}
spec: {{workflow: times, state: RUNNING}}
"""


async def edit_state(store: Store, name: str, state: str) -> None:
    env = await store.get(Environment, name)
    await store.update(
        env.model_copy(update={"spec": env.spec.model_copy(update={"state": state})})
    )


def start_arguments(log: Path) -> list[dict[str, str]]:
    """The arguments of every START the stand-in received, as name -> value."""
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    return [e["arguments"] for e in entries if e.get("event") == "START"]


async def test_direct_task_gets_the_start_time_status_shows_and_stop_hooks_see_the_end(
    store: Store, cluster: LocalMesosProcess, manager: ManagerProcess, tmp_path: Path
) -> None:
    log, seen = tmp_path / "standin.jsonl", tmp_path / "eor.txt"
    text = MANIFESTS.format(python=sys.executable, standin=STANDIN, repo=REPO, log=log, seen=seen)
    for doc in parse_documents(text, source="test"):
        await store.create(doc)
    running = await wait_env(store, reached("RUNNING"), within=90)
    start = running.status.runtime_vars["run_start_time_ms"]
    (args,) = start_arguments(log)
    assert args["run_start_time_ms"] == args["runStartTimeMs"] == start
    assert args["run_number"] == args["runNumber"] == str(running.status.run_number)

    await edit_state(store, "times-1", "CONFIGURED")
    stopped = await wait_env(
        store,
        lambda e: (
            bool(e.status.history)
            and reached("CONFIGURED")(e)
            and e.status.history[-1].event == "STOP_ACTIVITY"
        ),
        within=60,
    )
    end = stopped.status.runtime_vars["run_end_time_ms"]
    assert int(end) >= int(start)
    assert seen.read_text().split() == [end, start]
