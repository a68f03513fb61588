"""The controller's settings as the command line and the environment name them.

`FLAGS` is the table both `o2 controller`'s parser and its `--help` are made from: each
setting's flag, `$O2_*` variable, shown default and help. `Reader` reads a value by flag: the
flag when given (also when it is 0), else its variable, else the default (an empty value
counts as not given). Pure: the caller passes the parsed flags and the environment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from controller.pilots.settings import PilotSettings
from controller.settings.sections import (
    EnvironmentSettings,
    GitSourceSettings,
    NodeSettings,
    TaskSettings,
)
from crds.labels import PILOT_CLASS

T = TypeVar("T")

SECRET_ENV = "O2_MESOS_SECRET"
"""The framework secret itself (never a flag: command lines are world-readable)."""


@dataclass(frozen=True)
class Flag:
    """A setting's command-line flag and environment variable."""

    option: str
    env: str
    default: str
    """The default, as `--help` shows it."""
    help: str
    metavar: str = "SECONDS"

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")


def _g(value: float) -> str:
    return f"{value:g}"


FLAGS: dict[str, tuple[Flag, ...]] = {
    "task and node controllers (Mesos)": (
        Flag(
            "--mesos",
            "O2_MESOS",
            "none: both idle",
            "Mesos masters, HOST:PORT or http(s)://HOST:PORT (comma-separated for several)",
            metavar="URL,...",
        ),
        Flag(
            "--mesos-principal",
            "O2_MESOS_PRINCIPAL",
            "none: anonymous",
            f"framework principal for HTTP Basic authentication (secret: ${SECRET_ENV} or "
            "--mesos-secret-file)",
            metavar="PRINCIPAL",
        ),
        Flag(
            "--mesos-secret-file",
            "O2_MESOS_SECRET_FILE",
            "none",
            "file (mode 600) holding the framework secret on its first line",
            metavar="FILE",
        ),
        Flag(
            "--mesos-ca-file",
            "O2_MESOS_CA_FILE",
            "the system CAs",
            "CA bundle that verifies https:// masters",
            metavar="FILE",
        ),
        Flag(
            "--executor-command",
            "O2_EXECUTOR_COMMAND",
            "o2-executor beside this Python",
            "o2 executor command line for agents",
            metavar="COMMAND",
        ),
        Flag(
            "--task-reconcile-period",
            "O2_TASK_RECONCILE_PERIOD",
            _g(TaskSettings.reconcile_period),
            "seconds between reconciles with the Mesos master",
        ),
        Flag(
            "--framework-name",
            "O2_FRAMEWORK_NAME",
            TaskSettings.framework_name,
            "the framework's name at the Mesos master",
            metavar="NAME",
        ),
        Flag(
            "--node-poll-period",
            "O2_NODE_POLL_PERIOD",
            _g(NodeSettings.poll_period),
            "seconds between reads of the master's agent list",
        ),
    ),
    "gitsource controller": (
        Flag(
            "--data-dir",
            "O2_DATA_DIR",
            "~/.local/share/o2",
            "where controllers keep local caches, e.g. git clones",
            metavar="DIR",
        ),
        Flag(
            "--git-timeout",
            "O2_GIT_TIMEOUT",
            _g(GitSourceSettings.git_timeout),
            "seconds one git command may take",
        ),
    ),
    "environment controller": (
        Flag(
            "--deploy-timeout",
            "O2_DEPLOY_TIMEOUT",
            _g(EnvironmentSettings.deploy_timeout),
            "seconds a DEPLOY's tasks may take to be placed and reach STANDBY",
        ),
        Flag(
            "--transition-timeout",
            "O2_TRANSITION_TIMEOUT",
            _g(EnvironmentSettings.transition_timeout),
            "seconds the tasks of any other transition may take",
        ),
        Flag(
            "--idle-ttl",
            "O2_IDLE_TTL",
            _g(EnvironmentSettings.idle_ttl),
            "seconds a released reusable task waits for reuse before it is deleted",
        ),
        Flag(
            "--run-log-size",
            "O2_RUN_LOG_SIZE",
            str(EnvironmentSettings.run_log_size),
            "finished runs kept in etcd's run log (GUI Runs page, `o2 get runs`); oldest go first",
            metavar="RUNS",
        ),
        Flag(
            "--dcs-endpoint",
            "O2_DCS_ENDPOINT",
            "",
            "host:port of the DCS gRPC service of the `dcs` integration plugin",
            metavar="HOST:PORT",
        ),
        Flag(
            "--fmq-plugin",
            "O2_FMQ_PLUGIN",
            EnvironmentSettings.fmq_plugin,
            "OCC plugin of `fairmq` tasks, appended as `-P` (OCC or OCClite)",
            metavar="PLUGIN",
        ),
        Flag(
            "--fmq-plugin-search-path",
            "O2_FMQ_PLUGIN_SEARCH_PATH",
            EnvironmentSettings.fmq_plugin_search_path,
            "where `fairmq` tasks find their OCC plugin on the agents, appended as `-S`",
            metavar="DIR",
        ),
    ),
    "pilot controller": (
        Flag(
            "--pilot-class",
            "O2_PILOT_CLASS",
            PilotSettings.pilot_class,
            f"the TaskClass async nodes run (annotation {PILOT_CLASS} overrides it per node)",
            metavar="CLASS",
        ),
        Flag(
            "--pilot-cooldown",
            "O2_PILOT_COOLDOWN",
            _g(PilotSettings.cooldown),
            "seconds a reclaimed node stays sync once its environment no longer needs it",
        ),
        Flag(
            "--pilot-max-reclaiming",
            "O2_PILOT_MAX_RECLAIMING",
            str(PilotSettings.max_reclaiming),
            "nodes that may drain for reclaim at once",
            metavar="N",
        ),
        Flag(
            "--pilot-pending-age",
            "O2_PILOT_PENDING_AGE",
            _g(PilotSettings.pending_age),
            "seconds a task must be unschedulable before it may reclaim a node",
        ),
        Flag(
            "--pilot-reclaim",
            "O2_PILOT_RECLAIM",
            "on",
            "automatic reclaim at all (off, false, 0 or no turn it off)",
            metavar="on|off",
        ),
        Flag(
            "--pilot-backoff-base",
            "O2_PILOT_BACKOFF_BASE",
            _g(PilotSettings.backoff_base),
            "seconds before restarting a pilot that ended by itself, doubling per end in a row "
            "(0: at once)",
        ),
        Flag(
            "--pilot-backoff-max",
            "O2_PILOT_BACKOFF_MAX",
            _g(PilotSettings.backoff_max),
            "the longest wait between two pilots, seconds",
        ),
        Flag(
            "--pilot-backoff-reset",
            "O2_PILOT_BACKOFF_RESET",
            _g(PilotSettings.backoff_reset),
            "seconds a pilot must run for its node's back-off to start over",
        ),
    ),
}
"""Every setting's flag, by the controller it configures (the groups of `--help`)."""


_BY_OPTION = {flag.option: flag for group in FLAGS.values() for flag in group}


class Reader:
    """Values by flag: the flag when given, else its environment variable, else the default."""

    def __init__(self, flags: Mapping[str, object], env: Mapping[str, str]) -> None:
        self.flags = flags
        self.env = env

    def raw(self, option: str) -> str | None:
        flag = _BY_OPTION[option]
        value = self.flags.get(flag.dest)
        if value is None or value == "":
            value = self.env.get(flag.env)
        return None if value is None or value == "" else str(value)

    def get(self, option: str, parse: Callable[[str], T], default: T) -> T:
        value = self.raw(option)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            flag = _BY_OPTION[option]
            raise ValueError(f"{flag.option} / ${flag.env}: cannot read {value!r}") from exc

    def text(self, option: str, default: str) -> str:
        return self.get(option, str, default)

    def seconds(self, option: str, default: float) -> float:
        return self.get(option, _seconds, default)


def _seconds(value: str) -> float:
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError(value)
    return seconds
