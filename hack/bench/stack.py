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
        [sys.executable, *_gcstats(work, "cluster"), "-m", "localmesos",
         "--port", "0", "--agents", "0", *agents,
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
    name: str = "manager",
) -> Any:
    """`python -m controller` running `controllers` (under cProfile with BENCH_PROFILE=1,
    writing <work>/<name>.prof) with `extra` flags, logging to <work>/<name>.log: a
    tests.stack.ManagerProcess. A `name` other than "manager" is also its leader lease's
    (`--name controller-<name>`), so several managers can lead side by side."""
    from tests.stack import ManagerProcess, manager_command

    lease = () if name == "manager" else ("--name", f"controller-{name}")
    command = manager_command(
        etcd=etcd,
        prefix=prefix,
        mesos=mesos,
        controllers=controllers,
        lease_ttl=None,
        python_args=_profiler(work, name),
        extra_args=("--log-level", LOG_LEVEL, *lease, *_slow_lease(), *extra),
    )
    return ManagerProcess(command, log_path=work / f"{name}.log", fast_timers=False)


def start_managers(
    work: Path,
    groups: dict[str, tuple[str, ...]],
    *,
    etcd: str,
    prefix: str,
    mesos: str,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One manager per group (name -> its controllers), each with its own lease when there
    are several (`start_manager`'s name); name -> tests.stack.ManagerProcess. A manager that
    started is stopped when a later one fails to start."""
    from tests.stack import stop_by_pid

    started: dict[str, Any] = {}
    try:
        for name, controllers in groups.items():
            started[name] = start_manager(
                work,
                etcd=etcd,
                prefix=prefix,
                mesos=mesos,
                controllers=controllers,
                extra=extra,
                name=name,
            )
    except BaseException:
        for manager in started.values():
            stop_by_pid(manager.proc)
        raise
    return started


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


def _profiler(work: Path, name: str = "manager") -> list[str]:
    """BENCH_PROFILE=1 runs the manager under cProfile (written to <work>/<name>.prof);
    BENCH_TRACEMALLOC=1 under tracemalloc (hack.bench.memtrace: snapshots on SIGUSR2, into
    <work>/tracemalloc/, or <work>/tracemalloc-<name>/ for another name); BENCH_LOOPWATCH=dir
    under hack.bench.loopwatch (idle time and marked calls, dumped into <dir>/<pid>.json on
    SIGUSR1; environments_bench writes each transition's timeline there too); else
    BENCH_GCSTATS (`_gcstats`)."""
    if os.environ.get("BENCH_PROFILE"):
        return ["-m", "cProfile", "-o", str(work / f"{name}.prof")]
    if os.environ.get("BENCH_TRACEMALLOC"):
        traces = "tracemalloc" if name == "manager" else f"tracemalloc-{name}"
        return ["-m", "hack.bench.memtrace", str(work / traces)]
    if os.environ.get("BENCH_LOOPWATCH"):
        return ["-m", "hack.bench.loopwatch", os.environ["BENCH_LOOPWATCH"]]
    return _gcstats(work, name)


def _gcstats(work: Path, name: str) -> list[str]:
    """BENCH_GCSTATS=1 runs the process under hack.bench.gcstats (its collections counted and
    timed, into `gcstats_path(work, name)`)."""
    if os.environ.get("BENCH_GCSTATS"):
        return ["-m", "hack.bench.gcstats", str(gcstats_path(work, name))]
    return []


def gcstats_path(work: Path, name: str) -> Path:
    return work / f"{name}-gc.json"


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
