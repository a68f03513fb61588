"""Template rendering benchmark: what the sandbox costs per render, per expansion, and how soon it
refuses a hostile template.

`.venv/bin/python -m hack.bench.templates_bench [--repeat N]` prints a table and writes
hack/bench/results/templates_bench.json. (1) CPU µs per render of typical workflow values and a
config payload (median of `--repeat` timed loops); (2) CPU seconds of `expand()` for the
environments benchmark's 1,000- and 10,000-task environment; (3) each hostile template of the
hardening issue, rendered in a child process (so a stall or a memory bomb cannot take the
benchmark down): wall seconds until it returns or is refused (capped at HOSTILE_CAP) and the
child's peak RSS. Process CPU time, not wall time, for (1) and (2): the machine is shared.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from hack.bench.floor import write_json

Json = dict[str, Any]
HOSTILE_CAP = 30.0
TYPICAL = {
    "variable": "{{ detector }}",
    "filter chain": "{{ detectors|map('lower')|join(',') }}",
    "comparison": "{{ 'TPC' in detectors and rate|int > 10 }}",
    "helpers": "{{ strings.ToUpper(detector) ~ '-' ~ to_json(as_list(detectors)) }}",
}
VARIABLES = {"detector": "tpc", "detectors": ["TPC", "ITS", "MCH", "MID"], "rate": "100"}
PAYLOAD = "".join(f"key{i} = {{{{ detector }}}}-{{{{ rate|int + {i} }}}}\n" for i in range(50))
HOSTILE = {
    "stall (223-byte ComponentConfig)": (
        "{{ range(1500)|select('in',('b'*1000000)|list)|list|length }}"
    ),
    "memory bomb": "{{ (['a'*1000000]*200)|map('upper')|list|length }}",
    "deep nesting": "{{ " + "(" * 400 + "1" + ")" * 400 + " }}",
}
CHILD = """
import sys, time, resource
from crds.templating import render_template
start = time.monotonic()
try:
    render_template(sys.argv[1], {}, where="bench")
    outcome = "rendered"
except Exception as exc:
    outcome = type(exc).__name__
print(outcome, time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def per_render(repeat: int) -> Json:
    from crds.configpayload import render as render_payload
    from crds.templating import render_template

    def timed(call: Any, loops: int) -> float:
        samples = []
        for _ in range(repeat):
            started = time.process_time()
            for _ in range(loops):
                call()
            samples.append((time.process_time() - started) / loops * 1e6)
        return statistics.median(samples)

    rows = {
        name: timed(lambda s=source: render_template(s, VARIABLES, where="bench"), 2000)
        for name, source in TYPICAL.items()
    }
    rows["payload, 50 lines"] = timed(lambda: render_payload(PAYLOAD, VARIABLES), 200)
    return rows


def expansions(repeat: int) -> Json:
    from controller.environments.expand import expand
    from hack.bench.environments_shape import manifests

    rows = {}
    for size in (1000, 10000):
        taskclasses, workflow, env = manifests(size)
        classes = {c.name: c for c in taskclasses}
        samples = []
        for _ in range(max(1, repeat // 2)):
            started = time.process_time()
            expand(env, workflow, classes, run_number=None)
            samples.append(time.process_time() - started)
        rows[f"expand, {size:,} tasks"] = statistics.median(samples)
    return rows


def hostile() -> Json:
    rows = {}
    for name, source in HOSTILE.items():
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, source],
                capture_output=True,
                text=True,
                timeout=HOSTILE_CAP,
                check=False,
            )
            outcome, seconds, rss_kb = done.stdout.split()
            rows[name] = {
                "outcome": outcome,
                "seconds": float(seconds),
                "peak_rss_mb": int(rss_kb) / 1024,
            }
        except subprocess.TimeoutExpired:
            rows[name] = {"outcome": f"still running after {HOSTILE_CAP:g} s", "seconds": None}
        rows[name]["wall_seconds"] = time.monotonic() - started
    return rows


def print_tables(result: Json) -> None:
    print(f"{'render (CPU µs, median)':<40} {'µs':>10}")
    for name, value in result["per_render_us"].items():
        print(f"{name:<40} {value:>10.1f}")
    print(f"\n{'expansion (CPU s, median)':<40} {'s':>10}")
    for name, value in result["expansion_s"].items():
        print(f"{name:<40} {value:>10.3f}")
    print(f"\n{'hostile template':<36} {'outcome':<28} {'s':>7} {'peak RSS MB':>12}")
    for name, row in result["hostile"].items():
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.2f}"
        rss = row.get("peak_rss_mb")
        print(f"{name:<36} {row['outcome']:<28} {seconds:>7} {rss or 0:>12.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed loops per row (median)")
    args = parser.parse_args(argv)
    result = {
        "per_render_us": per_render(args.repeat),
        "expansion_s": expansions(args.repeat),
        "hostile": hostile(),
        "bench_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print_tables(result)
    print(f"\nwrote {write_json('templates_bench', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
