"""Test harness: the controller manager as a real subprocess, Tasks through the store, and
waiting on Task status through an etcd watch (no polling sleeps)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from crds.kinds.common import Command, Constraint, Wants
from crds.kinds.event import Event
from crds.kinds.task import Task, TaskSpec
from crds.meta import ObjectMeta
from store.api import Store, WatchEvent
from tests.stack import SAMPLE_TASK, ManagerProcess, watch_until

__all__ = [
    "ManagerProcess",
    "TaskCheck",
    "events_for",
    "monotonic",
    "process_alive",
    "sample_task",
    "set_state",
    "wait_deleted",
    "wait_event",
    "wait_task",
    "wait_tasks",
]


def sample_task(
    name: str,
    *,
    state: str = "STANDBY",
    detector: str = "TPC",
    properties: dict[str, str] | None = None,
    constraints: tuple[Constraint, ...] = (),
    memory: int = 64,
    ports: int = 0,
    extra_args: tuple[str, ...] = (),
) -> Task:
    spec = TaskSpec(
        task_class="sample",
        command=Command(value=SAMPLE_TASK, arguments=("--detector", detector, *extra_args)),
        wants=Wants(cpus=0.01, memory=memory, ports=ports),
        constraints=constraints,
        state=state,
        properties=properties or {},
    )
    return Task(metadata=ObjectMeta(name=name), spec=spec)


TaskCheck = Callable[[Task], bool]


async def wait_tasks(
    store: Store, names: list[str], check: TaskCheck, *, within: float = 30.0
) -> dict[str, Task]:
    """Wait until every named Task satisfies `check` (list, then watch from that revision)."""
    seen: dict[str, Task] = {}

    def observe(event: WatchEvent[Task]) -> None:
        if event.obj is not None and event.name in names:
            seen[event.name] = event.obj

    def failure() -> str:
        bad = {n: (t.status.phase, t.status.state, t.status.message) for n, t in seen.items()}
        return f"timed out waiting for tasks: {bad}"

    await watch_until(
        store,
        Task,
        observe=observe,
        done=lambda: all(n in seen and check(seen[n]) for n in names),
        within=within,
        failure=failure,
    )
    return seen


async def wait_task(store: Store, name: str, check: TaskCheck, *, within: float = 30.0) -> Task:
    return (await wait_tasks(store, [name], check, within=within))[name]


async def set_state(store: Store, name: str, state: str, *, run_number: int | None = None) -> Task:
    for _ in range(10):
        task = await store.get(Task, name)
        spec = task.spec.model_copy(update={"state": state, "run_number": run_number})
        try:
            return await store.update(task.model_copy(update={"spec": spec}))
        except Exception:
            continue
    raise AssertionError(f"could not set {name} to {state}")


async def events_for(store: Store, name: str) -> list[Event]:
    return [e for e in (await store.list(Event)).items if e.spec.involved_object.name == name]


async def wait_event(store: Store, name: str, reason: str, *, within: float = 15.0) -> Event:
    """The Event about `name` with `reason` (list, then watch Events)."""
    about: list[Event] = []

    def observe(change: WatchEvent[Event]) -> None:
        if change.obj is not None and change.obj.spec.involved_object.name == name:
            about.append(change.obj)

    def found() -> Event | None:
        return next((e for e in about if e.spec.reason == reason), None)

    await watch_until(
        store,
        Event,
        observe=observe,
        done=lambda: found() is not None,
        within=within,
        failure=lambda: f"no {reason} event for {name}; have {[e.spec.reason for e in about]}",
    )
    event = found()
    assert event is not None
    return event


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def monotonic() -> float:
    return time.monotonic()


async def wait_deleted(store: Store, name: str, *, within: float = 30.0) -> None:
    """Until the Task is gone from the store (watch for its DELETED event)."""
    present = [False]

    def observe(event: WatchEvent[Task]) -> None:
        if event.name == name:
            present[0] = event.type != "DELETED"

    await watch_until(
        store,
        Task,
        observe=observe,
        done=lambda: not present[0],
        within=within,
        failure=lambda: f"task {name} was not removed",
    )
