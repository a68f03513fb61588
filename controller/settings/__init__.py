"""Controller settings: one frozen object per controller, bundled in `Settings` on the Context.

Built once, by `controller.__main__`, from its flags and `$O2_*` (a flag that is given wins, also
when it is 0; an empty value counts as not given); `FLAGS` (controller.settings.flags) is the
table both the parser and `--help` are made from; each controller's object is in
controller.settings.sections. Pure: the caller passes the environment and the function that
reads a secret file; no store, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from controller.environments.fmqargs import FMQ_PLUGINS
from controller.pilots.settings import PilotSettings
from controller.settings.flags import FLAGS, SECRET_ENV, Flag, Reader
from controller.settings.sections import (
    EnvironmentSettings,
    GitSourceSettings,
    NodeSettings,
    TaskSettings,
)
from mesosapi.auth import Credentials, MesosAccess, base_url

__all__ = [
    "FLAGS",
    "SECRET_ENV",
    "EnvironmentSettings",
    "Flag",
    "GitSourceSettings",
    "NodeSettings",
    "Settings",
    "TaskSettings",
]


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
        read = Reader(flags, env)
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
    read: Reader, env: Mapping[str, str], read_secret: Callable[[Path], str] | None
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


def _environment_settings(read: Reader) -> EnvironmentSettings:
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


def _pilot_settings(read: Reader) -> PilotSettings:
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
