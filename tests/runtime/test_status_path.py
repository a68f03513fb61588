"""Every controller status write goes through controller.runtime.status (write_status,
write_status_many): observedGeneration, conditions and no-op skipping live in one place."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "controller"
THE_PATH = ROOT / "runtime" / "status.py"
RAW_WRITES = {"update_status", "update_status_many"}


def raw_status_writes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in RAW_WRITES
    ]


def test_no_controller_writes_status_around_write_status() -> None:
    found = [
        hit for p in sorted(ROOT.rglob("*.py")) if p != THE_PATH for hit in raw_status_writes(p)
    ]
    assert found == [], "write status through controller.runtime.status: " + ", ".join(found)


def test_the_check_sees_a_raw_status_write() -> None:
    sample = ROOT / "runtime" / "status.py"
    assert raw_status_writes(sample)  # the one place that calls the store
