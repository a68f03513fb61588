"""What one `o2-sample-task` process costs in memory, measured, for real_tasks_bench.

A machine holds N sample tasks when N times their memory fits: a guessed figure either refuses
runs that fit or lets through runs that swap. So the benchmark measures it before it starts
(`probe`: a few sample tasks in direct mode, started as the executor starts them) and again on
the run's own N processes (`census`, from /proc/<pid>/smaps_rollup).

Per task, what N of them take is the private dirty memory (the interpreter's heap, the imported
modules' objects: no other process can share it) plus the task's share of the file pages
(libpython, gRPC's native library: shared by all N, so 1/N each). PSS is that share as the
kernel counts it; the census reports it for the run's processes.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

Json = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]
PROBES = 3
"""Sample tasks the probe starts (side by side, so that their file pages are shared)."""
GROWTH_MB = 1.0
"""Added to the probe's figure: what a task adds once it runs and is supervised. Measured at 200
tasks: a RUNNING task's PSS is the probe's figure + ~0.2 MB (its gRPC calls, its ticker), and
its executor grows by ~0.4 MB per task (its handle, OCC channel, output pipes)."""
START_TIMEOUT = 120.0


def rollup_kb(pid: int) -> dict[str, int]:
    """/proc/<pid>/smaps_rollup's fields in KB (Rss, Pss, Private_Dirty, ...)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0])
    return fields


def per_task_mb(rollups: list[dict[str, int]], *, tasks: int) -> float:
    """MB one of `tasks` processes like these takes: private dirty plus 1/`tasks` of the rest
    of its resident pages (shared file pages)."""
    dirty = statistics.mean(r["Private_Dirty"] for r in rollups)
    shared = statistics.mean(r["Rss"] - r["Private_Dirty"] for r in rollups)
    return (dirty + shared / max(tasks, 1)) / 1024


def probe(tasks: int) -> Json:
    """Start PROBES sample tasks (direct mode, OCC on a free port), measure them once all
    serve, stop them; the MB per task to plan `tasks` of them with (GROWTH_MB included)."""
    with tempfile.TemporaryDirectory(prefix="o2-task-probe-") as work:
        procs, files = [], []
        try:
            for i in range(PROBES):
                files.append(Path(work) / f"port-{i}")
                procs.append(_start(files[-1]))
            _await_ports(procs, files)
            rollups = [rollup_kb(p.pid) for p in procs]
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=30)
    measured = per_task_mb(rollups, tasks=tasks)
    return {
        "probe_private_dirty_kb": statistics.mean(r["Private_Dirty"] for r in rollups),
        "probe_rss_kb": statistics.mean(r["Rss"] for r in rollups),
        "probe_mb_per_task": measured,
        "mb_per_task": measured + GROWTH_MB,
    }


def _start(port_file: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OCC_CONTROL_PORT": "0", "O2_OCC_PORT_FILE": str(port_file)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
    code = "import sys; from executor.sample_task import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--control", "direct"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _await_ports(procs: list[subprocess.Popen[bytes]], files: list[Path]) -> None:
    started = time.monotonic()
    while not all(f.exists() for f in files):
        if any(p.poll() is not None for p in procs):
            raise SystemExit("real_tasks_bench: a probe sample task exited before serving OCC")
        if time.monotonic() - started > START_TIMEOUT:
            raise SystemExit("real_tasks_bench: the probe sample tasks did not serve OCC")
        time.sleep(0.02)


def census(tasks: set[int], executors: set[int]) -> Json:
    """The run's own processes: mean PSS and private dirty per task process, and the
    executors' resident memory per task (KB)."""
    task_rollups = _rollups(tasks)
    executor_rss = sum(r["Rss"] for r in _rollups(executors))
    if not task_rollups:
        return {"processes": 0}
    return {
        "processes": len(task_rollups),
        "pss_kb": statistics.mean(r["Pss"] for r in task_rollups),
        "private_dirty_kb": statistics.mean(r["Private_Dirty"] for r in task_rollups),
        "rss_kb": statistics.mean(r["Rss"] for r in task_rollups),
        "executors_rss_kb_per_task": executor_rss / len(task_rollups),
    }


def _rollups(pids: set[int]) -> list[dict[str, int]]:
    found = []
    for pid in pids:
        try:
            found.append(rollup_kb(pid))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return found
