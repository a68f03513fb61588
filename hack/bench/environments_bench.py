"""The environment controller's cost: pure expand/plan time, and transitions on the real stack.

    .venv/bin/python -m hack.bench.environments_bench [--sizes 100,1000,10000] [--pure-sizes ...]
        [--agents 50] [--reads] [--no-stop] [--split]

At scale: `--sizes 50000 --pure-sizes 1000 --agents 500 --reads --no-stop` (50,000 tasks, 100
per agent; the walk ends at RUNNING, where the reads are timed).

Shape (`manifests`): the sample readout-dataflow workflow scaled out: 50 detectors (--agents),
each an `flp-{{ detector }}` role pinned to its agent by a `detector` constraint, with `readout`
and `stfb` task roles of N/(2 x agents) replicas each, and the sample's `sor` hook at
before_START_ACTIVITY; N is a multiple of 2 x agents.
Part 1 (pure, no I/O): `expand()` and a steady-state `plan()` (RUNNING, every task RUNNING:
nothing to do, the cost of each look while waiting; with the expansion cached, as the
controller does) of N tasks, median of 3 runs.
Part 2 (the real stack, nothing simulated): a private etcd (`--unsafe-no-fsync`), the local
cluster (`python -m localmesos`) with 50 hollow agents (detector=d00..d49) answering o2's
framework messages through hack.bench.tasks_bench:O2Responder, and the controller manager
(`python -m controller`) running the task and environment controllers. Each size gets its own
cluster, manager and key prefix (deleted afterwards); etcd is shared. The environment is created
with spec.state DEPLOYED, then spec.state is set to CONFIGURED, RUNNING, CONFIGURED: DEPLOY,
CONFIGURE, START_ACTIVITY, STOP_ACTIVITY, each timed wall-clock from the spec write until the
status shows the state with no transition in progress (and from status.history, which starts
when the controller picks the transition up). Writes: a transition over N running tasks costs
2N (N spec updates by the environment controller in batched txns, N status writes by the task
controller when the executors answer); DEPLOY costs more (creates, finalizers, launch and
Running statuses, Started events). Every row shows the puts etcd counted in its window
(etcd_mvcc_put_total) and the floor: 2N raw puts at 16 in flight (a) and 2N writes in 128-op
txns 8 in flight (b), timed on the same etcd in the same run. Manager CPU: user+system seconds
of the manager process over each row's window (/proc/<pid>/stat), the steadiest figure on a
shared machine. Controller RSS growth per task:
the manager's VmRSS before the environment is created vs. at RUNNING, divided by N.
Targets: START_ACTIVITY over 1,000 tasks <= 3x floor (a), over 10,000 <= 12x the
1,000-task time, RSS growth <= 25 KB/task judged at the largest size (the manager's ~6 MB of
one-off growth dominates small sizes); at 50,000 tasks DEPLOY <= 30 s and START <= 12 s.
--reads times `o2 get tasks` and the GUI feed's first load after each size's walk
(hack.bench.scale_reads).
`--split` runs the environment and the task controller in two managers, each leading under its
own lease (`controller-manager-environments`, `controller-manager-tasks`), as a farm could run
them: the manager CPU and RSS are then the two processes' sums, each shown beside them.
`--upto DEPLOY` stops after that transition (the cProfile then covers start-up and DEPLOY only);
the mesos and etcd CPU columns are the local cluster's (hollow agents and their responder
included) and etcd's user+system seconds over the row's window.
BENCH_GCSTATS=1 counts and times the collections of the managers and the cluster
(hack.bench.gcstats): a `gc` line under each row. BENCH_PROFILE=1 runs each manager under
cProfile (<work>/size-N/manager.prof), BENCH_KEEP=dir
keeps etcd data and logs. Prints tables and the targets, writes
hack/bench/results/environments_bench.json. The machine is a shared 2-core box: numbers are
noisy, compare ratios from one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
from dataclasses import asdict
from pathlib import Path

from hack.bench.environments_shape import AGENTS, TRANSITIONS, Json, manifests, pure
from hack.bench.environments_stack import on_stack
from hack.bench.floor import Floor, measure_floor, print_floor, write_json
from hack.bench.gcstats import describe as describe_gc

# The shape and part 1 (manifests, pure) are in hack.bench.environments_shape, part 2 (the real
# stack: on_stack, walk and what each row measures) in hack.bench.environments_stack.

TARGETS = {
    "start_1000_x_floor_a": 3.0,
    "start_10000_x_1000": 12.0,
    "rss_kb_per_task_largest": 25.0,
    "deploy_50000_seconds": 30.0,
    "start_50000_seconds": 12.0,
}


# ---- main -------------------------------------------------------------------------------------


async def _main(args: argparse.Namespace, work: Path) -> Json:
    from store.embedded import EmbeddedEtcd, free_port

    result: Json = {"pure": [pure(n, args.agents) for n in args.pure_sizes], "stack": []}
    result["split"] = args.split
    result["load_average_before"] = list(os.getloadavg())
    async with EmbeddedEtcd(
        work / "etcd", free_port(), free_port(), extra_args=("--unsafe-no-fsync",)
    ) as etcd:
        result["floor"] = asdict(await measure_floor(etcd.endpoint, quick=True))
        for size in args.sizes:
            run = await on_stack(etcd, size, work / f"size-{size}", args)
            result["stack"].append(run)
    result["load_average_after"] = list(os.getloadavg())
    result["targets"] = targets(result["stack"])
    return result


def targets(runs: list[Json]) -> Json:
    """The targets, each with its value and whether it is met (None: size not run)."""
    by_size = {run["tasks"]: run for run in runs}

    def start(size: int) -> float | None:
        row = by_size.get(size, {}).get("transitions", {}).get("START_ACTIVITY")
        return row["wall_seconds"] if row else None

    s1k, s10k = start(1000), start(10000)
    x_floor = s1k / by_size[1000]["floor_a_seconds"] if s1k is not None else None
    scale = s10k / s1k if s10k is not None and s1k is not None else None
    largest = max(runs, key=lambda r: int(r["tasks"]), default=None)  # fixed costs amortized
    rss = largest["rss_growth_kb_per_task"] if largest is not None else None
    deploy = by_size.get(50000, {}).get("transitions", {}).get("DEPLOY", {})
    values = {
        "start_1000_x_floor_a": x_floor,
        "start_10000_x_1000": scale,
        "rss_kb_per_task_largest": rss,
        "deploy_50000_seconds": deploy.get("wall_seconds"),
        "start_50000_seconds": start(50000),
    }
    return {
        name: {
            "value": value,
            "limit": TARGETS[name],
            "met": None if value is None else value <= TARGETS[name],
        }
        for name, value in values.items()
    }


def print_tables(result: Json) -> None:
    print(f"{'pure: tasks':<14}{'expand ms':>12}{'plan ms':>12}")
    for row in result["pure"]:
        print(f"{row['tasks']:<14}{row['expand_ms']:>12.1f}{row['plan_ms']:>12.1f}")
    print()
    print_floor(Floor(**result["floor"]))
    print()
    print(
        f"{'tasks':<7}{'transition':<16}{'wall s':>8}{'history s':>10}{'etcd puts':>10}"
        f"{'floor(a) s':>11}{'x (a)':>7}{'floor(b) s':>11}{'x (b)':>7}{'mgr cpu s':>10}"
        f"{'mesos cpu':>10}{'etcd cpu':>9}"
    )
    for run in result["stack"]:
        a, b = run["floor_a_seconds"], run["floor_b_seconds"]
        for event in TRANSITIONS:
            row = run["transitions"].get(event)
            if row is None:
                continue
            cpu = row.get("cpu_seconds", {})
            wall, hist = row["wall_seconds"], row["history_seconds"]
            print(
                f"{run['tasks']:<7}{event:<16}{wall:>8.2f}{hist or float('nan'):>10.2f}"
                f"{row['etcd_puts']:>10}{a:>11.3f}{wall / a:>7.1f}{b:>11.3f}{wall / b:>7.1f}"
                f"{row.get('manager_cpu_seconds', float('nan')):>10.2f}"
                f"{cpu.get('cluster', float('nan')):>10.2f}{cpu.get('etcd', float('nan')):>9.2f}"
                f"{_each_manager(cpu)}"
            )
            if "gc" in row:
                print(f"{'':<7}{'  gc':<16}{describe_gc(row['gc'])}")
        agents = run["agents"]
        print(
            f"{run['tasks']:<7}floor = {run['floor_writes']} writes; RSS growth "
            f"{run['rss_growth_kb_per_task']:.1f} KB/task ({run['rss_kb']['before']} -> "
            f"{run['rss_kb']['running']} KB{_each_rss(run['rss_kb'])}); "
            f"agents used {agents['used']} "
            f"({agents['min_tasks']}-{agents['max_tasks']} tasks each); load "
            f"{_load(run['load_average']['before'])} -> {_load(run['load_average']['after'])}"
        )
        if "reads" in run:
            from hack.bench.scale_reads import describe

            print(f"{run['tasks']:<7}{describe(run['reads'])}")
    print()
    for name, target in result["targets"].items():
        value, met = target["value"], target["met"]
        verdict = "not run" if met is None else ("met" if met else "NOT MET")
        shown = "-" if value is None else f"{value:.2f}"
        print(f"target {name:<22} {shown:>8} <= {target['limit']:g}: {verdict}")
    before, after = result["load_average_before"], result["load_average_after"]
    print(
        f"load average (1/5/15 min): before {_load(before)}, after {_load(after)} (2 shared cores)"
    )


def _each_manager(cpu: Json) -> str:
    """With --split, each manager's CPU seconds (the row's manager column is their sum)."""
    split = {k.removeprefix("manager-"): v for k, v in cpu.items() if k.startswith("manager-")}
    return "  " + " + ".join(f"{k} {v:.2f}" for k, v in split.items()) if split else ""


def _each_rss(rss: Json) -> str:
    each = rss.get("each", {})
    return "".join(f"; {k.removeprefix('manager-')} {v['running']}" for k, v in each.items())


def _load(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser.add_argument("--sizes", type=ints, default=[100, 1000, 10000])
    parser.add_argument("--pure-sizes", type=ints, default=[100, 1000, 10000])
    parser.add_argument(
        "--upto", choices=TRANSITIONS, default=TRANSITIONS[-1], help="last transition walked"
    )
    parser.add_argument(
        "--agents", type=int, default=AGENTS, help="hollow agents (detectors), 640 tasks room each"
    )
    parser.add_argument(
        "--reads", action="store_true", help="time `o2 get tasks` and the GUI feed at each size"
    )
    parser.add_argument(
        "--no-stop", action="store_true", help="end the walk at RUNNING (no STOP_ACTIVITY row)"
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="environment and task controllers in two managers (own leases); CPU, RSS summed",
    )
    args = parser.parse_args(argv)
    for size in (*args.sizes, *args.pure_sizes):
        manifests(size, args.agents)  # a bad size fails before anything starts
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
    keep = os.environ.get("BENCH_KEEP")  # a directory to keep etcd data and logs in
    if keep:
        result = asyncio.run(_main(args, Path(keep)))
    else:
        with tempfile.TemporaryDirectory(prefix="o2-env-bench-") as tmp:
            result = asyncio.run(_main(args, Path(tmp)))
    print_tables(result)
    print(f"wrote {write_json('environments_bench', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
