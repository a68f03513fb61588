"""The configuration side of the workload, running next to the environments while faults land:

- the ComponentConfig `chaos` (component `chaos`, ini) that the sample TaskClass pushes to its
  tasks at CONFIGURE (`config: {{ config("chaos") }}`), edited every few seconds;
- a GitSource `chaos` following a local git repository (a temporary one in the soak's work
  directory, polled every GIT_INTERVAL) that holds the ComponentConfig `chaos-git`; the soak
  commits a change to it every few seconds.

After the faults, `check()` waits until the ComponentConfig controller has recorded the last
edit and the GitSource has applied the last commit; either not happening within the bound is
an invariant violation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crds.errors import ConflictError, NotFoundError
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.gitsource import GitSource
from hack.chaos.observer import Observer
from store.api import Store

CONFIG = "chaos"
GIT_CONFIG = "chaos-git"
EVERY = (2.0, 5.0)
"""Seconds between two edits, and between two commits (uniform)."""
GIT_INTERVAL = "2s"
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "o2 chaos",
    "GIT_AUTHOR_EMAIL": "chaos@o2.invalid",
    "GIT_COMMITTER_NAME": "o2 chaos",
    "GIT_COMMITTER_EMAIL": "chaos@o2.invalid",
}


def config_data(edit: int) -> str:
    return f"[chaos]\nedit = {edit}\n"


def git_manifest(commit: int) -> str:
    return (
        "apiVersion: o2/v1alpha1\nkind: ComponentConfig\n"
        f"metadata: {{name: {GIT_CONFIG}}}\n"
        f"spec: {{component: {GIT_CONFIG}, format: text, data: 'commit {commit}'}}\n"
    )


def component_config() -> ComponentConfig:
    return ComponentConfig.model_validate(
        {
            "kind": "ComponentConfig",
            "metadata": {"name": CONFIG},
            "spec": {"component": CONFIG, "format": "ini", "data": config_data(0)},
        }
    )


def git_source(repo: Path) -> GitSource:
    return GitSource.model_validate(
        {
            "kind": "GitSource",
            "metadata": {"name": CONFIG},
            "spec": {"url": str(repo), "ref": "main", "interval": GIT_INTERVAL},
        }
    )


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip()


@dataclass
class Sources:
    store: Store
    observer: Observer
    rng: random.Random
    repo: Path
    edits: int = 0
    commits: int = 0
    head: str = ""
    lag: dict[str, float | None] = field(default_factory=dict)

    async def setup(self) -> None:
        """The edited config, the repository with its first commit, the GitSource on it."""
        await self.store.create(component_config())
        self.repo.mkdir(parents=True)
        await asyncio.to_thread(git, self.repo, "init", "--quiet", "--initial-branch=main")
        await self.commit()
        await self.store.create(git_source(self.repo))

    async def commit(self) -> None:
        (self.repo / "config.yaml").write_text(git_manifest(self.commits))
        await asyncio.to_thread(git, self.repo, "add", "--all")
        await asyncio.to_thread(git, self.repo, "commit", "--quiet", "-m", f"{self.commits}")
        self.head = await asyncio.to_thread(git, self.repo, "rev-parse", "HEAD")
        self.commits += 1

    async def edit(self) -> None:
        """One more edit of the config's payload (retried on a conflicting write)."""
        while True:
            config = await self.store.get(ComponentConfig, CONFIG)
            spec = config.spec.model_copy(update={"data": config_data(self.edits + 1)})
            try:
                await self.store.update(config.model_copy(update={"spec": spec}))
            except ConflictError:
                continue
            self.edits += 1
            return

    async def drive(self) -> None:
        """Edit the config and commit to the repository, each every few seconds, until
        cancelled. A store call failing while etcd is faulted is tried again next time."""
        next_edit = next_commit = 0.0
        while True:
            now = time.monotonic()
            try:
                if now >= next_edit:
                    await self.edit()
                    next_edit = now + self.rng.uniform(*EVERY)
                if now >= next_commit:
                    await self.commit()
                    next_commit = now + self.rng.uniform(*EVERY)
            except Exception:  # the next round tries again
                await asyncio.sleep(0.5)
            await asyncio.sleep(max(0.0, min(next_edit, next_commit) - time.monotonic()))

    async def check(self, within: float) -> None:
        """Seconds until the last edit is recorded and the last commit applied (`lag`); an
        invariant violation when either takes longer than `within`. The last commit is read
        from the repository: a commit cancelled with the workload (its git call runs in a
        thread to the end) may have landed after `head` was last set."""
        self.head = await asyncio.to_thread(git, self.repo, "rev-parse", "HEAD")
        subject = await asyncio.to_thread(git, self.repo, "log", "-1", "--format=%s")
        self.commits = int(subject) + 1
        self.lag["config"], self.lag["gitsource"] = await asyncio.gather(
            self.until(within, self.recorded), self.until(within, self.synced)
        )
        if self.lag["config"] is None:
            self.observer.violate(f"componentconfig/{CONFIG}: edit {self.edits} not recorded")
        if self.lag["gitsource"] is None:
            self.observer.violate(f"gitsource/{CONFIG}: commit {self.head[:12]} not applied")

    async def recorded(self) -> bool:
        config = await self.store.get(ComponentConfig, CONFIG)
        history = config.status.history
        return bool(history) and history[-1].data == config.spec.data

    async def synced(self) -> bool:
        source = await self.store.get(GitSource, CONFIG)
        try:
            applied = await self.store.get(ComponentConfig, GIT_CONFIG)
        except NotFoundError:
            return False
        done = source.status.last_applied_commit == self.head
        return done and applied.spec.data == f"commit {self.commits - 1}"

    async def until(self, within: float, check: Any) -> float | None:
        """Seconds until `check()` holds (polled: these objects are not on the observer's
        watch of environments and tasks), None after `within`."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < within:
            with contextlib.suppress(Exception):  # a store error: look again
                if await check():
                    return round(loop.time() - started, 2)
            await asyncio.sleep(0.25)
        return None

    def json(self) -> dict[str, Any]:
        return {"configEdits": self.edits, "gitCommits": self.commits, "caughtUpAfter": self.lag}
