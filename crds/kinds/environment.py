"""Environment: an instance of a Workflow driven toward `spec.state`. Pure models and columns."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from crds.kinds.common import DesiredEnvironmentState, EnvironmentState, Vars, count_text
from crds.meta import DnsName, O2Model, Status
from crds.resource import KindInfo, PrinterColumn, Resource, register

HISTORY_LIMIT = 50
"""How many finished transitions `status.history` keeps (oldest dropped first)."""


class EnvironmentSpec(O2Model):
    """What the operator wants: which workflow, with which variables, in which state."""

    workflow: DnsName
    """The Workflow to expand."""
    state: DesiredEnvironmentState = "STANDBY"
    """Desired state; the controller walks the shortest legal path to it."""
    vars: Vars = Field(default_factory=dict)
    """Highest-precedence variables (e.g. `detectors`); changing them changes the task set live."""
    run_type: str = Field(default="NONE", min_length=1)
    """Run type (PHYSICS, TECHNICAL, ...): selects ComponentConfig payloads."""
    reconfigure: Literal["NextRun", "Now"] = "NextRun"
    """While RUNNING, apply configuration changes at the next run, or now (STOP, RESET,
    CONFIGURE, START)."""
    recover_request: int = Field(default=0, ge=0)
    """Bumped by `o2 recover`; ERROR is left only when it exceeds status.recoveredRequest."""
    reclaim: Literal["Auto", "Manual"] = "Manual"
    """Whether tasks that cannot be placed may reclaim asynchronous nodes automatically."""


class TransitionProgress(O2Model):
    """The transition in progress."""

    event: str
    """DEPLOY, CONFIGURE, START_ACTIVITY, STOP_ACTIVITY, RESET, EXIT, GO_ERROR or RECOVER."""
    step: str = ""
    """Where it is, e.g. `before_START_ACTIVITY+10` or `tasks_START_ACTIVITY`."""
    started_at: datetime | None = None
    """When the transition began."""
    message: str = ""
    """What it is doing or waiting for."""
    failed_step: str = ""
    """GO_ERROR only: the enter_/after_ hook step where a critical hook failed; the later steps
    of the same moment and weight sign (negative, or zero and positive) are skipped, as AliECS
    does."""


class TransitionRecord(O2Model):
    """A finished transition, for `o2 describe env`."""

    event: str
    """The transition event, e.g. START_ACTIVITY."""
    from_state: str
    """State before the transition."""
    to_state: str
    """State after it (the source state again when it failed or was cancelled)."""
    started_at: datetime | None = None
    """When it began."""
    finished_at: datetime | None = None
    """When it ended."""
    duration_seconds: float | None = None
    """finishedAt - startedAt, in seconds."""
    result: Literal["Succeeded", "Failed", "Cancelled"] = "Succeeded"
    """Succeeded, Failed or Cancelled."""
    run_number: int | None = None
    """The run it started or stopped, if any."""
    message: str = ""
    """Why it failed, or what it did."""


class RoleSummary(O2Model):
    """Task counts of one expanded role path."""

    path: str
    """The expanded role path, e.g. `flp-tpc.readout`."""
    tasks: int = 0
    """How many tasks this role has."""
    states: dict[str, int] = Field(default_factory=dict)
    """Task count per OCC state (or task phase when it has no state yet)."""


class EnvironmentStatus(Status):
    """What the controller observed and did."""

    state: EnvironmentState = "STANDBY"
    """The current state; ERROR is sticky until a recover request."""
    run_number: int | None = None
    """The current run (set while RUNNING)."""
    last_run_number: int | None = None
    """The run before the current one (or the last run, once stopped)."""
    transition: TransitionProgress | None = None
    """The transition in progress, if any."""
    task_counts: dict[str, int] = Field(default_factory=dict)
    """Tasks per OCC state."""
    task_total: int = 0
    """How many tasks the environment owns."""
    roles: tuple[RoleSummary, ...] = ()
    """Per role path summary."""
    history: tuple[TransitionRecord, ...] = ()
    """The last HISTORY_LIMIT finished transitions, oldest first."""
    message: str = ""
    """Human-readable summary of the last problem or step."""
    recovered_request: int = 0
    """The spec.recoverRequest last acted upon."""
    reconciled_revision: int = Field(default=0, ge=0)
    """The etcd revision at which the task controller recorded, after its latest subscription
    to Mesos (a new leader, or a re-subscription), that Mesos had answered for every live task
    (`<prefix>/runtime/mesos/reconciled`); this status reflects the tasks' states as of then.
    Written once per subscription, never in a steady state. A status whose revision predates a
    controller's start is what an earlier controller last saw: `o2 up` announces an environment
    only once this is later than its own start."""
    config_versions: dict[str, str] = Field(default_factory=dict)
    """Per component, the ComponentConfig used at the last CONFIGURE, as `name@version`."""
    detectors: tuple[str, ...] = ()
    """The detectors this environment holds; a detector is held by one live environment only."""
    plugin_vars: dict[str, str] = Field(default_factory=dict)
    """Variables returned by the integration plugin calls (`func:` hooks) so far: later hooks
    see them, and tasks receive them at START (kept here so a restarted controller has them)."""
    runtime_vars: dict[str, str] = Field(default_factory=dict)
    """The run's times as AliECS's core sets them (`run_start_time_ms`,
    `run_start_completion_time_ms`, `run_end_time_ms`, `run_end_completion_time_ms`,
    `enter_state_time_ms`: milliseconds since the epoch, "" once cleared): hooks and plugins
    see them, tasks receive the START ones at START (kept here so a restarted controller shows
    the same values)."""
    reclaimed_nodes: tuple[str, ...] = ()
    """Asynchronous nodes reclaimed for this environment's tasks (kept by the pilot controller;
    each Node's status.reclaim says when and why)."""


class Environment(Resource):
    """A live instance of a Workflow."""

    kind: Literal["Environment"] = "Environment"
    """Always Environment."""
    spec: EnvironmentSpec
    """Desired workflow, variables and state."""
    status: EnvironmentStatus = Field(default_factory=EnvironmentStatus)
    """Observed state, run numbers, task counts and transitions."""

    KIND: ClassVar[str] = "Environment"

    def spec_applied_onto(self, current: Resource) -> EnvironmentSpec:
        """`spec.recoverRequest` is a counter `o2 recover` bumps: re-applying a manifest that
        says less (or nothing) must not take it back, or a recovery asked for is undone."""
        if not isinstance(current, Environment):
            return self.spec
        kept = max(self.spec.recover_request, current.spec.recover_request)
        return self.spec.model_copy(update={"recover_request": kept})


def append_history(
    history: tuple[TransitionRecord, ...], record: TransitionRecord, *, limit: int = HISTORY_LIMIT
) -> tuple[TransitionRecord, ...]:
    """`history` with `record` appended, keeping only the newest `limit` entries."""
    return (*history, record)[-limit:]


def _run(env: Environment) -> str:
    run = env.status.run_number
    return "" if run is None else str(run)


def _tasks(env: Environment) -> str:
    wanted = {"STANDBY": "STANDBY", "DEPLOYED": "STANDBY"}.get(env.status.state, env.status.state)
    return count_text(env.status.task_counts.get(wanted, 0), env.status.task_total)


INFO = register(
    KindInfo(
        kind="Environment",
        plural="environments",
        singular="environment",
        short_names=("env", "envs"),
        model=Environment,
        columns=(
            PrinterColumn("NAME", lambda o: o.metadata.name),
            PrinterColumn("WORKFLOW", lambda o: o.spec.workflow),
            PrinterColumn("STATE", lambda o: o.status.state),
            PrinterColumn("DESIRED", lambda o: o.spec.state),
            PrinterColumn("RUN", _run),
            PrinterColumn("TASKS", _tasks),
            PrinterColumn("RUN-TYPE", lambda o: o.spec.run_type, wide_only=True),
            PrinterColumn(
                "TRANSITION",
                lambda o: "" if o.status.transition is None else o.status.transition.event,
                wide_only=True,
            ),
            PrinterColumn("MESSAGE", lambda o: o.status.message, wide_only=True),
        ),
    )
)
