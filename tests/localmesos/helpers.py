"""Test helpers: a minimal raw-HTTP Mesos scheduler that records every event it receives."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from mesosapi.recordio import RecordIODecoder
from procutil import wait_exit

Json = dict[str, Any]
RAW_EXECUTOR = Path(__file__).with_name("raw_executor.py")
REPO = Path(__file__).resolve().parents[2]


def scalar(name: str, value: float) -> Json:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def task_info(
    task_id: str,
    offer: Json,
    *,
    executor_id: str | None = "exec",
    cpus: float = 0.01,
    mem: float = 1.0,
    command: Json | None = None,
) -> Json:
    """A TaskInfo with a custom executor (a hollow one on hollow agents; `command` for real)."""
    info: Json = {
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "name": task_id,
        "resources": [scalar("cpus", cpus), scalar("mem", mem)],
    }
    if executor_id is not None:
        info["executor"] = {
            "executor_id": {"value": executor_id},
            "command": command or {"value": "true"},
            "resources": [scalar("cpus", 0.01), scalar("mem", 32)],
        }
    return info


def raw_executor_command() -> Json:
    """The CommandInfo of tests/localmesos/raw_executor.py (o2 packages on its PYTHONPATH)."""
    env = [{"name": "PYTHONPATH", "value": str(REPO)}]
    return {"value": f"{sys.executable} {RAW_EXECUTOR}", "environment": {"variables": env}}


class RawScheduler:
    """Speaks the v1 scheduler API directly; `events` holds everything received, in order."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "test",
        failover_timeout: float = 60.0,
        capabilities: tuple[str, ...] = (),
        auto_ack: bool = True,
    ) -> None:
        self.url = url
        self.info: Json = {
            "user": "test",
            "name": name,
            "failover_timeout": failover_timeout,
            "capabilities": [{"type": c} for c in capabilities],
        }
        self.auto_ack = auto_ack
        self.framework_id: str | None = None
        self.stream_id: str | None = None
        self.events: list[Json] = []
        self.acked = 0
        self._syncs = 0
        self._cursor = 0
        self._new = asyncio.Event()
        self._session = aiohttp.ClientSession()
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def subscribe(self, *, within: float = 10.0) -> Json:
        """Open the event stream; returns the first event (SUBSCRIBED, or ERROR)."""
        body: Json = {"type": "SUBSCRIBE", "subscribe": {"framework_info": dict(self.info)}}
        if self.framework_id:
            body["framework_id"] = {"value": self.framework_id}
            body["subscribe"]["framework_info"]["id"] = {"value": self.framework_id}
        resp = await self._session.post(f"{self.url}/api/v1/scheduler", json=body)
        assert resp.status == 200, await resp.text()
        self.stream_id = resp.headers.get("Mesos-Stream-Id")
        self.closed.clear()
        self._reader = asyncio.create_task(self._read(resp))
        first = await self.next(lambda e: e["type"] in ("SUBSCRIBED", "ERROR"), within=within)
        if first["type"] == "SUBSCRIBED":
            self.framework_id = first["subscribed"]["framework_id"]["value"]
        return first

    async def _read(self, resp: aiohttp.ClientResponse) -> None:
        decoder = RecordIODecoder()
        try:
            async for chunk in resp.content.iter_any():
                for event in decoder.feed(chunk):
                    self.events.append(event)
                    self._new.set()
                    if self.auto_ack and event["type"] == "UPDATE":
                        status = event["update"]["status"]
                        if "uuid" in status:
                            await self.acknowledge(status)
                            self.acked += 1
                            self._new.set()
        except (aiohttp.ClientError, asyncio.CancelledError):
            pass
        finally:
            resp.close()
            self.closed.set()

    async def call(self, body: Json) -> int:
        body = {"framework_id": {"value": self.framework_id}, **body}
        headers = {"Mesos-Stream-Id": self.stream_id or ""}
        async with self._session.post(
            f"{self.url}/api/v1/scheduler", json=body, headers=headers
        ) as resp:
            await resp.read()
            return resp.status

    async def acknowledge(self, status: Json) -> int:
        return await self.call(
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {
                    "agent_id": status["agent_id"],
                    "task_id": status["task_id"],
                    "uuid": status["uuid"],
                },
            }
        )

    async def accept(self, offer: Json, tasks: list[Json], *, refuse: float = 0.0) -> int:
        return await self.call(
            {
                "type": "ACCEPT",
                "accept": {
                    "offer_ids": [offer["id"]],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
                    "filters": {"refuse_seconds": refuse},
                },
            }
        )

    async def decline(self, offers: list[Json], *, refuse: float) -> int:
        return await self.call(
            {
                "type": "DECLINE",
                "decline": {
                    "offer_ids": [o["id"] for o in offers],
                    "filters": {"refuse_seconds": refuse},
                },
            }
        )

    async def next(
        self, predicate: Callable[[Json], bool] | None = None, *, within: float = 10.0
    ) -> Json:
        """The next event after the cursor that matches; the cursor moves past it."""
        async with asyncio.timeout(within):
            while True:
                while self._cursor < len(self.events):
                    event = self.events[self._cursor]
                    self._cursor += 1
                    if predicate is None or predicate(event):
                        return event
                self._new.clear()
                await self._new.wait()

    async def next_update(
        self, task_id: str | None = None, *, state: str | None = None, within: float = 10.0
    ) -> Json:
        def match(e: Json) -> bool:
            if e["type"] != "UPDATE":
                return False
            s = e["update"]["status"]
            return (task_id is None or s["task_id"]["value"] == task_id) and (
                state is None or s["state"] == state
            )

        event = await self.next(match, within=within)
        return dict(event["update"]["status"])

    async def offers(self, *, within: float = 10.0) -> list[Json]:
        event = await self.next(lambda e: e["type"] == "OFFERS", within=within)
        return list(event["offers"]["offers"])

    async def wait_acked(self, count: int, *, within: float = 10.0) -> None:
        """Until `count` updates have been acknowledged (auto_ack)."""
        async with asyncio.timeout(within):
            while self.acked < count:
                self._new.clear()
                await self._new.wait()

    async def sync(self) -> None:
        """Wait until every event the master sent before now has arrived (the stream is FIFO:
        a reconciliation answer for an unknown task comes after them)."""
        self._syncs += 1
        tag = f"sync-{self._syncs}"
        await self.call(
            {"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": tag}}]}}
        )
        start = self._cursor
        await self.next_update(tag)
        self._cursor = start  # only waited: events before the answer are still unconsumed

    def rewind(self) -> None:
        """Scan again from the first event received."""
        self._cursor = 0

    def drain(self) -> list[Json]:
        """Events not yet consumed; moves the cursor to the end."""
        out = self.events[self._cursor :]
        self._cursor = len(self.events)
        return out

    async def disconnect(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def close(self) -> None:
        await self.disconnect()
        await self._session.close()


async def wait_pid_gone(pid: int, *, within: float = 10.0) -> None:
    """Until a process (not necessarily our child) has exited, at most `within` seconds."""
    async with asyncio.timeout(within):
        await wait_exit(pid)
