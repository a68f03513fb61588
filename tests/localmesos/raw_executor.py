"""A tiny custom executor over the raw v1 executor HTTP API (aiohttp), for localmesos tests.

Prints its MESOS_* environment to stdout. LAUNCH -> TASK_RUNNING. Framework messages:
"finish <task>" -> TASK_FINISHED, "exit <code>" -> exits at once, "echo <text>" -> message back.
KILL -> TASK_KILLED. SHUTDOWN -> exits 0. A task whose data is "child" runs a `sleep` process
(in the executor's session) and says its pid in the RUNNING update's message: "pid <n>"; when
that child exits the task is TASK_FAILED, an update kept until acknowledged and sent again with
every re-subscription (as a checkpointing executor does while its agent is away).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import time
import uuid
from typing import Any

import aiohttp

from mesosapi.recordio import RecordIODecoder

ENV = {k: v for k, v in os.environ.items() if k.startswith("MESOS_")}
BASE = {
    "framework_id": {"value": ENV["MESOS_FRAMEWORK_ID"]},
    "executor_id": {"value": ENV["MESOS_EXECUTOR_ID"]},
}
URL = f"http://{ENV['MESOS_AGENT_ENDPOINT']}/api/v1/executor"


async def call(session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
    async with session.post(URL, json={**BASE, **body}) as resp:
        assert resp.status == 202, (resp.status, await resp.text())


CHILDREN: list[asyncio.subprocess.Process] = []
UNACKED: dict[str, dict[str, Any]] = {}
"""uuid -> status of the child-exit updates the agent has not acknowledged yet."""
WATCHERS: list[asyncio.Task[None]] = []


def new_status(task_id: str, state: str, *, message: str = "") -> dict[str, Any]:
    return {
        "task_id": {"value": task_id},
        "state": state,
        "source": "SOURCE_EXECUTOR",
        "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
        "timestamp": time.time(),
        "message": message,
    }


async def update(
    session: aiohttp.ClientSession, task_id: str, state: str, *, message: str = ""
) -> None:
    status = new_status(task_id, state, message=message)
    await call(session, {"type": "UPDATE", "update": {"status": status}})


async def watch_child(
    session: aiohttp.ClientSession, task_id: str, child: asyncio.subprocess.Process
) -> None:
    """The child's exit fails its task; the update waits for its acknowledgement."""
    code = await child.wait()
    status = new_status(task_id, "TASK_FAILED", message=f"child exited with {code}")
    UNACKED[status["uuid"]] = status
    # the agent may be away: then it goes with the next SUBSCRIBE
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await call(session, {"type": "UPDATE", "update": {"status": status}})


async def message(session: aiohttp.ClientSession, text: str) -> None:
    data = base64.b64encode(text.encode()).decode()
    await call(session, {"type": "MESSAGE", "message": {"data": data}})


async def handle(session: aiohttp.ClientSession, event: dict[str, Any]) -> bool:
    """Returns False when the executor should exit."""
    kind = event["type"]
    if kind == "LAUNCH":
        task = event["launch"]["task"]
        said = ""
        if base64.b64decode(task.get("data", "")) == b"child":
            child = await asyncio.create_subprocess_exec("sleep", "600")
            CHILDREN.append(child)
            WATCHERS.append(
                asyncio.create_task(watch_child(session, task["task_id"]["value"], child))
            )
            said = f"pid {child.pid}"
        await update(session, task["task_id"]["value"], "TASK_RUNNING", message=said)
    elif kind == "KILL":
        await update(session, event["kill"]["task_id"]["value"], "TASK_KILLED")
    elif kind == "MESSAGE":
        text = base64.b64decode(event["message"]["data"]).decode()
        verb, _, arg = text.partition(" ")
        if verb == "finish":
            await update(session, arg, "TASK_FINISHED")
        elif verb == "exit":
            print(f"exiting with {arg}", flush=True)
            os._exit(int(arg))
        elif verb == "echo":
            await message(session, f"echo {arg}")
    elif kind == "ACKNOWLEDGED":
        UNACKED.pop(event["acknowledged"]["uuid"], None)
    elif kind == "SHUTDOWN":
        return False
    return True


async def subscribe_and_serve(session: aiohttp.ClientSession) -> bool:
    """One subscription; True when told to SHUTDOWN."""
    decoder = RecordIODecoder()
    body = {
        **BASE,
        "type": "SUBSCRIBE",
        "subscribe": {
            "unacknowledged_tasks": [],
            "unacknowledged_updates": [
                {**BASE, "status": status} for status in list(UNACKED.values())
            ],
        },
    }
    async with session.post(URL, json=body) as resp:
        assert resp.status == 200, await resp.text()
        print("subscribed", flush=True)
        async for chunk in resp.content.iter_any():
            for event in decoder.feed(chunk):
                if not await handle(session, event):
                    return True
    return False


async def main() -> int:
    """With MESOS_CHECKPOINT=1 a lost agent connection is retried (agent restart), as a
    checkpointing executor does; otherwise the executor exits when its stream ends."""
    print("raw executor env " + json.dumps(ENV, sort_keys=True), flush=True)
    checkpoint = ENV.get("MESOS_CHECKPOINT") == "1"
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            try:
                if await subscribe_and_serve(session):
                    print("shutdown", flush=True)
                    return 0
            except aiohttp.ClientError:
                pass
            if not checkpoint:
                return 0
            await asyncio.sleep(0.02)
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
