"""Hooks run as real argv subprocesses: exit codes, captured output, timeouts that kill."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from pathlib import Path

from controller.environments.expansion import Hook
from controller.environments.hooks import HookKey, HookResult, HookRunner, run_hook
from crds.moments import parse_moment
from tests.waiting import eventually

MOMENT = parse_moment("before_START_ACTIVITY")


def hook(*argv: str, timeout: float = 5.0) -> Hook:
    return Hook("sor", argv, MOMENT, MOMENT, timeout, True)


async def test_successful_hook_captures_output() -> None:
    result = await run_hook(hook(sys.executable, "-c", "print('start-of-run 7')"))
    assert result.ok and result.exit_code == 0
    assert result.output.strip() == "start-of-run 7"


async def test_failing_hook_reports_exit_code_and_output_tail() -> None:
    code = "import sys; print('no beam'); sys.exit(3)"
    result = await run_hook(hook(sys.executable, "-c", code))
    assert not result.ok and result.exit_code == 3
    assert "exit code 3" in result.message and "no beam" in result.message


async def test_argv_is_not_interpreted_by_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = await run_hook(hook("echo", f"; touch {marker}"))
    assert result.ok and not marker.exists()
    assert result.output.strip() == f"; touch {marker}"


async def test_missing_program_is_a_failure_not_a_crash() -> None:
    result = await run_hook(hook("/nonexistent/o2-hook"))
    assert not result.ok and "cannot start" in result.message


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid));"
        "time.sleep(60)"
    )
    started = time.monotonic()
    result = await run_hook(hook(sys.executable, "-c", code, timeout=1.0))
    assert not result.ok and "timed out after 1s" in result.message
    assert time.monotonic() - started < 5
    child = int(pidfile.read_text())
    await eventually(lambda: _gone(child), within=5)


def _gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie waiting for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def collected(runner: HookRunner, awaited: list[tuple[HookKey, Hook]]) -> list[HookResult]:
    """Collect as a reconcile does: again each time the runner calls back."""
    called = asyncio.Event()
    async with asyncio.timeout(10):
        while (outcomes := runner.collect(awaited, then=called.set)) is None:
            await called.wait()
            called.clear()
    return outcomes


async def test_runner_awaits_a_hook_started_earlier_once() -> None:
    runner = HookRunner()
    key = ("uid", "t0", "sor")
    h = hook(sys.executable, "-c", "print('once')")
    runner.start(key, h)
    runner.start(key, h)
    (result,) = await collected(runner, [(key, h)])
    assert result.ok and result.output.count("once") == 1
    assert len(runner) == 0
    await runner.close()


async def test_runner_hands_out_outcomes_only_once_every_awaited_hook_has_ended() -> None:
    runner = HookRunner()
    release = asyncio.Event()
    fast = (("uid", "t0", "fast"), hook(sys.executable, "-c", "print('fast')"))
    slow = (("uid", "t0", "slow"), hook(sys.executable, "-c", "import time; time.sleep(30)"))
    assert runner.collect([fast, slow], then=release.set) is None
    await asyncio.wait_for(release.wait(), 10)  # the fast one ended: still not all
    assert runner.collect([fast, slow], then=release.set) is None
    runner.prune("uid", keep="t1")  # another transition: the slow one is killed and forgotten
    assert len(runner) == 0
    (outcome,) = await collected(runner, [fast])  # never started here since: runs again
    assert outcome.ok and outcome.output.strip() == "fast"


async def test_argument_with_nul_byte_is_a_failure_not_a_crash() -> None:
    result = await run_hook(hook("echo", "a\x00b"))
    assert not result.ok and "cannot start" in result.message


async def test_hook_environment_is_the_allow_list_and_the_workflows_variables() -> None:
    controller_env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "O2_ETCD": "http://etcd:2379"}
    show = hook("sh", "-c", 'echo "path=$PATH lc=$LC_ALL etcd=[$O2_ETCD] det=$DETECTOR"')
    with_env = dataclasses.replace(show, env=(("DETECTOR", "TPC"),))
    result = await run_hook(with_env, environ=controller_env)
    assert result.output.strip() == "path=/usr/bin:/bin lc=C etcd=[] det=TPC"


async def test_secret_a_hook_prints_anyway_is_masked_in_its_output_and_message() -> None:
    controller_env = {"PATH": "/usr/bin:/bin", "GUI_TOKEN": "tok-0123456789"}
    result = await run_hook(hook("echo", "token tok-0123456789 here"), environ=controller_env)
    assert result.output.strip() == "token *** here"
    assert "tok-0123456789" not in result.message
