"""Mesos v1 JSON shapes shared by both APIs (include/mesos/v1/mesos.proto). Pure: no I/O.

Wire rules (stout's protobuf<->JSON): snake_case field names, enums as strings, `bytes` as
base64, ids as `{"value": "..."}`. Here ids are flattened to `NewType` strings and `bytes` are
real bytes; `to_wire()` puts both back. Unknown fields sent by a master are ignored, so a newer
Mesos does not break decoding.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal, NewType

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

FrameworkId = NewType("FrameworkId", str)
AgentId = NewType("AgentId", str)
OfferId = NewType("OfferId", str)
TaskId = NewType("TaskId", str)
ExecutorId = NewType("ExecutorId", str)
ContainerId = NewType("ContainerId", str)


def _unwrap_id(value: object) -> object:
    if isinstance(value, dict):
        return value.get("value")
    return value


def _wrap_id(value: str) -> dict[str, str]:
    return {"value": value}


def _b64_in(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not base64: {exc}") from exc
    return value


def _b64_out(value: bytes) -> str:
    return base64.b64encode(value).decode()


_IdIn = BeforeValidator(_unwrap_id)
_IdOut = PlainSerializer(_wrap_id, return_type=dict)
FrameworkIdField = Annotated[FrameworkId, _IdIn, _IdOut]
AgentIdField = Annotated[AgentId, _IdIn, _IdOut]
OfferIdField = Annotated[OfferId, _IdIn, _IdOut]
TaskIdField = Annotated[TaskId, _IdIn, _IdOut]
ExecutorIdField = Annotated[ExecutorId, _IdIn, _IdOut]
ContainerIdField = Annotated[ContainerId, _IdIn, _IdOut]
Base64Bytes = Annotated[bytes, BeforeValidator(_b64_in), PlainSerializer(_b64_out, return_type=str)]
"""Raw bytes in Python, base64 text on the wire."""

TaskState = Literal[
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_ERROR",
    "TASK_LOST",
    "TASK_DROPPED",
    "TASK_UNREACHABLE",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
]
TERMINAL_STATES: frozenset[str] = frozenset(
    {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"}
    | {"TASK_GONE", "TASK_GONE_BY_OPERATOR"}
)
"""States after which a task never runs again (TASK_LOST is treated as terminal, as Mesos does)."""

StatusSource = Literal["SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"]
ValueType = Literal["SCALAR", "RANGES", "SET", "TEXT"]
FrameworkCapabilityType = Literal[
    "REVOCABLE_RESOURCES",
    "TASK_KILLING_STATE",
    "GPU_RESOURCES",
    "SHARED_RESOURCES",
    "PARTITION_AWARE",
    "MULTI_ROLE",
    "RESERVATION_REFINEMENT",
    "REGION_AWARE",
]


class MesosModel(BaseModel):
    """Base of every wire shape: frozen, snake_case, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    def to_wire(self) -> dict[str, object]:
        """The JSON-ready dict Mesos expects (None fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Scalar(MesosModel):
    value: float


class Range(MesosModel):
    begin: int
    end: int


class Ranges(MesosModel):
    range: list[Range] = Field(default_factory=list)


class ValueSet(MesosModel):
    item: list[str] = Field(default_factory=list)


class Text(MesosModel):
    value: str


class Label(MesosModel):
    key: str
    value: str | None = None


class Labels(MesosModel):
    labels: list[Label] = Field(default_factory=list)


class DurationInfo(MesosModel):
    nanoseconds: int

    @classmethod
    def of_seconds(cls, seconds: float) -> DurationInfo:
        return cls(nanoseconds=int(seconds * 1e9))


class AllocationInfo(MesosModel):
    role: str | None = None


class ReservationInfo(MesosModel):
    type: Literal["UNKNOWN", "STATIC", "DYNAMIC"] | None = None
    role: str | None = None
    principal: str | None = None
    labels: Labels | None = None


class Resource(MesosModel):
    """One resource of an offer or a task: scalar (cpus, mem), ranges (ports) or set."""

    name: str
    type: ValueType
    scalar: Scalar | None = None
    ranges: Ranges | None = None
    set_: ValueSet | None = Field(default=None, alias="set")
    role: str | None = None
    allocation_info: AllocationInfo | None = None
    reservations: list[ReservationInfo] | None = None


class Attribute(MesosModel):
    """An agent attribute (machine_id, detector, rack ...)."""

    name: str
    type: ValueType
    scalar: Scalar | None = None
    ranges: Ranges | None = None
    set_: ValueSet | None = Field(default=None, alias="set")
    text: Text | None = None

    def as_text(self) -> str:
        """The value as a string, whatever its type (for constraint matching)."""
        if self.text is not None:
            return self.text.value
        if self.scalar is not None:
            v = self.scalar.value
            return str(int(v)) if v == int(v) else str(v)
        if self.set_ is not None:
            return ",".join(self.set_.item)
        if self.ranges is not None:
            return ",".join(f"[{r.begin}-{r.end}]" for r in self.ranges.range)
        return ""


class EnvironmentVariable(MesosModel):
    name: str
    value: str | None = None
    type: Literal["UNKNOWN", "VALUE", "SECRET"] | None = None


class Environment(MesosModel):
    variables: list[EnvironmentVariable] = Field(default_factory=list)

    @classmethod
    def of(cls, env: dict[str, str]) -> Environment:
        return cls(variables=[EnvironmentVariable(name=k, value=v) for k, v in env.items()])


class CommandURI(MesosModel):
    value: str
    executable: bool | None = None
    extract: bool | None = None
    cache: bool | None = None
    output_file: str | None = None


class CommandInfo(MesosModel):
    """What to run. `shell` defaults to true in Mesos; o2 always sets it explicitly."""

    value: str | None = None
    arguments: list[str] | None = None
    shell: bool | None = None
    environment: Environment | None = None
    uris: list[CommandURI] | None = None
    user: str | None = None


class KillPolicy(MesosModel):
    grace_period: DurationInfo | None = None


class ExecutorInfo(MesosModel):
    executor_id: ExecutorIdField
    type: Literal["UNKNOWN", "DEFAULT", "CUSTOM"] | None = None
    framework_id: FrameworkIdField | None = None
    command: CommandInfo | None = None
    resources: list[Resource] = Field(default_factory=list)
    name: str | None = None
    data: Base64Bytes | None = None
    shutdown_grace_period: DurationInfo | None = None
    labels: Labels | None = None


class TaskInfo(MesosModel):
    name: str
    task_id: TaskIdField
    agent_id: AgentIdField
    resources: list[Resource] = Field(default_factory=list)
    executor: ExecutorInfo | None = None
    command: CommandInfo | None = None
    kill_policy: KillPolicy | None = None
    data: Base64Bytes | None = None
    labels: Labels | None = None
    limits: dict[str, Scalar] | None = None
    """Upper bounds per resource name (`cpus`, `mem` in MB), mesos.proto `map<string,
    Value.Scalar> limits = 14` (Mesos >= 1.9); absent: none beyond the requested resources."""


class TaskGroupInfo(MesosModel):
    tasks: list[TaskInfo] = Field(default_factory=list)


class TimeInfo(MesosModel):
    nanoseconds: int


class TaskStatus(MesosModel):
    """A task's state as reported by an executor, an agent or the master."""

    task_id: TaskIdField
    state: TaskState
    message: str | None = None
    source: StatusSource | None = None
    reason: str | None = None
    data: Base64Bytes | None = None
    agent_id: AgentIdField | None = None
    executor_id: ExecutorIdField | None = None
    timestamp: float | None = None
    uuid: Base64Bytes | None = None
    healthy: bool | None = None
    labels: Labels | None = None
    unreachable_time: TimeInfo | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class FrameworkCapability(MesosModel):
    type: FrameworkCapabilityType


class FrameworkInfo(MesosModel):
    user: str
    name: str
    id: FrameworkIdField | None = None
    failover_timeout: float | None = None
    checkpoint: bool | None = None
    role: str | None = None
    roles: list[str] | None = None
    hostname: str | None = None
    principal: str | None = None
    webui_url: str | None = None
    capabilities: list[FrameworkCapability] = Field(default_factory=list)
    labels: Labels | None = None

    def has_capability(self, capability: FrameworkCapabilityType) -> bool:
        return any(c.type == capability for c in self.capabilities)


class Address(MesosModel):
    hostname: str | None = None
    ip: str | None = None
    port: int | None = None


class MasterInfo(MesosModel):
    id: str
    ip: int | None = None
    port: int | None = None
    pid: str | None = None
    hostname: str | None = None
    version: str | None = None
    address: Address | None = None


class AgentInfo(MesosModel):
    hostname: str
    port: int | None = None
    id: AgentIdField | None = None
    resources: list[Resource] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)


class Offer(MesosModel):
    """Resources of one agent offered to this framework until accepted, declined or rescinded."""

    id: OfferIdField
    framework_id: FrameworkIdField
    agent_id: AgentIdField
    hostname: str
    resources: list[Resource] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    executor_ids: list[ExecutorIdField] = Field(default_factory=list)
    allocation_info: AllocationInfo | None = None

    def attribute(self, name: str) -> str | None:
        """An attribute's value as text, or None when the agent does not have it."""
        for a in self.attributes:
            if a.name == name:
                return a.as_text()
        return None


class Filters(MesosModel):
    refuse_seconds: float | None = None


class Launch(MesosModel):
    task_infos: list[TaskInfo] = Field(default_factory=list)


class LaunchGroup(MesosModel):
    executor: ExecutorInfo
    task_group: TaskGroupInfo


class ReserveOp(MesosModel):
    resources: list[Resource] = Field(default_factory=list)


class Operation(MesosModel):
    """One operation of an ACCEPT: LAUNCH, LAUNCH_GROUP, RESERVE or UNRESERVE."""

    type: Literal["LAUNCH", "LAUNCH_GROUP", "RESERVE", "UNRESERVE"]
    launch: Launch | None = None
    launch_group: LaunchGroup | None = None
    reserve: ReserveOp | None = None
    unreserve: ReserveOp | None = None

    @classmethod
    def of_launch(cls, tasks: list[TaskInfo]) -> Operation:
        return cls(type="LAUNCH", launch=Launch(task_infos=tasks))

    @classmethod
    def of_launch_group(cls, executor: ExecutorInfo, tasks: list[TaskInfo]) -> Operation:
        group = LaunchGroup(executor=executor, task_group=TaskGroupInfo(tasks=tasks))
        return cls(type="LAUNCH_GROUP", launch_group=group)
