"""Process utilities shared by executor, localmesos, store, cli and controller. Stdlib only.

The bottom layer next to crds (import-linter keeps it free of o2 packages and third-party
libraries): the parent-death exec wrapper (`procutil.pdeath`), signals to processes and process
groups with the SIGTERM-then-SIGKILL ladder (`procutil.signals`), and pid liveness, identity and
exit waits (`procutil.pids`), the collector's setting of long-running processes (`procutil.gc`).
Linux only (prctl, pidfd).
"""

from procutil.pids import alive, exits_within, start_time, wait_exit
from procutil.signals import kill_group, signal_group, signal_pid, terminate

__all__ = [
    "alive",
    "exits_within",
    "kill_group",
    "signal_group",
    "signal_pid",
    "start_time",
    "terminate",
    "wait_exit",
]
