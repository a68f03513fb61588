"""Errors the executor side raises, rooted in crds.errors.O2Error. Pure: no I/O.

O2Error
└── ExecutorError               something went wrong running or controlling a task
    ├── SpawnError              the process could not be started (bad argv, cwd, ...)
    └── OccError                talking OCC to a task failed
        ├── OccUnavailableError the task's OCC server cannot be reached
        └── OccTimeoutError     the task did not answer in time
"""

from __future__ import annotations

from crds.errors import O2Error


class ExecutorError(O2Error):
    """Running or controlling a task failed; the message names the task."""


class SpawnError(ExecutorError):
    def __init__(self, task_id: str, reason: str) -> None:
        self.task_id = task_id
        self.reason = reason
        super().__init__(f"task {task_id}: cannot start process: {reason}")


class OccError(ExecutorError):
    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"OCC {target}: {reason}")


class OccUnavailableError(OccError):
    """Nothing answers on the task's OCC port (not up yet, or gone)."""


class OccTimeoutError(OccError):
    """The task accepted the call but did not answer within the deadline."""
