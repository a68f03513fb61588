"""Run the GUI server as a real subprocess (`python -m gui`), the way `o2 gui` / `o2 up` do."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_LISTENING = re.compile(r"listening on (http://\S+)")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class GuiProcess:
    url: str
    pid: int


@contextmanager
def gui_process(
    *,
    etcd: str,
    prefix: str,
    token_file: Path | None = None,
    flush_ms: float = 50,
    listen: str = "127.0.0.1:0",
    extra: tuple[str, ...] = (),
) -> Iterator[GuiProcess]:
    """Start `python -m gui` on a free loopback port; stopped (SIGTERM, then SIGKILL) by pid."""
    args = [
        sys.executable,
        "-m",
        "gui",
        "--etcd",
        etcd,
        "--prefix",
        prefix,
        "--listen",
        listen,
        "--flush-ms",
        str(flush_ms),
        "--log-level",
        "WARNING",
    ]
    if token_file is not None:
        args += ["--token-file", str(token_file)]
    args += extra
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = _LISTENING.search(line)
        if not found:
            raise RuntimeError(f"gui did not start (exit {proc.poll()}): {line!r}")
        yield GuiProcess(found.group(1), proc.pid)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
