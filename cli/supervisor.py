"""Child processes of `o2 up`: start, log to files, stop newest first by pid. Process I/O."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.text import Text

from cli.runtime import stdout_console
from procutil import pdeath, terminate

log = logging.getLogger(__name__)

LineSink = Callable[[str, str], None]
"""(child name, line) -> None: where a child's output goes."""

STYLES = {
    "o2": "bold green",
    "etcd": "cyan",
    "cluster": "magenta",
    "controller": "yellow",
    "gui": "blue",
}
LOUD = ("WARNING", "ERROR", "CRITICAL", "Traceback")
NOTABLE = (
    "Became leader",
    "Resigned leadership",
    "Subscribed to Mesos",
    "Allocated run number",
    "Local Mesos cluster up",
    "Framework registered",
    "executors left running",
)
"""Milestones echoed from children's INFO logs, so the terminal shows they are alive."""


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """`argv` behind procutil's exec wrapper: SIGTERM (a clean stop) when `o2 up` dies, even by
    SIGKILL, so a killed `o2 up` leaves nothing behind. No preexec_fn in ours (which runs grpc
    threads); the setting survives exec and the pid stays the child's."""
    return pdeath.wrap(argv, sig=signal.SIGTERM)


def say(source: str, message: str) -> None:
    """One prefixed line on stdout: `[controller] ...`."""
    console = stdout_console()
    prefix = Text(f"[{source}] ", style=STYLES.get(source, "bold"))
    console.print(prefix + Text(message), soft_wrap=True)
    console.file.flush()


def loud(line: str) -> bool:
    """A warning, an error or a milestone, in a JSON log line (`level`) or a plain one."""
    if any(milestone in line for milestone in NOTABLE):
        return True
    if line.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            return str(json.loads(line).get("level", "")) in LOUD
    return any(word in line for word in LOUD)


def short(line: str) -> str:
    """A JSON log line as `LEVEL message key=value ...`; other lines as they are."""
    if not line.startswith("{"):
        return line
    try:
        doc = json.loads(line)
    except ValueError:
        return line
    if not isinstance(doc, dict):
        return line
    extras = " ".join(
        f"{k}={v}" for k, v in doc.items() if k not in ("time", "level", "logger", "message")
    )
    return f"{doc.get('level', '')} {doc.get('message', '')} {extras}".rstrip()


@dataclass
class Child:
    """One supervised subprocess with its log pump."""

    name: str
    argv: Sequence[str]
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None]
    env: dict[str, str] | None = None
    restarts: int = 0
    """How many times this child was started again after it died."""

    @property
    def pid(self) -> int:
        return self.process.pid


async def _pump(
    name: str, stream: asyncio.StreamReader, sink: LineSink, file: IO[str] | None
) -> None:
    try:
        while line := await stream.readline():
            sink(name, line.decode(errors="replace").rstrip("\n"))
    finally:
        if file is not None:
            file.close()


@dataclass
class Supervisor:
    """Starts children in their own sessions (so a terminal Ctrl-C reaches only us) and stops
    them newest first: SIGTERM, then SIGKILL after `grace` seconds."""

    sink: LineSink
    grace: float = 10.0
    log_dir: Path | None = None
    """Each child's full output goes to `<log_dir>/<name>.log`; only warnings and errors (or
    everything, with `echo_all`) reach the sink. None: every line to the sink."""
    echo_all: bool = False
    on_start: Callable[[str, int], None] | None = None
    """Told (name, pid) of every child started, e.g. to record it in a pid file."""
    children: list[Child] = field(default_factory=list)

    def log_path(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir else None

    def _line_sink(self, name: str) -> tuple[LineSink, IO[str] | None]:
        path = self.log_path(name)
        if path is None:
            return self.sink, None
        path.parent.mkdir(parents=True, exist_ok=True)
        file = path.open("a", encoding="utf-8")

        def sink(child: str, line: str) -> None:
            file.write(line + "\n")
            file.flush()
            if self.echo_all or loud(line):
                self.sink(child, short(line))

        return sink, file

    async def start(
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
    ) -> Child:
        child = await self._spawn(name, argv, env)
        self.children.append(child)
        return child

    async def restart(self, dead: Child) -> Child:
        """Start `dead` (a child that exited) again with the same argv and environment, in its
        place in the stop order."""
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(dead.pump, 2.0)
        child = await self._spawn(dead.name, dead.argv, dead.env)
        child.restarts = dead.restarts + 1
        self.children[self.children.index(dead)] = child
        return child

    async def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None) -> Child:
        process = await asyncio.create_subprocess_exec(
            *with_parent_death_signal(argv),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        assert process.stdout is not None
        sink, file = self._line_sink(name)
        pump = asyncio.create_task(_pump(name, process.stdout, sink, file))
        child = Child(name=name, argv=list(argv), process=process, pump=pump, env=env)
        if self.on_start is not None:
            self.on_start(name, child.pid)
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

    async def stop_all(self, *, first_signal: dict[str, int] | None = None) -> None:
        """Reverse start order, one at a time, each by its pid; `first_signal` names the signal
        some children get instead of SIGTERM (SIGKILL still follows after the grace)."""
        while self.children:
            child = self.children.pop()
            await self.stop(child, first=(first_signal or {}).get(child.name, signal.SIGTERM))

    async def stop(self, child: Child, *, first: int = signal.SIGTERM) -> None:
        if child.process.returncode is None:

            def send(sig: int) -> None:
                sig = first if sig == signal.SIGTERM else sig
                if sig == signal.SIGKILL:
                    log.warning("Child ignored SIGTERM; killing", extra={"child": child.name})
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(sig)

            if not await terminate(send, child.process.wait, grace=self.grace):
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
