"""`o2 apply --dry-run` refuses an alias bomb at once, in a process that stays small."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import O2
from tests.manifest_bombs import alias_bomb

LIMIT_BYTES = 2 * 1024**3
CAPPED_O2 = (
    "import atexit, resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({LIMIT_BYTES}, {LIMIT_BYTES})); "
    "atexit.register(lambda: sys.stderr.write(open('/proc/self/status').read())); "
    "runpy.run_module('cli.main', run_name='__main__', alter_sys=True)"
)
"""`o2` under an address-space cap (a regression fails fast instead of exhausting the machine),
printing /proc/self/status at exit: its VmHWM is the peak RSS of this program alone (ru_maxrss
of a child also counts the forked copy of pytest before exec)."""


def _peak_mb(status: str) -> float:
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def test_apply_dry_run_refuses_the_alias_bomb_quickly_and_small(o2: O2, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert len(bomb.read_bytes()) < 450
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CAPPED_O2, "apply", "--dry-run", "-f", str(bomb)],
        env=o2.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 1
    assert "document 1: YAML aliases are not allowed in o2 manifests (found *a at line 7)" in (
        done.stderr
    )
    assert _peak_mb(done.stderr) < 100  # the interpreter and imports alone are about 55 MB
    assert elapsed < 15  # interpreter start-up included (1-3 s here); unbounded before
