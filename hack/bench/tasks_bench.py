"""Task controller benchmark on hollow agents: 1,000 Tasks from creation to Running/STANDBY,
then one desired-state change (STANDBY -> CONFIGURED) over all of them until every status shows
it; each next to the etcd floor measured in the same run (DESIGN §7).

    .venv/bin/python -m hack.bench.tasks_bench [--tasks 1000] [--agents 10]

Real etcd (private, loopback), the real local cluster (`python -m localmesos`, hollow agents
answering o2's framework messages through `O2Responder` below) and the real controller manager
(`python -m controller`, task controller only), all as subprocesses. Prints a table and writes
hack/bench/results/tasks_bench.json. The machine is a shared 2-core box: numbers are noisy;
the ratios to the floor measured in the same run are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mesosapi.o2messages import (
    ControlRequest,
    ControlResults,
    ReportRequest,
    TaskReport,
    TaskStatusData,
    TaskTableReport,
    TransitionResult,
    decode_to_executor,
    encode,
)

_AFTER = {"CONFIGURE": "CONFIGURED", "START": "RUNNING", "STOP": "CONFIGURED", "RESET": "STANDBY"}
_AFTER_EXIT = "DONE"
_pids = itertools.count(10_000)


class O2Responder:
    """A hollow o2 executor: tasks reach STANDBY at once, transitions succeed at once, the task
    table is answered on request. Loaded inside the local cluster with --hollow-responder."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self.done: dict[str, TransitionResult] = {}
        self.sequence = 0

    def on_launch(self, ctx: Any, task: dict[str, Any]) -> None:
        task_id = str(task["task_id"]["value"])
        self.states[task_id] = "STANDBY"
        self.pids[task_id] = next(_pids)
        data = TaskStatusData(state="STANDBY", pid=self.pids[task_id])
        ctx.update(task_id, "TASK_RUNNING", data=encode(data))

    def on_kill(self, ctx: Any, task_id: str) -> None:
        if task_id in self.states:
            data = TaskStatusData(state="DONE", pid=self.pids.get(task_id), exit_code=0)
            self.states.pop(task_id, None)
            ctx.update(task_id, "TASK_KILLED", data=encode(data))

    def on_message(self, ctx: Any, data: bytes) -> None:
        message = decode_to_executor(data)
        if isinstance(message, ReportRequest):
            ctx.send_message(encode(self._table()))
        elif isinstance(message, ControlRequest):
            results = tuple(self._transition(item) for item in message.items)
            ctx.send_message(encode(ControlResults(request_id=message.request_id, results=results)))

    def _transition(self, item: Any) -> TransitionResult:
        if item.transition_id in self.done:
            return self.done[item.transition_id]
        state = self.states.get(item.task_id)
        ok = state is not None and (not item.src_state or item.src_state == state)
        if ok:
            state = _AFTER_EXIT if item.event == "EXIT" else _AFTER.get(item.event, state)
            self.states[item.task_id] = state or ""
        result = TransitionResult(
            task_id=item.task_id,
            transition_id=item.transition_id,
            ok=ok,
            state=state or "",
            message="" if ok else f"not in {item.src_state}",
        )
        self.done[item.transition_id] = result
        return result

    def _table(self) -> TaskTableReport:
        self.sequence += 1
        rows = tuple(
            TaskReport(task_id=t, control="occ", phase="running", state=s, pid=self.pids.get(t))
            for t, s in self.states.items()
        )
        return TaskTableReport(sequence=self.sequence, tasks=rows)

    def on_shutdown(self, ctx: Any) -> None:
        for task_id in list(self.states):
            ctx.update(task_id, "TASK_KILLED", after=0)
        ctx.call_later(0, ctx.exit, 0)


# ---- the benchmark (imports of o2's control plane stay out of the responder's way) -----------


async def _wait_all(store: Any, names: set[str], check: Any, *, within: float) -> float:
    """Seconds until every named Task passes `check` (list, then watch), from now."""
    from crds.kinds.task import Task

    started = time.perf_counter()
    listed = await store.list(Task)
    good = {t.name for t in listed.items if t.name in names and check(t)}
    if good >= names:
        return time.perf_counter() - started
    stream = store.watch(Task, start_revision=listed.revision + 1)
    try:
        async with asyncio.timeout(within):
            async for event in stream:
                if event.obj is not None and event.name in names:
                    (good.add if check(event.obj) else good.discard)(event.name)
                    if good >= names:
                        return time.perf_counter() - started
    finally:
        await stream.aclose()
    raise RuntimeError("watch ended")


async def _in_flight(count: int, in_flight: int, op: Any) -> None:
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await op(i)

    await asyncio.gather(*(worker() for _ in range(in_flight)))


def _task(name: str) -> Any:
    from crds.kinds.common import Command, Wants
    from crds.kinds.task import Task, TaskSpec
    from crds.meta import ObjectMeta

    spec = TaskSpec(
        task_class="bench",
        command=Command(value="o2-sample-task"),
        wants=Wants(cpus=0.01, memory=8, ports=0),
    )
    return Task(metadata=ObjectMeta(name=name), spec=spec)


async def _transition(store: Any, names: set[str], state: str) -> tuple[float, float]:
    """Change spec.state of every named task as the environment controller does (from what
    it already holds, one batched CAS write: Store.update_many; conflicts retried one by one)
    and follow the statuses until all show `state` while Running. (seconds until the spec
    writes were done, seconds until every status showed it), both from the first write.

    The objects are listed before the clock starts (the controller has them in its cache);
    the observer follows a raw watch from that listing's revision and parses only JSON (it is
    an external watcher, like `o2 get -w`, and should not compete for CPU with the control
    plane more than it must)."""
    from crds.kinds.task import Task

    listed = await store.list(Task)
    tasks = [t for t in listed.items if t.name in names]
    changed = [
        t.model_copy(update={"spec": t.spec.model_copy(update={"state": state})}) for t in tasks
    ]
    good = {t.name for t in tasks if t.status.phase == "Running" and t.status.state == state}
    prefix = store.key_for(Task, "")
    stream = store.watch_raw(prefix, start_revision=listed.revision + 1, prefix=True)

    async def observe() -> float:
        async for key, value, _revision in stream:
            name = key.removeprefix(prefix)
            if value is None or name not in names:
                continue
            status = json.loads(value.value).get("status", {})
            ok = status.get("phase") == "Running" and status.get("state") == state
            (good.add if ok else good.discard)(name)
            if good >= names:
                return time.perf_counter()
        raise RuntimeError("watch ended")

    observer = asyncio.create_task(observe())
    start = time.perf_counter()
    try:
        result = await store.update_many(changed)
        retry = [
            t.name for t in (*result.conflicts, *result.missing, *(e[0] for e in result.errors))
        ]
        await _in_flight(len(retry), 16, lambda i: _set_state(store, retry[i], state))
        written = time.perf_counter() - start
        done = await asyncio.wait_for(observer, 600)
    finally:
        observer.cancel()
        await asyncio.gather(observer, return_exceptions=True)
        await stream.aclose()
    return written, done - start


async def _set_state(store: Any, name: str, state: str) -> None:
    from crds.errors import ConflictError
    from crds.kinds.task import Task

    for _ in range(20):
        task = await store.get(Task, name)
        try:
            await store.update(
                task.model_copy(update={"spec": task.spec.model_copy(update={"state": state})})
            )
            return
        except ConflictError:
            continue


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from hack.bench.cpu import CpuMeter
    from hack.bench.stack import start_localmesos, start_manager
    from store.config import StoreConfig, open_store
    from store.embedded import EmbeddedEtcd, free_port
    from tests.stack import stop_by_pid

    procs: list[subprocess.Popen[bytes]] = []
    async with EmbeddedEtcd(
        work / "etcd", free_port(), free_port(), extra_args=("--unsafe-no-fsync",)
    ) as etcd:
        try:
            mesos, address = await start_localmesos(work, "--hollow-agents", str(args.agents))
            procs.append(mesos)
            prefix = "/o2bench"
            manager = start_manager(
                work,
                etcd=etcd.endpoint,
                prefix=prefix,
                mesos=address,
                controllers=("controller.tasks.controller:TaskReconciler",),
            )
            procs.append(manager.proc)
            store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix=prefix))
            try:
                pids = {
                    "manager": manager.proc.pid,
                    "localmesos": mesos.pid,
                    "etcd": etcd.pid or 0,
                    "bench": os.getpid(),
                }
                return await _measure(args, store, etcd.endpoint, CpuMeter(pids))
            finally:
                await store.close()
        finally:
            for proc in reversed(procs):
                stop_by_pid(proc)
    raise AssertionError("unreachable")


async def _measure(args: argparse.Namespace, store: Any, endpoint: str, cpu: Any) -> dict[str, Any]:
    from hack.bench.floor import client_for, measure_floor, put_rate, txn_rate
    from hack.bench.stack import wait_subscribed

    names = [f"bench-{i:05d}" for i in range(args.tasks)]
    wanted = set(names)

    def standby(t: Any) -> bool:
        return bool(t.status.phase == "Running" and t.status.state == "STANDBY")

    await wait_subscribed(store)
    cpu.start()
    start = time.perf_counter()
    await _in_flight(len(names), 16, lambda i: store.create(_task(names[i])))
    created = time.perf_counter() - start
    await _wait_all(store, wanted, standby, within=600)
    to_running = time.perf_counter() - start
    launch_cpu = cpu.stop()

    spy = _py_spy(cpu.pids["manager"])
    transitions = []
    for i in range(args.transitions):
        target = "CONFIGURED" if i % 2 == 0 else "STANDBY"
        await asyncio.sleep(1.0)  # let the last acknowledgements and reports settle
        cpu.start()
        spec_written, seconds = await _transition(store, wanted, target)
        transitions.append(
            {"to": target, "seconds": seconds, "spec_write_seconds": spec_written,
             "cpu_seconds": cpu.stop()}
        )  # fmt: skip

    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    floor = await measure_floor(endpoint, quick=True)
    async with client_for(endpoint) as client:
        floors_a = []
        for _ in range(3):
            rate = await put_rate(client, "/bench-same", count=args.tasks, in_flight=16)
            floors_a.append(args.tasks / rate)
        txns = max(1, args.tasks // 128)
        batched = args.tasks / await txn_rate(client, "/bench-same", txns=txns)
        await client.delete_prefix(b"/bench-same")
    seconds = [t["seconds"] for t in transitions]
    return {
        "tasks": args.tasks,
        "hollow_agents": args.agents,
        "create_seconds": created,
        "create_to_running_seconds": to_running,
        "cpu_seconds_create_to_running": launch_cpu,
        "transitions": transitions,
        "transition_median_seconds": statistics.median(seconds),
        "floor_a_runs_seconds": floors_a,
        "floor_a_seconds": statistics.median(floors_a),
        "floor_b_seconds": batched,
        "floor": floor.__dict__,
        "load_average": list(os.getloadavg()),
    }


def _py_spy(pid: int) -> subprocess.Popen[bytes] | None:
    """BENCH_PYSPY=<file>: sample the manager with py-spy during the transitions (raw folded
    stacks, for flame graphs); py-spy is a developer tool, not installed by `make venv`."""
    out = os.environ.get("BENCH_PYSPY")
    if not out:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(pid), "--rate", "500", "--format", "raw", "-o", out]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_table(r: dict[str, Any]) -> None:
    n = r["tasks"]
    a, b = r["floor_a_seconds"], r["floor_b_seconds"]
    rows = [
        (f"{n} Tasks: create -> all Running/STANDBY", r["create_to_running_seconds"]),
        ("   of which: creating the Tasks (16 in flight)", r["create_seconds"]),
    ]
    for i, t in enumerate(r["transitions"], 1):
        rows.append((f"transition {i}: spec.state -> {t['to']} in all {n} statuses", t["seconds"]))
        rows.append(("   of which: writing the spec changes", t["spec_write_seconds"]))
    rows += [
        ("transition: median", r["transition_median_seconds"]),
        (f"floor (a): {n} raw puts, 16 in flight (median of 3)", a),
        (f"floor (b): {n} raw writes in 128-op txns, 8 in flight", b),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'measure'.ljust(width)}  seconds  x floor(a)  x floor(b)")
    for label, secs in rows:
        print(f"{label.ljust(width)}  {secs:7.2f}  {secs / a:9.1f}  {secs / b:9.1f}")
    runs = ", ".join(f"{x:.3f}" for x in r["floor_a_runs_seconds"])
    print(f"floor (a) runs: {runs} s")
    ratio = r["transition_median_seconds"] / a
    verdict = "met" if ratio <= 3 else "NOT met"
    print(f"target: transition <= 3x floor (a): median {ratio:.2f}x -> {verdict}")
    print()
    names = list(r["cpu_seconds_create_to_running"])
    print(f"{'CPU seconds by process':<26}" + "".join(f"{p:>12}" for p in names))
    used = [("create -> Running", r["cpu_seconds_create_to_running"])]
    used += [(f"transition {i}", t["cpu_seconds"]) for i, t in enumerate(r["transitions"], 1)]
    for label, cpu in used:
        print(f"{label:<26}" + "".join(f"{cpu[p]:>12.2f}" for p in names))
    print(f"load average (1/5/15 min) after the run: {r['load_average']} (2 shared cores)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument(
        "--transitions", type=int, default=5, help="STANDBY <-> CONFIGURED changes to time"
    )
    args = parser.parse_args(argv)
    keep = os.environ.get("BENCH_KEEP")  # a directory to keep logs in, for debugging
    if keep:
        result = asyncio.run(run(args, Path(keep)))
    else:
        with tempfile.TemporaryDirectory(prefix="o2-tasks-bench-") as tmp:
            result = asyncio.run(run(args, Path(tmp)))
    print_table(result)
    out = Path(__file__).resolve().parent / "results" / "tasks_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
