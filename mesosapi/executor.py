"""Executor API calls and events (include/mesos/v1/executor/executor.proto). Pure: no I/O.

Same union style as the scheduler API. Every call carries `executor_id` and `framework_id` on
top. `unacknowledged_updates` are `Call.Update` objects, i.e. `[{"status": {...}}]`.
Also here: the executor's environment contract (MESOS_* variables) and Mesos duration syntax.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from pydantic import Field

from mesosapi.auth import EXECUTOR_TOKEN_ENV, base_url
from mesosapi.models import (
    AgentInfo,
    Base64Bytes,
    ContainerIdField,
    ExecutorId,
    ExecutorInfo,
    FrameworkId,
    FrameworkInfo,
    KillPolicy,
    MesosModel,
    TaskGroupInfo,
    TaskIdField,
    TaskInfo,
    TaskStatus,
)

# ---- events -------------------------------------------------------------------------------


class ExecutorEvent(MesosModel):
    TYPE: ClassVar[str] = ""


class Subscribed(ExecutorEvent):
    TYPE: ClassVar[str] = "SUBSCRIBED"
    executor_info: ExecutorInfo
    framework_info: FrameworkInfo
    agent_info: AgentInfo
    container_id: ContainerIdField | None = None


class Launch(ExecutorEvent):
    TYPE: ClassVar[str] = "LAUNCH"
    task: TaskInfo


class LaunchGroup(ExecutorEvent):
    TYPE: ClassVar[str] = "LAUNCH_GROUP"
    task_group: TaskGroupInfo


class Kill(ExecutorEvent):
    TYPE: ClassVar[str] = "KILL"
    task_id: TaskIdField
    kill_policy: KillPolicy | None = None


class Acknowledged(ExecutorEvent):
    TYPE: ClassVar[str] = "ACKNOWLEDGED"
    task_id: TaskIdField
    uuid: Base64Bytes


class Message(ExecutorEvent):
    TYPE: ClassVar[str] = "MESSAGE"
    data: Base64Bytes = b""


class Error(ExecutorEvent):
    TYPE: ClassVar[str] = "ERROR"
    message: str = ""


class Shutdown(ExecutorEvent):
    TYPE: ClassVar[str] = "SHUTDOWN"


class Heartbeat(ExecutorEvent):
    TYPE: ClassVar[str] = "HEARTBEAT"


class UnknownEvent(ExecutorEvent):
    TYPE: ClassVar[str] = "UNKNOWN"
    type: str = ""


_EVENTS: list[type[ExecutorEvent]] = [Subscribed, Launch, LaunchGroup, Kill, Acknowledged]
_EVENTS += [Message, Error, Shutdown, Heartbeat]
EVENT_TYPES: dict[str, type[ExecutorEvent]] = {cls.TYPE: cls for cls in _EVENTS}
_NO_PAYLOAD = frozenset({"SHUTDOWN", "HEARTBEAT"})


def decode_event(record: Mapping[str, object]) -> ExecutorEvent:
    """A decoded RecordIO record as its typed event; pydantic.ValidationError if malformed."""
    kind = str(record.get("type", ""))
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        return UnknownEvent(type=kind)
    return cls.model_validate(record.get(kind.lower(), {}))


def encode_event(event: ExecutorEvent) -> dict[str, object]:
    if event.TYPE in _NO_PAYLOAD:
        return {"type": event.TYPE}
    return {"type": event.TYPE, event.TYPE.lower(): event.to_wire()}


# ---- calls --------------------------------------------------------------------------------


class ExecutorCall(MesosModel):
    TYPE: ClassVar[str] = ""


class UpdateCall(ExecutorCall):
    TYPE: ClassVar[str] = "UPDATE"
    status: TaskStatus


class SubscribeCall(ExecutorCall):
    TYPE: ClassVar[str] = "SUBSCRIBE"
    unacknowledged_tasks: list[TaskInfo] = Field(default_factory=list)
    unacknowledged_updates: list[UpdateCall] = Field(default_factory=list)


class MessageCall(ExecutorCall):
    TYPE: ClassVar[str] = "MESSAGE"
    data: Base64Bytes


class HeartbeatCall(ExecutorCall):
    TYPE: ClassVar[str] = "HEARTBEAT"


CALL_TYPES: dict[str, type[ExecutorCall]] = {
    cls.TYPE: cls for cls in (SubscribeCall, UpdateCall, MessageCall, HeartbeatCall)
}


def encode_call(
    call: ExecutorCall, *, framework_id: FrameworkId, executor_id: ExecutorId
) -> dict[str, object]:
    body: dict[str, object] = {
        "type": call.TYPE,
        "framework_id": {"value": framework_id},
        "executor_id": {"value": executor_id},
    }
    if not isinstance(call, HeartbeatCall):
        body[call.TYPE.lower()] = call.to_wire()
    return body


def decode_call(body: Mapping[str, object]) -> tuple[FrameworkId, ExecutorId, ExecutorCall]:
    """A call body as (framework id, executor id, payload); ValueError when malformed."""
    kind = str(body.get("type", ""))
    cls = CALL_TYPES.get(kind)
    fid, eid = body.get("framework_id"), body.get("executor_id")
    if cls is None or not isinstance(fid, dict) or not isinstance(eid, dict):
        raise ValueError(f"malformed executor call of type {kind!r}")
    payload = cls.model_validate(body.get(kind.lower(), {}))
    return FrameworkId(str(fid.get("value"))), ExecutorId(str(eid.get("value"))), payload


T = TypeVar("T")

# ---- environment --------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-z]+)\s*$")
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "secs": 1.0,
    "sec": 1.0,
    "s": 1.0,
    "mins": 60.0,
    "min": 60.0,
    "hrs": 3600.0,
    "hr": 3600.0,
    "days": 86400.0,
    "day": 86400.0,
    "weeks": 604800.0,
    "week": 604800.0,
}


def parse_duration(text: str) -> float:
    """Mesos duration syntax ("5secs", "100ms", "15mins", "1.5hrs") in seconds; ValueError."""
    m = _DURATION.match(text)
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"not a Mesos duration: {text!r} (expected e.g. '5secs', '100ms')")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_flag(text: str) -> bool:
    """Mesos boolean env values: "1"/"true" are on, "0"/"false"/"" are off (unlike pymesos)."""
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no", ""):
        return False
    raise ValueError(f"not a boolean: {text!r} (expected '0' or '1')")


@dataclass(frozen=True)
class ExecutorEnvironment:
    """What the agent tells an executor through MESOS_* variables (see slave.cpp)."""

    agent_endpoint: str
    framework_id: FrameworkId
    executor_id: ExecutorId
    directory: str = ""
    checkpoint: bool = False
    recovery_timeout: float = 15 * 60.0
    subscription_backoff_max: float = 2.0
    shutdown_grace_period: float = 5.0
    authentication_token: str | None = field(default=None, repr=False)
    """MESOS_EXECUTOR_AUTHENTICATION_TOKEN: sent as a bearer token on every call; never shown."""
    tls: bool = False
    """LIBPROCESS_SSL_ENABLED: the agent speaks https (as Mesos' own executor library reads it)."""
    ca_file: str | None = None
    """LIBPROCESS_SSL_CA_FILE: the CA bundle that verifies the agent (None: the system's)."""

    @property
    def agent_url(self) -> str:
        """The agent's base URL; an endpoint that names its scheme is taken as given."""
        endpoint = self.agent_endpoint
        if "://" not in endpoint and self.tls:
            endpoint = f"https://{endpoint}"
        return base_url(endpoint)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ExecutorEnvironment:
        """Parse the environment; ValueError naming the variable when one is missing or bad."""
        missing = [
            k
            for k in ("MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID")
            if not env.get(k)
        ]
        if missing:
            raise ValueError(f"not started by a Mesos agent: {', '.join(missing)} not set")
        return cls(
            agent_endpoint=env["MESOS_AGENT_ENDPOINT"],
            framework_id=FrameworkId(env["MESOS_FRAMEWORK_ID"]),
            executor_id=ExecutorId(env["MESOS_EXECUTOR_ID"]),
            directory=env.get("MESOS_DIRECTORY", env.get("MESOS_SANDBOX", "")),
            checkpoint=_parsed(env, "MESOS_CHECKPOINT", parse_flag, default=False),
            recovery_timeout=_parsed(env, "MESOS_RECOVERY_TIMEOUT", parse_duration, default=900.0),
            subscription_backoff_max=_parsed(
                env, "MESOS_SUBSCRIPTION_BACKOFF_MAX", parse_duration, default=2.0
            ),
            shutdown_grace_period=_parsed(
                env, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", parse_duration, default=5.0
            ),
            authentication_token=env.get(EXECUTOR_TOKEN_ENV) or None,
            tls=_parsed(env, "LIBPROCESS_SSL_ENABLED", parse_flag, default=False),
            ca_file=env.get("LIBPROCESS_SSL_CA_FILE") or None,
        )


def _parsed(env: Mapping[str, str], key: str, parse: Callable[[str], T], *, default: T) -> T:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ValueError(f"{key}={raw!r}: {exc}") from exc
