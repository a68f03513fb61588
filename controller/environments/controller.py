"""The Environment reconciler: observe the caches -> plan (pure) -> act through the store -> status.

One reconcile walks at most one step of a transition (controller.environments.plan). Acts:
task deletes (bounded concurrency), creates and updates (batched txns); the run number from the
etcd counter `<prefix>/runtime/run-number` (RuntimeKV.allocate_with: one txn advances the counter
and records the number and the run's start time for this START under
`runtime/run-number-claims/<env>`, so it is never handed out twice and a retry of the same
START, after a conflict, a crash or a failover, shows the same number and start time: no gaps);
the hook Tasks of task hooks (controller.environments.taskhooks: deployed with the
environment); hooks (controller.environments.hooks); the status, CAS on the environment's
resourceVersion.
A step that awaits hooks does not hold a worker: it starts them and is kept (a HookStep) until
they end, when the hook runner requeues the environment and its next reconcile writes that
step's status (events meanwhile find it still held and return at once).
After its writes it waits until the informer caches show them, so the next reconcile of the
same key never plans from a stale read. Reconciles of a large environment that only wait for its
tasks are paced (`Result.pace`: the queue holds the key): the next one starts at least PACE x the
previous one's compute time, and PACE_PER_TASK per task, after it ended (every Task change requeues
the environment, and during a transition over 10,000 tasks they come continuously: back-to-back
plans would take most of the manager's CPU from the task controller the transition waits for);
the hold ends sooner after as many Task changes as tasks still on their way (`Result.pace_adds`),
so the transition's last task is looked at once it arrives. A reconcile that wrote tasks or
advanced a step is followed at once. The idle pool (reusable tasks
released by finished environments) is swept by the job `idle-pool`: tasks idle longer than
`idle_ttl` are deleted. The job `run-log` keeps the run log (controller.environments.runlog): it
runs when a status shows a run ended, never inside a reconcile.
Settings: `ctx.settings.environments` (`--deploy-timeout`, `--transition-timeout`,
`--idle-ttl`, `--run-log-size`, `--dcs-endpoint` of the DCS plugin, `--fmq-plugin` and
`--fmq-plugin-search-path` that `fairmq` tasks get on their command line); time from `ctx.clock`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from controller.configs.resolve import ConfigIndex
from controller.environments.autostop import AUTO_STOP_REASON, auto_stop_message
from controller.environments.expansion import Expansion
from controller.environments.expansions import Expansions, TaskNames, WorkflowLookup
from controller.environments.fmqargs import FairMQPlugin
from controller.environments.hooks import HookResult, HookRunner, HookStep, transition_started
from controller.environments.plan import (
    DETECTOR_IN_USE,
    EVENT_TARGET,
    INVALID_WORKFLOW,
    Options,
    Plan,
    plan,
)
from controller.environments.runlog import RunLog, run_ended
from controller.environments.runvars import RUN_START, millis
from controller.environments.status import (
    hooks_failed,
    stalled,
    with_plugin_vars,
    with_run_number,
)
from controller.environments.taskhooks import TaskHooks
from controller.environments.taskset import expired_idle, settle_written
from controller.integration import PluginCaller, PluginSettings
from controller.runtime.finalizers import add_finalizer, has_finalizer, remove_finalizer
from controller.runtime.reconciled import ReconciledFollower, reconciled_key
from controller.runtime.reconciler import (
    Context,
    Job,
    Reconciler,
    Result,
    Trigger,
    Watch,
    label_value,
)
from controller.runtime.status import write_status
from crds.changedby import changed_by
from crds.conditions import STALLED, get_condition
from crds.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
)
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment, EnvironmentStatus
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.labels import ENV_LABEL, HOOK_LABEL, IDLE_LABEL, TEARDOWN_FINALIZER
from store.informer import CacheEvent

log = logging.getLogger(__name__)

WRITES_IN_FLIGHT = 32
IDLE_POOL_JOB = "idle-pool"
RUN_LOG_JOB = "run-log"
IDLE_POOL_PERIOD = 60.0
PACE = 2.0
"""Gap before the next reconcile of an environment, in units of the previous one's compute
time (observe + plan) times the share of tasks still to reach the transition's target: the
controller takes at most 1 / (1 + PACE) of the CPU per environment while most tasks are on
their way, and looks again at once as the last ones arrive."""
PACE_FROM = 0.02
"""Compute time (seconds) below which there is no gap (an environment of ~2,000 tasks or more
is paced; small ones are reconciled at once)."""
PACE_PER_TASK = 20e-6
"""Least gap per task of a waiting environment, in seconds (0.2 s at 10,000 tasks): a look
at a large environment costs a status write and its echo whatever the plan costs."""
RUN_NUMBER_KEY = "runtime/run-number"
RUN_CLAIMS_KEY = "runtime/run-number-claims"
"""`<prefix>/runtime/run-number-claims/<environment>`: the run number allocated for the
environment's START in progress, with its claim (written in the counter's txn)."""


class EnvironmentReconciler(Reconciler):
    name = "environments"
    kind = Environment
    workers = 4
    resync_period = 300.0

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        settings = ctx.settings.environments
        self.options = Options(
            deploy_timeout=settings.deploy_timeout, transition_timeout=settings.transition_timeout
        )
        self.task_hooks = TaskHooks(
            store=lambda: self.ctx.store,
            lookup=lambda name: self.ctx.cache(Task).get(name),
            environment=lambda name: self.ctx.cache(Environment).get(name),
            subscribe=lambda handler: self.ctx.cache(Task).add_handler(handler),
        )
        self.hooks = HookRunner(
            plugins=PluginCaller(PluginSettings(dcs_endpoint=settings.dcs_endpoint)),
            task_hooks=self.task_hooks.run,
        )
        self.idle_ttl = settings.idle_ttl
        self.run_log = RunLog(size=settings.run_log_size)
        self.expansions = Expansions(
            ctx, FairMQPlugin(settings.fmq_plugin, settings.fmq_plugin_search_path)
        )
        self.reconciled = ReconciledFollower(
            ctx.kv,
            reconciled_key(ctx.store.prefix),
            changed=self._look_again,
            floor=lambda: self.ctx.cache(Environment).revision,
        )
        self._hook_steps: dict[str, HookStep] = {}
        """Environment name -> its step held until the hooks it awaits have ended."""
        """(kind, name, resourceVersion) of Workflows and TaskClasses -> they call `runtime.`"""
        self._claims: set[str] = set()
        """Environments that may have a run-number record (removed when they are deleted)."""
        self._includes: dict[str, frozenset[str]] = {}
        """Environment name -> the Workflows its last expansion looked up for `include:`
        (also when it failed, e.g. on a Workflow not applied yet): a change to one of them
        requeues it."""

    def watches(self) -> Sequence[Watch]:
        return [
            Watch(Task, label_value(ENV_LABEL)),
            Watch(Workflow, self._users_of_workflow),
            Watch(TaskClass, self._all_environments),
            Watch(ComponentConfig, self._all_environments),
            Watch(Environment, self._waiting_for_detectors),
            Watch(Node, self._stalled_on_inventory),
        ]

    def _users_of_workflow(self, event: CacheEvent[Any]) -> Iterable[str]:
        """The environments of this workflow, and those whose expansion includes it."""
        envs = self.ctx.cache(Environment).list()
        return [
            e.name
            for e in envs
            if e.spec.workflow == event.name or event.name in self._includes.get(e.name, ())
        ]

    def _waiting_for_detectors(self, event: CacheEvent[Any]) -> Iterable[str]:
        """When an environment frees detectors, those waiting for a detector look again."""
        old = event.old.status.detectors if event.old is not None else ()
        new = event.new.status.detectors if event.new is not None else ()
        if not set(old) - set(new):
            return ()
        return [
            e.name
            for e in self.ctx.cache(Environment).list()
            if e.name != event.name and _waits_for_detector(e)
        ]

    def _all_environments(self, event: CacheEvent[Any]) -> Iterable[str]:
        return self.ctx.cache(Environment).names()

    def _stalled_on_inventory(self, event: CacheEvent[Any]) -> Iterable[str]:
        """When what the inventory of AliECS templates reads of a Node changes (it appears,
        goes, or its hostname, attributes or annotations change; crds.aliecs.context), the
        environments whose expansion failed look again: a template may have named a machine
        the controller's Node cache did not hold yet. Heartbeats requeue nothing."""
        if _inventory_view(event.old) == _inventory_view(event.new):
            return ()
        return [e.name for e in self.ctx.cache(Environment).list() if _invalid_workflow(e)]

    # ---- reconcile -----------------------------------------------------------------------------

    def jobs(self) -> Sequence[Job]:
        return [
            Job(IDLE_POOL_JOB, self._expire_idle, period=self.resync_period),
            Job(
                RUN_LOG_JOB,
                self._log_runs,
                period=self.resync_period,
                triggers=(Trigger(Environment, run_ended),),
            ),
        ]

    async def on_start(self) -> None:
        """Follow the task controller's reconciled record for the term."""
        self.reconciled.start()

    def _look_again(self, revision: int) -> None:
        """The task controller reconciled after (re)subscribing: every environment's status is
        confirmed against its tasks' answered states (`status.reconciledRevision`)."""
        for name in self.ctx.cache(Environment).names():
            self.requeue(name)

    async def on_stop(self, *, graceful: bool) -> None:
        """Held steps are dropped with the term: the next one plans them again (their hooks
        run on, and a step of the same transition takes their outcomes)."""
        await self.reconciled.stop()
        self._hook_steps.clear()
        self.run_log.forget()

    async def reconcile(self, key: str) -> Result:
        held = self._hook_steps.get(key)
        if held is not None:
            return await self._finish(held)
        loop = asyncio.get_running_loop()
        started = loop.time()
        env = self.ctx.cache(Environment).get(key)
        if env is None:
            self._includes.pop(key, None)
            await self._forget(key)
            return Result()
        if not _reconcilable(env):
            return Result()
        if env.status.run_number is not None or env.status.last_run_number is not None:
            self._claims.add(key)
        reconciled = self.reconciled.revision  # read before the tasks: they are at least as new
        now = self.ctx.clock.now()
        workflow = self.ctx.cache(Workflow).get(env.spec.workflow)
        deleting = env.metadata.deletion_timestamp is not None
        if deleting and workflow is None:
            return await self._release(env, "its workflow is gone: no DESTROY hooks to run")
        if workflow is None:
            message = f"workflow {env.spec.workflow!r} not found: apply it first"
            await self._write_status(env, stalled(env, "WorkflowNotFound", message, now=now))
            return Result()
        classes = {c.name: c for c in self.ctx.cache(TaskClass).list()}
        tasks = self.ctx.cache(Task).list(labels={ENV_LABEL: key})
        configs = self.ctx.cache(ComponentConfig).list()
        workflows = WorkflowLookup(self.ctx.cache(Workflow))
        expansion = await self.expansions.get(env, workflow, classes, configs, workflows)
        self._includes[key] = frozenset(workflows.asked)
        if deleting and not isinstance(expansion, Expansion):
            return await self._release(env, f"its workflow does not expand: {expansion}")
        result = plan(
            env,
            workflow,
            classes,
            tasks,
            now=now,
            idle=self.ctx.cache(Task).list(labels={IDLE_LABEL: "true"}),
            taken=TaskNames(self.ctx.cache(Task)),
            expansion=expansion,
            busy_detectors=self._busy_detectors(env),
            options=self.options,
            configs=ConfigIndex(configs),
            workflows=workflows,
        )
        computed = loop.time() - started
        acted = await self._act(env, result, now=now, reconciled=reconciled)
        gap = pace_gap(computed, result.status)
        if gap is not None and only_waits(env, result):
            return replace(acted, pace=gap, pace_adds=to_come(result.status))
        return acted

    def _busy_detectors(self, env: Environment) -> dict[str, tuple[str, ...]]:
        """The detectors held by every other environment (status.detectors)."""
        return {
            other.name: other.status.detectors
            for other in self.ctx.cache(Environment).list()
            if other.name != env.name and other.status.detectors
        }

    async def _act(
        self, env: Environment, result: Plan, *, now: datetime, reconciled: int
    ) -> Result:
        revision = await self._write_tasks(result)
        if result.expansion is not None:
            planned = env.model_copy(update={"status": result.status})
            hooks = self.ctx.cache(Task).list(labels={HOOK_LABEL: env.name})
            await self.task_hooks.sync(planned, result.expansion.hooks, hooks)
        if result.auto_stop:
            return await self._auto_stop(env, result, revision)
        status = result.status
        if reconciled > status.reconciled_revision:  # once per subscription of the task side
            status = status.model_copy(update={"reconciled_revision": reconciled})
        if result.allocate_run_number:
            number, started_ms = await self._allocate_run_number(env, now=now)
            status = with_run_number(
                status, number, started_ms=started_ms, started_by=changed_by(env)
            )
        progress = result.transition or status.transition
        self.hooks.prune(env.metadata.uid, keep=transition_started(progress))
        step = HookStep(env, result, status, now, revision)
        for key, hook in step.keyed(result.start_hooks):
            self.hooks.start(key, hook)
        return await self._finish(step)

    async def _auto_stop(self, env: Environment, result: Plan, revision: int) -> Result:
        """The run outlived its auto_stop_timeout: spec.state := CONFIGURED (a conflict retries
        the reconcile), then the ordinary STOP_ACTIVITY (controller.environments.autostop)."""
        limit = result.expansion.auto_stop if result.expansion is not None else None
        spec = env.spec.model_copy(update={"state": "CONFIGURED"})
        written = await self.ctx.store.update(env.model_copy(update={"spec": spec}))
        message = result.auto_stop_message or auto_stop_message(env.status, limit or 0.0)
        log.info("Auto stop", extra={"environment": env.name, "run": env.status.run_number})
        self.ctx.events.event(env, reason=AUTO_STOP_REASON, message=message)
        await self.ctx.caught_up(Task, revision)
        await self.ctx.caught_up(Environment, written.metadata.resource_version)
        return Result(requeue_after=0.0)

    async def _allocate_run_number(self, env: Environment, *, now: datetime) -> tuple[int, str]:
        """The run number of this START and its start time (runvars.RUN_START): allocated once
        per claim (the environment's uid and the last run its status shows), so a retry after a
        lost status write, a crash or a failover shows the same number and the same time, and
        the next START, once this one is shown, a new one."""
        prefix = self.ctx.store.prefix
        previous = env.status.run_number or env.status.last_run_number or 0
        claim = f"{env.metadata.uid}/after-run-{previous}"
        number, data = await self.ctx.kv.allocate_with(
            f"{prefix}/{RUN_NUMBER_KEY}",
            record=f"{prefix}/{RUN_CLAIMS_KEY}/{env.name}",
            claim=claim,
            data={RUN_START: millis(now)},
        )
        self._claims.add(env.name)
        log.info("Allocated run number", extra={"environment": env.name, "run": number})
        return number, data.get(RUN_START) or millis(now)

    async def _forget(self, name: str) -> None:
        """Drop the run-number record of an environment that is gone (when this controller
        knew it: records of environments deleted while no leader ran are left behind)."""
        if name in self._claims:
            await self.ctx.kv.delete_raw(f"{self.ctx.store.prefix}/{RUN_CLAIMS_KEY}/{name}")
            self._claims.discard(name)

    async def _finish(self, step: HookStep) -> Result:
        """Write the step's status once the hooks it awaits have ended (at once when it awaits
        none); until then hold the step and return: the hook runner requeues the environment."""
        env, result = step.env, step.plan
        requeue = functools.partial(self.requeue, env.name)
        outcomes = self.hooks.collect(step.keyed(result.await_hooks), then=requeue)
        if outcomes is None:
            self._hook_steps[env.name] = step
            return Result()
        self._hook_steps.pop(env.name, None)
        status = self._after_hooks(step, outcomes)
        for note in result.notes:
            self.ctx.events.event(
                env, reason=note.reason, message=note.message, warning=note.type == "Warning"
            )
        written = await self._write_status(env, status)
        written = await self._keep_finalizer(written, result)
        await self.ctx.caught_up(Task, step.revision)
        if written is not env:
            await self.ctx.caught_up(Environment, written.metadata.resource_version)
        return Result(requeue_after=result.requeue_after)

    def _after_hooks(self, step: HookStep, outcomes: list[HookResult]) -> EnvironmentStatus:
        """Report each hook's outcome; the step's status, or `hooks_failed` on failures."""
        for outcome in outcomes:
            self.ctx.events.event(
                step.env,
                reason="HookSucceeded" if outcome.ok else "HookFailed",
                message=f"{outcome.hook.path} {outcome.hook.what}: {outcome.message}",
                warning=not outcome.ok,
            )
        failures = [(o.hook, o.message) for o in outcomes if not o.ok]
        status = with_plugin_vars(step.status, [o.vars for o in outcomes if o.ok])
        if not failures:
            return status
        return hooks_failed(
            step.env, failures, now=step.now, status=status, progress=step.plan.transition
        )

    async def _keep_finalizer(self, env: Environment, result: Plan) -> Environment:
        """The teardown finalizer: on while the workflow has teardown hooks, off once DESTROY
        of a deleted environment is over (which deletes it)."""
        store = self.ctx.store
        if result.release:
            log.info("Teardown done", extra={"environment": env.name})
            return await remove_finalizer(store, env, TEARDOWN_FINALIZER) or env
        if result.teardown and not has_finalizer(env, TEARDOWN_FINALIZER):
            return await add_finalizer(store, env, TEARDOWN_FINALIZER)
        return env

    async def _release(self, env: Environment, why: str) -> Result:
        """Let a deleted environment go without DESTROY, saying why."""
        message = f"deleted without its DESTROY hooks: {why}"
        self.ctx.events.event(env, reason="TeardownSkipped", message=message, warning=True)
        await remove_finalizer(self.ctx.store, env, TEARDOWN_FINALIZER)
        return Result()

    async def _expire_idle(self) -> Result:
        """Delete idle-pool tasks released more than `idle_ttl` seconds ago; look again later."""
        idle = self.ctx.cache(Task).list(labels={IDLE_LABEL: "true"})
        ttl = timedelta(seconds=self.idle_ttl)
        for task in expired_idle(idle, now=self.ctx.clock.now(), ttl=ttl):
            log.info("Idle task expired", extra={"task": task.name})
            await self._delete(task)
        return Result(requeue_after=min(self.idle_ttl, IDLE_POOL_PERIOD))

    async def _log_runs(self) -> Result:
        """Record every ended run not in the run log yet; trim the log."""
        envs = self.ctx.cache(Environment).list()
        await self.run_log.sweep(self.ctx.kv, self.ctx.store.prefix, envs)
        return Result()

    # ---- writes --------------------------------------------------------------------------------

    async def _write_tasks(self, result: Plan) -> int:
        """Deletes one by one (bounded concurrency); the creates of a DEPLOY and the spec
        updates of a step (desired states of a transition, the run number at START) in
        batched txns: a few etcd calls for 10,000 tasks instead of one each."""
        writes: list[Awaitable[int]] = [self._delete(t) for t in result.delete]
        limit = asyncio.Semaphore(WRITES_IN_FLIGHT)

        async def bounded(write: Awaitable[int]) -> int:
            async with limit:
                return await write

        async def deletes() -> int:
            return max(await asyncio.gather(*map(bounded, writes)), default=0)

        created, updated, deleted = await asyncio.gather(
            self._create_tasks(result.create), self._update_tasks(result.update), deletes()
        )
        if result.expansion is not None:
            settle_written(result.expansion, [*created, *updated])
        versions = (t.metadata.resource_version or 0 for t in (*created, *updated))
        return max((deleted, *versions))

    async def _create_tasks(self, tasks: Sequence[Task]) -> list[Task]:
        """`create_many`: a task whose name got taken meanwhile is re-planned next time; the
        created ones, as _write_tasks settles them for the next plan (taskset.settle_written)."""
        if not tasks:
            return []
        result = await self.ctx.store.create_many(tasks)
        for task, error in result.errors:
            if not isinstance(error, AlreadyExistsError):
                raise error
            log.info("Task create skipped, will re-plan", extra={"task": task.name})
        return result.written

    async def _update_tasks(self, tasks: Sequence[Task]) -> list[Task]:
        """`update_many`: a task whose write lost (conflict, gone) is re-planned next time; the
        written ones, as _write_tasks settles them for the next plan."""
        if not tasks:
            return []
        result = await self.ctx.store.update_many(tasks)
        for task in (*result.conflicts, *result.missing):
            log.info("Task write skipped, will re-plan", extra={"task": task.name})
        if result.errors:
            raise result.errors[0][1]
        return result.written

    async def _delete(self, task: Task) -> int:
        try:
            await self.ctx.store.delete(
                Task, task.name, resource_version=task.metadata.resource_version
            )
        except (ConflictError, NotFoundError) as exc:
            log.info("Task delete skipped, will re-plan", extra={"error": str(exc)})
        return 0

    async def _write_status(self, env: Environment, status: EnvironmentStatus) -> Environment:
        if status == env.status:
            return env
        return await write_status(self.ctx.store, env, status, now=self.ctx.clock.now())


def _reconcilable(env: Environment) -> bool:
    """Live, or deleted and still held for its DESTROY."""
    if env.metadata.deletion_timestamp is None:
        return True
    return has_finalizer(env, TEARDOWN_FINALIZER)


def pace_gap(computed: float, status: EnvironmentStatus) -> float | None:
    """The gap before the next look at an environment whose reconcile only waited: PACE x its
    compute time, and at least PACE_PER_TASK per task (a plan now costs the tasks that changed,
    while each look still writes the status and its echo comes back through the informers),
    shrunk with the share of tasks still on their way; None (no gap) below PACE x PACE_FROM."""
    gap = max(PACE * computed, PACE_PER_TASK * status.task_total)
    if gap < PACE * PACE_FROM:
        return None
    return gap * _remaining(status)


def _remaining(status: EnvironmentStatus) -> float:
    """The share of tasks not yet in the state the transition in progress leads them to (1.0
    when steady): the pacing gap shrinks with it, so the end of a transition is seen at once."""
    target = EVENT_TARGET.get(status.transition.event) if status.transition else None
    if target is None or not status.task_total:
        return 1.0
    done = status.task_counts.get(target, 0)
    return max(0.0, min(1.0, 1.0 - done / status.task_total))


def to_come(status: EnvironmentStatus) -> int | None:
    """Tasks not yet in the state the transition in progress leads them to (None when steady):
    the pace hold ends once that many task changes came (Result.pace_adds)."""
    target = EVENT_TARGET.get(status.transition.event) if status.transition else None
    if target is None:
        return None
    return status.task_total - status.task_counts.get(target, 0)


def only_waits(env: Environment, result: Plan) -> bool:
    """The plan changes no task, runs nothing and leaves the transition at its step: it waits
    for tasks (or is steady), so the next look at this environment may be paced."""
    if result.create or result.update or result.delete or result.allocate_run_number:
        return False
    if result.auto_stop:
        return False
    if result.start_hooks or result.await_hooks:
        return False
    before, after = env.status.transition, result.status.transition
    if before is None or after is None:
        return before is None and after is None
    return (before.event, before.step) == (after.event, after.step)


def _inventory_view(node: Node | None) -> object:
    """What crds.aliecs.context's Inventory reads of `node`."""
    if node is None:
        return None
    return (node.status.hostname, node.status.attributes, node.metadata.annotations)


def _invalid_workflow(env: Environment) -> bool:
    cond = get_condition(env.status.conditions, STALLED)
    return cond is not None and cond.status == "True" and cond.reason == INVALID_WORKFLOW


def _waits_for_detector(env: Environment) -> bool:
    cond = get_condition(env.status.conditions, STALLED)
    return cond is not None and cond.status == "True" and cond.reason == DETECTOR_IN_USE
