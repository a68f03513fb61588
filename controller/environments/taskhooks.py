"""Task hooks: a task role with a `trigger`, deployed with the environment, run at its moment. I/O.

AliECS deploys a hook task at DEPLOY like any task (through Mesos, on the agent its constraints
select, as its TaskClass's user; executor/executable/hooktask.go: a basic task whose
transitions are no-ops) and starts its command when the trigger comes; the transition awaits
its BASIC_TASK_TERMINATED, kills it at the timeout, and a critical failure fails the transition.
o2 does the same with a `basic` Task per hook role, named `<environment>-<role path>-hook`:

- `sync` (each reconcile) keeps one such Task in STANDBY for every task hook of the expansion
  while the environment is deployed (from DEPLOY's tasks step until DONE; `deployed`), and
  deletes them once DONE (or their role is gone), so placement does not count toward a hook's
  timeout.
- `run` (one firing) sets its spec.state to RUNNING (the executor starts the command at START)
  and awaits `status.terminated` (BASIC_TASK_TERMINATED); exit 0 is success. Then the Task goes
  back to STANDBY (a process still running is killed by STOP), ready for the next firing. At
  the timeout it is sent back too, and the hook fails. A Task missing, ended, or deployed with
  another launch spec (e.g. its command uses `run_number`, known only at START) is created anew
  at the trigger: then its placement does count. Outside a deployed environment (hooks before
  DEPLOY, at DESTROY) the Task is created at the trigger and deleted after the firing.
The firing is recorded on the Task (annotation `o2.dev/hook-firing`), so the await step of a
restarted controller resumes the firing its predecessor started instead of running a second.
Hook Tasks carry `o2.dev/hook-of=<environment>` (not the environment label: they are not among
the environment's tasks) and an owner reference to the Environment, so they go with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator

from controller.environments.expansion import Hook
from controller.environments.hooks import HookKey, HookResult
from crds.errors import AlreadyExistsError, ConflictError, NotFoundError, O2Error
from crds.kinds.environment import Environment
from crds.kinds.task import TERMINAL_PHASES, Task
from crds.labels import HOOK_FIRING, HOOK_LABEL, KILL_TASK_FINALIZER, ROLE_LABEL
from crds.meta import ObjectMeta, OwnerReference
from crds.names import join_label
from store.api import Store
from store.informer import CacheEvent

log = logging.getLogger(__name__)

RECHECK = 5.0
"""Seconds after which a waiting firing looks at its Task again even without a change (a safety
net: changes of the Task in the controller's cache wake it at once)."""
LAUNCH_FIELDS = ("task_class", "control", "command", "wants", "constraints")
"""What a deployed hook Task must share with the hook to be fired as it is."""
DEPLOYED_STATES = frozenset({"DEPLOYED", "CONFIGURED", "RUNNING", "ERROR"})


def hook_task_name(environment: str, hook: Hook) -> str:
    """`<environment>-<role path>-hook`: one Task per hook role."""
    return join_label(environment, hook.path.replace(".", "-"), "hook")


def hook_task(environment: str, uid: str, hook: Hook, *, firing: str = "") -> Task:
    """The Task of a task hook, in STANDBY (its command starts when it is fired); `firing`:
    created by that firing (not deployed with the environment)."""
    assert hook.task is not None
    owner = OwnerReference(kind="Environment", name=environment, uid=uid)
    meta = ObjectMeta(
        name=hook_task_name(environment, hook),
        labels={HOOK_LABEL: environment, ROLE_LABEL: hook.path},
        annotations={HOOK_FIRING: firing} if firing else {},
        owner_references=(owner,),
        finalizers=(KILL_TASK_FINALIZER,),  # in the create txn: no second write to add it
    )
    spec = hook.task.model_copy(update={"control": "basic", "state": "STANDBY"})
    return Task(metadata=meta, spec=spec)


def deployed(env: Environment) -> bool:
    """Whether `env`'s hook Tasks are deployed: from DEPLOY's tasks step until DONE."""
    status = env.status
    if env.metadata.deletion_timestamp is not None or status.state == "DONE":
        return False
    if status.state in DEPLOYED_STATES:
        return True
    progress = status.transition
    if progress is None or progress.event != "DEPLOY":
        return False
    return not progress.step.startswith(("before_", "leave_"))


def same_launch(task: Task, hook: Hook) -> bool:
    """Whether `task` launched what `hook` runs (else it is replaced at the trigger)."""
    assert hook.task is not None
    return all(getattr(task.spec, f) == getattr(hook.task, f) for f in LAUNCH_FIELDS)


def firing_id(key: HookKey) -> str:
    return hashlib.sha256("/".join(key).encode()).hexdigest()[:16]


def verdict(hook: Hook, task: Task) -> HookResult:
    """How a fired hook Task went: its command exited 0 is success, anything else a failure."""
    status = task.status
    where = f" on {status.hostname}" if status.hostname else ""
    if status.terminated and status.exit_code == 0 and status.phase == "Running":
        return HookResult(hook, True, 0, "", f"task {task.name}{where} succeeded")
    if status.terminated and status.exit_code is not None:
        how = f"exit code {status.exit_code}"
    else:
        how = status.message or f"phase {status.phase}"
    return HookResult(hook, False, status.exit_code, "", f"task {task.name}{where} failed: {how}")


class Changes:
    """Wakes the firings waiting on a Task when the controller's cache shows it changed."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def notify(self, event: CacheEvent[Task]) -> None:
        """An informer handler: every change of a Task."""
        for changed in self._waiting.get(event.name, ()):
            changed.set()

    @contextlib.contextmanager
    def watching(self, name: str) -> Iterator[asyncio.Event]:
        """An Event set by the next change of Task `name`: enter it before reading the cache,
        so a change between the read and the wait is not missed."""
        changed = asyncio.Event()
        self._waiting.setdefault(name, set()).add(changed)
        try:
            yield changed
        finally:
            waiters = self._waiting.get(name, set())
            waiters.discard(changed)
            if not waiters:
                self._waiting.pop(name, None)


async def _until(changed: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(RECHECK):
            await changed.wait()


class TaskHooks:
    """Deploys the hook Tasks of environments and fires them for the HookRunner."""

    def __init__(
        self,
        *,
        store: Callable[[], Store],
        lookup: Callable[[str], Task | None],
        environment: Callable[[str], Environment | None] = lambda name: None,
        subscribe: Callable[[Callable[[CacheEvent[Task]], None]], None] = lambda handler: None,
    ) -> None:
        """`store`: the current (fenced) store; `lookup`: the controller's Task cache;
        `environment`: its Environment cache (whether a hook's environment is deployed);
        `subscribe`: adds a handler of the Task cache's changes (called at the first firing)."""
        self._store = store
        self._lookup = lookup
        self._environment = environment
        self._subscribe = subscribe
        self._changes: Changes | None = None

    def _watching(self, name: str) -> contextlib.AbstractContextManager[asyncio.Event]:
        if self._changes is None:
            self._changes = Changes()
            self._subscribe(self._changes.notify)
        return self._changes.watching(name)

    async def sync(self, env: Environment, hooks: Iterable[Hook], have: Iterable[Task]) -> None:
        """Create the missing hook Tasks of a deployed `env`; delete those of an env that is not
        deployed any more, and those whose hook is gone, unless being fired (the firing deletes
        them when it ends)."""
        want = {}
        if deployed(env):
            for hook in hooks:
                if hook.task is not None and not hook.error:
                    task = hook_task(env.name, env.metadata.uid, hook)
                    want[task.name] = task
        existing = {t.name: t for t in have}
        for name, task in want.items():
            if name not in existing:
                with contextlib.suppress(AlreadyExistsError):
                    await self._store().create(task)
        for name, task in existing.items():
            firing = HOOK_FIRING in task.metadata.annotations
            if name not in want and not firing and task.metadata.deletion_timestamp is None:
                await self._delete(name)

    async def run(self, key: HookKey, hook: Hook) -> HookResult:
        """One firing of `hook` (see the module docstring); never raises for a failing hook."""
        assert hook.task is not None
        environment = hook.task.environment or ""
        name = hook_task_name(environment, hook)
        firing = firing_id(key)
        try:
            async with asyncio.timeout(hook.timeout):
                await self._ready(name, (environment, key[0]), hook, firing)
                await self._set(name, "RUNNING", firing)
                ended = await self._ended(name)
        except TimeoutError:
            await self._after(name, environment)
            return HookResult(
                hook, False, None, "", f"task {name} timed out after {hook.timeout:g}s"
            )
        except O2Error as exc:
            await self._after(name, environment)
            return HookResult(hook, False, None, "", f"cannot run task {name}: {exc}")
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._after(name, environment))
            raise
        await self._after(name, environment)
        result = verdict(hook, ended)
        log.info("Task hook ended", extra={"hook": hook.path, "task": name, "ok": result.ok})
        return result

    async def _ready(self, name: str, owner: tuple[str, str], hook: Hook, firing: str) -> None:
        """Until the hook's Task is placed, in STANDBY, with the hook's launch spec (created or
        replaced as needed), or already fired by this firing (a restarted controller)."""
        while True:
            with self._watching(name) as changed:
                task = self._lookup(name)
                if task is None:
                    with contextlib.suppress(AlreadyExistsError):
                        await self._store().create(hook_task(*owner, hook, firing=firing))
                elif task.metadata.deletion_timestamp is not None:
                    pass
                elif task.status.phase in TERMINAL_PHASES or not same_launch(task, hook):
                    await self._delete(name)
                elif (
                    task.spec.state == "RUNNING"
                    and task.metadata.annotations.get(HOOK_FIRING) == firing
                ):
                    return
                elif task.spec.state != "STANDBY":
                    with contextlib.suppress(NotFoundError):
                        await self._set(name, "STANDBY", "")
                elif task.status.phase == "Running" and task.status.state == "STANDBY":
                    return
                await _until(changed)

    async def _set(self, name: str, state: str, firing: str) -> None:
        """spec.state := `state`, recording the firing (retried on a conflicting write)."""
        store = self._store()
        for _ in range(10):
            task = await store.get(Task, name)
            notes = {k: v for k, v in task.metadata.annotations.items() if k != HOOK_FIRING}
            if firing:
                notes[HOOK_FIRING] = firing
            meta = task.metadata.model_copy(update={"annotations": notes})
            spec = task.spec.model_copy(update={"state": state})
            try:
                await store.update(task.model_copy(update={"metadata": meta, "spec": spec}))
                return
            except ConflictError:
                continue
        raise ConflictError("Task", name)

    async def _ended(self, name: str) -> Task:
        """Until the fired command has ended (or the Task has)."""
        while True:
            with self._watching(name) as changed:
                task = self._lookup(name)
                if task is not None:
                    ran = task.status.state == "RUNNING" and task.status.terminated
                    if ran or task.status.phase in TERMINAL_PHASES:
                        return task
                await _until(changed)

    async def _after(self, name: str, environment: str) -> None:
        """Back to STANDBY for the next firing; deleted when its environment is not deployed."""
        env = self._environment(environment)
        try:
            if env is None or not deployed(env):
                await self._delete(name)
            else:
                await self._set(name, "STANDBY", "")
        except NotFoundError:
            pass
        except O2Error as exc:  # the owner reference still takes it away with the environment
            log.warning("Cannot reset task hook", extra={"task": name, "error": str(exc)})

    async def _delete(self, name: str) -> None:
        try:
            await self._store().delete(Task, name)
        except NotFoundError:
            pass
        except O2Error as exc:
            log.warning("Cannot delete task hook", extra={"task": name, "error": str(exc)})
