"""`o2 start` following an environment of 1,000 tasks: start-up and reaction times (printed)."""

from __future__ import annotations

import asyncio
import time

import pytest

from crds.kinds.task import Task
from store.api import Store
from tests.cli.conftest import O2, spawn
from tests.cli_ops.conftest import env_obj, put, set_env_status, task_obj

TASKS = 1000


async def create_tasks(store: Store, count: int) -> None:
    objs = [task_obj(f"alpha-{i:04d}", env="alpha", state="CONFIGURED") for i in range(count)]
    for start in range(0, count, 64):
        chunk = objs[start : start + 64]
        created = await asyncio.gather(*(store.create(o) for o in chunk))
        await store.update_status_many(
            [c.model_copy(update={"status": o.status}) for c, o in zip(created, chunk, strict=True)]
        )


@pytest.mark.slow
async def test_start_follows_1000_tasks_and_exits_soon_after_the_last_write(
    o2: O2, etcd_store: Store
) -> None:
    await put(etcd_store, env_obj("alpha", desired="CONFIGURED", state="CONFIGURED"))
    await create_tasks(etcd_store, TASKS)
    await set_env_status(etcd_store, "alpha", state="CONFIGURED")
    spawned = time.monotonic()
    with spawn(o2.argv("start", "alpha", "--timeout", "60s"), env=o2.subprocess_env()) as cli:
        following = await asyncio.to_thread(cli.err.wait_for, "CONFIGURED -> RUNNING", within=60)
        tasks = (await etcd_store.list(Task)).items
        running = [
            t.model_copy(update={"status": t.status.model_copy(update={"state": "RUNNING"})})
            for t in tasks
        ]
        writes_started = time.monotonic()
        await etcd_store.update_status_many(running)
        await set_env_status(etcd_store, "alpha", state="RUNNING", run_number=1)
        written = time.monotonic()
        done = await asyncio.to_thread(cli.out.wait_for, "environment/alpha RUNNING", within=30)
        assert await asyncio.to_thread(cli.proc.wait, 10) == 0
    lines = cli.err.drain()
    assert lines[-1].endswith(f"tasks RUNNING {TASKS}/{TASKS} [RUNNING={TASKS}]")
    print(
        f"\no2 start over {TASKS} tasks: spawn -> following {following - spawned:.2f}s; "
        f"{TASKS} status writes {written - writes_started:.2f}s; "
        f"last write -> exit line {(done - written) * 1000:.0f} ms; "
        f"{len(lines)} progress lines"
    )
