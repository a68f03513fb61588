"""Exec wrapper for the embedded etcd: arm PR_SET_PDEATHSIG=SIGKILL, then exec argv. Stdlib only.

Usage: python -I -S store/pdeath_exec.py <expected-parent-pid> <argv...>

The store's own copy of the technique in executor/pdeath.py (the store may not import the
executor). It runs as a fresh single-threaded process, so calling prctl is safe here, unlike a
`preexec_fn` in a threaded parent; the setting survives execve, so etcd itself carries it.

Caveat (Linux semantics): the signal fires when the *thread* that forked us exits, not only when
the parent process does. Callers must spawn from a thread that lives as long as the owner (the
main thread or the event loop's thread), never from a short-lived worker thread.

Race: if the parent died between fork and prctl, no signal would ever come; so after arming it
we check that our parent is still the expected pid, and kill ourselves if it is not.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
EXIT_USAGE = 125
EXIT_CANNOT_EXEC = 126
EXIT_NOT_FOUND = 127


def arm_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.stderr.write("usage: pdeath_exec.py <expected-parent-pid> <argv...>\n")
        return EXIT_USAGE
    arm_parent_death_signal()
    if os.getppid() != int(argv[0]):
        os.kill(os.getpid(), signal.SIGKILL)  # the parent is already gone: follow it
    try:
        os.execv(argv[1], argv[1:])
    except FileNotFoundError:
        sys.stderr.write(f"o2: no such binary: {argv[1]}\n")
        return EXIT_NOT_FOUND
    except OSError as exc:
        sys.stderr.write(f"o2: cannot execute {argv[1]}: {exc.strerror}\n")
        return EXIT_CANNOT_EXEC
    return EXIT_CANNOT_EXEC  # unreachable: execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
