"""`o2 logs` reads a task's sandbox output through a real local cluster's /files endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.mesos_files import MesosFiles, SandboxFile, agent_url, find_directory
from localmesos import LocalCluster
from store.api import Store
from store.embedded import free_port
from tests.cli.conftest import O2, spawn
from tests.cli_ops.conftest import put, run_o2, seed, set_task_status, task_obj
from tests.localmesos.conftest import FAST
from tests.localmesos.helpers import RawScheduler, task_info

LINES = [f"line {i}" for i in range(1, 8)]


@dataclass(frozen=True)
class Launched:
    url: str
    agent_id: str
    sandbox: Path  # the task's own directory inside its executor's sandbox


@pytest.fixture
async def launched(tmp_path: Path) -> AsyncIterator[Launched]:
    """A task launched on a hollow agent by a raw scheduler; its stdout placed in the sandbox
    where the o2 executor writes it (`<executor sandbox>/<mesos task id>/stdout`)."""
    async with LocalCluster(agents=0, hollow_agents=1, timers=FAST, work_dir=tmp_path) as cluster:
        sched = RawScheduler(cluster.url)
        try:
            await sched.subscribe()
            offer = (await sched.offers())[0]
            await sched.accept(offer, [task_info("readout.1", offer, executor_id="o2-exec")])
            await sched.next_update("readout.1", state="TASK_RUNNING")
            agent = cluster.agent(offer["agent_id"]["value"])
            executor = next(iter(agent.executors.values()))
            sandbox = Path(executor.directory) / "readout.1"
            sandbox.mkdir(parents=True)
            (sandbox / "stdout").write_text("".join(f"{line}\n" for line in LINES))
            (sandbox / "stderr").write_text("warning: low rate\n")
            yield Launched(cluster.url, agent.agent_id, sandbox)
        finally:
            await sched.close()


async def put_task(store: Store, launched: Launched) -> None:
    await put(
        store,
        task_obj(
            "readout",
            env=None,
            state="RUNNING",
            agentId=launched.agent_id,
            executorId="o2-exec",
            mesosTaskId="readout.1",
        ),
    )


async def test_mesos_files_finds_the_sandbox_in_master_state_and_reads_ranges(
    launched: Launched,
) -> None:
    async with MesosFiles(launched.url) as files:
        file = await files.task_file(
            agent_id=launched.agent_id,
            executor_id="o2-exec",
            mesos_task_id="readout.1",
            name="stdout",
        )
        assert file == SandboxFile(launched.url, str(launched.sandbox / "stdout"))
        size = await files.size(file)
        assert size == len("".join(f"{line}\n" for line in LINES))
        assert await files.read_range(file, start=0, end=7) == b"line 1\n"
        start = await files.tail_start(file, lines=2, size=size)
        assert await files.read_range(file, start=start, end=size) == b"line 6\nline 7\n"


async def test_logs_prints_stdout_tail_and_stderr(
    o2: O2, etcd_store: Store, launched: Launched
) -> None:
    await put_task(etcd_store, launched)
    whole = await run_o2(o2, "logs", "readout", "--mesos", launched.url)
    assert whole.exit_code == 0, whole.stderr
    assert whole.stdout.splitlines() == LINES
    tail = await run_o2(o2, "logs", "readout", "--tail", "3", "--mesos", launched.url)
    assert tail.stdout.splitlines() == LINES[-3:]
    err = await run_o2(o2, "logs", "readout", "--stderr", "--mesos", launched.url)
    assert err.stdout == "warning: low rate\n"


async def test_logs_follow_prints_new_output_until_the_process_has_ended(
    o2: O2, etcd_store: Store, launched: Launched
) -> None:
    await put_task(etcd_store, launched)
    argv = o2.argv("logs", "readout", "-f", "--tail", "1", "--mesos", launched.url)
    with spawn(argv, env=o2.subprocess_env()) as cli:
        await asyncio.to_thread(cli.out.wait_for, "line 7", within=30)
        with (launched.sandbox / "stdout").open("a") as out:
            out.write("line 8\n")
        await asyncio.to_thread(cli.out.wait_for, "line 8", within=10)
        with (launched.sandbox / "stdout").open("a") as out:
            out.write("last words\n")
        await set_task_status(etcd_store, "readout", phase="Finished", exit_code=0)
        assert await asyncio.to_thread(cli.proc.wait, 15) == 0
    assert cli.out.drain()[-1] == "last words"
    assert "line 6" not in cli.out.seen


def test_logs_of_a_task_not_launched_yet_says_so(o2_sync: O2) -> None:
    seed(o2_sync, task_obj("pending", env=None, state=None, phase="Pending"))
    result = o2_sync("logs", "pending")
    assert result.exit_code == 1
    assert "task/pending has not been launched yet (phase Pending)" in result.stderr


def test_logs_with_an_unreachable_master_names_it(o2_sync: O2) -> None:
    ids = {"agentId": "a-1", "executorId": "o2-exec", "mesosTaskId": "readout.1"}
    seed(o2_sync, task_obj("readout", env=None, state="RUNNING", **ids))
    dead = f"http://127.0.0.1:{free_port()}"
    result = o2_sync("logs", "readout", "--mesos", dead)
    assert result.exit_code == 1
    assert dead in result.stderr
    assert "--mesos" in result.stderr


def test_sandbox_is_found_in_a_real_agents_state_shape_and_the_newest_run_wins() -> None:
    master_state = {
        "slaves": [{"id": "S1", "pid": "slave(1)@10.0.0.7:5051", "hostname": "flp-1"}],
        "frameworks": [{"executors": [{"executor_id": "o2-exec", "slave_id": "S1"}]}],
    }
    assert find_directory(master_state, agent_id="S1", executor_id="o2-exec") is None
    assert agent_url(master_state, "S1") == "http://10.0.0.7:5051"
    agent_state = {
        "frameworks": [
            {
                "executors": [
                    {"id": "o2-exec", "directory": "/var/lib/mesos/.../runs/old"},
                    {"id": "o2-exec", "directory": "/var/lib/mesos/.../runs/new"},
                    {"id": "other", "directory": "/elsewhere"},
                ]
            }
        ]
    }
    found = find_directory(agent_state, agent_id="S1", executor_id="o2-exec")
    assert found == "/var/lib/mesos/.../runs/new"
