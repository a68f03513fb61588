"""The command executor: runs one plain CommandInfo task (a TaskInfo without ExecutorInfo).

Started by a localmesos agent as `python -m localmesos.command_executor` in its own session;
speaks the v1 executor HTTP API at MESOS_AGENT_ENDPOINT. STARTING -> RUNNING -> FINISHED (exit
0) or FAILED; KILL or SHUTDOWN: SIGTERM to the command's process group, SIGKILL after the kill
policy's grace period (default 3 s), then KILLED. Exits after the terminal update is accepted.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
import uuid
from collections.abc import Coroutine
from typing import Any

import aiohttp

from mesosapi.auth import EXECUTOR_TOKEN_ENV, base_url, bearer_authorization
from mesosapi.recordio import RecordIODecoder
from procutil import signal_group, terminate

Json = dict[str, Any]
DEFAULT_GRACE = 3.0


class CommandExecutor:
    def __init__(self, env: dict[str, str]) -> None:
        self.url = base_url(env["MESOS_AGENT_ENDPOINT"]) + "/api/v1/executor"
        token = env.get(EXECUTOR_TOKEN_ENV)
        self.headers = {"Authorization": bearer_authorization(token)} if token else {}
        self.ids: Json = {
            "framework_id": {"value": env["MESOS_FRAMEWORK_ID"]},
            "executor_id": {"value": env["MESOS_EXECUTOR_ID"]},
        }
        self.task_id: str | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.killed = False
        self.grace = DEFAULT_GRACE
        self.done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def call(self, session: aiohttp.ClientSession, body: Json) -> None:
        async with session.post(self.url, json={**self.ids, **body}, headers=self.headers) as resp:
            await resp.read()

    async def update(self, session: aiohttp.ClientSession, state: str, message: str = "") -> None:
        status = {
            "task_id": {"value": self.task_id},
            "state": state,
            "source": "SOURCE_EXECUTOR",
            "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
            "timestamp": time.time(),
            "message": message,
        }
        await self.call(session, {"type": "UPDATE", "update": {"status": status}})

    async def launch(self, session: aiohttp.ClientSession, task: Json) -> None:
        self.task_id = str(task["task_id"]["value"])
        command: Json = task.get("command") or {}
        await self.update(session, "TASK_STARTING")
        env = {k: v for k, v in os.environ.items() if k != EXECUTOR_TOKEN_ENV}
        for var in (command.get("environment") or {}).get("variables") or []:
            env[str(var["name"])] = str(var.get("value", ""))
        if command.get("shell", True):
            argv, executable = ["/bin/sh", "-c", str(command.get("value", ""))], "/bin/sh"
        else:
            executable = str(command["value"])
            argv = [str(a) for a in command.get("arguments") or [executable]]
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, executable=executable, env=env, process_group=0
            )
        except OSError as exc:
            await self.update(session, "TASK_FAILED", f"Failed to launch: {exc}")
            self.done.set()
            return
        await self.update(session, "TASK_RUNNING")
        self._spawn(self.wait(session))

    async def wait(self, session: aiohttp.ClientSession) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        if self.killed:
            await self.update(session, "TASK_KILLED", "Command terminated")
        elif code == 0:
            await self.update(session, "TASK_FINISHED", "Command exited with status 0")
        else:
            await self.update(session, "TASK_FAILED", f"Command exited with status {code}")
        self.done.set()

    async def kill(self, policy: Json | None) -> None:
        ns = ((policy or {}).get("grace_period") or {}).get("nanoseconds")
        grace = float(ns) / 1e9 if ns is not None else self.grace
        self.killed = True
        if self.proc is None or self.proc.returncode is not None:
            self.done.set()
            return
        proc = self.proc
        await terminate(
            lambda sig: signal_group(proc.pid, sig),
            lambda: asyncio.shield(proc.wait()),
            grace=grace,
        )

    async def handle(self, session: aiohttp.ClientSession, event: Json) -> None:
        kind = event.get("type")
        if kind == "LAUNCH":
            await self.launch(session, event["launch"]["task"])
        elif kind == "KILL":
            self._spawn(self.kill(event["kill"].get("kill_policy")))
        elif kind == "SHUTDOWN":
            self._spawn(self.kill(None))

    async def run(self) -> int:
        decoder = RecordIODecoder()
        body = {
            "type": "SUBSCRIBE",
            "subscribe": {"unacknowledged_tasks": [], "unacknowledged_updates": []},
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, json={**self.ids, **body}, headers=self.headers) as resp,
        ):
            if resp.status != 200:
                print(f"subscribe failed: {resp.status} {await resp.text()}", file=sys.stderr)
                return 1
            reader = asyncio.create_task(self._read(session, resp, decoder))
            await self.done.wait()
            reader.cancel()
        return 0

    async def _read(
        self, session: aiohttp.ClientSession, resp: aiohttp.ClientResponse, decoder: RecordIODecoder
    ) -> None:
        async for chunk in resp.content.iter_any():
            for event in decoder.feed(chunk):
                await self.handle(session, event)
        self.done.set()  # the agent closed the stream


def main() -> int:
    return asyncio.run(CommandExecutor(dict(os.environ)).run())


if __name__ == "__main__":
    sys.exit(main())
