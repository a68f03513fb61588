"""Exec wrapper: set the parent-death signal (SIGKILL), then exec the task's argv. Stdlib only.

Usage: python -I -S executor/pdeath.py <expected-parent-pid> <argv...>

Why a wrapper and not `preexec_fn`: the executor is multi-threaded (gRPC's threads, asyncio's
helpers), and code run between fork and exec in a threaded process can deadlock on a lock some
other thread held at fork time; `preexec_fn` also forces fork() instead of vfork() and runs
gRPC's fork handlers. This wrapper runs as a fresh single-threaded process instead, so calling
prctl there is safe; the setting survives execve, so the task itself carries it.

The race: if the executor dies between fork and our prctl, the signal would never come, so we
check afterwards that our parent is still the expected pid and die if it is not.
Runs with -I -S (no site, no user paths): it imports only ctypes, os and sys, and costs a few ms.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
EXIT_USAGE = 125
EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXEC = 126


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.stderr.write("usage: pdeath.py <expected-parent-pid> <argv...>\n")
        return EXIT_USAGE
    set_parent_death_signal()
    if os.getppid() != int(argv[0]):
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        os.execvp(argv[1], argv[1:])
    except FileNotFoundError:
        sys.stderr.write(f"o2: command not found: {argv[1]}\n")
        return EXIT_NOT_FOUND
    except OSError as exc:
        sys.stderr.write(f"o2: cannot execute {argv[1]}: {exc.strerror}\n")
        return EXIT_CANNOT_EXEC
    return EXIT_CANNOT_EXEC  # unreachable: execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
