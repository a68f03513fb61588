"""Each controller's own settings object (the pilot controller's is controller.pilots.settings).

Frozen dataclasses whose field defaults are the defaults `--help` shows; bundled in
controller.settings.Settings and filled from flags and `$O2_*` there. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from controller.environments.fmqargs import (
    DEFAULT_FMQ_PLUGIN,
    DEFAULT_FMQ_PLUGIN_SEARCH_PATH,
)
from mesosapi.auth import MesosAccess


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
