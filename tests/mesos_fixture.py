"""Pytest fixtures for the local Mesos cluster run as a real subprocess (`python -m localmesos`).

- `localmesos_factory` (function): `start(*cli_args) -> LocalMesosProcess`; every cluster it
  started is stopped at teardown (SIGINT by pid, SIGKILL after 10 s). The cluster binds a free
  port (`--port 0`) and prints its URL on stdout, so there is no port race and no polling.
- `localmesos` (function): one cluster with 1 real agent and 2 hollow agents, 1 s heartbeats.

`LocalMesosProcess` has `.address` ("127.0.0.1:PORT", for schedulers), `.url`, `.pid`, `.work_dir`
(the sandboxes), `.logs()`,
`.get(path)`, `.post(path, body)` and `.state()` (the test-control view at /localmesos/state).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 20.0


class LocalMesosProcess:
    def __init__(
        self, proc: subprocess.Popen[bytes], url: str, *, log_path: Path, work_dir: Path
    ) -> None:
        self.proc = proc
        self.work_dir = work_dir
        self.url = url
        self.address = url.removeprefix("http://")
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get(self, path: str, *, timeout: float = 10.0) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
            return json.loads(resp.read())

    def post(self, path: str, body: Any = None, *, timeout: float = 10.0) -> Any:
        data = json.dumps(body if body is not None else {}).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def state(self) -> Any:
        return self.get("/localmesos/state")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGINT (the cluster kills its executors by pid and exits), SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def start_localmesos(*args: str, log_dir: Path) -> LocalMesosProcess:
    run = f"localmesos-{time.monotonic_ns()}"
    log_path = log_dir / f"{run}.log"
    work_dir = log_dir / run
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localmesos", "--port", "0", "--work-dir", str(work_dir), *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log_file,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
        if not ready:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"localmesos did not start in {START_TIMEOUT}s: {log_path}")
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            proc.wait()
            raise RuntimeError(f"localmesos exited: {log_path.read_text(errors='replace')}")
        line += chunk
    url = line.decode().strip().rsplit(" ", 1)[-1]
    cluster = LocalMesosProcess(proc, url, log_path=log_path, work_dir=work_dir)
    assert cluster.get("/version")["version"] == "1.11.0"
    return cluster


LocalMesosFactory = Callable[..., LocalMesosProcess]


@pytest.fixture
def localmesos_factory(tmp_path: Path) -> Iterator[LocalMesosFactory]:
    started: list[LocalMesosProcess] = []

    def start(*args: str) -> LocalMesosProcess:
        cluster = start_localmesos(*args, log_dir=tmp_path)
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()


@pytest.fixture
def localmesos(localmesos_factory: LocalMesosFactory) -> LocalMesosProcess:
    return localmesos_factory("--agents", "1", "--hollow-agents", "2", "--heartbeat-interval", "1")
