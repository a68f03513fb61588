"""Real processes: N `o2-sample-task` processes on 4 real agents of the local cluster, to RUNNING.

    .venv/bin/python -m hack.bench.real_tasks_bench [--tasks 1000] [--agents 4]

The stack, nothing simulated: a private etcd (`--unsafe-no-fsync`), the local cluster with real
agents (`python -m localmesos --agents-file`: each runs the o2 executor, which spawns every task
as its own process) and the controller manager (task and environment controllers). One
environment of the sample readout workflow's shape: an `flp-{{ detector }}` role per agent,
pinned by a `detector` constraint, with N/agents `readout` replicas of the sample TaskClass
(`o2-sample-task --detector D`, control direct). It goes DEPLOY, CONFIGURE, START_ACTIVITY, each
timed wall-clock from the spec write until the environment shows the state (as
environments_bench). Per row: the manager's CPU seconds, the executors' (the o2-executor
processes under the cluster, from /proc/<pid>/stat) and the tasks' own (their interpreters'
start-up dominates DEPLOY); the executors' CPU per task is the figure the issue asks for, also
printed without the executors' own start (their imports, measured apart: a fixed cost per agent
that the DEPLOY row holds). The
machine's load average is printed before and after.

Memory: before anything starts, a few sample tasks are started and measured
(hack.bench.task_memory: private dirty memory plus a share of the file pages, and a margin for
growth while running); the benchmark refuses to start when N of them would take more than
MEMORY_SHARE of MemAvailable (say a smaller --tasks); without --tasks it runs 1,000 or, saying
so, as many as fit. Once RUNNING, the N processes' own PSS and private memory are reported.
Phases (hack.bench.real_tasks_phases): per transition, when all N processes were spawned
(DEPLOY) and when all N Tasks showed the OCC state, before the environment did.
Clean-up: the environment is deleted and its tasks awaited gone; the manager and the
cluster (which kills its executors) are stopped by pid; then every executor and task pid seen
is checked and any left is killed by pid (counted in the result). Writes
hack/bench/results/real_tasks_bench.json. A shared 2-core machine: a noisy, single run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from crds.kinds.environment import Environment
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from hack.bench import task_memory
from hack.bench.environments_shape import CONTROLLERS
from hack.bench.environments_stack import _reached, _set_state, cpu_seconds
from hack.bench.floor import write_json
from hack.bench.real_tasks_phases import Phases, phase_text
from hack.bench.real_tasks_procs import Seen, executor_start_cpu, kill_left, total_cpu
from hack.bench.stack import start_localmesos, start_manager, wait_subscribed
from store.api import Store

Json = dict[str, Any]
GC = "controller.gc:GarbageCollector"
"""Deletes the Tasks of the deleted environment (their ownerReferences) at clean-up."""
WALK = (("DEPLOY", "DEPLOYED"), ("CONFIGURE", "CONFIGURED"), ("START_ACTIVITY", "RUNNING"))
MEMORY_SHARE = 0.8
"""Of MemAvailable, what the N tasks may take (their size is measured, not guessed: the rest is
for the stack itself, etcd, the manager and the cluster, ~1 GB, and for other processes)."""
STARTUP_TIMEOUT = "600"
"""Seconds each task has to answer OCC (the executors inherit the cluster's environment): a
few hundred interpreters starting at once on 2 shared cores took longer than the default 30."""
LEASE = ("--lease-ttl", "600")
"""The manager's lease: under the load of the spawning processes (load average 80 on the 2
cores) a 15 s lease was lost mid-DEPLOY."""
BASE_PORT = 61000
"""The agents' port ranges, one after the other from here (each task takes one port, its OCC
port): above Linux's ephemeral range (32768-60999, where servers bound to port 0 land) and the
local clusters' slices of the tests (20000-32699). Checked free before the run."""


def manifests(tasks: int, agents: int) -> tuple[TaskClass, Workflow, Environment]:
    if tasks % agents:
        raise ValueError(f"--tasks {tasks} is not a multiple of --agents {agents}")
    taskclass = TaskClass.model_validate(
        {
            "kind": "TaskClass",
            "metadata": {"name": "readout"},
            "spec": {
                "control": "direct",
                "command": {"value": "o2-sample-task", "arguments": ["--detector", "{{ det }}"]},
                "wants": {"cpus": 0.1, "memory": 64, "ports": 1},
                "properties": {"detector": "{{ det }}"},
            },
        }
    )
    workflow = Workflow.model_validate(
        {
            "kind": "Workflow",
            "metadata": {"name": "real"},
            "spec": {
                "roles": [
                    {
                        "name": "flp-{{ det }}",
                        "for": {"range": "{{ detectors }}", "var": "det"},
                        "constraints": [{"attribute": "detector", "value": "{{ det }}"}],
                        "roles": [
                            {
                                "name": "readout",
                                "task": {"class": "readout"},
                                "replicas": "{{ replicas }}",
                            }
                        ],
                    }
                ]
            },
        }
    )
    env_vars = {"detectors": json.dumps(_detectors(agents)), "replicas": str(tasks // agents)}
    env = Environment.model_validate(
        {
            "kind": "Environment",
            "metadata": {"name": f"real-{tasks}"},
            "spec": {"workflow": "real", "state": "DEPLOYED", "vars": env_vars},
        }
    )
    return taskclass, workflow, env


def _detectors(agents: int) -> list[str]:
    return [f"d{i}" for i in range(agents)]


def _width(tasks: int, agents: int) -> int:
    """Ports per agent: two per task (its `wants.ports` and the OCC port the controller adds),
    +10%."""
    per_agent = 2 * (tasks // agents)
    return per_agent + per_agent // 10 + 10


def ports_check(tasks: int, agents: int) -> None:
    """SystemExit naming the first port of the agents' ranges already taken on this host."""
    from store.embedded import port_is_free

    for port in range(BASE_PORT, BASE_PORT + agents * _width(tasks, agents)):
        if not port_is_free(port):
            raise SystemExit(f"real_tasks_bench: port {port} (agents' ports) is in use")


def agents_yaml(tasks: int, agents: int) -> str:
    """Real agents, one per detector, each with ports for its share of the tasks (_width)."""
    width = _width(tasks, agents)
    return "".join(
        f"- {{hostname: flp-{d}, attributes: {{detector: {d}}},\n"
        f"   resources: {{cpus: 200, mem: 200000, ports: "
        f'"[{BASE_PORT + i * width}-{BASE_PORT + (i + 1) * width - 1}]"}}}}\n'
        for i, d in enumerate(_detectors(agents))
    )


WANTED = 1000
"""The issue's figure: 1,000 sample tasks on 4 real agents."""


def available_mb() -> int:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    return next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable")) // 1024


def fitting(wanted: int, agents: int, measured: Json) -> int:
    """`wanted`, or the most tasks (a multiple of `agents`) that pass `memory_check`."""
    each, available = measured["mb_per_task"], available_mb()
    most = int(MEMORY_SHARE * available / each) // agents * agents
    if most >= wanted:
        return wanted
    print(
        f"real_tasks_bench: {wanted} sample tasks would not fit in memory here; running {most} "
        f"(~{each:.1f} MB each, measured; {MEMORY_SHARE:.0%} of {available} MB available)"
    )
    return max(most, agents)


def memory_check(tasks: int, measured: Json) -> Json:
    """MemAvailable against N sample tasks of the measured size; SystemExit when they would not
    fit."""
    each, available = measured["mb_per_task"], available_mb()
    need_mb = round(tasks * each)
    if need_mb > MEMORY_SHARE * available:
        raise SystemExit(
            f"real_tasks_bench: {tasks} sample tasks need ~{need_mb} MB ({each:.1f} MB each, "
            f"measured), more than {MEMORY_SHARE:.0%} of the {available} MB available: use "
            "fewer --tasks"
        )
    return {**measured, "need_mb": need_mb, "available_mb": available}


# ---- the run --------------------------------------------------------------------------------


async def walk(store: Store, tasks: int, agents: int, *, manager: int, seen: Seen) -> Json:
    """DEPLOY, CONFIGURE, START_ACTIVITY, each timed, with the CPU each process kind spent."""
    taskclass, workflow, env = manifests(tasks, agents)
    await wait_subscribed(store)
    for obj in (taskclass, workflow):
        await store.create(obj)
    await asyncio.sleep(1.0)  # the manager's caches take them in
    rows: dict[str, Json] = {}
    for event, state in WALK:
        executors, running = seen.look()
        cpu = (cpu_seconds(manager), total_cpu(executors), total_cpu(running))
        started = time.perf_counter()
        phases = _phases(store, tasks, event, seen)
        sampling = asyncio.get_running_loop().create_task(phases.run())
        if event == "DEPLOY":
            await store.create(env)
        else:
            await _set_state(store, env.name, state)
        await _reached(store, env.name, state, within=300 + tasks * 2.0)
        wall = time.perf_counter() - started
        sampling.cancel()
        await phases.finish(wall)
        executors, running_after = seen.look()
        rows[event] = {
            "wall_seconds": wall,
            "manager_cpu_seconds": cpu_seconds(manager) - cpu[0],
            "executors_cpu_seconds": total_cpu(executors) - cpu[1],
            "tasks_cpu_seconds": total_cpu(running_after) - cpu[2],
            "executors": len(executors),
            "task_processes": len(running_after),
            "load_average": list(os.getloadavg()),
            "phases": phases.marks,
        }
    listed = await store.list(Task)
    phase_names = sorted({t.status.phase for t in listed.items})
    census = await asyncio.to_thread(task_memory.census, running_after, executors)
    return {
        "transitions": rows,
        "tasks_listed": len(listed.items),
        "phases": phase_names,
        "census": census,
    }


def _phases(store: Store, tasks: int, event: str, seen: Seen) -> Phases:
    """The sampler of one transition: processes spawned (DEPLOY) and Tasks answering."""
    answered = {"DEPLOY": "STANDBY", "CONFIGURE": "CONFIGURED", "START_ACTIVITY": "RUNNING"}
    count = (lambda: len(seen.look()[1])) if event == "DEPLOY" else None
    return Phases(store, tasks=tasks, state=answered[event], count_processes=count)


async def teardown(store: Store, name: str, *, within: float) -> Json:
    """Delete the environment (the garbage collector deletes its Tasks, the task controller
    kills their processes); seconds until no Task is left, or how many were left at `within`."""
    started = time.perf_counter()
    await store.delete(Environment, name)
    left = -1
    try:
        async with asyncio.timeout(within):
            while left:
                left = len((await store.list(Task)).items)
                await asyncio.sleep(1.0 if left else 0)
    except TimeoutError:
        pass  # the cluster's stop kills what is left; counted below
    return {"seconds": time.perf_counter() - started, "tasks_left": left}


async def run(args: argparse.Namespace, work: Path) -> Json:
    from store.config import StoreConfig, open_store
    from store.embedded import EmbeddedEtcd, free_port
    from tests.stack import stop_by_pid

    memory = memory_check(args.tasks, args.measured)
    result: Json = {"tasks": args.tasks, "agents": args.agents, "memory": memory}
    ports_check(args.tasks, args.agents)
    result["load_average_before"] = list(os.getloadavg())
    result["executor_start_cpu_seconds"] = executor_start_cpu()
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("O2_EXECUTOR_STARTUP_TIMEOUT", STARTUP_TIMEOUT)
    (work / "agents.yaml").write_text(agents_yaml(args.tasks, args.agents))
    limit = f"{max(120.0, args.tasks * 2.0):g}"
    async with EmbeddedEtcd(
        work / "etcd", free_port(), free_port(), extra_args=("--unsafe-no-fsync",)
    ) as etcd:
        mesos, address = await start_localmesos(work, "--agents-file", str(work / "agents.yaml"))
        seen = Seen(mesos.pid)
        manager = None
        try:
            manager = start_manager(
                work,
                etcd=etcd.endpoint,
                prefix="/o2real",
                mesos=address,
                controllers=(*CONTROLLERS, GC),
                extra=("--deploy-timeout", limit, "--transition-timeout", limit, *LEASE),
            )
            store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix="/o2real"))
            try:
                result |= await walk(store, args.tasks, args.agents, manager=manager.pid, seen=seen)
                name = manifests(args.tasks, args.agents)[2].name
                result["teardown"] = await teardown(store, name, within=float(limit))
            finally:
                await store.close()
        finally:
            if manager is not None:
                stop_by_pid(manager.proc)
            stop_by_pid(mesos)
            await asyncio.sleep(1.0)
            result["processes_seen"] = len(seen.pids)
            result["processes_killed_after_stop"] = kill_left(seen.pids)
    result["load_average_after"] = list(os.getloadavg())
    return result


def print_table(result: Json) -> None:
    tasks = result["tasks"]
    memory = result["memory"]
    print(
        f"{tasks} o2-sample-task processes on {result['agents']} real agents (memory: need "
        f"~{memory['need_mb']} of {memory['available_mb']} MB, {memory['mb_per_task']:.1f} MB "
        f"per task: probe {memory['probe_mb_per_task']:.1f} MB + {task_memory.GROWTH_MB:g})"
    )
    print(
        f"{'transition':<16}{'wall s':>8}{'mgr cpu s':>10}{'exec cpu s':>11}"
        f"{'exec ms/task':>13}{'tasks cpu s':>12}{'executors':>10}{'procs':>7}  load"
    )
    for event, row in result["transitions"].items():
        print(
            f"{event:<16}{row['wall_seconds']:>8.2f}{row['manager_cpu_seconds']:>10.2f}"
            f"{row['executors_cpu_seconds']:>11.2f}"
            f"{1000 * row['executors_cpu_seconds'] / tasks:>13.2f}"
            f"{row['tasks_cpu_seconds']:>12.2f}{row['executors']:>10}{row['task_processes']:>7}"
            f"  {'/'.join(f'{v:.2f}' for v in row['load_average'])}"
        )
    rows = result["transitions"].values()
    executor_cpu = sum(r["executors_cpu_seconds"] for r in rows)
    start = result["executor_start_cpu_seconds"]
    supervising = executor_cpu - start * result["agents"]
    print(
        f"executors' CPU to RUNNING: {executor_cpu:.2f} s, {1000 * executor_cpu / tasks:.2f} ms "
        f"per task; without their own start ({result['agents']} x {start:.2f} s, measured "
        f"apart): {1000 * supervising / tasks:.2f} ms per task"
    )
    print(
        f"tasks listed {result['tasks_listed']} ({', '.join(result['phases'])}); "
        f"teardown {result['teardown']['seconds']:.1f} s ({result['teardown']['tasks_left']} "
        f"tasks left); processes seen "
        f"{result['processes_seen']}, killed after the cluster stopped "
        f"{result['processes_killed_after_stop']}"
    )
    census = result["census"]
    if census["processes"]:
        print(
            f"per task process once RUNNING ({census['processes']}): PSS "
            f"{census['pss_kb'] / 1024:.1f} MB, private dirty "
            f"{census['private_dirty_kb'] / 1024:.1f} MB, RSS {census['rss_kb'] / 1024:.1f} MB; "
            f"executors' RSS per task {census['executors_rss_kb_per_task'] / 1024:.2f} MB"
        )
    print("phases (seconds from the spec write):")
    for event, row in result["transitions"].items():
        print(f"  {phase_text(event, row)}")
    before, after = result["load_average_before"], result["load_average_after"]
    print(f"load average before {before}, after {after} (2 shared cores)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--tasks",
        type=int,
        default=None,
        help=f"sample tasks (default {WANTED}, or as many as fit in memory, said so)",
    )
    parser.add_argument("--agents", type=int, default=4)
    args = parser.parse_args(argv)
    if args.tasks is not None:
        manifests(args.tasks, args.agents)  # a bad shape fails before anything starts
    args.measured = task_memory.probe(args.tasks or WANTED)
    if args.tasks is None:
        args.tasks = fitting(WANTED, args.agents, args.measured)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
    keep = os.environ.get("BENCH_KEEP")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run(args, Path(keep)))
    else:
        with tempfile.TemporaryDirectory(prefix="o2-real-bench-") as tmp:
            result = asyncio.run(run(args, Path(tmp)))
    print_table(result)
    print(f"wrote {write_json('real_tasks_bench', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
