"""Manager subprocesses for tests: start, signal, read their JSON logs; cleaned up by pid."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
GADGET = "tests.runtime.gadget:GadgetReconciler"
GADGET_GC = "tests.runtime.gadget:GadgetGC"

LogLine = dict[str, Any]


class ManagerProcess:
    def __init__(
        self,
        *,
        endpoint: str,
        prefix: str,
        identity: str,
        log_dir: Path,
        ttl: int = 2,
        controllers: tuple[str, ...] = (GADGET,),
    ) -> None:
        self.identity = identity
        self.log_path = log_dir / f"manager-{identity}.log"
        args = [
            sys.executable,
            "-m",
            "controller",
            "--etcd",
            endpoint,
            "--prefix",
            prefix,
            "--id",
            identity,
            "--lease-ttl",
            str(ttl),
            "--metrics-port",
            "0",
        ]
        for entry in controllers:
            args += ["--controller", entry]
        with self.log_path.open("wb") as err:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def logs(self) -> list[LogLine]:
        lines: list[LogLine] = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(raw))
        return lines

    def has_logged(self, message: str, **fields: Any) -> bool:
        return any(
            line.get("message") == message and all(line.get(k) == v for k, v in fields.items())
            for line in self.logs()
        )

    def wait_log(self, message: str, *, timeout: float = 10.0, **fields: Any) -> float:
        """Poll the log until `message` (with `fields`) appears; returns the monotonic time."""
        wait_until(
            lambda: self.has_logged(message, **fields),
            timeout=timeout,
            what=f"{self.identity} to log {message!r}",
            proc=self,
        )
        return time.monotonic()

    def metrics_port(self) -> int:
        for line in self.logs():
            if line.get("message") == "Serving metrics":
                return int(line["port"])
        raise AssertionError(f"{self.identity} serves no metrics")

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


def wait_until(
    pred: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    proc: ManagerProcess | None = None,
    interval: float = 0.02,
) -> None:
    def described() -> str:
        return f"{what}\n--- {proc.identity} log ---\n{proc.tail()}" if proc else what

    eventually_sync(pred, within=timeout, interval=interval, message=described)


@contextlib.contextmanager
def managers(log_dir: Path) -> Iterator[Callable[..., ManagerProcess]]:
    started: list[ManagerProcess] = []

    def start(**kwargs: Any) -> ManagerProcess:
        proc = ManagerProcess(log_dir=log_dir, **kwargs)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()
