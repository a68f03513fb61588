"""CLI test helpers: run `o2` in-process (typer's CliRunner) or as a subprocess, and etcdctl,
against the session etcd under a private prefix."""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from cli.options import StderrHandler
from store.embedded import EmbeddedEtcd, etcd_binary
from tests.etcd_fixture import unique_prefix

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "manifests" / "samples"


@dataclass(frozen=True)
class O2:
    """One isolated o2 installation: the session etcd plus a unique key prefix."""

    endpoint: str
    prefix: str

    @property
    def env(self) -> dict[str, str]:
        return {"O2_ETCD": self.endpoint, "O2_PREFIX": self.prefix}

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        """`o2 ARGS` in-process; exit code, stdout and stderr kept apart."""
        runner = CliRunner()
        return runner.invoke(app, list(args), input=stdin, env=self.env, catch_exceptions=False)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cli.main", *args]

    def subprocess_env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        return {**os.environ, **self.env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}

    def etcdctl(self, *args: str, stdin: str | None = None) -> str:
        """Run the real etcdctl (an independent client) against this etcd."""
        cmd = [str(etcd_binary("etcdctl")), f"--endpoints={self.endpoint}", *args]
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout

    def key(self, plural: str, name: str) -> str:
        return f"{self.prefix}/registry/{plural}/{name}"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """In-process commands attach o2's stderr log handler; leave the root logger as found."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _private_help_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`o2 --help` keeps typer's text in $XDG_CACHE_HOME (cli.helpcache): never the user's."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.getbasetemp() / "xdg-cache")
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def o2(etcd_server: EmbeddedEtcd) -> O2:
    return O2(endpoint=etcd_server.endpoint, prefix=unique_prefix())


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def columns(line: str) -> Sequence[str]:
    return line.split()


class Lines:
    """Lines of a child's stream, each timestamped the moment it became readable."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put((time.monotonic(), line.rstrip("\n")))

    def drain(self) -> list[str]:
        """Everything received so far into `seen` (call after the child exited)."""
        while not self._queue.empty():
            self.seen.append(self._queue.get_nowait()[1])
        return self.seen

    def wait_for(self, text: str, *, within: float) -> float:
        """The monotonic time the first (next) line containing `text` arrived."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                at, line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return at
        raise AssertionError(f"no line containing {text!r} within {within}s; saw {self.seen}")


@contextmanager
def spawn(argv: Sequence[str], *, env: dict[str, str] | None = None) -> Iterator[Child]:
    """A child process with timestamped stdout/stderr; killed by pid and reaped at exit."""
    proc = subprocess.Popen(
        list(argv),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    child = Child(proc=proc, out=Lines(proc.stdout), err=Lines(proc.stderr))
    try:
        yield child
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        child.out.thread.join(timeout=5)
        child.err.thread.join(timeout=5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@dataclass
class Child:
    proc: subprocess.Popen[str]
    out: Lines
    err: Lines
