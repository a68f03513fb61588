"""o2's own payloads inside Mesos: TaskInfo.data at LAUNCH and framework MESSAGE bodies. Pure.

Controller -> executor (MESSAGE): `ControlRequest` (one per agent, all pending transitions of
its tasks) and `ReportRequest` (send the task table now). Executor -> controller (MESSAGE):
`ControlResults` (per-task answers to one request), `TaskTableReport` (the full table,
periodically and on (re)subscribe) and `DeviceEventMessage` (END_OF_STREAM, INTERNAL_ERROR).
Executor -> controller (TaskStatus.data of every status UPDATE): `TaskStatusData`.
Framework messages are at-most-once: every request carries ids and is idempotent, so the
controller simply resends after a timeout; the executor answers a repeated `transitionId` with
the earlier result without running the transition again.

Wire form: compact camelCase JSON bytes (`encode`); the Mesos client base64s them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from crds.errors import FieldError, ValidationError
from crds.kinds.common import Command, ControlMode
from crds.meta import O2Model

TaskPhaseOnAgent = Literal["starting", "running", "exited"]


class LaunchPayload(O2Model):
    """TaskInfo.data of an o2 task: what the executor runs and how it controls it."""

    command: Command
    control: ControlMode = "direct"
    occ_port: int | None = Field(default=None, ge=1, le=65535)
    """The control port (from the offer's ports); the task gets it as `OCC_CONTROL_PORT` (and
    `--control-port` for fairmq), as AliECS hands it over."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra variables set by the controller (O2_TASK_NAME, O2_ENVIRONMENT, ...)."""


class ControlItem(O2Model):
    task_id: str = Field(min_length=1)
    """The Mesos task id."""
    transition_id: str = Field(min_length=1)
    """Idempotency key; a repeat returns the first result."""
    event: str = Field(min_length=1)
    """CONFIGURE, START, STOP, RESET, EXIT, GO_ERROR or RECOVER."""
    arguments: dict[str, str] = Field(default_factory=dict)
    """CONFIGURE: the task's properties; START: run_number and run parameters."""
    src_state: str = ""
    """When set, the task refuses unless it is in this state."""


class ControlRequest(O2Model):
    type: Literal["control"] = "control"
    request_id: str = Field(min_length=1)
    items: tuple[ControlItem, ...] = ()
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Deadline of each transition; the executor answers within about this time."""


class ReportRequest(O2Model):
    type: Literal["report"] = "report"


class TransitionResult(O2Model):
    task_id: str
    transition_id: str
    ok: bool
    state: str = ""
    """The task's OCC state after the attempt ('' when unknown)."""
    message: str = ""
    retryable: bool = False
    """True when the task could not be asked or did not answer: resend with the same id."""


class TaskReport(O2Model):
    """One row of the executor's task table."""

    task_id: str
    control: ControlMode
    phase: TaskPhaseOnAgent
    state: str = ""
    pid: int | None = None
    last_transition_id: str = ""
    exit_code: int | None = None
    signal: int | None = None
    message: str = ""


class TaskStatusData(O2Model):
    """TaskStatus.data of every update the o2 executor sends: the process facts behind it."""

    state: str = ""
    """The task's OCC state (STANDBY when TASK_RUNNING, DONE or ERROR when terminal)."""
    pid: int | None = None
    exit_code: int | None = None
    signal: int | None = None


class ControlResults(O2Model):
    type: Literal["results"] = "results"
    request_id: str
    results: tuple[TransitionResult, ...] = ()


class TaskTableReport(O2Model):
    type: Literal["table"] = "table"
    sequence: int = 0
    """Increases with every report of one executor process; older reports can be dropped."""
    tasks: tuple[TaskReport, ...] = ()
    subscribed: bool = False
    """Sent as the executor (re)subscribed to its agent: an agent drops framework messages for
    an executor that is not subscribed (after an agent or local cluster restart), so requests
    sent to these tasks before may never have arrived."""


BASIC_TASK_TERMINATED = "BASIC_TASK_TERMINATED"
"""The device event of a basic task whose process ended (AliECS's DeviceEventType 2)."""


class DeviceEventMessage(O2Model):
    type: Literal["device_event"] = "device_event"
    task_id: str
    event: str
    """END_OF_STREAM, INTERNAL_ERROR, STATE_CHANGE or BASIC_TASK_TERMINATED."""
    state: str = ""
    message: str = ""
    exit_code: int | None = None
    """BASIC_TASK_TERMINATED: how the basic task's process ended (None: by a signal)."""
    signal: int | None = None


ToExecutor = Annotated[ControlRequest | ReportRequest, Field(discriminator="type")]
ToController = Annotated[
    ControlResults | TaskTableReport | DeviceEventMessage, Field(discriminator="type")
]

_TO_EXECUTOR: TypeAdapter[ControlRequest | ReportRequest] = TypeAdapter(ToExecutor)
_TO_CONTROLLER: TypeAdapter[ControlResults | TaskTableReport | DeviceEventMessage] = TypeAdapter(
    ToController
)
_LAUNCH: TypeAdapter[LaunchPayload] = TypeAdapter(LaunchPayload)


def encode(message: O2Model) -> bytes:
    """Compact camelCase JSON, nulls left out: `model_dump_json`'s bytes, straight from the
    serializer (no text in between: every launch's TaskInfo.data is one)."""
    return type(message).__pydantic_serializer__.to_json(message, by_alias=True, exclude_none=True)


def _invalid(source: str, exc: PydanticValidationError) -> ValidationError:
    return ValidationError(
        [
            FieldError(path=".".join(str(p) for p in err["loc"]), message=err["msg"], source=source)
            for err in exc.errors()
        ]
    )


def decode_to_executor(data: bytes) -> ControlRequest | ReportRequest:
    """Parse a controller -> executor MESSAGE; ValidationError names the bad fields."""
    try:
        return _TO_EXECUTOR.validate_json(data)
    except PydanticValidationError as exc:
        raise _invalid("framework message to executor", exc) from exc


def decode_to_controller(data: bytes) -> ControlResults | TaskTableReport | DeviceEventMessage:
    """Parse an executor -> controller MESSAGE; ValidationError names the bad fields."""
    try:
        return _TO_CONTROLLER.validate_json(data)
    except PydanticValidationError as exc:
        raise _invalid("framework message to controller", exc) from exc


def decode_launch(data: bytes) -> LaunchPayload:
    """Parse TaskInfo.data of an o2 task."""
    try:
        return _LAUNCH.validate_json(data)
    except PydanticValidationError as exc:
        raise _invalid("TaskInfo.data", exc) from exc


_STATUS_DATA: TypeAdapter[TaskStatusData] = TypeAdapter(TaskStatusData)


def decode_status_data(data: bytes) -> TaskStatusData:
    """Parse TaskStatus.data of an o2 executor's update."""
    try:
        return _STATUS_DATA.validate_json(data)
    except PydanticValidationError as exc:
        raise _invalid("TaskStatus.data", exc) from exc
