"""The GitSource reconciler: fetch, parse, plan, apply, prune, heal, report. I/O at the edges.

observe (GitSource, informer caches, the commit: controller.gitsource.commits) -> plan
(controller.gitsource.plan, pure) -> act (store writes, CAS, ownership checked on the same read)
-> status (written only when changed).
Triggers: the interval (Result(requeue_after)), an `o2.dev/sync-requested-at` annotation
(`o2 sync`), an `o2.dev/diff-requested-at` annotation (`o2 diff gitsource`: plan only), and
any change to an object carrying the source's label (drift is seen at once, from the cache,
without fetching). Settings: `ctx.settings.gitsource` (`--data-dir`: the git cache goes to
`<data_dir>/gitsource`; `--git-timeout`); time from `ctx.clock`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from controller.gitsource.act import UNTOUCHED, Written, claim_apply, prune
from controller.gitsource.commits import Commits, Fetched
from controller.gitsource.git import GitCache
from controller.gitsource.manifests import describe_errors
from controller.gitsource.plan import (
    ObjKey,
    Plan,
    aggregate_health,
    health_of,
    key_of,
    kind_rank,
    plan_sync,
    settle,
)
from controller.gitsource.source import Sources
from controller.gitsource.status import (
    Outcome,
    conflict_condition,
    conflict_message,
    diff_request,
    diffed,
    failed,
    suspended,
    sync_request,
    synced,
)
from controller.runtime.reconciler import Context, Reconciler, Result, Watch, label_value
from controller.runtime.status import write_status
from crds.duration import parse_duration
from crds.errors import (
    ConflictError,
    SourceError,
    ValidationError,
)
from crds.kinds.gitsource import (
    DiffResult,
    GitSource,
    GitSourceStatus,
)
from crds.labels import SOURCE_LABEL
from crds.meta import Condition
from crds.resource import Resource, all_kinds
from store.embedded import default_data_dir
from store.informer import CacheEvent

log = logging.getLogger(__name__)

APPLY_IN_FLIGHT = 16
"""Objects of one kind written concurrently (as `o2 apply`)."""
ERROR_RETRY = 30.0
"""Seconds before retrying a failed fetch (or the interval, when shorter)."""


@dataclass(frozen=True)
class Failure:
    """Why the newest commit could not be applied."""

    reason: str
    message: str
    commit: str | None


class GitSourceReconciler(Reconciler):
    name = "gitsource"
    kind = GitSource
    workers = 2
    resync_period = 600.0

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        settings = ctx.settings.gitsource
        root = (settings.data_dir or default_data_dir().parent) / "gitsource"
        git = Sources(GitCache(root, timeout=settings.git_timeout))
        self.commits = Commits(git, on_ignored=self._report_ignored)
        self.models = {i.kind: i.model for i in all_kinds() if i.kind != "Event"}
        self._fetched: dict[str, Fetched] = {}
        self._fetch_errors: dict[str, tuple[float, SourceError]] = {}

    def watches(self) -> Sequence[Watch]:
        managed = [Watch(model, label_value(SOURCE_LABEL)) for model in self.models.values()]
        return [*managed, Watch(GitSource, self._others_when_deleted)]

    def _others_when_deleted(self, event: CacheEvent[Any]) -> Iterable[str]:
        """A deleted GitSource releases its objects: the others may adopt them."""
        if event.type != "DELETED":
            return ()
        return [n for n in self.ctx.cache(GitSource).names() if n != event.name]

    # ----- reconcile ------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        gs = self.ctx.cache(GitSource).get(key)
        if gs is None or gs.metadata.deletion_timestamp is not None:
            self._fetched.pop(key, None)
            self._fetch_errors.pop(key, None)
            return Result()  # managed objects stay (orphaned), as with `o2 apply`
        if gs.spec.suspend:
            await self._write(gs, *suspended(gs.status))
            return Result()
        if diff_request(gs) is not None:
            gs = await self._answer_diff(gs)
        return await self._sync(gs)

    async def _sync(self, gs: GitSource) -> Result:
        request = sync_request(gs)
        interval = max(parse_duration(gs.spec.interval), 1.0)
        try:
            fetched = await self._current(gs, force=request is not None, interval=interval)
        except SourceError as exc:
            failure = Failure(reason="FetchFailed", message=str(exc), commit=None)
            await self._hold_last_good(gs, failure, request=request)
            return Result(requeue_after=min(interval, ERROR_RETRY))
        if isinstance(fetched.desired, ValidationError):
            failure = Failure(
                reason="InvalidManifests",
                message=describe_errors(fetched.desired, commit=fetched.commit),
                commit=fetched.commit,
            )
            await self._hold_last_good(gs, failure, request=request)
        else:
            await self._apply(gs, fetched.commit, fetched.desired, request=request)
        elapsed = self.ctx.clock.monotonic() - fetched.at
        return Result(requeue_after=max(interval - elapsed, 0.5))

    async def _current(self, gs: GitSource, *, force: bool, interval: float) -> Fetched:
        """The cached fetch, or a new one when due, requested, or the spec moved."""
        spec_key = (gs.spec.url, gs.spec.ref, gs.spec.path, gs.spec.format)
        cached = self._fetched.get(gs.metadata.name)
        now = self.ctx.clock.monotonic()
        if not force and cached and cached.spec_key == spec_key and now - cached.at < interval:
            return cached
        recent = self._fetch_errors.get(gs.metadata.name)
        if not force and recent is not None and now - recent[0] < min(interval, ERROR_RETRY):
            raise SourceError(str(recent[1]))  # no fetch storm while the remote is down
        try:
            fresh = await self.commits.fetch(gs, at=now)
        except SourceError as exc:
            self._fetch_errors[gs.metadata.name] = (now, exc)
            raise
        self._fetch_errors.pop(gs.metadata.name, None)
        self._fetched[gs.metadata.name] = fresh
        return fresh

    def _report_ignored(self, gs: GitSource, message: str) -> None:
        """AliECS constructs the newest parse ignored: an Event on the GitSource, and a log."""
        self.ctx.events.event(gs, reason="AliecsIgnored", message=message, warning=True)
        log.warning("AliecsIgnored", extra={"gitsource": gs.metadata.name, "warnings": message})

    async def _hold_last_good(
        self, gs: GitSource, failure: Failure, *, request: str | None
    ) -> None:
        """The newest commit is invalid or cannot be fetched: keep the last applied one in
        effect (drift is still healed, prune and health still follow it), report the failure."""
        good = gs.status.last_applied_commit
        desired: list[Resource] | ValidationError | None = None
        if good is not None:
            try:
                desired = await self.commits.parse(gs, good)
            except SourceError:
                desired = None
        if good is None or not isinstance(desired, list):
            await self._fail(
                gs, reason=failure.reason, message=failure.message, commit=failure.commit
            )
            return
        await self._apply(gs, good, desired, request=request, failure=failure)

    def _plan(self, gs: GitSource, commit: str, desired: list[Resource]) -> Plan:
        keys = {(o.kind, o.metadata.name) for o in desired}
        keys |= {(e.kind, e.name) for e in gs.status.inventory}
        return plan_sync(
            desired,
            source=gs.metadata.name,
            commit=commit,
            applied_commit=gs.status.last_applied_commit,
            inventory=gs.status.inventory,
            live=self._live(keys),
            sources=set(self.ctx.cache(GitSource).names()),
            self_heal=gs.spec.self_heal,
            prune=gs.spec.prune,
        )

    def _live(self, keys: Iterable[ObjKey]) -> dict[ObjKey, Resource]:
        live: dict[ObjKey, Resource] = {}
        for kind, name in keys:
            model = self.models.get(kind)
            obj = self.ctx.cache(model).get(name) if model is not None else None
            if obj is not None:
                live[(kind, name)] = obj
        return live

    async def _apply(
        self,
        gs: GitSource,
        commit: str,
        desired: list[Resource],
        *,
        request: str | None,
        failure: Failure | None = None,
    ) -> None:
        plan, outcome = await self._act(gs, self._plan(gs, commit, desired), commit=commit)
        health = aggregate_health(
            health_of(self._live([(e.kind, e.name)]).get((e.kind, e.name))) for e in plan.inventory
        )
        status, conditions = synced(
            gs.status, plan, outcome, health=health, request=request, now=self.ctx.clock.now()
        )
        if failure is not None:
            status, failing = failed(
                status,
                reason=failure.reason,
                message=failure.message,
                commit=failure.commit,
                request=request,
            )
            # one condition per type (the failure's win), or transition times would move
            conditions = list({c.type: c for c in [*conditions, *failing]}.values())
        if await self._write(gs, status, conditions):
            self._report(gs, plan, outcome)
            if failure is not None:
                self._report_failure(gs, failure.reason, failure.message)

    def _report(self, gs: GitSource, plan: Plan, outcome: Outcome) -> None:
        events = self.ctx.events
        if outcome.wrote or outcome.commit != gs.status.last_applied_commit:
            events.event(gs, reason="Synced", message=outcome.text())
            log.info("Synced", extra={"gitsource": gs.metadata.name, "result": outcome.text()})
        if plan.healed:
            healed = "; ".join(f"{d.kind.lower()}/{d.name}: {d.message}" for d in plan.healed)
            events.event(gs, reason="DriftRestored", message=healed)
        conflict = conflict_condition(plan)
        if plan.conflicts and conflict_message(gs.status.conditions) != conflict.message:
            events.event(gs, reason="Conflict", message=conflict.message, warning=True)

    async def _fail(self, gs: GitSource, *, reason: str, message: str, commit: str | None) -> None:
        status, conditions = failed(
            gs.status, reason=reason, message=message, commit=commit, request=sync_request(gs)
        )
        if await self._write(gs, status, conditions):
            self._report_failure(gs, reason, message)

    def _report_failure(self, gs: GitSource, reason: str, message: str) -> None:
        self.ctx.events.event(gs, reason=reason, message=message, warning=True)
        log.warning(reason, extra={"gitsource": gs.metadata.name, "error": message})

    async def _write(
        self, gs: GitSource, status: GitSourceStatus, conditions: Sequence[Condition]
    ) -> bool:
        """Write the status when it changed; whether it was written."""
        base = gs
        try:
            written = await write_status(
                self.ctx.store, base, status, conditions=conditions, now=self.ctx.clock.now()
            )
        except ConflictError:
            # metadata moved (e.g. an `o2 sync` annotation) while we acted: keep our report
            base = await self.ctx.store.get(GitSource, gs.metadata.name)
            if base.metadata.generation != gs.metadata.generation:
                raise
            written = await write_status(
                self.ctx.store, base, status, conditions=conditions, now=self.ctx.clock.now()
            )
        if written is base:
            return False
        # the next reconcile must not act on an older copy: a stale lastAppliedCommit would
        # turn drift into a new commit
        await self.ctx.caught_up(GitSource, written.metadata.resource_version)
        return True

    # ----- diff requests --------------------------------------------------------------------

    async def _answer_diff(self, gs: GitSource) -> GitSource:
        """Plan the newest commit without acting; the answer goes to status.lastDiff."""
        request = diff_request(gs) or ""
        try:
            fetched = await self.commits.fetch(gs, at=self.ctx.clock.monotonic())
        except SourceError as exc:
            result = DiffResult(request=request, error=str(exc))
        else:
            result = self._diff_result(gs, fetched, request=request)
        status, conditions = diffed(gs.status, result)
        written = await write_status(self.ctx.store, gs, status, conditions=conditions)
        await self.ctx.caught_up(GitSource, written.metadata.resource_version)
        return written

    def _diff_result(self, gs: GitSource, fetched: Fetched, *, request: str) -> DiffResult:
        if isinstance(fetched.desired, ValidationError):
            error = describe_errors(fetched.desired, commit=fetched.commit)
            return DiffResult(commit=fetched.commit, request=request, error=error)
        plan = self._plan(gs, fetched.commit, fetched.desired)
        return DiffResult(commit=fetched.commit, request=request, changes=plan.changes)

    # ----- acting ---------------------------------------------------------------------------

    async def _act(self, gs: GitSource, plan: Plan, *, commit: str) -> tuple[Plan, Outcome]:
        """Apply (dependencies first), then prune (reverse); the plan settled against what
        the live re-reads found, and the counts."""
        results = await self._apply_all(gs, plan.apply)
        untouched = {k for k, (written, _) in results.items() if written in UNTOUCHED}
        pruned = 0
        for step in plan.prune:
            pruned += await prune(self.ctx.store, step)
        await self._catch_up(results)
        settled = settle(plan, untouched)
        written = [w for w, _ in results.values()]
        outcome = Outcome(
            commit=commit,
            created=written.count("created"),
            configured=written.count("configured"),
            pruned=pruned,
            unchanged=settled.unchanged,
        )
        return settled, outcome

    async def _apply_all(
        self, gs: GitSource, objs: Sequence[Resource]
    ) -> dict[ObjKey, tuple[Written, int]]:
        """Kind by kind (dependencies first), up to APPLY_IN_FLIGHT writes at once."""
        sources = set(self.ctx.cache(GitSource).names())
        gate = asyncio.Semaphore(APPLY_IN_FLIGHT)

        async def one(obj: Resource) -> tuple[Written, int]:
            absent = self.ctx.cache(type(obj)).get(obj.metadata.name) is None
            async with gate:
                return await claim_apply(
                    self.ctx.store, obj, source=gs.metadata.name, sources=sources, absent=absent
                )

        results: dict[ObjKey, tuple[Written, int]] = {}
        for _, group in groupby(objs, key=lambda o: kind_rank(o.kind)):
            batch = list(group)
            done = await asyncio.gather(*(one(o) for o in batch))
            results.update(zip((key_of(o) for o in batch), done, strict=True))
        return results

    async def _catch_up(self, results: dict[ObjKey, tuple[Written, int]]) -> None:
        """Let the caches see our writes, so the next look does not mistake them for drift."""
        newest: dict[str, int] = {}
        for (kind, _), (_, revision) in results.items():
            newest[kind] = max(newest.get(kind, 0), revision)
        for kind, revision in newest.items():
            await self.ctx.caught_up(self.models[kind], revision)
