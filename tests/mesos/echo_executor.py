"""A tiny custom executor on o2's ExecutorClient, launched by the local cluster in tests.

Protocol with the test scheduler: on LAUNCH it reports TASK_RUNNING and sends
MESSAGE "hello <task>" (LAUNCH_GROUP: TASK_RUNNING for each task); MESSAGE "finish <task>"
makes it report TASK_FINISHED (data "done"); MESSAGE "ping" is answered with "pong"; KILL and
SHUTDOWN report TASK_KILLED.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from executor.mesos import Disconnected, ExecutorClient
from mesosapi.executor import Kill, Launch, LaunchGroup, Message, Shutdown
from mesosapi.models import TaskId, TaskStatus

log = logging.getLogger("echo_executor")


async def _finish(client: ExecutorClient, task_id: TaskId, state: str, data: bytes) -> None:
    status = TaskStatus.model_validate(
        {"task_id": {"value": task_id}, "state": state, "data": data}
    )
    await client.update(status)


async def serve(client: ExecutorClient) -> int:
    running: set[TaskId] = set()
    async for event in client.events():
        log.info("event %s", event.TYPE)
        if isinstance(event, Launch):
            task_id = event.task.task_id
            running.add(task_id)
            await _finish(client, task_id, "TASK_RUNNING", b"running")
            await client.message(f"hello {task_id}".encode())
        elif isinstance(event, LaunchGroup):
            for task in event.task_group.tasks:
                running.add(task.task_id)
                await _finish(client, task.task_id, "TASK_RUNNING", b"running in group")
        elif isinstance(event, Message):
            text = event.data.decode()
            if text == "ping":
                await client.message(b"pong")
            elif text.startswith("finish "):
                task_id = TaskId(text.removeprefix("finish "))
                running.discard(task_id)
                await _finish(client, task_id, "TASK_FINISHED", b"done")
        elif isinstance(event, Kill):
            running.discard(event.task_id)
            await _finish(client, event.task_id, "TASK_KILLED", b"killed")
        elif isinstance(event, Shutdown):
            for task_id in sorted(running):
                await _finish(client, task_id, "TASK_KILLED", b"shutdown")
            async with asyncio.timeout(5):
                await client.wait_acknowledged()
            return 0
        elif isinstance(event, Disconnected) and event.final:
            return 1
    return 0


async def main() -> int:
    async with ExecutorClient.from_environ() as client:
        return await serve(client)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    sys.exit(asyncio.run(main()))
