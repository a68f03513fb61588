"""The environment controller writes the task specs of a transition in batches (update_many)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from crds.kinds.task import Task
from crds.labels import KILL_TASK_FINALIZER
from crds.resource import Resource
from store.api import BatchResult
from tests.environments.helpers import fresh, samples, with_vars
from tests.environments.test_controller import Harness, apply_samples, harness, hook_workflow

__all__ = ["harness"]  # the fixture, shared with test_controller

DETECTORS = 150
"""300 tasks (readout + stfb per detector) plus qc: more than two etcd txns of 128 ops."""


async def test_transition_writes_task_specs_in_batched_txns_not_one_by_one(
    harness: Harness, tmp_path: Path
) -> None:
    single: list[str] = []
    batched: list[int] = []
    update: Callable[..., Awaitable[Resource]] = harness.store.update
    update_many = harness.store.update_many

    async def counting_update(obj: Resource, **kwargs: object) -> Resource:
        if isinstance(obj, Task):
            single.append(obj.name)
        return await update(obj, **kwargs)

    async def counting_update_many(objs: list[Resource]) -> BatchResult[Resource]:
        batched.append(len(objs))
        return await update_many(objs)

    harness.store.update = counting_update  # type: ignore[method-assign, assignment]
    harness.store.update_many = counting_update_many  # type: ignore[method-assign, assignment]
    harness.start_controller()
    detectors = json.dumps([f"D{i}" for i in range(DETECTORS)])
    await apply_samples(harness, tmp_path / "runs.txt")
    await harness.edit("physics-1", vars={"detectors": detectors, "rate": "200"})
    env = await harness.wait_state("physics-1", "RUNNING", within=60)
    tasks = harness.tasks("physics-1")
    assert len(tasks) > 2 * 128
    assert all(t.spec.state == "RUNNING" for t in tasks.values())
    assert all(t.spec.run_number == env.status.run_number for t in tasks.values())
    assert max(batched) >= len(tasks) - 1  # a whole transition's specs in one call
    assert len(single) < len(tasks) // 10  # per-task writes only as conflict fallbacks


async def test_tasks_are_created_with_the_kill_finalizer_in_one_write(
    harness: Harness, tmp_path: Path
) -> None:
    """The create txn carries the task controller's finalizer: no second write per task adds
    it (the stand-in task controller never adds it, so only the create can have put it there).
    Single updates of a transition's specs whose batched CAS lost to a status write (likelier
    under load) are allowed: they do not touch the finalizers."""
    updates: list[str] = []
    update: Callable[..., Awaitable[Resource]] = harness.store.update

    async def counting_update(obj: Resource, **kwargs: object) -> Resource:
        if isinstance(obj, Task):
            stored = await harness.store.get(Task, obj.name)
            if obj.metadata.finalizers != stored.metadata.finalizers:
                updates.append(obj.name)
        return await update(obj, **kwargs)

    harness.store.update = counting_update  # type: ignore[method-assign, assignment]
    harness.start_controller()
    await apply_samples(harness, tmp_path / "runs.txt")
    await harness.wait_state("physics-1", "RUNNING")
    tasks = harness.tasks("physics-1")
    assert tasks and all(t.metadata.finalizers == (KILL_TASK_FINALIZER,) for t in tasks.values())
    assert updates == []


async def test_deploy_creates_its_tasks_in_batched_txns_not_one_by_one(
    harness: Harness, tmp_path: Path
) -> None:
    single: list[str] = []
    batched: list[int] = []
    create: Callable[..., Awaitable[Resource]] = harness.store.create
    create_many = harness.store.create_many

    async def counting_create(obj: Resource, **kwargs: object) -> Resource:
        if isinstance(obj, Task):
            single.append(obj.name)
        return await create(obj, **kwargs)

    async def counting_create_many(objs: list[Resource]) -> BatchResult[Resource]:
        batched.append(len(objs))
        return await create_many(objs)

    harness.store.create = counting_create  # type: ignore[method-assign, assignment]
    harness.store.create_many = counting_create_many  # type: ignore[method-assign, assignment]
    harness.start_controller()
    detectors = json.dumps([f"D{i}" for i in range(DETECTORS)])
    env, workflow, classes = samples()
    for tc in classes.values():
        await harness.store.create(tc)
    await harness.store.create(hook_workflow(workflow, tmp_path / "runs.txt"))
    await harness.store.create(with_vars(fresh(env), detectors=detectors, rate="200"))
    await harness.wait_state("physics-1", "RUNNING", within=60)
    tasks = harness.tasks("physics-1")
    assert len(tasks) > 2 * 128
    assert all(t.metadata.finalizers == (KILL_TASK_FINALIZER,) for t in tasks.values())
    assert sum(batched) == len(tasks) and max(batched) == len(tasks)  # one call at DEPLOY
    assert single == []
