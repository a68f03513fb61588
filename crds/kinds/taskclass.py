"""TaskClass: how to run one process (command, control mode, resources, properties). Pure."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from crds.duration import Duration
from crds.kinds.channels import BindChannel, ConnectChannel
from crds.kinds.common import Command, Constraint, ControlMode, Limits, Vars, Wants
from crds.meta import O2Model, Status
from crds.resource import KindInfo, PrinterColumn, Resource, register


class TaskClassSpec(O2Model):
    """A process template; Workflows refer to it by name from `task: {class: NAME}` roles."""

    command: Command
    """The program and its argv; values may hold `{{ }}` templates resolved per task."""
    control: ControlMode = "direct"
    """As in AliECS: `direct`: the process serves AliECS's OCC gRPC (occ_pb.Occ) in the OCC
    state machine (OCClib tasks, o2 SDK tasks; port in `OCC_CONTROL_PORT`); `fairmq`: a FairMQ
    device behind its OCC plugin (FairMQ states, multi-step CONFIGURE/RESET; port also as
    `--control-port`); `basic`: AliECS's run-to-completion command, started at each START
    (killed at STOP if still running), whose exit, whatever its code, only makes the task safe
    to stop (exitCode recorded; the run stops once every such task has ended); a role with a
    `trigger` runs it as a task hook instead. o2's `process`: a plain long-running process
    started at launch (pilots): running means RUNNING, exit 0 DONE, any other exit ERROR. `occ`
    is the deprecated name of `direct`; a `pilot` class written with `basic` (the old spelling)
    means `process`."""
    wants: Wants = Field(default_factory=Wants)
    """Resources per task."""
    constraints: tuple[Constraint, ...] = ()
    """Placement rules on agent attributes, merged with the role's constraints."""
    limits: Limits | None = None
    """Upper bounds of the task's resources (AliECS's `limits`)."""
    defaults: Vars = Field(default_factory=dict)
    """Lowest-precedence variables for templates of this class."""
    vars: Vars = Field(default_factory=dict)
    """Variables of this class above its `defaults`, below everything the workflow sets
    (AliECS's task template `vars`)."""
    bind: tuple[BindChannel, ...] = ()
    """Inbound data-flow channels of every task of this class."""
    connect: tuple[ConnectChannel, ...] = ()
    """Outbound data-flow channels of every task of this class (targets belong in the
    workflow, as in AliECS)."""
    properties: Vars = Field(default_factory=dict)
    """Key/values pushed to the process at CONFIGURE (templated per task)."""
    reusable: bool = False
    """A task of this class may outlive its environment and be adopted by a later one."""
    pilot: bool = False
    """This class is a pilot job for asynchronous nodes (run once per async node)."""
    startup_timeout: Duration = "30s"
    """How long the process may take to answer OCC GetState with STANDBY after launch."""
    transition_timeout: Duration = "30s"
    """How long one OCC transition may take before the task is reported in ERROR."""
    kill_grace_period: Duration = "5s"
    """Time between SIGTERM and SIGKILL in the kill ladder."""

    @model_validator(mode="before")
    @classmethod
    def _pilot_basic_is_process(cls, data: object) -> object:
        """Pilots were written `control: basic` when basic meant a long-running process."""
        if isinstance(data, dict) and data.get("pilot") is True and data.get("control") == "basic":
            return {**data, "control": "process"}
        return data


class TaskClass(Resource):
    """How to run one process; the unit that Workflow task roles instantiate."""

    kind: Literal["TaskClass"] = "TaskClass"
    """Always TaskClass."""
    spec: TaskClassSpec
    """How to run the process."""
    status: Status = Field(default_factory=Status)
    """Unused: task classes have no status."""

    KIND: ClassVar[str] = "TaskClass"


def _command(tc: TaskClass) -> str:
    return " ".join((tc.spec.command.value, *tc.spec.command.arguments))


def _wants(tc: TaskClass) -> str:
    w = tc.spec.wants
    return f"cpus={w.cpus:g},mem={w.memory},ports={w.ports}"


INFO = register(
    KindInfo(
        kind="TaskClass",
        plural="taskclasses",
        singular="taskclass",
        short_names=("tc",),
        model=TaskClass,
        has_status=False,
        columns=(
            PrinterColumn("NAME", lambda o: o.metadata.name),
            PrinterColumn("CONTROL", lambda o: o.spec.control),
            PrinterColumn("REUSABLE", lambda o: str(o.spec.reusable).lower()),
            PrinterColumn("WANTS", _wants),
            PrinterColumn("COMMAND", _command, wide_only=True),
        ),
    )
)
