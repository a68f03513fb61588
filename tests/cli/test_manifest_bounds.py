"""`o2 apply --dry-run` refuses an alias bomb at once, in a process that stays small."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import O2
from tests.manifest_bombs import alias_bomb

LIMIT_BYTES = 2 * 1024**3
"""Address-space cap on the child: a regression fails fast instead of exhausting the machine."""
CAPPED_O2 = (
    "import resource, runpy; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({LIMIT_BYTES}, {LIMIT_BYTES})); "
    "runpy.run_module('cli.main', run_name='__main__', alter_sys=True)"
)


def test_apply_dry_run_refuses_the_alias_bomb_quickly_and_small(o2: O2, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert len(bomb.read_bytes()) < 450
    out, err = tmp_path / "out", tmp_path / "err"
    start = time.monotonic()
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CAPPED_O2, "apply", "--dry-run", "-f", str(bomb)],
            env=o2.subprocess_env(),
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 1
    assert "document 1: YAML aliases are not allowed in o2 manifests (found *a at line 7)" in (
        err.read_text()
    )
    assert usage.ru_maxrss / 1024 < 100  # MB; the interpreter and imports alone are about 55
    assert elapsed < 15  # interpreter start-up included (1-3 s here); unbounded before
