"""Benchmark: wall time of everyday `o2` commands, side by side with `etcdctl` in the same run.

Run: .venv/bin/python -m hack.bench.cli_bench [--runs 7] [--etcd URL]. Starts a private etcd
unless --etcd is given, applies manifests/samples under a fresh prefix and writes 100 Tasks,
then runs each command as a new process (as an operator's shell does, through the console
script's entry `cli.entry.main`, with bytecode cached as after `pip install`) once to warm up
and `--runs` times, alternating with `etcdctl get --prefix` of the keys the command reads, so
both see the same background load. Reports the median wall and CPU time of each, the
o2/etcdctl wall ratio and the target (on wall time, as a user feels it; on a loaded machine
the CPU column is steadier).
Writes hack/bench/results/cli_bench.json.

A command's cost is mostly Python start-up and imports; `tests/cli/test_import_budget.py`
keeps the imports in check without timing anything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hack.bench.floor import write_json

REPO = Path(__file__).resolve().parents[2]
ENV_NAME = "physics-1"
TASKS = 100
O2 = [sys.executable, "-c", "from cli.entry import main; main()"]
"""What the `o2` console script runs."""


@dataclass(frozen=True)
class Case:
    """One command: its arguments, extra environment, the etcd key prefix it reads (None:
    it reads nothing) and the target median wall time in seconds."""

    name: str
    args: tuple[str, ...]
    reads: str | None
    target: float
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Row:
    name: str
    o2_s: float
    o2_cpu_s: float
    etcdctl_s: float | None
    ratio: float | None
    target_s: float
    met: bool


def cases(prefix: str) -> list[Case]:
    registry = f"{prefix}/registry"

    def completing(words: str) -> tuple[tuple[str, str], ...]:
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        return (
            ("_O2_COMPLETE", "complete_bash"),
            ("COMP_WORDS", words),
            ("COMP_CWORD", str(cword)),
        )

    return [
        Case("o2 --help", ("--help",), None, 0.15),
        Case("completion: o2 g<TAB>", (), None, 0.15, completing("o2 g")),
        Case("completion: o2 get en<TAB>", (), None, 0.15, completing("o2 get en")),
        Case(
            "completion: o2 get env <TAB>",
            (),
            f"{registry}/environments/",
            0.15,
            completing("o2 get env "),
        ),
        Case("o2 get env", ("get", "env"), f"{registry}/environments/", 0.3),
        Case(f"o2 get tasks ({TASKS})", ("get", "tasks"), f"{registry}/tasks/", 0.3),
        Case(
            "o2 describe env",
            ("describe", "env", ENV_NAME),
            f"{registry}/environments/{ENV_NAME}",
            0.3,
        ),
    ]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of `cmd` to completion; it must succeed. CPU time
    is what the command costs; wall time also counts waiting for a busy machine's cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=REPO, check=True, capture_output=True, timeout=60)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def installed_env(endpoint: str, prefix: str, cache: Path) -> dict[str, str]:
    """The environment of an installed `o2`: its bytecode cached (pip compiles it at install;
    here in `cache`, not in the work tree), even if this shell says PYTHONDONTWRITEBYTECODE
    (which made every run compile o2's ~40 modules from source: ~0.05 s); its root help
    cached as after a first `o2 --help` (cli.helpcache; the warm-up run writes it there too)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **env,
        "O2_ETCD": endpoint,
        "O2_PREFIX": prefix,
        "PYTHONPATH": str(REPO),
        "PYTHONPYCACHEPREFIX": str(cache),
        "XDG_CACHE_HOME": str(cache),
    }


def measure(case: Case, *, endpoint: str, prefix: str, runs: int, cache: Path) -> Row:
    env = {**installed_env(endpoint, prefix, cache), **dict(case.env)}
    etcdctl = etcdctl_command(endpoint, case.reads) if case.reads else None
    timed([*O2, *case.args], env)  # warm-up: bytecode written, files in the page cache
    o2_times: list[tuple[float, float]] = []
    etcdctl_times: list[float] = []
    for _ in range(runs):
        o2_times.append(timed([*O2, *case.args], env))
        if etcdctl is not None:
            etcdctl_times.append(timed(etcdctl, env)[0])
    o2_s = statistics.median(wall for wall, _ in o2_times)
    etcdctl_s = statistics.median(etcdctl_times) if etcdctl_times else None
    return Row(
        name=case.name,
        o2_s=round(o2_s, 3),
        o2_cpu_s=round(statistics.median(cpu for _, cpu in o2_times), 3),
        etcdctl_s=round(etcdctl_s, 3) if etcdctl_s is not None else None,
        ratio=round(o2_s / etcdctl_s, 1) if etcdctl_s else None,
        target_s=case.target,
        met=o2_s <= case.target,
    )


def etcdctl_command(endpoint: str, key_prefix: str) -> list[str]:
    from store.embedded import etcd_binary

    return [str(etcd_binary("etcdctl")), f"--endpoints={endpoint}", "get", "--prefix", key_prefix]


def seed(endpoint: str, prefix: str) -> None:
    """The samples (an Environment, its Workflow, TaskClasses...) and `TASKS` Tasks."""
    env = {**os.environ, "O2_ETCD": endpoint, "O2_PREFIX": prefix, "PYTHONPATH": str(REPO)}
    samples = str(REPO / "manifests" / "samples")
    subprocess.run([*O2, "apply", "-f", samples], env=env, cwd=REPO, check=True, timeout=120)
    asyncio.run(write_tasks(endpoint, prefix))


async def write_tasks(endpoint: str, prefix: str) -> None:
    from hack.bench.store_bench import make_task
    from store.config import StoreConfig, open_store

    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=prefix))
    try:
        for i in range(TASKS):
            await store.create(make_task(i))
    finally:
        await store.close()


def print_table(rows: list[Row]) -> None:
    header = f"{'command':<30} {'o2 s':>7} {'o2 cpu':>7} {'etcdctl s':>10} {'ratio':>6}"
    print(f"{header} {'target':>7}  met")
    for r in rows:
        etcdctl = f"{r.etcdctl_s:.3f}" if r.etcdctl_s is not None else "-"
        ratio = f"{r.ratio:.1f}" if r.ratio is not None else "-"
        met = "yes" if r.met else "NO"
        line = f"{r.name:<30} {r.o2_s:>7.3f} {r.o2_cpu_s:>7.3f} {etcdctl:>10} {ratio:>6}"
        print(f"{line} {r.target_s:>7.2f}  {met}")


def run(endpoint: str, runs: int) -> list[Row]:
    prefix = f"/o2-cli-bench-{secrets.token_hex(4)}"
    seed(endpoint, prefix)
    with tempfile.TemporaryDirectory(prefix="o2-cli-bench-pycache-") as cache:
        return [
            measure(c, endpoint=endpoint, prefix=prefix, runs=runs, cache=Path(cache))
            for c in cases(prefix)
        ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.bench.cli_bench")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--etcd", help="use this etcd instead of starting one")
    args = parser.parse_args(argv)
    if args.etcd:
        rows = run(args.etcd, args.runs)
    else:
        from store.embedded import EmbeddedEtcd, free_port

        with (
            tempfile.TemporaryDirectory(prefix="o2-cli-bench-") as tmp,
            EmbeddedEtcd(Path(tmp) / "etcd", free_port(), free_port()) as etcd,
        ):
            rows = run(etcd.endpoint, args.runs)
    print_table(rows)
    path = write_json(
        "cli_bench",
        {"runs": args.runs, "load_average": os.getloadavg(), "rows": [asdict(r) for r in rows]},
    )
    print(f"written: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
