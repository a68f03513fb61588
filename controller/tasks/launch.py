"""Building Mesos launches for o2 tasks: the one o2 ExecutorInfo and each TaskInfo. Pure.

Every task on an agent is launched with the same ExecutorInfo (id `o2-executor`), so Mesos
starts one o2 executor per agent per framework and hands it every later task there. The
executor's command is configurable (`--executor-command` / `$O2_EXECUTOR_COMMAND`); by default
it is `o2-executor` from the controller's own environment.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from crds.kinds.common import uses_occ
from crds.kinds.task import Task, placed_command
from mesosapi.models import (
    CommandInfo,
    Environment,
    ExecutorId,
    ExecutorInfo,
    Offer,
    Scalar,
    TaskInfo,
)
from mesosapi.o2messages import LaunchPayload, encode
from mesosapi.resources import Allocation, scalar

EXECUTOR_ID = ExecutorId("o2-executor")


@dataclass(frozen=True)
class LaunchConfig:
    executor_command: str = ""
    """A shell command line; empty: `o2-executor` beside this Python (or `-m executor.main`)."""
    executor_env: tuple[tuple[str, str], ...] = ()
    executor_cpus: float = 0.01
    executor_mem: float = 32.0


def default_executor_argv() -> list[str]:
    """`o2-executor` installed beside the running interpreter, else `python -m executor.main`."""
    script = Path(sys.executable).with_name("o2-executor")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "executor.main"]


def executor_info(config: LaunchConfig) -> ExecutorInfo:
    """The o2 ExecutorInfo: identical for every launch, as Mesos requires for one executor id."""
    if config.executor_command:
        command = CommandInfo(value=config.executor_command, shell=True)
    else:
        argv = default_executor_argv()
        command = CommandInfo(value=argv[0], arguments=argv, shell=False)
    if config.executor_env:
        command = command.model_copy(
            update={"environment": Environment.of(dict(config.executor_env))}
        )
    return ExecutorInfo(
        executor_id=EXECUTOR_ID,
        type="CUSTOM",
        name="o2 executor",
        command=command,
        resources=[scalar("cpus", config.executor_cpus), scalar("mem", config.executor_mem)],
    )


def describe_command(info: ExecutorInfo) -> str:
    command = info.command
    if command is None:
        return ""
    if command.shell:
        return command.value or ""
    return shlex.join(command.arguments or [command.value or ""])


def aliecs_env(*, hostname: str) -> dict[str, str]:
    """The variables AliECS's scheduler gives every task unless its `command.env` sets them:
    `O2_ROLE` is the agent's hostname there (not a role path) and `O2_SYSTEM` is `FLP`."""
    return {"O2_ROLE": hostname, "O2_SYSTEM": "FLP"}


def launch_payload(task: Task, *, ports: list[int], hostname: str = "") -> LaunchPayload:
    """TaskInfo.data: the resolved command, control mode, OCC port and o2 variables (the
    executor adds OCC_CONTROL_PORT, O2_TASK_ID and the OCC token itself)."""
    spec = task.spec
    occ_port = ports[-1] if ports and uses_occ(spec.control) else None
    env = {
        "O2_TASK_NAME": task.name,
        "O2_TASK_CLASS": spec.task_class,
        "O2_PORTS": ",".join(map(str, ports[: spec.wants.ports])),
    }
    if spec.environment:
        env["O2_ENVIRONMENT"] = spec.environment
    if spec.role:
        env["O2_ROLE_PATH"] = spec.role
    own = spec.command.env
    for name, value in aliecs_env(hostname=hostname).items():
        if name not in own:
            env[name] = value
    command = placed_command(spec.command, hostname)
    return LaunchPayload(command=command, control=spec.control, occ_port=occ_port, env=env)


SUFFIX_LENGTH = 10
"""Hex digits of randomness after a task's name in its Mesos task id (`<name>.<suffix>`)."""


def launch_suffixes(count: int) -> list[str]:
    """`count` random suffixes for new Mesos task ids (40 random bits each, as the first ten
    hex digits of a uuid4 were), from one read of the OS's random source for a whole offer
    rather than a uuid4 per task."""
    raw = os.urandom(count * SUFFIX_LENGTH // 2).hex()
    return [raw[i : i + SUFFIX_LENGTH] for i in range(0, count * SUFFIX_LENGTH, SUFFIX_LENGTH)]


def task_info(
    task: Task,
    *,
    mesos_id: str,
    offer: Offer,
    allocation: Allocation,
    executor: ExecutorInfo,
) -> TaskInfo:
    """The task's TaskInfo, validated once from plain values (its labels as dicts: building
    the three label models one by one cost about as much as the TaskInfo itself), its data
    serialized by `encode`. The same JSON on the wire."""
    labels = [{"key": "o2/task", "value": task.name}]
    if task.spec.environment:
        labels.append({"key": "o2/environment", "value": task.spec.environment})
    payload = launch_payload(task, ports=allocation.ports, hostname=offer.hostname)
    return _validate_task_info(
        {
            "name": task.name,
            "task_id": mesos_id,
            "agent_id": offer.agent_id,
            "resources": allocation.resources,
            "executor": executor,
            "data": encode(payload),
            "labels": {"labels": labels},
            "limits": task_limits(task),
        }
    )


_validate_task_info = TaskInfo.model_validate


def task_limits(task: Task) -> dict[str, Scalar] | None:
    """TaskInfo.limits from the task's `limits`: `cpus` and `mem` (MB), only those set.

    AliECS sends +Inf for an absent limit; o2 leaves it out (JSON has no infinity), which
    Mesos reads as no limit beyond the request."""
    limits = task.spec.limits
    if limits is None:
        return None
    out: dict[str, Scalar] = {}
    if limits.cpus:
        out["cpus"] = Scalar(value=limits.cpus)
    if limits.memory:
        out["mem"] = Scalar(value=float(limits.memory))
    return out or None
