"""Launch building is pure: one ExecutorInfo for every task, TaskInfo.data the executor reads."""

from __future__ import annotations

import sys
from pathlib import Path

from controller.settings import Settings
from controller.tasks.controller import framework_config
from controller.tasks.launch import LaunchConfig, default_executor_argv, executor_info, task_info
from mesosapi.o2messages import decode_launch
from mesosapi.resources import Demand, ResourcePool
from tests.tasks.harness import sample_task
from tests.tasks.test_placement import offer


def test_default_executor_is_o2_executor_beside_this_python() -> None:
    assert default_executor_argv() == [str(Path(sys.executable).with_name("o2-executor"))]
    info = executor_info(LaunchConfig())
    assert info.executor_id == "o2-executor" and info.type == "CUSTOM"
    assert info.command is not None and info.command.shell is False


def test_configured_executor_command_runs_through_the_shell_and_is_identical_each_time() -> None:
    config = LaunchConfig(executor_command="/opt/o2/bin/o2-executor --verbose")
    assert executor_info(config) == executor_info(config)
    command = executor_info(config).command
    assert command is not None and command.shell and command.value.startswith("/opt/o2")  # type: ignore[union-attr]


def test_task_info_carries_command_ports_and_names_for_the_executor() -> None:
    task = sample_task("readout", ports=2, properties={"a": "b"})
    allocation = ResourcePool(offer(1).resources).take(Demand(cpus=0.01, mem=64, ports=3))
    assert allocation is not None
    info = task_info(
        task,
        mesos_id="readout.abc",
        offer=offer(1),
        allocation=allocation,
        executor=executor_info(LaunchConfig()),
    )
    assert info.data is not None
    payload = decode_launch(info.data)
    assert payload.command == task.spec.command and payload.control == "direct"
    assert payload.occ_port == 31002
    assert payload.env["O2_PORTS"] == "31000,31001" and payload.env["O2_TASK_NAME"] == "readout"


def test_framework_config_comes_from_the_manager_flags() -> None:
    flags = {"mesos": "m1:5050, m2:5050", "executor_command": "run-exec"}
    config = framework_config(Settings.load(flags, {}).tasks)
    assert config is not None
    assert config.masters == ("m1:5050", "m2:5050")
    assert config.launch.executor_command == "run-exec"
