"""The agent's `/monitor/statistics`: what each executor's container uses, in Mesos' JSON shape.

Mesos answers from its isolators' cgroups: one entry per executor (its container holds the
executor and every task process it started), `{executor_id, executor_name, framework_id,
source, statistics: ResourceStatistics}`. The local cluster has no cgroups, so a real agent
reads /proc instead: the executor's process tree (its descendants by parent pid, plus any
process left in one of their process groups after its parent died). CPU times are cumulative
(`utime + stime`, and `cutime + cstime` of reaped children, as cgroups' cpuacct counts exited
processes too), RSS is summed, and the limits are what the executor and its live tasks were
given (Mesos' `cpus_limit`/`mem_limit_bytes` are the container's allocation).

Extensions (not in Mesos; clients that follow the Mesos shape ignore them): `agent_id` on each
entry, and `process_groups`: the same figures per process group of the tree. The o2 executor
starts each task in a session of its own, so a task's figures are its group's (pgid = the
task's pid). Hollow agents have no processes: their simulated executors are listed with zero
usage and their allocation as limits, and without `process_groups`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from localmesos.model import Executor, Json, now
from localmesos.resources import Resources

_TICK = float(os.sysconf("SC_CLK_TCK"))
_PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


@dataclass(frozen=True)
class Proc:
    """One process's figures from /proc/<pid>/stat."""

    pid: int
    ppid: int
    pgid: int
    user_secs: float
    system_secs: float
    rss_bytes: int
    threads: int = 1


def parse_stat(text: str) -> Proc:
    """A /proc/<pid>/stat line (the command name may hold spaces and parentheses). Pure."""
    pid = int(text[: text.index(" ")])
    fields = text[text.rfind(")") + 2 :].split()
    # fields[0] is proc(5) field 3 (state): ppid 4, pgrp 5, utime 14, stime 15, cutime 16,
    # cstime 17, num_threads 20, rss 24 (pages).
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        user_secs=(int(fields[11]) + int(fields[13])) / _TICK,
        system_secs=(int(fields[12]) + int(fields[14])) / _TICK,
        rss_bytes=int(fields[21]) * _PAGE,
        threads=int(fields[17]),
    )


def read_procs(root: Path = Path("/proc")) -> dict[int, Proc]:
    """Every process now (those that vanish while read are skipped)."""
    procs: dict[int, Proc] = {}
    for entry in root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            proc = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
        procs[proc.pid] = proc
    return procs


def process_tree(pid: int, procs: dict[int, Proc]) -> list[Proc]:
    """`pid` and its descendants, plus the orphans still in one of their process groups. Pure."""
    children: dict[int, list[int]] = {}
    for proc in procs.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    found: set[int] = set()
    todo = [pid] if pid in procs else []
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    groups = {procs[p].pgid for p in found}
    found |= {p.pid for p in procs.values() if p.pgid in groups and p.pgid != 0}
    return [procs[p] for p in sorted(found)]


def _figures(procs: Iterable[Proc]) -> Json:
    listed = list(procs)
    return {
        "cpus_user_time_secs": round(float(sum(p.user_secs for p in listed)), 3),
        "cpus_system_time_secs": round(float(sum(p.system_secs for p in listed)), 3),
        "mem_rss_bytes": sum(p.rss_bytes for p in listed),
    }


def allocation(executor: Executor) -> Resources:
    """The container's allocation: the executor's own resources and its live tasks'."""
    total = executor.resources
    for task in executor.live_tasks:
        total = total + task.resources
    return total


def statistics(executor: Executor, tree: list[Proc], *, timestamp: float) -> Json:
    """Mesos' ResourceStatistics of one executor's container. Pure."""
    limits = allocation(executor)
    return {
        "timestamp": timestamp,
        "processes": len(tree),
        "threads": sum(p.threads for p in tree),
        **_figures(tree),
        "cpus_limit": float(limits.scalars.get("cpus", 0.0)),
        "mem_limit_bytes": int(limits.scalars.get("mem", 0.0) * MB),
    }


def entry(executor: Executor, *, tree: list[Proc] | None, timestamp: float) -> Json:
    """One `/monitor/statistics` element; `tree` None for a hollow executor (zero usage)."""
    info = executor.info
    out: Json = {
        "executor_id": executor.executor_id,
        "executor_name": str(info.get("name", "")),
        "framework_id": executor.framework_id,
        "source": str(info.get("source", "")),
        "statistics": statistics(executor, tree or [], timestamp=timestamp),
        "agent_id": executor.agent_id,
    }
    if tree is not None:
        groups: dict[int, list[Proc]] = {}
        for proc in tree:
            groups.setdefault(proc.pgid, []).append(proc)
        out["process_groups"] = [
            {"pgid": pgid, "processes": len(members), **_figures(members)}
            for pgid, members in sorted(groups.items())
        ]
    return out


def real_entries(executors: Iterable[Executor]) -> list[Json]:
    """The entries of a real agent's running executors, from one read of /proc (blocking:
    run it in a thread)."""
    procs = read_procs()
    stamp = now()
    return [
        entry(e, tree=process_tree(e.pid, procs), timestamp=stamp)
        for e in executors
        if e.pid is not None
    ]


def hollow_entries(executors: Iterable[Executor]) -> list[Json]:
    stamp = now()
    return [entry(e, tree=None, timestamp=stamp) for e in executors]
