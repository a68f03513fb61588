"""The o2 executor's settings from its environment (MESOS_* and O2_EXECUTOR_*). Pure: no I/O.

The agent sets MESOS_* (see mesosapi.executor.ExecutorEnvironment); the framework may add, in
the ExecutorInfo's command environment:
    O2_EXECUTOR_REPORT_INTERVAL   seconds between full task-table reports (default 10)
    O2_EXECUTOR_STARTUP_TIMEOUT   an OCC task must answer STANDBY within this (default 30)
    O2_EXECUTOR_KILL_STEP         each OCC step of the kill ladder (default 5)
    O2_EXECUTOR_KILL_GRACE        SIGTERM -> SIGKILL of a task's process group (default 5)
    O2_EXECUTOR_LOG_LEVEL         DEBUG, INFO (default), WARNING, ERROR
Durations are seconds ("2.5") or Mesos syntax ("500ms", "2secs").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from executor.launch import Timeouts
from mesosapi.executor import ExecutorEnvironment, parse_duration

_SAFE_TASK_DIR = re.compile(r"^[A-Za-z0-9_.:@+=-]{1,200}$")


def _seconds(env: Mapping[str, str], key: str, *, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        try:
            value = parse_duration(raw)
        except ValueError as exc:
            raise ValueError(f"{key}={raw!r}: expected seconds or a duration like '2secs'") from exc
    if value <= 0:
        raise ValueError(f"{key}={raw!r}: must be positive")
    return value


@dataclass(frozen=True)
class ExecutorSettings:
    mesos: ExecutorEnvironment
    sandbox_root: Path
    """Each task's sandbox is `<sandbox_root>/<task id>` (MESOS_DIRECTORY/<task id>)."""
    report_interval: float = 10.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    log_level: str = "INFO"

    @property
    def shutdown_budget(self) -> float:
        """Time for the kill ladder on SHUTDOWN: most of the grace period, the rest is for
        the final status updates and their acknowledgements."""
        return max(self.mesos.shutdown_grace_period * 0.7, 0.1)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, cwd: Path) -> ExecutorSettings:
        """Parse; ValueError naming the variable when one is missing or malformed."""
        mesos = ExecutorEnvironment.from_env(env)
        timeouts = Timeouts(
            startup=_seconds(env, "O2_EXECUTOR_STARTUP_TIMEOUT", default=30.0),
            kill_step=_seconds(env, "O2_EXECUTOR_KILL_STEP", default=5.0),
            kill_grace=_seconds(env, "O2_EXECUTOR_KILL_GRACE", default=5.0),
        )
        level = env.get("O2_EXECUTOR_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError(f"O2_EXECUTOR_LOG_LEVEL={level!r}: expected DEBUG/INFO/WARNING/ERROR")
        return cls(
            mesos=mesos,
            sandbox_root=Path(mesos.directory) if mesos.directory else cwd,
            report_interval=_seconds(env, "O2_EXECUTOR_REPORT_INTERVAL", default=10.0),
            timeouts=timeouts,
            log_level=level,
        )


def task_dir_problem(task_id: str) -> str | None:
    """Why `task_id` cannot name a sandbox directory, or None (no '/', no '..', no spaces)."""
    if task_id in (".", "..") or not _SAFE_TASK_DIR.match(task_id):
        return f"task id {task_id!r} cannot name a sandbox directory (use [A-Za-z0-9_.:@+=-])"
    return None
