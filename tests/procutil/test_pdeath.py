"""The parent-death exec wrapper, run for real: argv, the armed signal, the races, the errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from procutil import exits_within, pdeath
from procutil.pdeath import EXIT_CANNOT_EXEC, EXIT_NOT_FOUND, EXIT_USAGE, SCRIPT, wrap

READ_PDEATHSIG = (
    "import ctypes, sys; sig = ctypes.c_int(-1); "
    "ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0); sys.exit(sig.value)"
)  # PR_GET_PDEATHSIG, reported as the exit code
NOT_OUR_PID = os.getpid() + 1_000_000
"""An expected parent that is not the real one: the wrapper must take its parent for dead."""


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)


def test_wrap_runs_the_script_isolated_armed_for_the_caller() -> None:
    assert wrap(["etcd", "--x"]) == [
        sys.executable,
        "-I",
        "-S",
        SCRIPT,
        str(os.getpid()),
        "etcd",
        "--x",
    ]
    assert wrap(["a"], sig=signal.SIGTERM, parent=42)[4:] == ["--signal=15", "42", "a"]
    assert Path(pdeath.__file__).resolve() == Path(SCRIPT)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_program_runs_with_the_death_signal_armed(sig: signal.Signals) -> None:
    done = run(wrap([sys.executable, "-c", READ_PDEATHSIG], sig=sig))
    assert done.returncode == sig, done.stderr


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_wrapper_follows_a_parent_that_already_died(sig: signal.Signals) -> None:
    done = run(wrap(["/bin/true"], sig=sig, parent=NOT_OUR_PID))
    assert done.returncode == -sig


def test_a_command_is_looked_up_in_path() -> None:
    done = run(wrap(["sh", "-c", "exit 7"]))
    assert done.returncode == 7


def test_a_missing_path_and_a_missing_command_are_told_apart(tmp_path: Path) -> None:
    missing_path = run(wrap([str(tmp_path / "nope")]))
    assert missing_path.returncode == EXIT_NOT_FOUND
    assert f"o2: no such binary: {tmp_path / 'nope'}" in missing_path.stderr
    missing_command = run(wrap(["o2-no-such-command-here"]))
    assert missing_command.returncode == EXIT_NOT_FOUND
    assert "o2: command not found: o2-no-such-command-here" in missing_command.stderr


def test_a_file_that_cannot_run_is_reported(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("not a program\n")
    done = run(wrap([str(data)]))
    assert done.returncode == EXIT_CANNOT_EXEC
    assert f"o2: cannot execute {data}: Permission denied" in done.stderr


@pytest.mark.parametrize(
    "args", [[], ["123"], ["abc", "/bin/true"], ["--signal=TERM", "1", "/bin/true"]]
)
def test_bad_usage_exits_125(args: list[str]) -> None:
    done = run([sys.executable, "-I", "-S", SCRIPT, *args])
    assert done.returncode == EXIT_USAGE
    assert "usage:" in done.stderr


OWNER = textwrap.dedent(
    """
    import subprocess, sys
    from procutil.pdeath import wrap
    sig = int(sys.argv[1])
    child = subprocess.Popen(wrap(["sleep", "60"], sig=sig))
    print(child.pid, flush=True)
    child.wait()
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_wrapped_program_dies_when_its_owner_is_killed(sig: signal.Signals) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(int(sig))], stdout=subprocess.PIPE, text=True
    )
    child = 0
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        owner.kill()  # before or after the wrapper's prctl: the child must follow either way
        owner.wait(timeout=10)
        assert exits_within(child, 10), "the wrapped program outlived its owner"
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
        if child and not exits_within(child, 0):
            os.kill(child, signal.SIGKILL)
