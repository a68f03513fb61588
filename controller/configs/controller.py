"""ComponentConfigReconciler: records payload versions, validates payloads, marks stale envs.

Per ComponentConfig (level-triggered, keyed by name):
- a new `spec.data` becomes a new version in `status` (`record_version`: explicit versions
  rather than etcd revisions, which compaction drops; the last HISTORY_LIMIT = 20 versions stay
  in `status.history` with their timestamps), with a `VersionRecorded` Event;
- the payload is checked: placeholders must compile, and the payload must parse as its
  `spec.format` (a templated one with each placeholder read as `0`; it is checked for real
  when rendered at CONFIGURE); Ready=False / Stalled=True (reason InvalidPayload) name the line
  otherwise;
- every Environment whose `status.configVersions` refers to it gets its `ConfigChangePending`
  condition recomputed (controller.configs.pending documents the contract).
Environment changes enqueue the configs they refer to, so the condition also clears itself once
the environment controller has recorded the new versions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime

from controller.configs.pending import PENDING, pending_condition, referenced_names
from controller.runtime.reconciler import Reconciler, Result, Watch
from controller.runtime.status import condition, write_status, write_status_many
from crds.conditions import READY, STALLED, get_condition, set_condition
from crds.configpayload import check_payload as check_payload_text
from crds.errors import ConfigError, ConflictError
from crds.kinds.componentconfig import ComponentConfig, ComponentConfigStatus, record_version
from crds.kinds.environment import Environment
from crds.meta import Condition
from store.informer import CacheEvent

log = logging.getLogger(__name__)

HISTORY_MAX_BYTES = 512 * 1024
"""Payload bytes `status.history` may hold in all (besides the current version), so a resource
with large payloads stays well under etcd's request size limit (1.5 MiB by default)."""


def check_payload(cc: ComponentConfig, *, version: int) -> ConfigError | None:
    """The first problem of the payload as stored (None when it is fine)."""
    where = f"componentconfig/{cc.metadata.name}@{version}"
    try:
        check_payload_text(cc.spec.format, cc.spec.data, config=where)
    except ConfigError as exc:
        return exc
    return None


def trim_history(
    status: ComponentConfigStatus, *, max_bytes: int = HISTORY_MAX_BYTES
) -> ComponentConfigStatus:
    """`status` without its oldest versions beyond `max_bytes` of payload (the newest stays)."""
    kept = list(status.history[-1:])
    total = 0
    for old in reversed(status.history[:-1]):
        total += len(old.data.encode())
        if total > max_bytes:
            break
        kept.insert(0, old)
    if len(kept) == len(status.history):
        return status
    return status.model_copy(update={"history": tuple(kept)})


def plan_status(
    cc: ComponentConfig, *, now: datetime
) -> tuple[ComponentConfigStatus, list[Condition]]:
    """The status to write: the version bookkeeping plus Ready and Stalled."""
    status = trim_history(record_version(cc, now=now))
    problem = check_payload(cc, version=status.version)
    if problem is None:
        message = f"version {status.version}, valid {cc.spec.format}"
        return status, [
            condition(READY, True, reason="Valid", message=message),
            condition(STALLED, False, reason="Valid"),
        ]
    return status, [
        condition(READY, False, reason="InvalidPayload", message=str(problem)),
        condition(STALLED, True, reason="InvalidPayload", message=str(problem)),
    ]


def configs_of_environment(event: CacheEvent[Environment]) -> Iterable[str]:
    """The configs an environment refers to, when its refs or its state changed."""
    old, new = event.old, event.new
    if old is not None and new is not None:
        same_refs = old.status.config_versions == new.status.config_versions
        if same_refs and old.status.state == new.status.state:
            return ()
    names: set[str] = set()
    for env in (old, new):
        if env is not None:
            names |= referenced_names(env)
    return names


class ComponentConfigReconciler(Reconciler):
    name = "componentconfigs"
    kind = ComponentConfig
    workers = 2
    resync_period = 600.0

    def watches(self) -> list[Watch]:
        return [Watch(Environment, configs_of_environment)]

    async def reconcile(self, key: str) -> Result:
        cc = self.ctx.cache(ComponentConfig).get(key)
        if cc is not None:
            written = await self._record(cc)
            await self.ctx.caught_up(ComponentConfig, written.metadata.resource_version)
        await self._mark_environments(key)
        return Result()

    async def _record(self, cc: ComponentConfig) -> ComponentConfig:
        # in a worker thread: the payload's templates may take a moment (crds.templatework)
        status, conditions = await asyncio.to_thread(plan_status, cc, now=self.ctx.clock.now())
        before = cc.status.version
        written = await write_status(self.ctx.store, cc, status, conditions=conditions)
        if status.version != before:
            log.info(
                "Recorded config version",
                extra={"componentconfig": cc.metadata.name, "version": status.version},
            )
            self.ctx.events.event(
                written, reason="VersionRecorded", message=f"version {status.version}"
            )
        ready = get_condition(written.status.conditions, READY)
        if ready is not None and ready.status == "False" and status.version != before:
            self.ctx.events.event(
                written, reason="InvalidPayload", message=ready.message, warning=True
            )
        return written

    async def _mark_environments(self, name: str) -> None:
        """Recompute ConfigChangePending of every environment using `name`; one batched write
        (the cache already shows the version just recorded: `reconcile` waited for it)."""
        configs = {cc.metadata.name: cc for cc in self.ctx.cache(ComponentConfig).list()}
        envs = [e for e in self.ctx.cache(Environment).list() if name in referenced_names(e)]
        marks = plan_marks(envs, configs, now=self.ctx.clock.now())
        if not marks:
            return
        stored = {env.name: env for env in envs}
        changes = [(stored[env.name], env.status) for env, _ in marks]
        result = await write_status_many(self.ctx.store, changes, observe=False)
        wanted_of = {env.name: wanted for env, wanted in marks}
        for env in result.written:
            wanted = wanted_of[env.name]
            log.info(
                "Marked environment",
                extra={
                    "environment": env.metadata.name,
                    "condition": PENDING,
                    "status": wanted.status,
                    "componentconfig": name,
                },
            )
            if wanted.status == "True":
                self.ctx.events.event(env, reason=PENDING, message=wanted.message)
        if result.errors:
            raise result.errors[0][1]
        if result.conflicts:  # the runtime retries the key, rate-limited
            stale = result.conflicts[0]
            raise ConflictError(stale.kind, stale.name, expected=stale.metadata.resource_version)


def plan_marks(
    envs: Iterable[Environment], configs: Mapping[str, ComponentConfig], *, now: datetime
) -> list[tuple[Environment, Condition]]:
    """The environments whose ConfigChangePending must change, with their new status set."""
    marks: list[tuple[Environment, Condition]] = []
    for env in envs:
        wanted = pending_condition(env, configs)
        if wanted is None or _same(env, wanted):
            continue
        conditions = set_condition(env.status.conditions, wanted, now=now)
        status = env.status.model_copy(update={"conditions": conditions})
        marks.append((env.model_copy(update={"status": status}), wanted))
    return marks


def _same(env: Environment, wanted: Condition) -> bool:
    current = get_condition(env.status.conditions, wanted.type)
    return (
        current is not None
        and current.status == wanted.status
        and current.reason == wanted.reason
        and current.message == wanted.message
    )
