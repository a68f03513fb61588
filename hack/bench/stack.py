"""Shared by the full-stack benchmarks: the local cluster and the controller manager as
subprocesses of a benchmark (hollow agents answering through tasks_bench.O2Responder). Not a
benchmark itself (hack.bench's runner skips it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

RESPONDER = "hack.bench.tasks_bench:O2Responder"
REPO = Path(__file__).resolve().parents[2]
LOG_LEVEL = os.environ.get("BENCH_LOG", "WARNING")
"""Log level of the cluster and the manager (their logs go to the work directory)."""


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
    work: Path,
    *,
    etcd: str,
    prefix: str,
    mesos: str,
    controllers: tuple[str, ...],
    extra: tuple[str, ...] = (),
) -> Any:
    """`python -m controller` running `controllers` (under cProfile with BENCH_PROFILE=1,
    writing <work>/manager.prof) with `extra` flags, logging to <work>/manager.log: a
    tests.stack.ManagerProcess."""
    from tests.stack import ManagerProcess, manager_command

    command = manager_command(
        etcd=etcd,
        prefix=prefix,
        mesos=mesos,
        controllers=controllers,
        lease_ttl=None,
        python_args=_profiler(work),
        extra_args=("--log-level", LOG_LEVEL, *_slow_lease(), *extra),
    )
    return ManagerProcess(command, log_path=work / "manager.log", fast_timers=False)


def _start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=REPO,
            stdout=subprocess.PIPE if "localmesos" in cmd else out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


def _profiler(work: Path) -> list[str]:
    """BENCH_PROFILE=1 runs the manager under cProfile (written to <work>/manager.prof);
    BENCH_TRACEMALLOC=1 under tracemalloc (hack.bench.memtrace: snapshots on SIGUSR2, into
    <work>/tracemalloc/)."""
    if os.environ.get("BENCH_PROFILE"):
        return ["-m", "cProfile", "-o", str(work / "manager.prof")]
    if os.environ.get("BENCH_TRACEMALLOC"):
        return ["-m", "hack.bench.memtrace", str(work / "tracemalloc")]
    return []


def _slow_lease() -> tuple[str, ...]:
    """A traced manager runs several times slower: a long lease, or it loses leadership."""
    return ("--lease-ttl", "120") if os.environ.get("BENCH_TRACEMALLOC") else ()


async def _read_url(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    return line.decode().strip().rsplit(" ", 1)[-1].removeprefix("http://")


async def wait_subscribed(store: Any) -> None:
    """Until the controller has subscribed (it stores the framework id)."""
    key = f"{store.prefix}/runtime/mesos/framework-id"
    async with asyncio.timeout(60):
        while await store.get_raw(key) is None:  # noqa: ASYNC110 (another process writes it)
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # let the first offers come and go: measure the steady state
