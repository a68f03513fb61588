"""Controller settings: one frozen object per controller, bundled in `Settings` on the Context.

Built once, by `controller.__main__`, from its flags and `$O2_*` (a flag that is given wins, also
when it is 0; an empty value counts as not given); `FLAGS` is the table both the parser and
`--help` are made from. Pure: the caller passes the environment and the function that reads
a secret file; no store, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from controller.environments.fmqargs import (
    DEFAULT_FMQ_PLUGIN,
    DEFAULT_FMQ_PLUGIN_SEARCH_PATH,
    FMQ_PLUGINS,
)
from controller.pilots.settings import PilotSettings
from crds.labels import PILOT_CLASS
from mesosapi.auth import Credentials, MesosAccess, base_url

SECRET_ENV = "O2_MESOS_SECRET"
"""The framework secret itself (never a flag: command lines are world-readable)."""

T = TypeVar("T")


@dataclass(frozen=True)
class TaskSettings:
    """The task controller: o2's Mesos framework."""

    masters: tuple[str, ...] = ()
    """Mesos masters (HOST:PORT) tried in turn; none: the task controller idles."""
    executor_command: str = ""
    """The o2 executor's command line on agents; empty: `o2-executor` beside this Python."""
    reconcile_period: float = 60.0
    """Seconds between explicit reconciliations with the master."""
    framework_name: str = "o2"
    """The framework's name at the master."""
    access: MesosAccess = field(default_factory=MesosAccess)
    """The framework's principal and secret (HTTP Basic) and the CA bundle for https masters."""


@dataclass(frozen=True)
class NodeSettings:
    """The node controller: one Node per agent of the master."""

    master: str = ""
    """The master whose agent list is read (the first of `--mesos`); empty: the controller idles."""
    poll_period: float = 5.0
    """Seconds between reads of the agent list."""
    access: MesosAccess = field(default_factory=MesosAccess)
    """The same credentials and CA bundle as the task controller's."""


@dataclass(frozen=True)
class GitSourceSettings:
    """The GitSource controller."""

    data_dir: Path | None = None
    """The git cache goes to `<data_dir>/gitsource`; None: the user's o2 data directory."""
    git_timeout: float = 60.0
    """Seconds one git command may take."""


@dataclass(frozen=True)
class EnvironmentSettings:
    """The environment controller."""

    deploy_timeout: float = 90.0
    """Seconds the tasks of a DEPLOY may take to be placed and reach STANDBY."""
    transition_timeout: float = 120.0
    """Seconds the tasks of any other transition may take to reach its target."""
    idle_ttl: float = 3600.0
    """Seconds a reusable task released by a finished environment waits for reuse."""
    run_log_size: int = 1000
    """Finished runs the run log keeps (crds.runlog); the oldest are deleted first."""
    dcs_endpoint: str = ""
    """host:port of the DCS Configurator gRPC service the `dcs` plugin calls; empty: none."""
    fmq_plugin: str = DEFAULT_FMQ_PLUGIN
    """The OCC plugin `fairmq` tasks load (`-P`; AliECS's `fmqPlugin`): OCC or OCClite."""
    fmq_plugin_search_path: str = DEFAULT_FMQ_PLUGIN_SEARCH_PATH
    """Where `fairmq` tasks find it on the agents (`-S`; AliECS's `fmqPluginSearchPath`)."""


@dataclass(frozen=True)
class Settings:
    """Every controller's settings; each reconciler reads its own part."""

    tasks: TaskSettings = field(default_factory=TaskSettings)
    nodes: NodeSettings = field(default_factory=NodeSettings)
    gitsource: GitSourceSettings = field(default_factory=GitSourceSettings)
    environments: EnvironmentSettings = field(default_factory=EnvironmentSettings)
    pilots: PilotSettings = field(default_factory=PilotSettings)

    @classmethod
    def load(
        cls,
        flags: Mapping[str, object],
        env: Mapping[str, str],
        *,
        read_secret: Callable[[Path], str] | None = None,
    ) -> Settings:
        """From parsed flags (`vars(args)`, keyed by each Flag's `dest`) and `env`; a value
        that does not parse raises ValueError naming the flag and the variable. `read_secret`
        reads `--mesos-secret-file` (the caller's I/O; it refuses files others may read)."""
        read = _Reader(flags, env)
        masters = tuple(m.strip() for m in read.text("--mesos", "").split(",") if m.strip())
        for master in masters:
            try:
                base_url(master)
            except ValueError as exc:
                raise ValueError(f"--mesos / $O2_MESOS: {exc}") from exc
        access = _mesos_access(read, env, read_secret)
        return cls(
            tasks=TaskSettings(
                masters=masters,
                executor_command=read.text("--executor-command", TaskSettings.executor_command),
                reconcile_period=read.seconds(
                    "--task-reconcile-period", TaskSettings.reconcile_period
                ),
                framework_name=read.text("--framework-name", TaskSettings.framework_name),
                access=access,
            ),
            nodes=NodeSettings(
                master=masters[0] if masters else "",
                poll_period=read.seconds("--node-poll-period", NodeSettings.poll_period),
                access=access,
            ),
            gitsource=GitSourceSettings(
                data_dir=read.get("--data-dir", Path, None),
                git_timeout=read.seconds("--git-timeout", GitSourceSettings.git_timeout),
            ),
            environments=_environment_settings(read),
            pilots=_pilot_settings(read),
        )


def _mesos_access(
    read: _Reader, env: Mapping[str, str], read_secret: Callable[[Path], str] | None
) -> MesosAccess:
    """Principal and secret come together or not at all: one without the other is a mistake
    the master would only report as a 401 much later."""
    principal = read.text("--mesos-principal", "") or None
    secret_file = read.get("--mesos-secret-file", Path, None)
    secret = env.get(SECRET_ENV) or None
    if secret_file is not None:
        if read_secret is None:
            raise ValueError("--mesos-secret-file: no reader given for the secret file")
        secret = read_secret(secret_file)
    if (principal is None) != (secret is None):
        raise ValueError(
            "--mesos-principal / $O2_MESOS_PRINCIPAL and a secret (--mesos-secret-file or "
            f"${SECRET_ENV}) go together: give both or neither"
        )
    credentials = Credentials(principal, secret) if principal and secret else None
    return MesosAccess(credentials=credentials, ca_file=read.text("--mesos-ca-file", "") or None)


def _environment_settings(read: _Reader) -> EnvironmentSettings:
    base = EnvironmentSettings
    return EnvironmentSettings(
        deploy_timeout=read.seconds("--deploy-timeout", base.deploy_timeout),
        transition_timeout=read.seconds("--transition-timeout", base.transition_timeout),
        idle_ttl=read.seconds("--idle-ttl", base.idle_ttl),
        run_log_size=read.get("--run-log-size", _positive, base.run_log_size),
        dcs_endpoint=read.text("--dcs-endpoint", base.dcs_endpoint),
        fmq_plugin=_fmq_plugin(read.text("--fmq-plugin", base.fmq_plugin)),
        fmq_plugin_search_path=read.text("--fmq-plugin-search-path", base.fmq_plugin_search_path),
    )


def _fmq_plugin(value: str) -> str:
    """Only the plugins AliECS accepts: another name would start devices nobody can drive."""
    if value not in FMQ_PLUGINS:
        raise ValueError(
            f"--fmq-plugin / $O2_FMQ_PLUGIN: {value!r} is not a FairMQ OCC plugin; "
            f"give one of {', '.join(FMQ_PLUGINS)}"
        )
    return value


def _pilot_settings(read: _Reader) -> PilotSettings:
    base = PilotSettings
    return PilotSettings(
        pilot_class=read.text("--pilot-class", base.pilot_class),
        cooldown=read.seconds("--pilot-cooldown", base.cooldown),
        max_reclaiming=read.get("--pilot-max-reclaiming", int, base.max_reclaiming),
        pending_age=read.seconds("--pilot-pending-age", base.pending_age),
        reclaim=read.get("--pilot-reclaim", _switch, base.reclaim),
        backoff_base=read.seconds("--pilot-backoff-base", base.backoff_base),
        backoff_max=read.seconds("--pilot-backoff-max", base.backoff_max),
        backoff_reset=read.seconds("--pilot-backoff-reset", base.backoff_reset),
    )


def _switch(value: str) -> bool:
    return value.lower() not in ("off", "false", "0", "no")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def _seconds(value: str) -> float:
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError(value)
    return seconds


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


class _Reader:
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
