"""Shared by the full-stack benchmarks: the local cluster and the controller manager as
subprocesses of a benchmark (hollow agents answering through tasks_bench.O2Responder). Not a
benchmark itself (hack.bench's runner skips it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hack.bench.tasks_bench import LOG_LEVEL, _profiler, _read_url, _start

RESPONDER = "hack.bench.tasks_bench:O2Responder"


async def start_localmesos(work: Path, *agents: str) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m localmesos` with `agents` (e.g. `--agents-file F`) and o2's hollow
    responder; the process and its master's HOST:PORT."""
    proc = _start(
        [sys.executable, "-m", "localmesos", "--port", "0", "--agents", "0", *agents,
         "--allocation-interval", "0.1", "--heartbeat-interval", "5",
         "--hollow-responder", RESPONDER,
         "--work-dir", str(work / "mesos"), "--log-level", LOG_LEVEL],
        work / "localmesos.log",
    )  # fmt: skip
    try:
        return proc, await _read_url(proc)
    except BaseException:
        from tests.stack import stop_by_pid

        stop_by_pid(proc)
        raise


def start_manager(
    work: Path, *, etcd: str, prefix: str, mesos: str, controllers: tuple[str, ...]
) -> Any:
    """`python -m controller` running `controllers` (under cProfile with BENCH_PROFILE=1,
    writing <work>/manager.prof), logging to <work>/manager.log: a tests.stack.ManagerProcess."""
    from tests.stack import ManagerProcess, manager_command

    command = manager_command(
        etcd=etcd,
        prefix=prefix,
        mesos=mesos,
        controllers=controllers,
        lease_ttl=None,
        python_args=_profiler(work),
        extra_args=("--log-level", LOG_LEVEL),
    )
    return ManagerProcess(command, log_path=work / "manager.log", fast_timers=False)
