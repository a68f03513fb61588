"""Test helpers for the sample pilot's directory queue: add jobs, count them, read a status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def add_jobs(jobs: Path, *, count: int, seconds: float, prefix: str = "job") -> None:
    queue = jobs / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        doc = {"id": f"{prefix}-{i}", "seconds": seconds, "progress": 0.0}
        (queue / f"{prefix}-{i}.json").write_text(json.dumps(doc))


def accounting(jobs: Path) -> dict[str, int]:
    """Jobs per folder; `total` must never change (no job lost or duplicated)."""
    queue = len(list((jobs / "queue").glob("*.json")))
    running = len(list((jobs / "running").glob("*/*.json")))
    done = len(list((jobs / "done").glob("*.json")))
    return {"queue": queue, "running": running, "done": done, "total": queue + running + done}


def read_status(jobs: Path, pilot: str) -> dict[str, Any]:
    path = jobs / "status" / f"{pilot}.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    assert isinstance(doc, dict)
    return doc
