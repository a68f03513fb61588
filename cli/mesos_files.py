"""Task sandbox files through Mesos' files endpoint, and agents' `/monitor/statistics` for
`o2 top`. The CLI's only aiohttp user (edge I/O).

Where a task's output lives: the o2 executor writes each task's stdout/stderr to
`<executor sandbox>/<mesos task id>/{stdout,stderr}`. The executor sandbox directory is found
in the master's `/master/state` (`frameworks[].executors[].directory`, which the local cluster
serves), or else in the agent's own `/state` (real Mesos). The file is then read with
`/files/read?path=&offset=&length=` on the master (local cluster) or on the agent (real Mesos).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from crds.errors import MesosCallError, MesosUnavailableError, NotFoundError
from mesosapi.auth import Credentials, MesosAccess, base_url

DEFAULT_MESOS = "http://127.0.0.1:5050"
CHUNK = 1024 * 1024
"""Bytes per /files/read call (the local cluster's limit too)."""
REQUEST_TIMEOUT = 10.0
FOLLOW_INTERVAL = 0.5
"""How often -f asks for new bytes: Mesos has no watch for files, so following polls."""

Json = dict[str, Any]


@dataclass(frozen=True)
class SandboxFile:
    """One file: the server that serves it and its absolute path there."""

    base_url: str
    path: str


def _executors(state: Json) -> list[Json]:
    frameworks = [*state.get("frameworks", []), *state.get("completed_frameworks", [])]
    found: list[Json] = []
    for fw in frameworks:
        found += fw.get("executors", []) + fw.get("completed_executors", [])
    return found


def find_directory(state: Json, *, agent_id: str, executor_id: str) -> str | None:
    """The sandbox directory of (agent, executor) in a master's or agent's state, if listed.
    The newest run wins (the last listed), as an executor may have been relaunched."""
    directory = None
    for ex in _executors(state):
        agent = ex.get("slave_id") or ex.get("agent_id")
        same_agent = agent in (None, agent_id)
        if same_agent and ex.get("executor_id", ex.get("id")) == executor_id:
            directory = ex.get("directory") or directory
    return directory


def agent_url(state: Json, agent_id: str, *, scheme: str = "http") -> str | None:
    """`http://host:port` of an agent from the master's state (`pid` is `slave(1)@host:port`);
    `scheme` is the master's (a cluster with TLS has it on agents too)."""
    for agent in state.get("slaves", []):
        if agent.get("id") == agent_id:
            match = re.search(r"@([^:]+):(\d+)", str(agent.get("pid", "")))
            if match:
                return f"{scheme}://{match.group(1)}:{match.group(2)}"
            return f"{scheme}://{agent.get('hostname')}:{agent.get('port', 5051)}"
    return None


def access_from_env(env: Mapping[str, str] | None = None) -> MesosAccess:
    """The controller's Mesos settings from $O2_MESOS_PRINCIPAL, $O2_MESOS_SECRET and
    $O2_MESOS_CA_FILE (operators source the same o2.env); a master with
    `--authenticate_http_readonly` wants the credentials on /master/state too."""
    env = os.environ if env is None else env
    principal, secret = env.get("O2_MESOS_PRINCIPAL"), env.get("O2_MESOS_SECRET")
    credentials = Credentials(principal, secret) if principal and secret else None
    return MesosAccess(credentials=credentials, ca_file=env.get("O2_MESOS_CA_FILE") or None)


class MesosFiles:
    """A small client for /master/state, /state, /files/read and /monitor/statistics."""

    def __init__(
        self,
        master_url: str = DEFAULT_MESOS,
        *,
        timeout: float = REQUEST_TIMEOUT,
        access: MesosAccess | None = None,
    ):
        self.master_url = base_url(master_url)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.access = access or MesosAccess()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> MesosFiles:
        tls = ssl.create_default_context(cafile=self.access.ca_file)
        self._session = aiohttp.ClientSession(
            timeout=self.timeout,
            headers=self.access.headers(),
            connector=aiohttp.TCPConnector(ssl=tls),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(self, url: str, *, params: dict[str, str] | None = None) -> Any:
        assert self._session is not None, "use `async with MesosFiles(...)`"
        try:
            async with self._session.get(url, params=params) as resp:
                body = await resp.text()
                if resp.status == 404:
                    raise NotFoundError("File", params.get("path", url) if params else url)
                if resp.status != 200:
                    raise MesosCallError(f"GET {url}", status=resp.status, body=body)
                return json.loads(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MesosUnavailableError(
                f"cannot reach Mesos at {url}: {exc or type(exc).__name__}; point o2 at the "
                "master with --mesos URL (or O2_MESOS=URL)"
            ) from exc

    async def version(self) -> Json:
        """The master's `/version`: `{"version": "1.11.0", "build_date": ..., ...}`."""
        reply = await self._get(f"{self.master_url}/version")
        if not isinstance(reply, dict):
            raise MesosCallError(f"GET {self.master_url}/version", status=200, body=str(reply))
        return reply

    async def state(self) -> Json:
        """The master's `/master/state` (agents with their `pid`, frameworks, executors)."""
        reply = await self._get(f"{self.master_url}/master/state")
        if not isinstance(reply, dict):
            raise MesosCallError(f"GET {self.master_url}/master/state", status=200, body=str(reply))
        return reply

    async def statistics(self, agent: str) -> list[Json]:
        """An agent's `/monitor/statistics` (`agent` is its base URL): one element per
        executor, `{executor_id, framework_id, statistics: {timestamp, cpus_*, mem_*}}`."""
        try:
            reply = await self._get(f"{agent}/monitor/statistics")
        except ValueError as exc:  # not JSON: not a Mesos agent
            raise MesosCallError(
                f"GET {agent}/monitor/statistics", status=200, body="not JSON"
            ) from exc
        if not isinstance(reply, list):
            raise MesosCallError(f"GET {agent}/monitor/statistics", status=200, body=str(reply))
        return [item for item in reply if isinstance(item, dict)]

    async def task_file(
        self, *, agent_id: str, executor_id: str, mesos_task_id: str, name: str
    ) -> SandboxFile:
        """Where `name` (stdout/stderr) of one task is, and which server reads it."""
        state = await self._get(f"{self.master_url}/master/state")
        directory = find_directory(state, agent_id=agent_id, executor_id=executor_id)
        base = self.master_url
        if directory is None:
            url = agent_url(state, agent_id, scheme=self.master_url.split("://", 1)[0])
            if url is not None:
                agent_state = await self._get(f"{url}/state")
                directory = find_directory(agent_state, agent_id=agent_id, executor_id=executor_id)
                base = url
        if directory is None:
            raise NotFoundError("Sandbox", f"{agent_id}/{executor_id}")
        return SandboxFile(base, f"{directory.rstrip('/')}/{mesos_task_id}/{name}")

    async def size(self, file: SandboxFile) -> int:
        reply = await self._get(f"{file.base_url}/files/read", params=_q(file, -1, 0))
        return int(reply["offset"])

    async def read(self, file: SandboxFile, *, offset: int, length: int = CHUNK) -> bytes:
        reply = await self._get(f"{file.base_url}/files/read", params=_q(file, offset, length))
        return str(reply.get("data", "")).encode("utf-8")

    async def read_range(self, file: SandboxFile, *, start: int, end: int) -> bytes:
        out = bytearray()
        offset = start
        while offset < end:
            data = await self.read(file, offset=offset, length=min(CHUNK, end - offset))
            if not data:
                break
            out += data
            offset += len(data)
        return bytes(out)

    async def tail_start(self, file: SandboxFile, *, lines: int, size: int) -> int:
        """The offset where the last `lines` lines of the file begin."""
        window = 64 * 1024
        while True:
            start = max(0, size - window)
            data = await self.read_range(file, start=start, end=size)
            body = data[:-1] if data.endswith(b"\n") else data
            cut = len(body)
            for _ in range(lines):
                cut = body.rfind(b"\n", 0, cut)
                if cut < 0:
                    break
            if cut >= 0:
                return start + cut + 1
            if start == 0:
                return 0
            window *= 4

    async def follow(
        self,
        file: SandboxFile,
        *,
        offset: int,
        ended: asyncio.Future[None] | None = None,
        interval: float = FOLLOW_INTERVAL,
    ) -> AsyncIterator[bytes]:
        """New bytes from `offset` on, asked for every `interval` (Mesos has no watch for
        files), until `ended` is done and the file has no more bytes."""
        while True:
            data = await self.read(file, offset=offset)
            if data:
                offset += len(data)
                yield data
                continue
            if ended is None:
                await asyncio.sleep(interval)
            elif ended.done():
                return
            else:
                await asyncio.wait({ended}, timeout=interval)


def executor_output(task_file: SandboxFile) -> SandboxFile:
    """The executor's own stdout/stderr beside a task's (`<executor sandbox>/<name>`): where
    a task's lines go with `command.stdout: stdout` (crds.outputmode)."""
    task_dir, name = task_file.path.rsplit("/", 1)
    return SandboxFile(task_file.base_url, f"{task_dir.rsplit('/', 1)[0]}/{name}")


def _q(file: SandboxFile, offset: int, length: int) -> dict[str, str]:
    return {"path": file.path, "offset": str(offset), "length": str(length)}
