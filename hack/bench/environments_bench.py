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
BENCH_PROFILE=1 runs each manager under cProfile (<work>/size-N/manager.prof), BENCH_KEEP=dir
keeps etcd data and logs. Prints tables and the targets, writes
hack/bench/results/environments_bench.json. The machine is a shared 2-core box: numbers are
noisy, compare ratios from one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from controller.environments.expand import expand
from controller.environments.plan import plan
from controller.environments.taskset import properties_digest
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.labels import ENV_LABEL
from hack.bench.floor import Floor, client_for, measure_floor, print_floor, same_writes, write_json
from hack.bench.stack import start_localmesos, start_managers, wait_subscribed
from store.api import Store

Json = dict[str, Any]
WALK = (
    ("DEPLOY", "DEPLOYED"),
    ("CONFIGURE", "CONFIGURED"),
    ("START_ACTIVITY", "RUNNING"),
    ("STOP_ACTIVITY", "CONFIGURED"),
)
TRANSITIONS = tuple(event for event, _ in WALK)
AGENTS = 50
CONTROLLERS = (
    "controller.tasks.controller:TaskReconciler",
    "controller.environments.controller:EnvironmentReconciler",
)
SPLIT = {"manager-environments": CONTROLLERS[1:], "manager-tasks": CONTROLLERS[:1]}
"""--split: the environment and the task controller in two managers, each with its own lease;
the rows' manager CPU and RSS are the two processes' sums (each is in `cpu_seconds`, `rss_kb`)."""
SETTLE = 1.0
"""Seconds of quiet after each transition, so its trailing writes (events) count in its row."""
TARGETS = {
    "start_1000_x_floor_a": 3.0,
    "start_10000_x_1000": 12.0,
    "rss_kb_per_task_largest": 25.0,
    "deploy_50000_seconds": 30.0,
    "start_50000_seconds": 12.0,
}


def manifests(size: int, agents: int = AGENTS) -> tuple[list[TaskClass], Workflow, Environment]:
    """The shape for `size` tasks over `agents` detectors (one per hollow agent)."""
    if size % (2 * agents):
        raise ValueError(f"--sizes: {size} is not a multiple of {2 * agents} (2 x --agents)")
    classes = [
        TaskClass.model_validate(
            {
                "kind": "TaskClass",
                "metadata": {"name": name},
                "spec": {
                    "control": "direct",
                    "command": {"value": "o2-sample-task", "arguments": ["--role", name]},
                    "wants": {"cpus": 0.1, "memory": 64, "ports": 1},
                    "defaults": {"rate": "100"},
                    "properties": {"rate": "{{ rate }}", "detector": "{{ detector }}"},
                },
            }
        )
        for name in ("readout", "stfbuilder")
    ]
    replicas = "{{ replicas }}"
    workflow = Workflow.model_validate(
        {
            "kind": "Workflow",
            "metadata": {"name": "bench"},
            "spec": {
                "roles": [
                    {
                        "name": "flp-{{ detector }}",
                        "for": {"range": "{{ detectors }}", "var": "detector"},
                        "constraints": [{"attribute": "detector", "value": "{{ detector }}"}],
                        "roles": [
                            {"name": "readout", "task": {"class": "readout"}, "replicas": replicas},
                            {"name": "stfb", "task": {"class": "stfbuilder"}, "replicas": replicas},
                        ],
                    },
                    {
                        "name": "sor",
                        "call": {
                            "command": ["echo", "start-of-run", "{{ run_number }}"],
                            "trigger": "before_START_ACTIVITY+10",
                            "timeout": "10s",
                            "critical": True,
                        },
                    },
                ]
            },
        }
    )
    env_vars = {
        "detectors": json.dumps(_detectors(agents)),
        "replicas": str(size // (2 * agents)),
    }
    env = Environment.model_validate(
        {
            "kind": "Environment",
            "metadata": {"name": f"bench-{size}"},
            "spec": {"workflow": "bench", "state": "DEPLOYED", "vars": env_vars},
        }
    )
    return classes, workflow, env


def _detectors(agents: int = AGENTS) -> list[str]:
    return [f"d{i:02d}" for i in range(agents)]


def agents_yaml(agents: int = AGENTS) -> str:
    """Hollow agents, one per detector, each with room for 640 tasks (cpus 64 at 0.1 each):
    the default 50 hold 10,000 tasks at 200 each, 500 hold 50,000 at 100 each."""
    return "".join(
        f"- {{hostname: flp-{d}, hollow: true, attributes: {{detector: {d}}},\n"
        f'   resources: {{cpus: 64, mem: 65536, ports: "[31000-31999]"}}}}\n'
        for d in _detectors(agents)
    )


def _agents_file(work: Path, agents: int = AGENTS) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "agents.yaml"
    path.write_text(agents_yaml(agents))
    return path


# ---- part 1: pure ---------------------------------------------------------------------------


def pure(size: int, agents: int = AGENTS) -> Json:
    taskclasses, workflow, env = manifests(size, agents)
    classes = {c.name: c for c in taskclasses}
    expand_times, plan_times = [], []
    for _ in range(3):
        started = time.perf_counter()
        expansion = expand(env, workflow, classes, run_number=None)
        expand_times.append(time.perf_counter() - started)
    tasks = [_running(t.spec, t.name, env=env.name) for t in expansion.tasks.values()]
    status = env.status.model_copy(update={"state": "RUNNING", "run_number": 1})
    spec = env.spec.model_copy(update={"state": "RUNNING"})
    steady = env.model_copy(update={"spec": spec, "status": status})
    for _ in range(3):
        started = time.perf_counter()
        plan(steady, workflow, classes, tasks, now=_now(), expansion=expansion)
        plan_times.append(time.perf_counter() - started)
    return {
        "tasks": size,
        "expand_ms": statistics.median(expand_times) * 1000,
        "plan_ms": statistics.median(plan_times) * 1000,
    }


def _running(spec: Any, name: str, *, env: str) -> Task:
    """An owned task of `env`, RUNNING with its desired properties: nothing to change."""
    from crds.meta import ObjectMeta

    spec = spec.model_copy(update={"state": "RUNNING", "run_number": 1, "environment": env})
    task = Task(metadata=ObjectMeta(name=name, labels={ENV_LABEL: env}), spec=spec)
    status = task.status.model_copy(
        update={
            "phase": "Running",
            "state": "RUNNING",
            "configured_properties": properties_digest(spec.properties),
        }
    )
    return task.model_copy(update={"status": status})


def _now() -> Any:
    from crds.meta import utcnow

    return utcnow()


# ---- part 2: the real stack -------------------------------------------------------------------


async def on_stack(etcd: Any, size: int, work: Path, options: argparse.Namespace) -> Json:
    """One size on a fresh cluster and manager (own prefix); the floor for 2N writes after;
    with --reads, `o2 get tasks` and the GUI feed timed over the tasks (hack.bench.scale_reads)."""
    from store.config import StoreConfig, open_store
    from tests.stack import stop_by_pid

    agents = _agents_file(work, options.agents)
    prefix = f"/o2bench-env-{size}"
    load_before = list(os.getloadavg())
    procs = []
    try:
        mesos, address = await start_localmesos(work, "--agents-file", str(agents))
        procs.append(mesos)
        groups = SPLIT if options.split else {"manager": CONTROLLERS}
        managers = start_managers(
            work, groups, etcd=etcd.endpoint, prefix=prefix, mesos=address, extra=timeouts(size)
        )
        procs.extend(m.proc for m in managers.values())
        store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=prefix))
        try:
            pids = {name: m.pid for name, m in managers.items()}
            pids |= {"cluster": mesos.pid, "etcd": etcd.pid}
            run = await walk(
                store,
                size,
                pids=pids,
                metrics=etcd.metrics_port,
                agents=options.agents,
                upto="START_ACTIVITY" if options.no_stop else options.upto,
            )
            run["agents"] = await spread(store)
            if options.reads:
                from hack.bench.scale_reads import measure

                run["reads"] = await measure(etcd.endpoint, prefix, tasks=size)
        finally:
            await store.close()
    finally:
        for proc in reversed(procs):
            stop_by_pid(proc)
    run["floor_writes"] = 2 * size
    run["floor_a_seconds"], run["floor_b_seconds"] = await same_writes(etcd.endpoint, 2 * size)
    async with client_for(etcd.endpoint) as client:
        await client.delete_prefix(prefix.encode())
    run["load_average"] = {"before": load_before, "after": list(os.getloadavg())}
    return run


def timeouts(size: int) -> tuple[str, ...]:
    """The manager's transition timeouts and lease for `size` tasks: its defaults (DEPLOY 90 s,
    others 120 s, a 15 s lease) up to 10,000 tasks; beyond, 50 ms per task and a 600 s lease,
    so a slow run on a crowded machine is measured, not failed (at 50,000 tasks on the 2-core
    machine under load 15-100, DEPLOY stalled the manager's loop past the renew deadline of a
    15 s lease, then of a 120 s one: ~80 s without a log line, etcd calls timing out)."""
    if size <= 10_000:
        return ()
    limit = f"{size / 20:g}"
    return ("--deploy-timeout", limit, "--transition-timeout", limit, "--lease-ttl", "600")


async def walk(
    store: Store,
    size: int,
    *,
    pids: dict[str, int],
    metrics: int,
    agents: int = AGENTS,
    upto: str = WALK[-1][0],
) -> Json:
    """DEPLOY, CONFIGURE, START_ACTIVITY, STOP_ACTIVITY of one environment (up to and with
    `upto`), timed; CPU seconds of each process in `pids` per transition. The managers are the
    processes named manager*: their CPU and RSS are summed (each is kept too)."""
    managers = {name: pid for name, pid in pids.items() if name.startswith("manager")}
    classes, workflow, env = manifests(size, agents)
    await wait_subscribed(store)
    for obj in (*classes, workflow):
        await store.create(obj)
    await asyncio.sleep(SETTLE)  # the manager's caches take them in
    each = {name: {"before": vmrss_kb(pid)} for name, pid in managers.items()}
    _memtrace(managers)
    rows: dict[str, Json] = {}
    for event, state in WALK:
        puts = etcd_counters(metrics)
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        spies = [_py_spy(pid, event, size, name) for name, pid in managers.items()]
        started = time.perf_counter()
        if event == "DEPLOY":
            await store.create(env)
        else:
            await _set_state(store, env.name, state)
        final = await _reached(store, env.name, state, within=120 + size * 0.05)
        wall = time.perf_counter() - started
        for spy in spies:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
        if state == "RUNNING" or (event == upto and "running" not in each[next(iter(each))]):
            for name, pid in managers.items():
                each[name]["running"] = vmrss_kb(pid)
            _memtrace(managers)
        await asyncio.sleep(SETTLE)
        cpu = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
        counted = {k: v - puts[k] for k, v in etcd_counters(metrics).items()}
        history = [h for h in final.status.history if h.event == event]
        rows[event] = {
            "wall_seconds": wall,
            "history_seconds": history[-1].duration_seconds if history else None,
            "etcd_puts": counted["put"],
            "etcd_deletes": counted["delete"],
            "manager_cpu_seconds": sum(cpu[name] for name in managers),
            "cpu_seconds": cpu,
        }
        if event == upto:
            break
    rss = {when: sum(m[when] for m in each.values()) for when in ("before", "running")}
    return {
        "tasks": size,
        "transitions": rows,
        "rss_kb": {**rss, **({"each": each} if len(each) > 1 else {})},
        "rss_growth_kb_per_task": (rss["running"] - rss["before"]) / size,
    }


def _memtrace(managers: dict[str, int]) -> None:
    """BENCH_TRACEMALLOC=1: each manager (under hack.bench.memtrace) dumps a snapshot now."""
    if os.environ.get("BENCH_TRACEMALLOC"):
        for pid in managers.values():
            os.kill(pid, signal.SIGUSR2)


def _py_spy(pid: int, event: str, size: int, name: str) -> subprocess.Popen[bytes] | None:
    """BENCH_PYSPY=<dir>: sample the manager with py-spy during each transition, into
    <dir>/<size>-<event>.txt (raw folded stacks; <size>-<event>-<name>.txt for each of split
    managers); py-spy is a developer tool, not installed by `make venv`."""
    out = os.environ.get("BENCH_PYSPY")
    if not out:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    suffix = "" if name == "manager" else f"-{name}"
    target = Path(out) / f"{size}-{event}{suffix}.txt"
    cmd = [str(spy), "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
    return subprocess.Popen(
        [*cmd, "-o", str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _reached(store: Store, name: str, state: str, *, within: float) -> Environment:
    """The environment once its status shows `state` with no transition in progress (list,
    then watch); RuntimeError when it went to ERROR instead."""
    from tests.stack import wait_for

    def check(env: Environment | None) -> bool:
        if env is None:
            return False
        progress = env.status.transition
        if env.status.state == "ERROR" or (progress is not None and progress.event == "GO_ERROR"):
            raise RuntimeError(f"environment/{name} is going to ERROR: {env.status.message}")
        return env.status.state == state and progress is None

    found = await wait_for(store, Environment, name, check, within=within)
    assert found is not None
    return found


async def _set_state(store: Store, name: str, state: str) -> None:
    env = await store.get(Environment, name)
    await store.update(
        env.model_copy(update={"spec": env.spec.model_copy(update={"state": state})})
    )


async def spread(store: Store) -> Json:
    """How the Tasks spread over the agents (tasks per hostname: agents used, min, max)."""
    listed = await store.list(Task)
    per_host = Counter(t.status.hostname or "(none)" for t in listed.items)
    return {
        "used": len(per_host),
        "min_tasks": min(per_host.values(), default=0),
        "max_tasks": max(per_host.values(), default=0),
    }


def vmrss_kb(pid: int) -> int:
    """VmRSS of process `pid`, in KB (/proc/<pid>/status)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return int(match.group(1))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far (/proc/<pid>/stat): the
    manager's own cost, steadier than wall time on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def etcd_counters(metrics_port: int) -> dict[str, int]:
    """etcd's own counts of puts and deletes (every op of every txn), from its /metrics."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    counts = {}
    for op in ("put", "delete"):
        match = re.search(rf"^etcd_mvcc_{op}_total (\S+)$", text, re.MULTILINE)
        counts[op] = int(float(match.group(1))) if match else -1
    return counts


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
