"""Exec wrapper: arm the parent-death signal, then exec argv. Stdlib only; runs as a script.

Usage: python -I -S procutil/pdeath.py [--signal=N] <expected-parent-pid> <argv...>
(`wrap(argv)` builds that command line; the signal defaults to SIGKILL.)

Why a wrapper and not `preexec_fn`: the spawning processes are multi-threaded (gRPC's threads,
asyncio's helpers), and code run between fork and exec in a threaded process can deadlock on a
lock some other thread held at fork time; `preexec_fn` also forces fork() instead of vfork()
and runs gRPC's fork handlers. This wrapper runs as a fresh single-threaded process instead, so
calling prctl there is safe; the setting survives execve, so the program itself carries it, and
its pid is the one the parent spawned.

Caveat (Linux semantics): the signal fires when the *thread* that forked us exits, not only when
the parent process does. Spawn from a thread that lives as long as the owner (the main thread or
the event loop's thread), never from a short-lived worker thread.

The race: if the parent died between fork and prctl, the signal would never come, so after
arming it we check that our parent is still the expected pid and, if not, send ourselves the
signal (exit 1 if it is ignored). Runs with -I -S (no site, no user paths): it imports only
ctypes, os, signal and sys, and costs a few ms.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence

PR_SET_PDEATHSIG = 1
EXIT_PARENT_GONE = 1
EXIT_USAGE = 125
EXIT_CANNOT_EXEC = 126
EXIT_NOT_FOUND = 127
SCRIPT = os.path.abspath(__file__)
"""This file: what `python -I -S` runs (the directory is not on sys.path then)."""
_SIGNAL_FLAG = "--signal="


def wrap(argv: Sequence[str], *, sig: int = signal.SIGKILL, parent: int | None = None) -> list[str]:
    """`argv` behind this wrapper, armed for `parent` (default: the calling process)."""
    flag = [] if sig == signal.SIGKILL else [f"{_SIGNAL_FLAG}{int(sig)}"]
    expected = os.getpid() if parent is None else parent
    return [sys.executable, "-I", "-S", SCRIPT, *flag, str(expected), *argv]


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _parse(argv: list[str]) -> tuple[int, int, list[str]] | None:
    """(signal, expected parent pid, program argv), or None when the usage is wrong."""
    sig = int(signal.SIGKILL)
    if argv and argv[0].startswith(_SIGNAL_FLAG):
        value = argv.pop(0).removeprefix(_SIGNAL_FLAG)
        if not value.isdigit():
            return None
        sig = int(value)
    if len(argv) < 2 or not argv[0].isdigit():
        return None
    return sig, int(argv[0]), argv[1:]


def main(argv: list[str]) -> int:
    parsed = _parse(list(argv))
    if parsed is None:
        sys.stderr.write("usage: pdeath.py [--signal=N] <expected-parent-pid> <argv...>\n")
        return EXIT_USAGE
    sig, parent, program = parsed
    set_parent_death_signal(sig)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)  # the parent is already gone: follow it
        return EXIT_PARENT_GONE
    try:
        os.execvp(program[0], program)
    except FileNotFoundError:
        what = "no such binary" if "/" in program[0] else "command not found"
        sys.stderr.write(f"o2: {what}: {program[0]}\n")
        return EXIT_NOT_FOUND
    except OSError as exc:
        sys.stderr.write(f"o2: cannot execute {program[0]}: {exc.strerror}\n")
        return EXIT_CANNOT_EXEC
    return EXIT_CANNOT_EXEC  # unreachable: execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
