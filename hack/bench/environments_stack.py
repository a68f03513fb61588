"""environments_bench part 2, the real stack: one size's cluster and managers (`on_stack`), the
walk of its transitions (`walk`) and what each row measures (process CPU and RSS from /proc,
etcd's put counts from its /metrics). See hack.bench.environments_bench for the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from crds.kinds.environment import Environment
from crds.kinds.task import Task
from hack.bench import gcstats
from hack.bench.environments_shape import (
    AGENTS,
    CONTROLLERS,
    SPLIT,
    WALK,
    Json,
    _agents_file,
    manifests,
)
from hack.bench.floor import client_for, same_writes
from hack.bench.stack import gcstats_path, start_localmesos, start_managers, wait_subscribed
from store.api import Store

SETTLE = 1.0
"""Seconds of quiet after each transition, so its trailing writes (events) count in its row."""


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
                work=work,
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
    work: Path | None = None,
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
        _loopwatch(managers)  # before the row's CPU is read: the dump costs the manager too
        puts = etcd_counters(metrics)
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        gcs = _gc_reads(work, pids)
        spied = managers | ({"cluster": pids["cluster"]} if _spy_cluster(pids) else {})
        spies = [_py_spy(pid, event, size, name) for name, pid in spied.items()]
        started, mono = time.perf_counter(), time.monotonic()
        if event == "DEPLOY":
            await store.create(env)
        else:
            await _set_state(store, env.name, state)
        final = await _reached(store, env.name, state, within=120 + size * 0.05)
        wall = time.perf_counter() - started
        _loopwatch(managers, f"{size}-{event}", mono, time.monotonic())
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
        if gcs:
            after = _gc_reads(work, pids)
            rows[event]["gc"] = {k: gcstats.between(gcs[k], after[k]) for k in gcs}
        if event == upto:
            break
    rss = {when: sum(m[when] for m in each.values()) for when in ("before", "running")}
    return {
        "tasks": size,
        "transitions": rows,
        "rss_kb": {**rss, **({"each": each} if len(each) > 1 else {})},
        "rss_growth_kb_per_task": (rss["running"] - rss["before"]) / size,
    }


def _gc_reads(work: Path | None, pids: dict[str, int]) -> dict[str, Any]:
    """BENCH_GCSTATS=1: each process's collection totals so far (hack.bench.gcstats)."""
    if work is None or not os.environ.get("BENCH_GCSTATS"):
        return {}
    names = [name for name in pids if name.startswith("manager") or name == "cluster"]
    return {name: gcstats.read(gcstats_path(work, name)) for name in names}


def _memtrace(managers: dict[str, int]) -> None:
    """BENCH_TRACEMALLOC=1: each manager (under hack.bench.memtrace) dumps a snapshot now."""
    if os.environ.get("BENCH_TRACEMALLOC"):
        for pid in managers.values():
            os.kill(pid, signal.SIGUSR2)


def _loopwatch(managers: dict[str, int], label: str = "", *window: float) -> None:
    """BENCH_LOOPWATCH=<dir>: each manager (under hack.bench.loopwatch) dumps what it recorded
    (SIGUSR1); with a `window` (the spec write, the state seen), its timeline goes to
    <dir>/<label>[-<name>].txt (hack.bench.loopwatch.timeline). The dump at a window's end
    counts in its row's manager CPU (tens of ms at 10,000 tasks, seconds at 50,000): compare
    CPU between runs that both set BENCH_LOOPWATCH, or neither."""
    out = os.environ.get("BENCH_LOOPWATCH")
    if not out:
        return
    from hack.bench.loopwatch import read_dump, timeline

    for name, pid in managers.items():
        dump = read_dump(Path(out), pid)
        if window:
            suffix = "" if name == "manager" else f"-{name}"
            text = timeline(dump, *window) if dump else "no dump"
            (Path(out) / f"{label}{suffix}.txt").write_text(text + "\n")


def _spy_cluster(pids: dict[str, int]) -> bool:
    """BENCH_PYSPY_CLUSTER=1 (with BENCH_PYSPY): the local cluster is sampled too, into
    <dir>/<size>-<event>-cluster.txt."""
    return bool(os.environ.get("BENCH_PYSPY_CLUSTER")) and "cluster" in pids


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
