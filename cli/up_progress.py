"""`o2 up`'s progress lines (environments' state and task counts, from a store watch) and the
banner it prints once they have settled."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cli.cas import update_spec
from cli.commands.state import plan_write
from crds.errors import O2Error
from crds.kinds.environment import Environment
from store.api import Store

log = logging.getLogger(__name__)

RECOVERING = (
    "environment {name} lost its tasks with the previous local cluster: recovering it "
    "(as `o2 recover {name}`; --no-recover leaves it in ERROR)"
)
KEPT_LOST = (
    "environment {name} lost its tasks while o2 was down (they were kept running): recovering "
    "it (as `o2 recover {name}`; --no-recover leaves it in ERROR)"
)

Report = Callable[[str, str], None]
"""(source, line) -> None."""


def progress_line(env: Environment) -> str:
    """`physics-1: CONFIGURED -> RUNNING (START_ACTIVITY, tasks_START_ACTIVITY) tasks 2/3 ...`."""
    status = env.status
    head = f"environment {env.name}: {status.state}"
    if status.transition is not None:
        step = status.transition.step
        head += f" ({status.transition.event}{', ' + step if step else ''})"
    elif status.state != env.spec.state:
        head += f" (desired {env.spec.state})"
    if status.run_number is not None:
        head += f", run {status.run_number}"
    counts = ", ".join(f"{state} {n}" for state, n in sorted(status.task_counts.items()))
    if counts:
        head += f"; tasks: {counts}"
    if status.message and status.state == "ERROR" and status.transition is None:
        head += f"; {status.message}"
    return head


def settled(env: Environment) -> bool:
    """At its desired state with no transition under way (or stuck in ERROR)."""
    status = env.status
    at_rest = status.transition is None and status.state == env.spec.state
    return at_rest or status.state == "ERROR"


def summary(envs: Sequence[Environment]) -> str:
    parts = []
    for env in envs:
        part = f"{env.name} {env.status.state}"
        if env.status.state == "RUNNING" and env.status.run_number is not None:
            part += f" run {env.status.run_number}"
        if env.status.state == "ERROR":
            part += f" ({env.status.message}; try `o2 describe env {env.name}`, "
            part += f"then `o2 recover {env.name}`)"
        parts.append(part)
    return "; ".join(parts)


async def previous_environments(store: Store) -> tuple[set[str], int]:
    """Environments that had tasks before this `o2 up`: their status is from the previous
    local cluster, whose processes are gone (or, kept running, may have died since). Not those
    in ERROR for another reason than lost tasks: that ERROR is for the operator to look at.
    With the etcd revision read: any later `status.reconciledRevision` is this `o2 up`'s
    controller's."""
    listed = await store.list(Environment)
    return {env.name for env in listed.items if _stale(env)}, listed.revision


def _stale(env: Environment) -> bool:
    status = env.status
    lost = status.task_counts.get("Lost", 0) > 0
    return status.task_total > 0 and (status.state != "ERROR" or lost)


async def recover(store: Store, name: str) -> None:
    """What `o2 recover NAME` writes: bump spec.recoverRequest (compare-and-swap)."""
    await update_spec(store, Environment, name, mutate=lambda env: plan_write("recover", env))


@dataclass
class Tracker:
    """Which environments count as settled. None before the controller `o2 up` started has
    confirmed it (`since`: the etcd revision read before that controller started; a later
    `status.reconciledRevision` says its task side had Mesos answer for every live task and the
    environment's status was planned from those answers; None: no controller or no cluster
    of `o2 up`'s own, nothing to wait for). A stale one (its tasks ran before this `o2 up`, so
    they may be gone) only once the current controller has said so: it confirmed the tasks
    still run (adopted), or it reported the loss (ERROR) and, with auto-recover, finished the
    recovery `o2 up` asked for. Any other write (a re-applied manifest, a status that still
    shows the old run) proves nothing."""

    names: Sequence[str]
    stale: set[str]
    auto_recover: bool
    since: int | None = None
    latest: dict[str, Environment] = field(default_factory=dict)
    printed: dict[str, str] = field(default_factory=dict)
    recovering: set[str] = field(default_factory=set)
    recovered: set[str] = field(default_factory=set)
    announced: bool = False

    def needs_recovery(self, env: Environment) -> bool:
        wanted = self.auto_recover and env.name in self.stale - self.recovered
        return wanted and env.status.state == "ERROR"

    def observe(self, env: Environment, *, fresh: bool) -> None:
        """`fresh`: written after the progress watch began. A status the current controller
        confirmed counts however it is seen: its write may come before the watch's list (the
        controller starts while the cluster boots, the watch after the samples are applied)."""
        self.latest[env.name] = env
        if fresh and env.status.state != "ERROR":
            self.recovering.discard(env.name)
        proven = fresh or (self.since is not None and self.current(env))
        if proven and env.name in self.stale and self._confirmed(env):
            self.stale.discard(env.name)

    def current(self, env: Environment) -> bool:
        """Confirmed by the controller this `o2 up` started (see the class docstring)."""
        return self.since is None or env.status.reconciled_revision > self.since

    def _confirmed(self, env: Environment) -> bool:
        status = env.status
        if env.name in self.recovered:  # once the RECOVER asked for has ended, either way
            done = status.recovered_request >= env.spec.recover_request
            return done and status.transition is None
        if status.state != "ERROR":  # its tasks still run, as the current controller found
            return self.since is not None and self.current(env)
        return not self.needs_recovery(env)

    def counts(self, name: str) -> bool:
        env = self.latest.get(name)
        if env is None or name in self.stale or name in self.recovering:
            return False
        return self.current(env) and settled(env)

    def all_settled(self) -> bool:
        return all(self.counts(n) for n in self.names)


async def watch_environments(
    store: Store,
    names: Sequence[str],
    *,
    stale: set[str],
    auto_recover: bool,
    report: Report,
    ready: Callable[[str], None],
    since: int | None = None,
    kept: bool = False,
) -> None:
    """Report each change of the named environments (deduplicated) until cancelled; recover
    (once) a stale one that goes to ERROR; call `ready` once, when all have settled and been
    confirmed since `since` (Tracker). `kept`: the stale ones' tasks were kept running."""
    track = Tracker(
        names=names, stale=set(stale) & set(names), auto_recover=auto_recover, since=since
    )
    lost = KEPT_LOST if kept else RECOVERING

    async def seen(env: Environment, *, fresh: bool) -> None:
        track.observe(env, fresh=fresh)
        line = progress_line(env)
        if track.printed.get(env.name) != line:
            track.printed[env.name] = line
            report("o2", line)
        if track.needs_recovery(env):
            track.recovered.add(env.name)
            track.recovering.add(env.name)
            report("o2", lost.format(name=env.name))
            await recover(store, env.name)
        if not track.announced and track.all_settled():
            track.announced = True
            ready(summary([track.latest[n] for n in names]))

    try:
        listed = await store.list(Environment)
        for env in listed.items:
            if env.name in names:
                await seen(env, fresh=False)
        async for event in store.watch(Environment, start_revision=listed.revision + 1):
            if event.obj is not None and event.name in names and event.type != "DELETED":
                await seen(event.obj, fresh=True)
    except O2Error as exc:
        log.warning("Progress watch ended", extra={"error": str(exc)})
        report("o2", f"progress view stopped ({exc}); `o2 get env -w` shows changes")


@dataclass(frozen=True)
class Endpoints:
    """Where this `o2 up`'s parts listen; None for the parts it did not start."""

    etcd: str
    prefix: str
    etcd_data: Path
    logs: Path
    mesos: str | None = None
    gui: str | None = None
    metrics: str | None = None


def banner(done: str, *, at: Endpoints, env: str) -> str:
    """`o2 is up: ...` and what to try next, with the exact endpoints."""
    etcdctl = Path(sys.executable).parent / "etcdctl"
    ctl = str(etcdctl) if etcdctl.exists() else "etcdctl"
    mesos_env = f" O2_MESOS=http://{at.mesos}" if at.mesos else ""
    lines = [
        f"o2 is up: {done}",
        f"  etcd:       {at.etcd} (prefix {at.prefix}; data {at.etcd_data})",
    ]
    if at.mesos:
        lines.append(f"  mesos:      http://{at.mesos}/master/state")
    if at.gui:
        lines.append(f"  dashboard:  {at.gui}")
    if at.metrics:
        lines.append(f"  metrics:    {at.metrics}")
    lines += [
        f"  logs:       {at.logs}",
        f"  try:        export O2_ETCD={at.etcd}{mesos_env}",
        f"              o2 get env; o2 get tasks; o2 describe env {env}",
        f"              o2 stop {env} --yes; o2 start {env}   # a new run number",
        f"              {ctl} --endpoints={at.etcd} watch --prefix {at.prefix}/registry/",
        "  Ctrl-C stops everything (etcd data is kept).",
    ]
    if at.mesos:
        lines.insert(-3, f"              o2 logs {env}-flp-tpc-readout")
    return "\n".join(lines)
