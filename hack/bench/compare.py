"""Before/after table of named benchmarks run from two checkouts, alternately.

    .venv/bin/python -m hack.bench.compare --before /tmp/o2-old --after . --runs 3 \\
        store_bench runtime_bench gui_bench mesos_bench [--args store_bench=--quick]

Each round runs every named benchmark once from each checkout (`python -m hack.bench.<name>`
with the checkout as working directory and PYTHONPATH), before then after on even rounds, after
then before on odd ones, so both sides share the machine's load in the same minutes. Each run's
hack/bench/results/<name>.json is copied to --out as <side>-<name>-<round>.json; its numeric
leaves are the rows (a list of records is keyed by its `name`/`op`/`mode`/`event` fields, so a
row keeps its meaning when the list grows). Prints one markdown table: row, before median,
after median, after/before, and a mark where the change is worse by more than --worse (the
direction is read from the row's last name: rates and ratios are better higher; seconds, ms,
us, CPU and bytes better lower; etcd's floor, the raw client's rows, rows of neither kind and
signed differences are never marked). Loads are printed with the
table: on a shared machine the wall-clock rows move with them, CPU and counts much less.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

KEYS = ("name", "op", "mode", "event", "phase")
"""Fields that name a record in a list of results (joined, in this order, into the row)."""
SETTINGS = {"tasks", "objects", "agents", "workers", "slices", "flush_ms", "samples", "acks"}
SETTINGS |= {"cpus", "hollow_agents", "ack_concurrency"}
SKIP = ("load_average", "target")
"""Keys that are settings (SETTINGS) or begin with the machine's state or a target (SKIP):
not measurements."""
HIGHER = ("per_s", "per_second", "ratio", "rate")
LOWER = ("seconds", "_ms", "_us", "cpu", "bytes", "rss", "mib")
"""Leaf-name parts (a leaf ending in `_s` is seconds, unless a rate: `per_s`)."""
MACHINE = ("floor", "raw")
"""Rows of the machine, not of o2's code (etcd's floor; the raw client both sides share): never
marked, printed as the noise to judge the rest by."""
SIDES = ("before", "after")


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a benchmark's JSON by dotted path; booleans, settings, targets and
    loads dropped."""
    if isinstance(value, bool):
        return {}
    if isinstance(value, int | float):
        return {prefix: float(value)}
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(_record_key(item, i), item) for i, item in enumerate(value)]
    else:
        return {}
    rows: dict[str, float] = {}
    for key, item in items:
        if key in SETTINGS or str(key).startswith(SKIP):
            continue
        rows.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return rows


def _record_key(item: Any, index: int) -> str:
    """A list member's name: its naming fields joined by '/', else its index."""
    if isinstance(item, dict):
        parts = [str(item[k]) for k in KEYS if isinstance(item.get(k), str)]
        if parts:
            return "/".join(parts)
    return str(index)


def direction(row: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when the leaf's name does not say
    or the row is the machine's (MACHINE)."""
    parts = row.lower().split(".")
    leaf = parts[-1]
    if any(p.startswith(MACHINE) for p in parts):
        return 0
    if any(mark in leaf for mark in HIGHER) or leaf == "store":
        return 1
    if any(mark in leaf for mark in LOWER) or leaf.endswith("_s"):
        return -1
    return 0


def table(runs: dict[str, list[dict[str, float]]], *, bench: str, worse: float) -> list[str]:
    """Markdown rows `| bench: row | before | after | after/before | mark |` over the rows
    both sides reported (medians over runs)."""
    before, after = (_medians(runs[side]) for side in SIDES)
    lines = []
    for row in sorted(before.keys() & after.keys()):
        old, new = before[row], after[row]
        ratio = new / old if old > 0 and new >= 0 else float("nan")
        mark = _mark(direction(row), ratio, worse)
        shown = "-" if math.isnan(ratio) else f"{ratio:.2f}"
        lines.append(f"| {bench}: {row} | {_num(old)} | {_num(new)} | {shown} | {mark} |")
    return lines


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = set().union(*runs) if runs else set()
    return {k: statistics.median(r[k] for r in runs if k in r) for k in keys}


def _mark(sign: int, ratio: float, worse: float) -> str:
    if sign == 0 or math.isnan(ratio) or ratio <= 0:
        return ""
    if (sign < 0 and ratio > 1 + worse) or (sign > 0 and ratio < 1 / (1 + worse)):
        return "worse"
    if (sign < 0 and ratio < 1 / (1 + worse)) or (sign > 0 and ratio > 1 + worse):
        return "better"
    return ""


def _num(value: float) -> str:
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.1f}"


def run_once(checkout: Path, bench: str, args: list[str], python: str, log: Path) -> Any:
    """One run of `bench` from `checkout`; its results JSON (None when it failed)."""
    results = checkout / "hack" / "bench" / "results" / f"{bench}.json"
    results.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    with log.open("ab") as out:
        code = subprocess.call(
            [python, "-m", f"hack.bench.{bench}", *args],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if code != 0 or not results.exists():
        print(f"  {bench} from {checkout}: exit {code}, see {log}", flush=True)
        return None
    return json.loads(results.read_text())


def compare(options: argparse.Namespace, out: Path) -> dict[str, dict[str, list[Any]]]:
    """Every round: every bench from both checkouts, the order alternating; raw JSON kept."""
    checkouts = {"before": Path(options.before).resolve(), "after": Path(options.after).resolve()}
    extra = _bench_args(options.args)
    got: dict[str, dict[str, list[Any]]] = {b: {s: [] for s in SIDES} for b in options.benches}
    for round_ in range(options.runs):
        order = SIDES if round_ % 2 == 0 else tuple(reversed(SIDES))
        for bench in options.benches:
            for side in order:
                load = "/".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"round {round_ + 1}: {bench} {side} (load {load})", flush=True)
                with (out / "loads.txt").open("a") as loads:
                    loads.write(f"{os.getloadavg()[0]:.1f}\n")
                log = out / f"{side}-{bench}.log"
                result = run_once(checkouts[side], bench, extra.get(bench, []), options.python, log)
                if result is not None:
                    (out / f"{side}-{bench}-{round_}.json").write_text(json.dumps(result))
                    got[bench][side].append(result)
    return got


def kept(out: Path, benches: list[str]) -> dict[str, dict[str, list[Any]]]:
    """The runs an earlier compare kept in `out` (for --table-only)."""
    return {
        bench: {
            side: [json.loads(p.read_text()) for p in sorted(out.glob(f"{side}-{bench}-*.json"))]
            for side in SIDES
        }
        for bench in benches
    }


def _bench_args(pairs: list[str]) -> dict[str, list[str]]:
    extra: dict[str, list[str]] = {}
    for pair in pairs:
        bench, _, args = pair.partition("=")
        extra.setdefault(bench, []).extend(args.split())
    return extra


def report(
    got: dict[str, dict[str, list[Any]]], *, worse: float, loads: list[float], only: list[str]
) -> str:
    """The markdown table over every bench (rows matching one of `only`'s regexes, when given),
    then the loads."""
    lines = [
        "| row | before (median) | after (median) | after/before | |",
        "|---|---|---|---|---|",
    ]
    for bench, sides in got.items():
        runs = {side: [flatten(r) for r in sides[side]] for side in SIDES}
        counts = f"{len(runs['before'])}/{len(runs['after'])} runs"
        lines.append(f"| **{bench}** ({counts}) | | | | |")
        rows = table(runs, bench=bench, worse=worse)
        lines.extend(r for r in rows if not only or any(re.search(p, r) for p in only))
    lines.append("")
    if loads:
        spread = f"{min(loads):.1f}-{max(loads):.1f}, median {statistics.median(loads):.1f}"
        lines.append(f"load average (1 min) as each run started: {spread} (2 shared cores)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="+", help="names under hack/bench, e.g. store_bench")
    parser.add_argument("--before", required=True, help="the older checkout (a worktree)")
    parser.add_argument("--after", default=".", help="the newer checkout (default: here)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (each runs both sides)")
    parser.add_argument("--args", action="append", default=[], help="BENCH=ARGS for one bench")
    parser.add_argument("--worse", type=float, default=0.15, help="mark changes beyond this")
    parser.add_argument("--only", action="append", default=[], help="regex: rows to print")
    parser.add_argument("--table-only", action="store_true", help="reprint --out's kept runs")
    parser.add_argument("--python", default=sys.executable, help="interpreter for both sides")
    parser.add_argument("--out", help="where each run's JSON and log go (default: a new temp dir)")
    options = parser.parse_args(argv)
    out = Path(options.out or tempfile.mkdtemp(prefix="o2-compare-"))
    out.mkdir(parents=True, exist_ok=True)
    got = kept(out, options.benches) if options.table_only else compare(options, out)
    recorded = out / "loads.txt"
    loads = [float(x) for x in recorded.read_text().split()] if recorded.exists() else []
    text = report(got, worse=options.worse, loads=loads, only=options.only)
    (out / "compare.md").write_text(text + "\n")
    print(text)
    print(f"\nruns kept in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
