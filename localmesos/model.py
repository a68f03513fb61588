"""In-memory records of the local cluster (frameworks, offers, agents, executors, tasks). Pure."""

from __future__ import annotations

import asyncio
import base64
import collections
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from localmesos.resources import Resources

if TYPE_CHECKING:
    from localmesos.streams import EventStream

Json = dict[str, Any]

TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)
MESOS_VERSION = "1.11.0"


def new_uuid_b64() -> str:
    """A status update uuid: 16 raw bytes, base64 (pymesos decodes it with uuid.UUID(bytes=))."""
    return base64.b64encode(uuid.uuid4().bytes).decode()


def valid_uuid_b64(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except ValueError:
        return False


def now() -> float:
    return time.time()


@dataclass(eq=False)
class Framework:
    framework_id: str
    info: Json
    stream: EventStream | None = None
    connected: bool = False
    active: bool = False
    suppressed: bool = False
    registered_time: float = field(default_factory=now)
    unregistered_time: float = 0.0
    failover_handle: asyncio.TimerHandle | None = None
    tasks: dict[str, Task] = field(default_factory=dict)
    unreachable_tasks: dict[str, Task] = field(default_factory=dict)
    completed_tasks: collections.deque[Task] = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )
    # agent id -> [(refused resources, until)]
    filters: dict[str, list[tuple[Resources, float]]] = field(default_factory=dict)
    # agent id -> the last filter verdict (see Master._filtered)
    filter_verdicts: dict[str, FilterVerdict] = field(default_factory=dict)

    @property
    def partition_aware(self) -> bool:
        return any(c.get("type") == "PARTITION_AWARE" for c in self.info.get("capabilities", []))

    @property
    def offer_role(self) -> str:
        """Offers go to the framework's first role (MULTI_ROLE `roles`, else legacy `role`)."""
        roles = self.info.get("roles") or [self.info.get("role") or "*"]
        return str(roles[0])

    @property
    def failover_timeout(self) -> float:
        return float(self.info.get("failover_timeout", 0.0))

    def send(self, event: Json) -> None:
        """Deliver to a connected framework; Mesos drops master events for disconnected ones."""
        if self.connected and self.stream is not None:
            self.stream.send(event)


@dataclass(frozen=True, eq=False)
class FilterVerdict:
    """Whether a framework's filters on one agent refused `available`: the same answer while
    the agent offers that same object, its filter list is the same (nothing added, not
    cleared by a REVIVE) and none of them has expired (before `until`)."""

    available: Resources
    filters: list[tuple[Resources, float]]
    count: int
    until: float
    refused: bool

    def holds(
        self, available: Resources, filters: list[tuple[Resources, float]], at: float
    ) -> bool:
        return (
            available is self.available
            and filters is self.filters
            and len(filters) == self.count
            and at < self.until
        )


@dataclass(eq=False)
class Offer:
    offer_id: str
    framework_id: str
    agent_id: str
    resources: Resources


class ExecutorState(Enum):
    REGISTERING = "REGISTERING"
    RECOVERING = "RECOVERING"  # the agent restarted; waiting for the executor to re-subscribe
    RUNNING = "RUNNING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"


@dataclass(eq=False)
class Task:
    task_id: str
    framework_id: str
    agent_id: str
    executor_id: str
    info: Json
    resources: Resources
    state: str = "TASK_STAGING"  # the agent's latest state
    status_update_state: str | None = None  # the state at the head of the update stream
    statuses: list[Json] = field(default_factory=list)
    pending: collections.deque[Json] = field(default_factory=collections.deque)
    seen_uuids: set[str] = field(default_factory=set)
    retry_handle: asyncio.TimerHandle | None = None
    retry_interval: float = 0.0
    delivered: bool = False
    group: list[str] | None = None  # task ids launched together in one LAUNCH_GROUP
    unreachable_time: float | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def reported_state(self) -> str:
        return self.status_update_state or self.state


@dataclass(eq=False)
class Executor:
    executor_id: str
    framework_id: str
    agent_id: str
    info: Json
    resources: Resources
    container_id: str
    directory: str
    state: ExecutorState = ExecutorState.REGISTERING
    stream: EventStream | None = None
    tasks: dict[str, Task] = field(default_factory=dict)
    pid: int | None = None
    shutdown_requested: bool = False
    failure_reason: str | None = None
    failure_state: str | None = None
    kill_handle: asyncio.TimerHandle | None = None
    hollow: Any = None  # localmesos.hollow.HollowExecutor for hollow agents
    token: str | None = field(default=None, repr=False)
    """The bearer token this executor must send when the agent authenticates executors."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.framework_id, self.executor_id)

    @property
    def live_tasks(self) -> list[Task]:
        return [t for t in self.tasks.values() if not t.terminal]


def strip_status(status: Json) -> Json:
    """The master keeps statuses without `data` (as Mesos does)."""
    return {k: v for k, v in status.items() if k != "data"}


def framework_json_id(value: str) -> Json:
    return {"value": value}


def get_value(obj: Any, *keys: str) -> str | None:
    """`obj[k1][k2]...["value"]`, or None when any level is missing."""
    cur = obj
    for key in keys:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    if isinstance(cur, dict):
        val = cur.get("value")
        return str(val) if val is not None else None
    return None
