"""Follow one Environment and its Tasks through informers (watches, no polling) to a verdict.

Used by the state commands: the watches start before the request is written, so every change
the controller makes after it is seen; the verdict and the views are the pure cli.progress.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from cli.progress import Goal, judge, last_seen, new_history, tally
from cli.progress_sink import ProgressSink
from crds.errors import O2Error
from crds.kinds.environment import Environment
from crds.kinds.task import Task
from store.api import Store
from store.informer import CacheEvent, Informer

log = logging.getLogger(__name__)


class EnvironmentFailedError(O2Error):
    """The environment went to ERROR (or was deleted) while the command waited."""


class EnvironmentTimeoutError(O2Error):
    def __init__(self, goal: Goal, *, seen: str, timeout: float) -> None:
        super().__init__(
            f"timed out after {timeout:g}s waiting for environment/{goal.name} to reach "
            f"{goal.target}; last seen: {seen}"
        )


class Follower:
    """The Environment and its Tasks, kept current by two informers; `changed` wakes the wait."""

    def __init__(self, store: Store, name: str) -> None:
        self.name = name
        self.store = store
        self.envs: Informer[Environment] = Informer(store, Environment)
        self.tasks: Informer[Task] = Informer(store, Task)
        self.changed = asyncio.Event()

    def _on_env(self, event: CacheEvent[Environment]) -> None:
        if event.name == self.name:
            self.changed.set()

    def _on_task(self, event: CacheEvent[Task]) -> None:
        copies = (event.old, event.new)
        if any(t is not None and t.spec.environment == self.name for t in copies):
            self.changed.set()

    async def __aenter__(self) -> Follower:
        self.envs.start()
        self.tasks.start()
        try:
            await asyncio.gather(self.envs.wait_synced(), self.tasks.wait_synced())
        except BaseException:
            await self.stop()
            raise
        self.envs.add_handler(self._on_env)
        self.tasks.add_handler(self._on_task)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop both watches (the store makes a watch stop prompt, also mid-setup)."""
        for informer in (self.tasks, self.envs):
            await informer.stop()

    def env(self) -> Environment | None:
        return self.envs.get(self.name)

    def env_tasks(self) -> list[Task]:
        return [t for t in self.tasks.list() if t.spec.environment == self.name]

    async def read_tasks(self) -> list[Task]:
        """The tasks read afresh: the two watches are not ordered with each other, so at the
        end the task cache may lag behind what the environment already reports."""
        listing = await self.store.list(Task)
        return [t for t in listing.items if t.spec.environment == self.name]


async def follow(
    follower: Follower,
    goal: Goal,
    sink: ProgressSink,
    *,
    within: float,
    before: Environment,
) -> Environment:
    """Show every change until the verdict is in, then the transitions that ran since
    `before`; raises EnvironmentFailedError on ERROR/deletion, EnvironmentTimeoutError."""
    env, tasks = follower.env(), follower.env_tasks()
    try:
        async with asyncio.timeout(within):
            while True:
                follower.changed.clear()
                env, tasks = follower.env(), follower.env_tasks()
                verdict = judge(env, goal)
                if verdict.done or verdict.failed:
                    tasks = await follower.read_tasks()
                counts = tally(tasks, target=goal.target)
                sink.show(env, counts, goal)
                if env is not None and (verdict.done or verdict.failed):
                    sink.history(new_history(before, env))
                if verdict.done and env is not None:
                    return env
                if verdict.failed:
                    sink.failed(counts)
                    raise EnvironmentFailedError(f"environment/{goal.name}: {verdict.reason}")
                await follower.changed.wait()
    except TimeoutError as exc:
        seen = last_seen(env, tally(tasks, target=goal.target), goal)
        raise EnvironmentTimeoutError(goal, seen=seen, timeout=within) from exc
