"""`python -m hack.chaos --duration 60s --seed N [--hollow-agents 50] [--real-agents 2]
[--epn-agents 2]`.

Starts the stack (hack/chaos/stack.py), the observer's raw watch, the process-table watch
(hack/chaos/procwatch.py: two live processes for one Task; the leading manager's RSS and fds),
the workload (environments, an edited ComponentConfig, a GitSource on a local repository,
pilots on epn nodes switched between sync and async: hack/chaos/pilots.py), then
injects seeded faults (hack/chaos/faults.py) for `--duration`; then stops faulting, asks every
environment for RUNNING and measures how long until all are there (bounded by
`--converge-within`), checks that the last config edit was recorded and the last commit
applied and that every async node runs its pilot, exits and deletes the environments, drains
every pilot (the jobs must add up), and checks the process table. Prints a table,
writes hack/chaos/results/<seed>.json (`--results DIR` elsewhere) and exits 1 when an invariant
was violated. Every process is stopped by pid at the end and on Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

from hack.chaos import report
from hack.chaos.faults import DOWN, PAUSE, Injector, leftover_tasks
from hack.chaos.observer import Observer
from hack.chaos.pilots import Pilots
from hack.chaos.procwatch import ProcWatch
from hack.chaos.sources import Sources
from hack.chaos.stack import EPN, PREFIX, Stack
from hack.chaos.workload import Workload

WARMUP_WITHIN = 180.0


def say(line: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"{time.strftime('%H:%M:%S')} chaos: {line}", file=sys.stderr, flush=True)


def seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1:] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m hack.chaos", description=__doc__)
    p.add_argument("--duration", type=seconds, default=60.0, help="fault phase, e.g. 60s, 10m")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hollow-agents", type=int, default=50)
    p.add_argument("--real-agents", type=int, default=2)
    p.add_argument("--epn-agents", type=int, default=2, help="agents for pilots (0: none)")
    p.add_argument("--pause", type=float, default=PAUSE, help="most seconds between faults")
    p.add_argument("--down", type=float, default=DOWN[1], help="most seconds a fault lasts")
    p.add_argument("--converge-within", type=float, default=120.0, help="seconds")
    p.add_argument("--results", type=Path, default=report.RESULTS, help="directory")
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="directory for the soak's etcd data and logs, kept afterwards (default: a new one "
        "under the system's temp directory, ~300 MB a minute of soak)",
    )
    return p.parse_args(argv)


async def soak(args: argparse.Namespace, work: Path) -> report.Json:
    stack = Stack(work)
    background: list[asyncio.Task[None]] = []
    try:
        await stack.start(real=args.real_agents, hollow=args.hollow_agents, epn=args.epn_agents)
        assert stack.store is not None
        observer = Observer(stack.store, PREFIX)
        background.append(asyncio.create_task(observer.run(), name="observer watch"))
        background.append(asyncio.create_task(observer.leases(), name="lease watch"))
        procs = ProcWatch(stack, observer)
        background += [
            asyncio.create_task(procs.tasks(), name="task process sampler"),
            asyncio.create_task(procs.leader(), name="leader sampler"),
        ]
        workload = Workload(stack.store, observer, random.Random(args.seed + 1), args.hollow_agents)
        workload.plan(real_envs=2 if args.real_agents else 0, epn_nodes=args.epn_agents)
        nodes = tuple(f"{EPN}-{i}" for i in range(args.epn_agents))
        pilots = Pilots(stack.store, observer, random.Random(args.seed + 3), work / "jobs", nodes)
        if nodes:
            procs.listeners.append(pilots.check_resources)
            background.append(asyncio.create_task(pilots.watch_jobs(), name="jobs watch"))
            await pilots.setup()
        watches = list(background)  # a failure of any is a violation
        sources = Sources(stack.store, observer, random.Random(args.seed + 2), work / "repo")
        await sources.setup()
        await workload.setup()
        warm = await workload.settle("DEPLOYED", WARMUP_WITHIN)
        say(f"warm-up: {warm} s; faults for {args.duration:g} s")
        driving = [asyncio.create_task(workload.drive(n)) for n in workload.specs]
        driving.append(asyncio.create_task(sources.drive()))
        if nodes:
            driving.append(asyncio.create_task(pilots.drive()))
        background += driving
        injector = Injector(
            stack, observer, random.Random(args.seed), pause=args.pause, longest=args.down
        )
        await injector.run(until=time.monotonic() + args.duration)
        workload.stopping = pilots.stopping = True
        await cancel(driving)
        say(f"faults stopped after {len(injector.faults)}; converging to RUNNING")
        converged, _ = await asyncio.gather(  # each with the whole bound
            workload.settle("RUNNING", args.converge_within),
            sources.check(args.converge_within),
        )
        if nodes:
            pilots.up_after = await pilots.pilots_up(args.converge_within)
        settled = observer.describe()  # which one stalled, for the violation
        stalled = observer.stalled() if converged is None else {}
        say(f"converged: {converged} s; {settled}; tearing down")
        if not await observer.wait(lambda: not observer.orphans(), within=args.converge_within):
            observer.violate(f"tasks of deleted environments left: {observer.orphans()}")
        injector.measure()
        leftovers = await teardown(stack, workload, pilots, within=args.converge_within)
        for problem in watch_failures(watches):  # the watches and the process-table samplers
            observer.violate(problem)
        await cancel(background)  # before the store closes under their calls
        await stack.close()  # the cluster gone too: nothing of the soak may be left
        leftovers += leftover_tasks(observer.task_pids)
        if converged is None:
            observer.violate(
                f"not every environment RUNNING within {args.converge_within} s: {settled}"
            )
        if leftovers:
            observer.violate(f"task processes left: {sorted(set(leftovers))}")
        return {
            "seed": args.seed,
            "durationSeconds": args.duration,
            "hollowAgents": args.hollow_agents,
            "realAgents": args.real_agents,
            "warmupSeconds": warm,
            "faults_total": len(injector.faults),
            "faults_by_kind": report.by_kind(injector.faults),
            "skipped": injector.skipped,
            "left_out": injector.left_out,
            "recovery": report.recovery(injector.faults),
            "faults": report.faults_json(injector.faults),
            "violations": observer.violations,
            "transitions_completed": len(observer.completions),
            "workload": {
                **{
                    k: getattr(workload, k)
                    for k in (
                        "steps",
                        "slow_steps",
                        "recoveries",
                        "recreations",
                        "detector_changes",
                        "scalings",
                    )
                },
                **sources.json(),
            },
            "processes": procs.json(),
            "pilots": pilots.json() if nodes else None,
            "convergence_seconds": converged,
            "convergence_bound": args.converge_within,
            "stalled": stalled,
            "fence_rejections": stack.fence_rejections(),
            "leftover_tasks": len(set(leftovers)),
            "task_pids_seen": len(observer.task_pids),
            "watch_events": observer.events,
            "work_dir": str(work),
        }
    finally:
        await cancel(background)
        await stack.close()


async def teardown(stack: Stack, workload: Workload, pilots: Pilots, *, within: float) -> list[int]:
    """Exit and delete every environment, drain every pilot, wait for the Tasks to go: their
    processes must too."""
    assert stack.store is not None
    store, observer = stack.store, workload.observer
    await workload.settle("DONE", within)
    for name in workload.specs:
        with contextlib.suppress(Exception):
            await store.delete(type(workload.specs[name]), name)
    if pilots.nodes:
        await pilots.drain_all(within)
    if not await observer.wait(lambda: not observer.tasks, within=within):
        observer.violate(
            f"Tasks left after every environment was deleted: {sorted(observer.tasks)}"
        )
    deadline = time.monotonic() + 30
    # the process table has no event to await: poll it until the executors have reaped them
    while leftover_tasks(observer.task_pids) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    return leftover_tasks(observer.task_pids)


def watch_failures(watches: list[asyncio.Task[None]]) -> list[str]:
    """The watches that ended before the soak stopped them: each stopped watching, so what it
    checks went unchecked. One may end cancelled without being cancelled (gRPC raises
    CancelledError in a call whose channel was closed), which `Task.exception()` re-raises."""
    problems = []
    for watch in watches:
        if not watch.done():
            continue
        if watch.cancelled():
            problems.append(f"{watch.get_name()} stopped: cancelled")
        elif (error := watch.exception()) is not None:
            problems.append(f"{watch.get_name()} failed: {error!r}")
    return problems


def dump_tasks() -> None:
    for task in asyncio.all_tasks():
        task.print_stack(limit=6, file=sys.stderr)
    sys.stderr.flush()


async def cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def amain(args: argparse.Namespace) -> int:
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)  # where is a stuck soak waiting?
    if args.work is not None:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix=f"o2-chaos-{args.seed}-"))
    result = await soak(args, work)
    path = report.write(result, args.results)
    print(report.table(result))
    print(f"results: {path} (logs: {work})")
    return 1 if result["violations"] else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(amain(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
