"""On a terminal: ending a run asks first, and progress is a live view (a real pty)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from crds.kinds.environment import Environment
from tests.cli.conftest import O2
from tests.cli_ops.conftest import env_obj, fetch, seed


def run_on_pty(o2: O2, *args: str, answer: str, within: float = 60) -> tuple[int, str]:
    """`o2 ARGS` with stdin/stdout/stderr on a pseudo-terminal; `answer` typed once the
    prompt shows. Returns the exit code and everything the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        o2.argv(*args), env=o2.subprocess_env(), stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    shown, answered = b"", False
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and b"Continue?" in shown:
                os.write(master, answer.encode())
                answered = True
            if not ready and proc.poll() is not None:
                break
        return proc.wait(timeout=10), shown.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_stop_on_a_terminal_asks_and_no_changes_nothing(o2_sync: O2) -> None:
    seed(o2_sync, env_obj("alpha", desired="RUNNING", state="RUNNING", runNumber=5))
    code, shown = run_on_pty(o2_sync, "stop", "alpha", answer="n\n")
    assert code == 1
    assert "this ends run 5. Continue?" in shown
    assert "cancelled: nothing was changed" in shown
    assert fetch(o2_sync, Environment, "alpha").spec.state == "RUNNING"


def test_stop_on_a_terminal_confirmed_writes_and_shows_the_live_view(o2_sync: O2) -> None:
    seed(o2_sync, env_obj("alpha", desired="RUNNING", state="RUNNING", runNumber=5))
    code, shown = run_on_pty(o2_sync, "stop", "alpha", "--timeout", "1s", answer="y\n")
    assert fetch(o2_sync, Environment, "alpha").spec.state == "CONFIGURED"
    assert code == 1  # nobody plays the controller here: it times out
    assert "RUNNING -> CONFIGURED" in shown
    assert "0/0 tasks CONFIGURED" in shown  # the live view's bar label
    assert "timed out after 1s" in shown
