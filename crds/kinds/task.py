"""Task: one process, its resolved command, desired OCC state and observed phase. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from crds.kinds.channels import BindChannel, ConnectChannel
from crds.kinds.common import (
    Command,
    Constraint,
    ControlMode,
    DesiredOccState,
    Limits,
    OccState,
    Vars,
    Wants,
    opt,
)
from crds.labels import PILOT_LABEL
from crds.meta import DnsName, O2Model, Status
from crds.resource import KindInfo, PrinterColumn, Resource, register

TASK_HOSTNAME = "@{task_hostname}"
"""What `{{ task_hostname }}` renders to before placement (AliECS renders it after placement):
the task framework puts the agent's hostname in its place in the command, its environment and
the properties sent at CONFIGURE. A template that transforms the value (`upper`, `split`) sees
this placeholder, not the hostname."""


def placed(text: str, hostname: str) -> str:
    """`text` with the task's agent hostname in place of the TASK_HOSTNAME placeholder."""
    return text.replace(TASK_HOSTNAME, hostname) if TASK_HOSTNAME in text else text


def placed_command(command: Command, hostname: str) -> Command:
    """`command` with placement-time variables filled in (value, arguments, environment)."""
    texts = (command.value, *command.arguments, *command.env.values())
    if not any(TASK_HOSTNAME in t for t in texts):
        return command
    return command.model_copy(
        update={
            "value": placed(command.value, hostname),
            "arguments": tuple(placed(a, hostname) for a in command.arguments),
            "env": {k: placed(v, hostname) for k, v in command.env.items()},
        }
    )


TaskPhase = Literal["Pending", "Staging", "Running", "Finished", "Failed", "Killed", "Lost"]
TERMINAL_PHASES: frozenset[str] = frozenset({"Finished", "Failed", "Killed", "Lost"})


class TaskSpec(O2Model):
    """A resolved task: nothing here is templated any more."""

    environment: DnsName | None = None
    """The owning Environment's name; None for a standalone or idle (reusable) task."""
    role: str = ""
    """The expanded role path inside the environment, e.g. `flp-tpc.readout`."""
    task_class: DnsName
    """The TaskClass it was made from."""
    command: Command
    """Resolved command (templates rendered)."""
    control: ControlMode = "direct"
    """`direct`/`fairmq` (OCC), `basic` (AliECS's command run per START) or `process` (a plain
    long-running process, e.g. a pilot)."""
    wants: Wants = Field(default_factory=Wants)
    """Resources to reserve on the agent."""
    limits: Limits | None = None
    """Upper bounds of the process's resources (the TaskClass `limits`), sent as the Mesos
    TaskInfo `limits`; the o2 executor kills a task whose memory goes past `limits.memory`."""
    constraints: tuple[Constraint, ...] = ()
    """Resolved placement rules."""
    state: DesiredOccState = "STANDBY"
    """Desired OCC state: the controller transitions the process toward it."""
    properties: Vars = Field(default_factory=dict)
    """Resolved key/values pushed at CONFIGURE."""
    run_number: int | None = None
    """The run number handed to the process at START."""
    start_arguments: Vars = Field(default_factory=dict)
    """Further arguments of START: AliECS's START variables (fill info, run type, run start
    time, ...) and the integration plugins' variables, set with the run number."""
    critical: bool = True
    """A failure moves the owning environment to ERROR."""
    reusable: bool = False
    """May stay alive idle after its environment is done, to be adopted by another."""
    transition_id: str | None = None
    """Request id of the latest desired-state change; makes control requests idempotent."""
    bind: tuple[BindChannel, ...] = ()
    """Inbound data-flow channels, resolved (TaskClass's and every role's above, the deepest
    winning on a name): the task controller allocates their addresses at launch."""
    connect: tuple[ConnectChannel, ...] = ()
    """Outbound data-flow channels, resolved; `target` normalised to `role.path:channel`,
    `::alias` or a fixed `tcp://`/`ipc://` address."""


class TaskStatus(Status):
    """What Mesos and the executor report about the process."""

    phase: TaskPhase = "Pending"
    """Mesos-level lifecycle."""
    state: OccState | None = None
    """OCC state as reported by the executor (None until the process answers)."""
    agent_id: str | None = None
    """The Mesos agent it was placed on."""
    hostname: str | None = None
    """The agent's hostname."""
    ports: tuple[int, ...] = ()
    """Concrete ports taken from the agent's offer, in order."""
    pid: int | None = None
    """Process id on the agent."""
    exit_code: int | None = None
    """The exit code once it ended (a basic task: of its process's last run)."""
    signal: int | None = None
    """The signal that ended the process, if any."""
    terminated: bool = False
    """A basic task's process has ended on its own during the run (BASIC_TASK_TERMINATED): the
    task stays RUNNING and is safe to stop, as in AliECS; cleared when the run is stopped."""
    reason: str = ""
    """Machine-readable reason of the last phase change (e.g. REASON_EXECUTOR_TERMINATED)."""
    message: str = ""
    """Human-readable details of the last change or problem."""
    mesos_task_id: str | None = None
    """The Mesos TaskID (unique per launch)."""
    executor_id: str | None = None
    """The o2 executor hosting it."""
    last_transition_id: str | None = None
    """The spec.transitionId the executor last completed."""
    configured_properties: str | None = None
    """Hash of the properties the process was configured with (detects needed reconfigures)."""
    started_at: datetime | None = None
    """When the process was started."""
    channels: dict[str, str] = Field(default_factory=dict)
    """Bound address of each inbound channel (spec.bind) as peers connect to it
    (`tcp://host:port`, `ipc://@o2ipc-...`), allocated at launch."""


def is_pilot(task: Task) -> bool:
    """A pilot job (owned by its Node), as opposed to an environment's or a standalone task."""
    return PILOT_LABEL in task.metadata.labels


class Task(Resource):
    """One process on one agent."""

    kind: Literal["Task"] = "Task"
    """Always Task."""
    spec: TaskSpec
    """The resolved process and its desired OCC state."""
    status: TaskStatus = Field(default_factory=TaskStatus)
    """What Mesos and the executor report."""

    KIND: ClassVar[str] = "Task"


INFO = register(
    KindInfo(
        kind="Task",
        plural="tasks",
        singular="task",
        short_names=(),
        model=Task,
        columns=(
            PrinterColumn("NAME", lambda o: o.metadata.name),
            PrinterColumn("ENV", lambda o: opt(o.spec.environment)),
            PrinterColumn("ROLE", lambda o: o.spec.role),
            PrinterColumn("STATE", lambda o: opt(o.status.state)),
            PrinterColumn("PHASE", lambda o: o.status.phase),
            PrinterColumn("NODE", lambda o: opt(o.status.hostname)),
            PrinterColumn("PID", lambda o: opt(o.status.pid)),
            PrinterColumn("DESIRED", lambda o: o.spec.state, wide_only=True),
            PrinterColumn("CLASS", lambda o: o.spec.task_class, wide_only=True),
            PrinterColumn(
                "PORTS", lambda o: ",".join(str(p) for p in o.status.ports), wide_only=True
            ),
            PrinterColumn("MESSAGE", lambda o: o.status.message, wide_only=True),
        ),
    )
)
