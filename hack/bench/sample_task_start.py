"""One `o2-sample-task` process's start: CPU and memory until it serves OCC, per control mode.

    .venv/bin/python -m hack.bench.sample_task_start [--runs 7]

Every environment runs sample tasks, and a deploy of N real tasks pays N interpreter starts:
the CPU a task spends before it answers OCC is most of what DEPLOY costs on a real agent, and
its memory decides how many fit on a machine. Each run starts one process (as the executor
does: OCC_CONTROL_PORT 0 and O2_OCC_PORT_FILE, here to learn when it serves), waits for the
port file (basic mode: for its first line), reads its CPU seconds (/proc/<pid>/stat), RSS,
private memory (USS, and its dirty part) and PSS (/proc/<pid>/smaps_rollup), then stops it with
SIGTERM. Runs are
sequential, so the figures are the process's own even on a busy machine (wall is not).
Prints medians per mode and writes hack/bench/results/sample_task_start.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hack.bench.environments_stack import cpu_seconds
from hack.bench.floor import write_json
from hack.bench.task_memory import rollup_kb

Json = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]
TASK = [sys.executable, "-c", "import sys; from executor.sample_task import main; sys.exit(main())"]
"""What the `o2-sample-task` console script runs."""
MODES = {
    "direct": ["--control", "direct"],
    "fairmq": ["--control", "fairmq"],
    "occlite": ["--control", "fairmq", "-P", "OCClite"],
    "basic": ["--control", "basic"],
}
"""Each control mode; `occlite`: a FairMQ device serving OCClite's JSON (it loads protobuf)."""
START_TIMEOUT = 60.0


def memory_kb(pid: int) -> Json:
    """RSS, USS (private clean + dirty), private dirty and PSS of `pid`, in KB. Private dirty
    is what each of N such processes costs (the clean pages of its libraries are shared by all
    N; alone, they count as private in its USS)."""
    fields = rollup_kb(pid)
    return {
        "rss_kb": fields["Rss"],
        "uss_kb": fields["Private_Clean"] + fields["Private_Dirty"],
        "private_dirty_kb": fields["Private_Dirty"],
        "pss_kb": fields["Pss"],
    }


def one_start(mode: str, work: Path) -> Json:
    """Start one task in `mode`, measure it once it serves, stop it."""
    port_file = work / f"port-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OCC_CONTROL_PORT": "0"}
    env["O2_OCC_PORT_FILE"] = str(port_file)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*TASK, *MODES[mode]], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        if mode == "basic":
            proc.stdout.readline()  # "basic task started": it runs its loop
        else:
            while not port_file.exists():
                if proc.poll() is not None or time.perf_counter() - started > START_TIMEOUT:
                    raise RuntimeError(f"the {mode} task did not serve OCC")
                time.sleep(0.005)
        ready = time.perf_counter() - started
        memory = memory_kb(proc.pid)
        cpu = cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    return {"ready_seconds": ready, "cpu_seconds": cpu, **memory}


def measure(mode: str, runs: int, work: Path) -> Json:
    one_start(mode, work)  # warm-up: bytecode and files cached
    samples = [one_start(mode, work) for _ in range(runs)]
    medians = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    return {**medians, "runs": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="o2-task-start-") as work:
        result = {mode: measure(mode, args.runs, Path(work)) for mode in MODES}
    print(f"{'mode':<8}{'cpu s':>8}{'RSS MB':>8}{'USS MB':>8}{'dirty MB':>9}{'ready s':>9}   load")
    load = os.getloadavg()[0]
    for mode, row in result.items():
        print(
            f"{mode:<8}{row['cpu_seconds']:>8.3f}{row['rss_kb'] / 1024:>8.1f}"
            f"{row['uss_kb'] / 1024:>8.1f}{row['private_dirty_kb'] / 1024:>9.1f}"
            f"{row['ready_seconds']:>9.3f}   {load:.1f}"
        )
    write_json("sample_task_start", {**result, "load_average": os.getloadavg()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
