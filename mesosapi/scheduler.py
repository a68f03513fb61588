"""Scheduler API calls and events (include/mesos/v1/scheduler/scheduler.proto). Pure: no I/O.

Events are `{"type": "X", "x": {payload}}`; each event class below is the payload, and
`decode_event` picks the class by `type`. OFFERS is `{"offers": {"offers": [...]}}` and ERROR is
`{"error": {"message": ...}}` as in the proto (the Mesos docs' examples are wrong there).
Calls are built with `encode_call(payload, framework_id=...)` (dicts) or `encode_call_json`
(bytes, for the wire); ACKNOWLEDGE, sent once per reliable update, also without a model
(`encode_acknowledge`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

from pydantic import Field, TypeAdapter, ValidationError

from mesosapi.models import (
    AgentIdField,
    Base64Bytes,
    ExecutorIdField,
    Filters,
    FrameworkCapability,
    FrameworkCapabilityType,
    FrameworkId,
    FrameworkIdField,
    FrameworkInfo,
    KillPolicy,
    MasterInfo,
    MesosModel,
    Offer,
    OfferIdField,
    Operation,
    TaskIdField,
    TaskStatus,
)

# ---- events -------------------------------------------------------------------------------


class SchedulerEvent(MesosModel):
    """Base of every scheduler event; `TYPE` is the wire `type`."""

    TYPE: ClassVar[str] = ""


class Subscribed(SchedulerEvent):
    TYPE: ClassVar[str] = "SUBSCRIBED"
    framework_id: FrameworkIdField
    heartbeat_interval_seconds: float | None = None
    master_info: MasterInfo | None = None


class Offers(SchedulerEvent):
    TYPE: ClassVar[str] = "OFFERS"
    offers: list[Offer] = Field(default_factory=list)


class Rescind(SchedulerEvent):
    TYPE: ClassVar[str] = "RESCIND"
    offer_id: OfferIdField


class Update(SchedulerEvent):
    TYPE: ClassVar[str] = "UPDATE"
    status: TaskStatus


class Message(SchedulerEvent):
    TYPE: ClassVar[str] = "MESSAGE"
    agent_id: AgentIdField
    executor_id: ExecutorIdField
    data: Base64Bytes = b""


class Failure(SchedulerEvent):
    """An agent was lost (no executor_id) or an executor exited (executor_id, wait status)."""

    TYPE: ClassVar[str] = "FAILURE"
    agent_id: AgentIdField | None = None
    executor_id: ExecutorIdField | None = None
    status: int | None = None


class Error(SchedulerEvent):
    TYPE: ClassVar[str] = "ERROR"
    message: str = ""


class Heartbeat(SchedulerEvent):
    TYPE: ClassVar[str] = "HEARTBEAT"


class UnknownEvent(SchedulerEvent):
    """An event type this client does not model (kept so callers can log it)."""

    TYPE: ClassVar[str] = "UNKNOWN"
    type: str = ""


EVENT_TYPES: dict[str, type[SchedulerEvent]] = {
    cls.TYPE: cls
    for cls in (Subscribed, Offers, Rescind, Update, Message, Failure, Error, Heartbeat)
}


def decode_event(record: Mapping[str, object]) -> SchedulerEvent:
    """A decoded RecordIO record as its typed event; pydantic.ValidationError if malformed."""
    kind = str(record.get("type", ""))
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        return UnknownEvent(type=kind)
    payload = record.get(kind.lower(), {})
    return cls.model_validate(payload)


class _UpdateRecord(MesosModel):
    type: Literal["UPDATE"]
    update: Update


class _MessageRecord(MesosModel):
    type: Literal["MESSAGE"]
    message: Message


_BY_TEXT: dict[bytes, TypeAdapter[_UpdateRecord] | TypeAdapter[_MessageRecord]] = {
    b"UPDATE": TypeAdapter(_UpdateRecord),
    b"MESSAGE": TypeAdapter(_MessageRecord),
}
_TYPE_FIRST = re.compile(rb'\{\s*"type"\s*:\s*"([A-Z_]+)"')


def decode_event_text(body: bytes) -> SchedulerEvent | None:
    """An UPDATE or MESSAGE record straight from its JSON text (one per status update and per
    executor message: most of the stream), as `decode_event` would decode it; None for any
    other record, or one not as expected (`decode_event` then decodes it, or says what is
    wrong). Mesos writes `type` first, as its proto field 1."""
    head = _TYPE_FIRST.match(body)
    adapter = _BY_TEXT.get(head.group(1)) if head is not None else None
    if adapter is None:
        return None
    try:
        record = adapter.validate_json(body)
    except ValidationError:
        return None
    return record.update if isinstance(record, _UpdateRecord) else record.message


def encode_event(event: SchedulerEvent) -> dict[str, object]:
    """The wire record for an event (used by test masters and the local cluster)."""
    if isinstance(event, Heartbeat):
        return {"type": event.TYPE}
    return {"type": event.TYPE, event.TYPE.lower(): event.to_wire()}


# ---- calls --------------------------------------------------------------------------------


class SchedulerCall(MesosModel):
    """Base of every scheduler call payload; `TYPE` is the wire `type`."""

    TYPE: ClassVar[str] = ""


class Subscribe(SchedulerCall):
    TYPE: ClassVar[str] = "SUBSCRIBE"
    framework_info: FrameworkInfo
    suppressed_roles: list[str] | None = None


class Teardown(SchedulerCall):
    TYPE: ClassVar[str] = "TEARDOWN"


class Accept(SchedulerCall):
    TYPE: ClassVar[str] = "ACCEPT"
    offer_ids: list[OfferIdField]
    operations: list[Operation] = Field(default_factory=list)
    filters: Filters | None = None


class Decline(SchedulerCall):
    TYPE: ClassVar[str] = "DECLINE"
    offer_ids: list[OfferIdField]
    filters: Filters | None = None


class Revive(SchedulerCall):
    TYPE: ClassVar[str] = "REVIVE"
    roles: list[str] | None = None


class Suppress(SchedulerCall):
    TYPE: ClassVar[str] = "SUPPRESS"
    roles: list[str] | None = None


class Kill(SchedulerCall):
    TYPE: ClassVar[str] = "KILL"
    task_id: TaskIdField
    agent_id: AgentIdField | None = None
    kill_policy: KillPolicy | None = None


class Shutdown(SchedulerCall):
    TYPE: ClassVar[str] = "SHUTDOWN"
    executor_id: ExecutorIdField
    agent_id: AgentIdField


class Acknowledge(SchedulerCall):
    TYPE: ClassVar[str] = "ACKNOWLEDGE"
    agent_id: AgentIdField
    task_id: TaskIdField
    uuid: Base64Bytes


class ReconcileTask(MesosModel):
    task_id: TaskIdField
    agent_id: AgentIdField | None = None


class Reconcile(SchedulerCall):
    """Explicit with tasks; implicit (every task the master knows) with an empty list."""

    TYPE: ClassVar[str] = "RECONCILE"
    tasks: list[ReconcileTask] = Field(default_factory=list)


class MessageCall(SchedulerCall):
    TYPE: ClassVar[str] = "MESSAGE"
    agent_id: AgentIdField
    executor_id: ExecutorIdField
    data: Base64Bytes


CALL_TYPES: dict[str, type[SchedulerCall]] = {
    cls.TYPE: cls
    for cls in (
        Subscribe,
        Teardown,
        Accept,
        Decline,
        Revive,
        Suppress,
        Kill,
        Shutdown,
        Acknowledge,
        Reconcile,
        MessageCall,
    )
}


def encode_call(call: SchedulerCall, *, framework_id: FrameworkId | None) -> dict[str, object]:
    """The wire body of a call; `framework_id` goes on top (absent on a first SUBSCRIBE)."""
    body: dict[str, object] = {"type": call.TYPE}
    if framework_id:
        body["framework_id"] = {"value": framework_id}
    if not isinstance(call, Teardown):
        body[call.TYPE.lower()] = call.to_wire()
    return body


def encode_call_json(call: SchedulerCall, *, framework_id: FrameworkId | None) -> bytes:
    """`encode_call` as JSON bytes, the payload serialized by pydantic's core rather than
    dumped to dicts then to text (4x less CPU for an ACCEPT of many tasks); the same JSON
    value, its text compact and UTF-8 instead of json.dumps' spaced ASCII escapes."""
    head = f'{{"type": "{call.TYPE}"'
    if framework_id:
        head += f', "framework_id": {{"value": {json.dumps(framework_id)}}}'
    if isinstance(call, Teardown):
        return f"{head}}}".encode()
    payload = call.__pydantic_serializer__.to_json(call, by_alias=True, exclude_none=True)
    return b'%s, "%s": %s}' % (head.encode(), call.TYPE.lower().encode(), payload)


def encode_acknowledge(
    agent_id: str, task_id: str, uuid: bytes, *, framework_id: FrameworkId | None
) -> bytes:
    """The JSON body of ACKNOWLEDGE, byte for byte `json.dumps(encode_call(Acknowledge(...)))`
    without building and dumping a model: the ids come from an already validated TaskStatus,
    and the manager sends one per status update."""
    head = '{"type": "ACKNOWLEDGE", '
    if framework_id:
        head += f'"framework_id": {{"value": {json.dumps(framework_id)}}}, '
    return (
        f'{head}"acknowledge": {{"agent_id": {{"value": {json.dumps(agent_id)}}}, '
        f'"task_id": {{"value": {json.dumps(task_id)}}}, '
        f'"uuid": "{base64.b64encode(uuid).decode()}"}}}}'
    ).encode()


def decode_call(body: Mapping[str, object]) -> tuple[FrameworkId | None, SchedulerCall]:
    """A call body as (framework id, typed payload); ValueError for an unknown type."""
    kind = str(body.get("type", ""))
    cls = CALL_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown scheduler call type {kind!r}")
    fid = body.get("framework_id")
    framework_id = FrameworkId(str(fid["value"])) if isinstance(fid, dict) else None
    return framework_id, cls.model_validate(body.get(kind.lower(), {}))


def framework_info(
    name: str,
    *,
    user: str,
    roles: Sequence[str] = (),
    failover_timeout: float = 7 * 24 * 3600.0,
    hostname: str | None = None,
    principal: str | None = None,
    checkpoint: bool = True,
    partition_aware: bool = True,
    extra_capabilities: Sequence[FrameworkCapabilityType] = (),
) -> FrameworkInfo:
    """FrameworkInfo as o2 subscribes: checkpointing, PARTITION_AWARE, MULTI_ROLE with roles."""
    caps: list[FrameworkCapabilityType] = list(extra_capabilities)
    if partition_aware:
        caps.append("PARTITION_AWARE")
    if roles:
        caps.append("MULTI_ROLE")
    return FrameworkInfo(
        user=user,
        name=name,
        failover_timeout=failover_timeout,
        checkpoint=checkpoint,
        roles=list(roles) or None,
        hostname=hostname,
        principal=principal,
        capabilities=[FrameworkCapability(type=c) for c in dict.fromkeys(caps)],
    )
