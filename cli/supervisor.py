"""Child processes of `o2 up`: start, prefix logs, stop newest first by pid. Process I/O."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

LineSink = Callable[[str, str], None]
"""(child name, line) -> None: where a child's output goes."""


@dataclass
class Child:
    """One supervised subprocess with its log pump."""

    name: str
    argv: Sequence[str]
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None]

    @property
    def pid(self) -> int:
        return self.process.pid


async def _pump(name: str, stream: asyncio.StreamReader, sink: LineSink) -> None:
    while line := await stream.readline():
        sink(name, line.decode(errors="replace").rstrip("\n"))


@dataclass
class Supervisor:
    """Starts children in their own sessions (so a terminal Ctrl-C reaches only us) and stops
    them newest first: SIGTERM, then SIGKILL after `grace` seconds."""

    sink: LineSink
    grace: float = 10.0
    children: list[Child] = field(default_factory=list)

    async def start(
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
    ) -> Child:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        assert process.stdout is not None
        pump = asyncio.create_task(_pump(name, process.stdout, self.sink))
        child = Child(name=name, argv=list(argv), process=process, pump=pump)
        self.children.append(child)
        return child

    async def first_exit(self) -> Child:
        """Wait until any child exits; returns it."""
        waits = {asyncio.create_task(c.process.wait()): c for c in self.children}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return waits[next(iter(done))]

    async def stop_all(self) -> None:
        """Reverse start order, one at a time, each by its pid."""
        while self.children:
            await self.stop(self.children.pop())

    async def stop(self, child: Child) -> None:
        if child.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), self.grace)
            except TimeoutError:
                log.warning("Child ignored SIGTERM; killing", extra={"child": child.name})
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(child.pump, 2.0)
        code = child.process.returncode
        self.sink("o2", f"stopped {child.name} (pid {child.pid}, exit code {code})")


async def wait_for_port(port: int, *, child: Child, within: float, host: str = "127.0.0.1") -> None:
    """Until `host:port` accepts a connection; raises RuntimeError if the child exits first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if child.process.returncode is not None:
            raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise RuntimeError(f"{child.name} did not open {host}:{port} within {within:g}s")


async def wait_pid_exit(pid: int) -> None:
    """Until process `pid` (not necessarily our asyncio child) exits: a Linux pidfd, no polling
    and no reaping, so its owner can still wait() for it."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    exited = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, exited.set)
    try:
        await exited.wait()
    finally:
        loop.remove_reader(fd)
        os.close(fd)
