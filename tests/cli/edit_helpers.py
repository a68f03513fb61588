"""Helpers for the `o2 edit|patch|set` tests: the sample objects, the etcd key's write count,
and `o2 edit` run with the scripted editor."""

from __future__ import annotations

import base64
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from cli.main import app
from tests.cli.conftest import O2, SAMPLES

EDITOR_SCRIPT = Path(__file__).with_name("scripted_editor.py")


def with_samples(o2: O2) -> O2:
    applied = o2("apply", "-f", str(SAMPLES))
    assert applied.exit_code == 0, applied.output
    return o2


def stored(o2: O2, plural: str, name: str) -> dict[str, Any]:
    """The key's value and its etcd metadata: `version` counts the writes since creation."""
    answer = json.loads(o2.etcdctl("get", o2.key(plural, name), "-w", "json"))
    kv = answer["kvs"][0]
    value = json.loads(base64.b64decode(kv["value"]))
    return {"doc": value, "version": kv["version"], "mod_revision": kv["mod_revision"]}


def env_state(o2: O2, name: str = "physics-1") -> dict[str, Any]:
    return stored(o2, "environments", name)


def edit(o2: O2, plan_dir: Path, rounds: list[dict[str, Any]], *args: str) -> Result:
    """`o2 edit ARGS` with the scripted editor playing `rounds` (see scripted_editor.py)."""
    plan_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_dir / "plan.json"
    plan.write_text(json.dumps(rounds))
    editor = " ".join(shlex.quote(p) for p in (sys.executable, str(EDITOR_SCRIPT), str(plan)))
    env = {**o2.env, "O2_EDITOR": editor, "EDITOR": None}
    return CliRunner().invoke(app, ["edit", *args], env=env, catch_exceptions=False)


def seen(plan_dir: Path, number: int) -> str:
    """The file as the editor found it when opened the `number`-th time (from 0)."""
    return (plan_dir / f"seen-{number}.yaml").read_text()


def opened(plan_dir: Path) -> int:
    return len(list(plan_dir.glob("seen-*.yaml")))
