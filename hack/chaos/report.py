"""The soak's figures: a table on stdout and `hack/chaos/results/<seed>.json`."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from hack.chaos.faults import KINDS, Fault

RESULTS = Path(__file__).resolve().parent / "results"
Json = dict[str, Any]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def recovery(faults: list[Fault]) -> Json:
    out: Json = {}
    for kind in KINDS:
        times = [f.recovered_after for f in faults if f.kind == kind]
        known = [t for t in times if t is not None]
        out[kind] = {
            "injected": len(times),
            "unrecovered": len(times) - len(known),
            "p50": round(percentile(known, 0.5), 2) if known else None,
            "p99": round(percentile(known, 0.99), 2) if known else None,
            "max": round(max(known), 2) if known else None,
        }
    return out


def table(result: Json) -> str:
    rows = [f"{'fault':<26}{'n':>4}{'p50 s':>8}{'p99 s':>8}{'max s':>8}"]
    for kind, r in result["recovery"].items():
        cells = [("-" if r[k] is None else f"{r[k]:.2f}") for k in ("p50", "p99", "max")]
        rows.append(f"{kind:<26}{r['injected']:>4}" + "".join(f"{c:>8}" for c in cells))
    w = result["workload"]
    rows += [
        f"faults injected: {result['faults_total']} (skipped, no target: {result['skipped']})",
        *(f"left out: {kind} ({why})" for kind, why in result.get("left_out", {}).items()),
        f"transitions completed: {result['transitions_completed']}; workload steps "
        f"{w['steps']}, slow {w['slow_steps']}, recoveries {w['recoveries']}, "
        f"recreations {w['recreations']}, detector changes {w['detector_changes']}",
        f"convergence after the faults stopped: {fmt(result['convergence_seconds'])} s "
        f"(bound {result['convergence_bound']} s)",
        f"config edits {w['configEdits']}, git commits {w['gitCommits']}; caught up after "
        f"the faults (s): {w['caughtUpAfter']}",
        f"fence rejections logged: {result['fence_rejections']}",
        *processes(result["processes"]),
        *pilots(result.get("pilots")),
        f"task processes left: {result['leftover_tasks']} of {result['task_pids_seen']} seen",
        f"invariant violations: {len(result['violations'])}",
    ]
    rows += [f"  {v}" for v in result["violations"][:20]]
    return "\n".join(rows)


def processes(figures: Json) -> list[str]:
    """The process-table invariants: task samples, and each leading manager's RSS and fds."""
    rows = [
        f"task process samples: {figures['taskSamples']}, "
        f"two live processes for one task: {figures['taskOverlaps']} (allowed, a lost launch "
        f"next to its replacement: {figures['lostOverlaps']}, longest "
        f"{figures['lostOverlapMaxSeconds']} s)"
    ]
    for life in figures["leaderLives"]:
        rss, fds = life["rssKiB"], life["fds"]
        rows.append(
            f"leader {life['manager']} pid {life['pid']} ({life['ledSeconds']} s, "
            f"{life['samples']} samples): VmRSS KiB first/last/max {rss['first']}/{rss['last']}/"
            f"{rss['max']}, fds {fds['first']}/{fds['last']}/{fds['max']}"
        )
    return rows


def pilots(figures: Json | None) -> list[str]:
    """Pilots on the epn nodes: switches, drains by reason, reclaims, releases, jobs."""
    if not figures:
        return []
    jobs = figures["jobs"]
    return [
        f"pilots on {len(figures['nodes'])} nodes: {figures['pilotsStarted']} started, mode "
        f"switches {figures['modeSwitches']}, drains {figures['drains']}, reclaims "
        f"{figures['reclaims']}, releases {figures['releases']}; all up "
        f"{fmt(figures['pilotsUpAfter'])} s after the faults",
        f"pilot jobs: {jobs['added']} added, {jobs['done']} done, {jobs['queue']} queued, "
        f"{jobs['running']} left claimed",
    ]


def fmt(value: float | None) -> str:
    return "NOT REACHED" if value is None else f"{value:.1f}"


def faults_json(faults: list[Fault]) -> list[Json]:
    return [
        {"kind": f.kind, "target": f.target, "recoveredAfter": f.recovered_after} for f in faults
    ]


def by_kind(faults: list[Fault]) -> dict[str, int]:
    return dict(Counter(f.kind for f in faults))


def write(result: Json, directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result['seed']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
