"""What the task runtime is told (LaunchSpec, Timeouts) and reports (StatusUpdate). No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crds.kinds.common import ControlMode
from executor.supervisor import CommandSpec
from executor.tasks import MesosTaskState
from mesosapi.o2messages import LaunchPayload


@dataclass(frozen=True)
class LaunchSpec:
    task_id: str
    command: CommandSpec
    sandbox: Path
    """This task's own directory (cwd, stdout, stderr)."""
    control: ControlMode = "direct"
    occ_port: int | None = None
    """The control port from the offer; None picks a free loopback port (local use, tests)."""
    env: Mapping[str, str] = field(default_factory=dict)
    memory_limit_mb: float | None = None
    """TaskInfo.limits `mem`: the task is killed once its processes' RSS goes past it."""

    @classmethod
    def from_payload(
        cls,
        task_id: str,
        payload: LaunchPayload,
        *,
        sandbox: Path,
        memory_limit_mb: float | None = None,
    ) -> LaunchSpec:
        command = CommandSpec(
            value=payload.command.value,
            arguments=tuple(payload.command.arguments),
            env=dict(payload.command.env),
            shell=payload.command.shell,
            shell_arguments=payload.command.shell_arguments,
            user=payload.command.user,
            stdout=payload.command.stdout,
            stderr=payload.command.stderr,
        )
        return cls(
            task_id=task_id,
            command=command,
            sandbox=sandbox,
            control=payload.control,
            occ_port=payload.occ_port,
            env=dict(payload.env),
            memory_limit_mb=memory_limit_mb,
        )


@dataclass(frozen=True)
class StatusUpdate:
    """One Mesos status update to send for a task."""

    task_id: str
    state: MesosTaskState
    message: str = ""
    pid: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    occ_state: str = ""
    reason: str = ""
    """A Mesos TaskStatus reason that overrides the default one (e.g. a memory limit)."""


@dataclass(frozen=True)
class Timeouts:
    startup: float = 30.0
    """An OCC task must answer GetState with STANDBY within this."""
    kill_step: float = 5.0
    """Each OCC step of the kill ladder (STOP, EXIT) and the wait for exit after EXIT."""
    kill_grace: float = 5.0
    """Between SIGTERM and SIGKILL of the process group."""
