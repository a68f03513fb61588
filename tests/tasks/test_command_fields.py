"""Task command fields as AliECS hands them over: user/stdout/stderr rendered into the Task,
the environment AliECS's scheduler adds, and `limits` as the Mesos TaskInfo `limits`."""

from __future__ import annotations

import pytest

from controller.environments.expand import expand
from controller.tasks.launch import LaunchConfig, executor_info, task_info
from crds.errors import ValidationError
from crds.kinds.common import Command, Limits
from crds.kinds.task import Task
from executor.app import memory_limit
from mesosapi.o2messages import decode_launch
from mesosapi.resources import Demand, ResourcePool
from tests.environments.helpers import with_vars
from tests.environments.test_expand import ENV, taskclass, workflow
from tests.tasks.harness import sample_task
from tests.tasks.test_placement import offer

WF = workflow({"roles": [{"name": "r", "task": {"class": "c"}}]})


def expand_one(**command: object) -> Task:
    body = {"value": "run", **command}
    classes = {"c": taskclass("c", command=body, limits={"memory": 512, "cpus": 1.5})}
    env = with_vars(ENV, who="flp", out="  ALL ", err="none")
    (expanded,) = expand(env, WF, classes, run_number=None).tasks.values()
    return Task.model_validate({"metadata": {"name": "t"}, "spec": expanded.spec.model_dump()})


def test_user_stdout_stderr_and_limits_are_rendered_into_the_task() -> None:
    task = expand_one(user="{{ who }}", stdout="{{ out }}", stderr="{{ err }}")
    command = task.spec.command
    assert (command.user, command.stdout, command.stderr) == ("flp", "all", "none")
    assert task.spec.limits == Limits(cpus=1.5, memory=512)


def test_empty_output_modes_keep_o2s_default() -> None:
    command = expand_one().spec.command
    assert (command.user, command.stdout, command.stderr) == ("", "", "")


def test_bad_output_mode_names_the_role_and_field() -> None:
    with pytest.raises(ValidationError, match=r"r.*command\.stdout.*'somewhere'.*none, stdout"):
        expand_one(stdout="somewhere")


def launch(task: Task) -> tuple[dict[str, str], object]:
    allocation = ResourcePool(offer(1).resources).take(Demand(cpus=0.01, mem=64, ports=1))
    assert allocation is not None
    info = task_info(
        task,
        mesos_id="m",
        offer=offer(1),
        allocation=allocation,
        executor=executor_info(LaunchConfig()),
    )
    assert info.data is not None
    return decode_launch(info.data).env, info


def test_aliecs_variables_default_to_the_agent_hostname_and_flp() -> None:
    task = sample_task("readout")
    env, _ = launch(task.model_copy(update={"spec": task.spec.model_copy(update={"role": "a.b"})}))
    assert env["O2_ROLE"] == offer(1).hostname and env["O2_SYSTEM"] == "FLP"
    assert env["O2_ROLE_PATH"] == "a.b"


def test_command_env_overrides_the_aliecs_defaults() -> None:
    task = sample_task("readout")
    command = Command(value="x", env={"O2_ROLE": "mine", "O2_SYSTEM": "EPN"})
    env, _ = launch(
        task.model_copy(update={"spec": task.spec.model_copy(update={"command": command})})
    )
    assert "O2_ROLE" not in env and "O2_SYSTEM" not in env  # the executor applies command.env


def test_limits_become_task_info_limits_and_reach_the_executor() -> None:
    task = sample_task("readout")
    limited = task.spec.model_copy(update={"limits": Limits(cpus=2.0, memory=256)})
    _, info = launch(task.model_copy(update={"spec": limited}))
    wire = info.to_wire()  # type: ignore[attr-defined]
    assert wire["limits"] == {"cpus": {"value": 2.0}, "mem": {"value": 256.0}}
    assert memory_limit(info) == 256.0  # type: ignore[arg-type]
    _, unlimited = launch(task)
    assert "limits" not in unlimited.to_wire()  # type: ignore[attr-defined]
    assert memory_limit(unlimited) is None  # type: ignore[arg-type]
