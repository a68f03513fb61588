"""GitOps fixtures: real git repositories in temp dirs, and an in-process manager running the
GitSource reconciler on the session etcd (unique prefix per test)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from cli.gitops import sync
from controller.gitsource.controller import GitSourceReconciler
from controller.manager import Manager, ManagerConfig
from controller.runtime.leader import LeaderConfig
from controller.settings import GitSourceSettings, Settings
from crds.kinds.event import Event
from crds.kinds.gitsource import GitSource, GitSourceSpec
from crds.meta import ObjectMeta
from crds.resource import Resource
from store.api import Store
from store.etcd import EtcdStore
from tests.stack import wait_for as stack_wait_for
from tests.waiting import eventually

R = TypeVar("R", bound=Resource)

FAST = LeaderConfig(ttl=2, renew_deadline=1.3, retry_period=0.3)
GITSOURCE = "controller.gitsource.controller:GitSourceReconciler"
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "o2 test",
    "GIT_AUTHOR_EMAIL": "test@o2.invalid",
    "GIT_COMMITTER_NAME": "o2 test",
    "GIT_COMMITTER_EMAIL": "test@o2.invalid",
}


class Repo:
    """A real git repository with a work tree: write files, commit, tag."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=GIT_ENV,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def commit(self, message: str = "change") -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], Repo]:
    return lambda name: Repo(tmp_path / name)


def env_yaml(
    name: str, *, state: str = "STANDBY", workflow: str = "readout", extra: str = ""
) -> str:
    return (
        "apiVersion: o2/v1alpha1\nkind: Environment\n"
        f"metadata: {{name: {name}}}\n"
        f"spec: {{workflow: {workflow}, state: {state}{extra}}}\n"
    )


def taskclass_yaml(name: str) -> str:
    return (
        "apiVersion: o2/v1alpha1\nkind: TaskClass\n"
        f"metadata: {{name: {name}}}\n"
        "spec: {command: {value: /bin/sleep, arguments: ['1000']}, control: basic}\n"
    )


def gitsource(name: str, url: Path | str, **spec: object) -> GitSource:
    fields: dict[str, object] = {"url": str(url), "ref": "main", "interval": "1h", **spec}
    return GitSource(metadata=ObjectMeta(name=name), spec=GitSourceSpec.model_validate(fields))


@pytest.fixture
async def manager(etcd_store: EtcdStore, tmp_path: Path) -> AsyncIterator[Manager]:
    config = ManagerConfig(
        identity="gitops-test",
        leader=FAST,
        controllers=(GITSOURCE,),
        settings=Settings(gitsource=GitSourceSettings(data_dir=tmp_path / "data")),
    )
    mgr = Manager(etcd_store, etcd_store, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(mgr.run(stop))
    await eventually(lambda: mgr.elector.is_leader and all(c.running for c in mgr.controllers))
    try:
        yield mgr
    finally:
        stop.set()
        done, _ = await asyncio.wait([task], timeout=10)
        if not done:
            for t in asyncio.all_tasks():
                t.print_stack()
            raise AssertionError("manager did not stop")


def reconciler(mgr: Manager) -> GitSourceReconciler:
    rec = mgr.controllers[0].reconciler
    assert isinstance(rec, GitSourceReconciler)
    return rec


async def synced(store: Store, name: str) -> GitSource:
    """`o2 sync NAME`: ask the controller for a sync and return its answer."""
    return await sync(store, name, within=20)


async def wait_until(
    store: Store, kind: type[R], name: str, pred: Callable[[R | None], bool]
) -> R | None:
    """Watch `kind/name` until `pred(obj or None)` holds (10 s at most)."""
    return await stack_wait_for(store, kind, name, pred, within=10)


async def events_of(store: Store, reason: str) -> list[Event]:
    listing = await store.list(Event)
    return [e for e in listing.items if e.spec.reason == reason]


async def wait_events(store: Store, reason: str) -> list[Event]:
    """The Events with `reason`, once there is one (the recorder writes in the background)."""
    return await eventually(
        lambda: events_of(store, reason), interval=0.02, message=f"an Event with reason {reason}"
    )
