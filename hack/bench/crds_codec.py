"""Benchmark: cost of the API models on the hot paths (decode stored Tasks, encode, parse YAML).

Run: .venv/bin/python -m hack.bench.crds_codec [N]. Prints a table and writes
hack/bench/results/crds_codec.json. Single-threaded, pure CPU; noisy on a shared machine.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from crds.kinds import Task
from crds.kinds.common import Command, Wants
from crds.kinds.task import TaskSpec, TaskStatus
from crds.manifest import decode_stored, parse_documents
from crds.meta import ObjectMeta

RESULTS = Path(__file__).resolve().parent / "results" / "crds_codec.json"


def _task(i: int) -> Task:
    return Task(
        metadata=ObjectMeta(
            name=f"physics-1-flp-{i:05d}-readout", labels={"o2.io/env": "physics-1"}
        ),
        spec=TaskSpec(
            environment="physics-1",
            role=f"flp-{i:05d}.readout",
            task_class="readout",
            command=Command(value="o2-sample-task", arguments=("--detector", "TPC")),
            wants=Wants(cpus=0.1, memory=64, ports=1),
            state="RUNNING",
            properties={"rate": "200", "detector": "TPC"},
            run_number=42,
        ),
        status=TaskStatus(phase="Running", state="RUNNING", hostname="flp-001", pid=1000 + i),
    )


def _timed(label: str, n: int, fn: Callable[[], object]) -> dict[str, float | str]:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return {"op": label, "n": n, "seconds": elapsed, "per_second": n / elapsed}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 10_000
    tasks = [_task(i) for i in range(n)]
    raw = [json.dumps(t.to_wire()).encode() for t in tasks]
    keys = [f"/o2/registry/tasks/{t.name}" for t in tasks]
    text = yaml.safe_dump_all([t.to_wire() for t in tasks[: n // 10]])
    rows = [
        _timed("build Task models", n, lambda: [_task(i) for i in range(n)]),
        _timed("to_wire + json.dumps", n, lambda: [json.dumps(t.to_wire()) for t in tasks]),
        _timed("model_dump_json", n, lambda: [t.model_dump_json(by_alias=True) for t in tasks]),
        _timed(
            "decode_stored",
            n,
            lambda: [decode_stored(r, key=k) for r, k in zip(raw, keys, strict=True)],
        ),
        _timed("parse_documents (YAML)", n // 10, lambda: parse_documents(text, source="bench")),
    ]
    sys.stdout.write(f"{'operation':<26}{'n':>8}{'seconds':>10}{'objects/s':>12}\n")
    for row in rows:
        sys.stdout.write(
            f"{row['op']!s:<26}{row['n']!s:>8}{float(row['seconds']):>10.3f}"
            f"{float(row['per_second']):>12.0f}\n"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"n": n, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
