"""A test scheduler for the o2 executor: the real local cluster, o2's SchedulerClient, ACKs.

The executor under test is the real program (`python -m executor.main`, what `o2-executor`
runs) started by the cluster as a CUSTOM executor; its tasks are real `o2-sample-task`
processes (`python -m executor.sample_task`). Everything is reached over HTTP or /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from controller.mesos import SchedulerClient
from crds.kinds.common import Command
from mesosapi.backoff import Backoff
from mesosapi.models import (
    AgentId,
    CommandInfo,
    Environment,
    ExecutorId,
    ExecutorInfo,
    Offer,
    TaskId,
    TaskInfo,
)
from mesosapi.o2messages import (
    ControlItem,
    ControlRequest,
    ControlResults,
    LaunchPayload,
    TaskStatusData,
    TaskTableReport,
    decode_status_data,
    decode_to_controller,
    encode,
)
from mesosapi.resources import Demand, ResourcePool, scalar
from mesosapi.scheduler import Message, Offers, SchedulerEvent, Update, framework_info

REPO = str(Path(__file__).resolve().parents[2])
EXECUTOR_ID = ExecutorId("o2-executor")
E = TypeVar("E", bound=SchedulerEvent)

EXECUTOR_ENV = {
    "PYTHONPATH": REPO,
    "O2_EXECUTOR_REPORT_INTERVAL": "0.5",
    "O2_EXECUTOR_STARTUP_TIMEOUT": "20",
    "O2_EXECUTOR_KILL_STEP": "3",
    "O2_EXECUTOR_KILL_GRACE": "1",
}


CONSOLE_SCRIPT = Path(sys.executable).parent / "o2-executor"


def o2_executor(env: dict[str, str] | None = None, *, script: bool = False) -> ExecutorInfo:
    """The real o2 executor program as a CUSTOM executor (argv, no shell): `python -m
    executor.main`, or with `script` the installed `o2-executor` console script."""
    argv = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "executor.main"]
    return ExecutorInfo(
        executor_id=EXECUTOR_ID,
        type="CUSTOM",
        name="o2 executor",
        command=CommandInfo(
            value=argv[0],
            arguments=argv,
            shell=False,
            environment=Environment.of({**EXECUTOR_ENV, **(env or {})}),
        ),
        resources=[scalar("cpus", 0.1), scalar("mem", 32)],
    )


def sample_payload(*arguments: str, port: int | None = None) -> bytes:
    command = Command(
        value=sys.executable,
        arguments=("-m", "executor.sample_task", "--tick", "30", *arguments),
        env={"PYTHONPATH": REPO, "RATE": "1000"},
    )
    return encode(LaunchPayload(command=command, control="direct", occ_port=port))


def tasks_for(
    offer: Offer, names: Sequence[str], executor: ExecutorInfo, *, data: Mapping[str, bytes]
) -> list[TaskInfo]:
    """Sample tasks carved from `offer`. Their OCC ports are picked free by the executor: every
    local cluster offers the same port range, and other tests may run at the same time."""
    pool = ResourcePool(offer.resources)
    assert pool.take(Demand(cpus=0.1, mem=32)) is not None, "room for the executor"
    tasks = []
    for name in names:
        got = pool.take(Demand(cpus=0.01, mem=8))
        assert got is not None, f"offer {offer.id} too small"
        tasks.append(
            TaskInfo(
                name=name,
                task_id=TaskId(name),
                agent_id=offer.agent_id,
                resources=got.resources,
                executor=executor,
                data=data.get(name) or sample_payload("--detector", name.upper()),
            )
        )
    return tasks


def status_data(update: Update) -> TaskStatusData:
    assert update.status.data is not None, update.status
    return decode_status_data(update.status.data)


def is_update(task: str, *states: str) -> Callable[[Update], bool]:
    return lambda e: e.status.task_id == task and e.status.state in states


def control(request_id: str, items: Sequence[tuple[str, str, str, dict[str, str]]]) -> bytes:
    """A ControlRequest of (task, transition id, event, arguments) items."""
    return encode(
        ControlRequest(
            request_id=request_id,
            items=tuple(
                ControlItem(task_id=t, transition_id=x, event=ev, arguments=args)
                for t, x, ev, args in items
            ),
            timeout_seconds=10,
        )
    )


class Scheduler:
    """Every event of a SchedulerClient, in order; reliable updates ACKed as they arrive."""

    def __init__(self, client: SchedulerClient) -> None:
        self.client = client
        self.events: list[SchedulerEvent] = []
        self._changed = asyncio.Condition()
        self.agent_id: AgentId | None = None

    async def read(self) -> None:
        async for event in self.client.events():
            if isinstance(event, Update):
                self.client.acknowledge_soon(event.status)
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    async def wait_for(
        self,
        kind: type[E],
        pred: Callable[[E], bool] = lambda _e: True,
        *,
        after: int = 0,
        within: float = 30.0,
    ) -> E:
        def find() -> E | None:
            for event in self.events[after:]:
                if isinstance(event, kind) and pred(event):
                    return event
            return None

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found

    def updates(self, task: str) -> list[str]:
        return [
            e.status.state
            for e in self.events
            if isinstance(e, Update) and e.status.task_id == task
        ]

    def messages(self, *, after: int = 0) -> list[object]:
        return [decode_to_controller(e.data) for e in self.events[after:] if isinstance(e, Message)]

    async def launch(
        self,
        names: Sequence[str],
        *,
        executor: ExecutorInfo | None = None,
        data: Mapping[str, bytes] | None = None,
    ) -> None:
        """One ACCEPT launching `names` (sample tasks unless `data` gives a task's payload)."""
        offers = await self.wait_for(Offers, lambda e: bool(e.offers))
        offer = offers.offers[0]
        self.agent_id = offer.agent_id
        tasks = tasks_for(offer, names, executor or o2_executor(), data=data or {})
        await self.client.launch([offer.id], tasks)

    async def send(self, data: bytes) -> None:
        assert self.agent_id is not None
        await self.client.message(self.agent_id, EXECUTOR_ID, data)

    async def results(self, request_id: str, *, after: int) -> ControlResults:
        def matches(event: Message) -> bool:
            body = decode_to_controller(event.data)
            return isinstance(body, ControlResults) and body.request_id == request_id

        found = await self.wait_for(Message, matches, after=after)
        body = decode_to_controller(found.data)
        assert isinstance(body, ControlResults)
        return body

    async def report(self, *, newer_than: int = -1, after: int = 0) -> TaskTableReport:
        """The first TaskTableReport with a sequence above `newer_than`."""

        def matches(event: Message) -> bool:
            body = decode_to_controller(event.data)
            return isinstance(body, TaskTableReport) and body.sequence > newer_than

        found = await self.wait_for(Message, matches, after=after)
        body = decode_to_controller(found.data)
        assert isinstance(body, TaskTableReport)
        return body


@contextlib.asynccontextmanager
async def scheduler(master: str) -> AsyncIterator[Scheduler]:
    info = framework_info("o2-executor-test", user=getpass.getuser(), failover_timeout=60.0)
    client = SchedulerClient(master, info, backoff=Backoff(initial=0.2, maximum=1.0))
    sched = Scheduler(client)
    client.start()
    reader = asyncio.create_task(sched.read())
    try:
        yield sched
    finally:
        await client.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


def sandbox_of(pid: int) -> Path:
    """A live task's sandbox: its working directory."""
    return Path(os.readlink(f"/proc/{pid}/cwd"))


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
