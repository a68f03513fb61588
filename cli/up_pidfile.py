"""`o2 up`'s pid file (DATA_DIR/up.pids): the processes an `o2 up` started, so that the next
one can stop what a killed one left behind. Process I/O only (/proc, signals, one file)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from procutil import signal_pid, start_time, terminate, wait_exit

Report = Callable[[str, str], None]
GRACE = 10.0


@dataclass(frozen=True)
class Proc:
    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc | None:
        start = start_time(pid)
        return cls(pid, start) if start is not None else None

    def alive(self) -> bool:
        return start_time(self.pid) == self.start


@dataclass
class PidFile:
    """{"owner": this o2 up, "children": {name: process}} written on every start."""

    path: Path
    children: dict[str, Proc] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    """How many times `o2 up` restarted each child (and etcd) after it died."""

    def record(self, name: str, pid: int) -> None:
        proc = Proc.of(pid)
        if proc is not None:
            self.children[name] = proc
            self._write()

    def record_restarts(self, counts: dict[str, int]) -> None:
        self.restarts = dict(counts)
        self._write()

    def _write(self) -> None:
        owner = Proc.of(os.getpid())
        doc = {
            "owner": owner.__dict__ if owner else None,
            "children": {name: proc.__dict__ for name, proc in self.children.items()},
            "restarts": self.restarts,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _read(path: Path) -> tuple[Proc | None, dict[str, Proc]]:
    try:
        doc = json.loads(path.read_text())
        owner = Proc(**doc["owner"]) if doc.get("owner") else None
        children = {name: Proc(**p) for name, p in doc.get("children", {}).items()}
    except (FileNotFoundError, ValueError, TypeError, KeyError, AttributeError):
        return None, {}
    return owner, children


def read_status(path: Path) -> str | None:
    """A table of the processes of the `o2 up` that owns `path` (alive or not, restarts), or
    None when no live `o2 up` owns it."""
    owner, children = _read(path)
    if owner is None or not owner.alive():
        return None
    try:
        restarts = json.loads(path.read_text()).get("restarts", {})
    except (FileNotFoundError, ValueError, AttributeError):
        restarts = {}
    lines = [f"o2 up (pid {owner.pid}) with {path.parent}", "NAME        PID      ALIVE  RESTARTS"]
    for name, proc in children.items():
        alive = "yes" if proc.alive() else "no"
        lines.append(f"{name:<11} {proc.pid:<8} {alive:<6} {restarts.get(name, 0)}")
    return "\n".join(lines)


async def stop_leftovers(path: Path, *, report: Report) -> None:
    """Stop, newest first and by pid, the children a killed `o2 up` left running; refuse if
    that `o2 up` is still alive (two of them cannot share one data directory)."""
    owner, children = _read(path)
    if owner is not None and owner.alive() and owner.pid != os.getpid():
        raise RuntimeError(
            f"another o2 up (pid {owner.pid}) is running with {path.parent}: "
            "stop it first (Ctrl-C), or pick another --data-dir"
        )
    for name, proc in reversed(list(children.items())):
        if proc.alive():
            report("o2", f"stopping {name} (pid {proc.pid}) left running by a killed o2 up")
            await _terminate(proc)
    PidFile(path).clear()


async def _terminate(proc: Proc) -> None:
    """SIGTERM, GRACE seconds, then SIGKILL: only while the pid still names that process."""
    killed = False

    def send(sig: int) -> None:
        nonlocal killed
        if sig == signal.SIGTERM or proc.alive():
            killed = sig == signal.SIGKILL
            signal_pid(proc.pid, sig)

    if not await terminate(send, lambda: wait_exit(proc.pid), grace=GRACE) and killed:
        await wait_exit(proc.pid)
