"""Run call-role hooks as argv subprocesses on the controller host, with a timeout. I/O.

No shell: the rendered argv is executed as is. A hook's environment is not the controller's:
only the allow-list of controller.redact plus the workflow's `call.env`, so the etcd password
and the other settings of the controller never reach it. Each hook runs in its own session; on
timeout its whole process group gets SIGKILL. Output (stdout and stderr merged) is captured,
redacted of the controller's known secrets, and its tail kept for the status message and the
Event. A `func:` hook calls an integration plugin function instead (controller.integration: in
a worker thread, with the hook's timeout); the variables it returns come back in its result.
Task hooks (a task role with a `trigger`) are not run here but by the `task_hooks` function the
runner is given (controller.environments.taskhooks: a Task placed on an agent).
Hooks run as asyncio tasks of the HookRunner, never inside a reconcile: a step starts them and
returns (held as a `HookStep`), the runner calls back as each awaited hook ends, and a
later reconcile collects the outcomes and finishes the step. A hook started at one step and
awaited at a later one is keyed by (environment uid, transition start, hook path); if the
controller restarted in between, the await step runs it again (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from controller.environments.expansion import Hook
from controller.environments.plan import Plan
from controller.integration import PluginCaller
from controller.redact import Redactor, hook_environment
from crds.errors import PluginError
from crds.kinds.environment import Environment, EnvironmentStatus, TransitionProgress
from procutil import kill_group

log = logging.getLogger(__name__)

OUTPUT_TAIL = 2048
"""Characters of output kept per hook."""


@dataclass(frozen=True)
class HookResult:
    """How a hook ended: `ok`, the exit code (None on timeout or spawn failure), output tail."""

    hook: Hook
    ok: bool
    exit_code: int | None
    output: str
    message: str
    vars: Mapping[str, str] = field(default_factory=dict)
    """What a plugin function returned (for status.pluginVars)."""


async def run_hook(
    hook: Hook,
    *,
    environ: Mapping[str, str] | None = None,
    redact: Callable[[str], str] | None = None,
) -> HookResult:
    """Run `hook` to completion or timeout; never raises for a failing hook. `environ` is the
    controller's environment (default: this process's): the hook gets its allow-listed part, and
    its secrets are redacted from the output (with `redact`, default: Redactor of `environ`)."""
    environ = os.environ if environ is None else environ
    redact = Redactor.from_environ(environ) if redact is None else redact
    try:
        proc = await asyncio.create_subprocess_exec(
            *hook.argv,
            env=hook_environment(environ, hook.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:  # missing program, no permission, NUL in argv
        return HookResult(hook, False, None, "", f"cannot start {hook.argv[0]!r}: {exc}")
    try:
        async with asyncio.timeout(hook.timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        kill_group(proc.pid)
        await proc.wait()
        return HookResult(hook, False, None, "", f"timed out after {hook.timeout:g}s")
    except asyncio.CancelledError:
        kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()
        raise
    text = redact(out.decode(errors="replace"))[-OUTPUT_TAIL:]
    code = proc.returncode
    ok = code == 0
    tail = text.strip()[-200:]
    message = ("succeeded" if ok else f"exit code {code}") + (f": {tail}" if tail else "")
    log.info("Hook finished", extra={"hook": hook.path, "exit_code": code, "argv": hook.argv})
    return HookResult(hook, ok, code, text, message)


async def call_plugin(hook: Hook, caller: PluginCaller) -> HookResult:
    """Call the plugin function of a `func:` hook; never raises for a failing call."""
    try:
        result = await caller.call(hook.func, dict(hook.vars), seconds=hook.timeout)
    except PluginError as exc:
        log.info("Plugin call failed", extra={"hook": hook.path, "func": hook.func})
        return HookResult(hook, False, None, "", str(exc))
    log.info("Plugin call finished", extra={"hook": hook.path, "func": hook.func})
    returned = dict(result.vars)
    if hook.returns:  # AliECS's `return:`: the output, kept with the plugin variables
        returned[hook.returns] = result.output
    names = ", ".join(sorted(returned))
    message = "succeeded" + (f", set {names}" if names else "")
    return HookResult(hook, True, 0, "", message, vars=returned)


HookKey = tuple[str, str, str]
"""(environment uid, transition start, hook path)."""


def transition_started(progress: TransitionProgress | None) -> str:
    """The key part that tells transitions apart: when the transition started."""
    return progress.started_at.isoformat() if progress and progress.started_at else ""


@dataclass(frozen=True)
class HookStep:
    """One reconcile of an environment, held while the hooks it awaits run: planned once (the
    plan, its time, the status with its run number), finished when they have all ended."""

    env: Environment
    plan: Plan
    status: EnvironmentStatus
    now: datetime
    revision: int
    """The revision of its task writes (the caches must show it once the step is written)."""

    def keyed(self, hooks: Iterable[Hook]) -> list[tuple[HookKey, Hook]]:
        started = transition_started(self.plan.transition)
        return [((self.env.metadata.uid, started, h.path), h) for h in hooks]


TaskHookFunction = Callable[[HookKey, Hook], Coroutine[None, None, HookResult]]
"""Runs one firing of a task hook to its end (controller.environments.taskhooks)."""


async def _no_task_hooks(key: HookKey, hook: Hook) -> HookResult:
    return HookResult(hook, False, None, "", "task hooks cannot run here (no task store)")


class HookRunner:
    """Runs hooks in the background and hands their outcomes to a later reconcile."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        plugins: PluginCaller | None = None,
        task_hooks: TaskHookFunction | None = None,
    ) -> None:
        """`environ`: the controller's environment (default: this process's, read now);
        `plugins`: the caller of `func:` hooks; `task_hooks`: how task hooks run (default: they
        fail, saying why)."""
        self.plugins = plugins or PluginCaller()
        self._task_hooks = task_hooks or _no_task_hooks
        self._environ = dict(os.environ if environ is None else environ)
        self._redact = Redactor.from_environ(self._environ)
        self._running: dict[HookKey, asyncio.Task[HookResult]] = {}
        self._watched: set[HookKey] = set()

    def start(self, key: HookKey, hook: Hook) -> None:
        """Start `hook` in the background unless it is already running under `key`."""
        if key not in self._running:
            run = (
                call_plugin(hook, self.plugins)
                if hook.func
                else self._task_hooks(key, hook)
                if hook.task is not None
                else run_hook(hook, environ=self._environ, redact=self._redact)
            )
            self._running[key] = asyncio.create_task(run, name=f"hook-{hook.path}")

    def collect(
        self, awaited: Sequence[tuple[HookKey, Hook]], *, then: Callable[[], None]
    ) -> list[HookResult] | None:
        """The outcomes of `awaited` once every one has ended (then forgotten); None while
        any still runs, and `then()` is called as each of those ends. A hook never started here
        (the controller restarted since its trigger step) starts now: at-least-once."""
        for key, hook in awaited:
            self.start(key, hook)
        tasks = [self._running[key] for key, _ in awaited]
        if all(task.done() for task in tasks):
            for key, _ in awaited:
                self._running.pop(key, None)
                self._watched.discard(key)
            return [task.result() for task in tasks]
        for (key, _), task in zip(awaited, tasks, strict=True):
            if not task.done() and key not in self._watched:
                self._watched.add(key)
                task.add_done_callback(lambda _task: then())
        return None

    def prune(self, uid: str, *, keep: str) -> None:
        """Forget (and kill) hooks of environment `uid` that belong to another transition than
        the one that started at `keep` ("" when none is in progress)."""
        for key in [k for k in self._running if k[0] == uid and k[1] != keep]:
            self._running.pop(key).cancel()
            self._watched.discard(key)

    def __len__(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        """Cancel every hook still running (their processes are killed)."""
        tasks = list(self._running.values())
        self._running.clear()
        self._watched.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.plugins.close()
