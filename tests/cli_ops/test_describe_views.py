"""`o2 describe env|task`: printers rendered into a Console on a string buffer, and end to end."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console, RenderableType

from cli.describe_printers import describe_environment, describe_task, role_tree
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from store.api import Store
from tests.cli.conftest import O2
from tests.cli_ops.conftest import env_obj, put, run_o2, task_obj

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def render(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200, no_color=True, highlight=False).print(renderable)
    return buffer.getvalue()


def running_env() -> Environment:
    started = NOW - timedelta(minutes=3)
    return env_obj(
        "physics-1",
        desired="RUNNING",
        state="RUNNING",
        runNumber=12,
        lastRunNumber=11,
        roles=[{"path": "flp-tpc.readout", "tasks": 1}, {"path": "qc", "tasks": 0}],
        history=[
            {
                "event": "START_ACTIVITY",
                "fromState": "CONFIGURED",
                "toState": "RUNNING",
                "startedAt": started.isoformat(),
                "finishedAt": (started + timedelta(seconds=2.5)).isoformat(),
                "durationSeconds": 2.5,
                "runNumber": 12,
            }
        ],
    )


def tasks() -> list[Task]:
    return [
        task_obj(
            "physics-1-flp-tpc-readout",
            env="physics-1",
            role="flp-tpc.readout",
            state="RUNNING",
            hostname="flp-1",
            pid=4242,
        ),
        task_obj(
            "physics-1-flp-tpc-stfb",
            env="physics-1",
            role="flp-tpc.stfb",
            state="ERROR",
            phase="Failed",
            hostname="flp-1",
            message="exit code 3",
        ),
    ]


def test_role_tree_nests_role_paths_and_shows_state_node_and_pid() -> None:
    out = render(role_tree(running_env(), tasks()))
    lines = out.splitlines()
    assert "environment/physics-1 (RUNNING)" in lines[0]
    flp = next(i for i, line in enumerate(lines) if line.strip().endswith("flp-tpc"))
    readout = next(i for i, line in enumerate(lines) if "physics-1-flp-tpc-readout" in line)
    assert flp < readout
    assert lines[readout].index("physics-1") > lines[flp].index("flp-tpc")
    assert "RUNNING  Running  node=flp-1  pid=4242" in lines[readout]
    assert "exit code 3" in out
    assert any(line.strip().endswith("qc") for line in lines)  # a role without tasks yet


def test_describe_environment_shows_run_number_transitions_with_durations_then_events() -> None:
    event = {
        "spec": {
            "involvedObject": {"kind": "Environment", "name": "physics-1"},
            "reason": "TransitionSucceeded",
            "message": "START_ACTIVITY took 2.5s",
            "lastTimestamp": (NOW - timedelta(minutes=1)).isoformat(),
        }
    }
    out = render(describe_environment(running_env(), tasks=tasks(), events=[event], now=NOW))
    assert "Run Number:        12" in out
    assert "Last Run Number:   11" in out
    history = next(line for line in out.splitlines() if line.startswith("START_ACTIVITY"))
    assert history.split()[:6] == [
        "START_ACTIVITY",
        "CONFIGURED",
        "RUNNING",
        "Succeeded",
        "12",
        "2m57s",
    ]
    assert "2.5s" in history
    assert out.index("Roles:") < out.index("Transitions:") < out.index("Events:")
    assert "START_ACTIVITY took 2.5s" in out


def test_describe_task_shows_placement_ports_pid_exit_and_sandbox() -> None:
    task = task_obj(
        "lonely",
        env=None,
        state=None,
        phase="Failed",
        hostname="flp-2",
        agentId="a-2",
        ports=[31000, 31001],
        pid=77,
        exitCode=None,
        signal=9,
        mesosTaskId="lonely.1",
        executorId="o2-executor",
        message="killed by signal 9",
    )
    out = render(describe_task(task, events=[], now=NOW))
    assert "Ports:             31000,31001" in out
    assert "PID:               77" in out
    assert "Signal:            9" in out
    assert "<executor sandbox>/lonely.1" in out
    assert "o2 logs lonely" in out
    assert "Command:           o2-sample-task" in out


async def test_describe_env_renders_the_role_tree_from_the_stored_tasks(
    o2: O2, etcd_store: Store
) -> None:
    await put(etcd_store, running_env())
    for task in tasks():
        await put(etcd_store, task)
    await put(etcd_store, task_obj("other-env-task", env="physics-2", role="flp-tpc.readout"))
    result = await run_o2(o2, "describe", "env", "physics-1")
    assert result.exit_code == 0, result.stderr
    assert "physics-1-flp-tpc-readout" in result.stdout
    assert "physics-1-flp-tpc-stfb" in result.stdout
    assert "other-env-task" not in result.stdout
    assert "Transitions:" in result.stdout
