"""`o2 logs` finds a task's output wherever `command.stdout/stderr` sent it."""

from __future__ import annotations

from pathlib import Path

from cli.commands.logs import TaskLines
from store.api import Store
from tests.cli.conftest import O2
from tests.cli_ops.conftest import put, run_o2, task_obj
from tests.cli_ops.test_logs import Launched, launched  # noqa: F401  (the fixture)


async def put_task(store: Store, launched: Launched, **command: str) -> None:  # noqa: F811
    task = task_obj(
        "readout",
        env=None,
        state="RUNNING",
        agentId=launched.agent_id,
        executorId="o2-exec",
        mesosTaskId="readout.1",
    )
    spec = task.spec.model_copy(update={"command": task.spec.command.model_copy(update=command)})
    await put(store, task.model_copy(update={"spec": spec}))


async def test_stdout_mode_reads_the_tasks_lines_from_the_executor_output(
    o2: O2,
    etcd_store: Store,
    launched: Launched,  # noqa: F811
) -> None:
    executor_dir = Path(launched.sandbox).parent
    (executor_dir / "stdout").write_text(
        "executor starting\n"
        "task-stdout readout.1: one\n"
        "task-stdout other.2: not mine\n"
        "task-stdout readout.1: two\n"
    )
    (executor_dir / "stderr").write_text("task-stderr readout.1: oops\nlog line\n")
    await put_task(etcd_store, launched, stdout="stdout", stderr="stdout")
    whole = await run_o2(o2, "logs", "readout", "--mesos", launched.url)
    assert whole.exit_code == 0, whole.stderr
    assert whole.stdout == "one\ntwo\n"
    tail = await run_o2(o2, "logs", "readout", "--tail", "1", "--mesos", launched.url)
    assert tail.stdout == "two\n"
    err = await run_o2(o2, "logs", "readout", "--stderr", "--mesos", launched.url)
    assert err.stdout == "oops\n"


async def test_none_mode_says_the_output_was_discarded(
    o2: O2,
    etcd_store: Store,
    launched: Launched,  # noqa: F811
) -> None:
    await put_task(etcd_store, launched, stdout="none")
    result = await run_o2(o2, "logs", "readout", "--mesos", launched.url)
    assert result.exit_code == 1
    assert "task/readout: its stdout is discarded (command.stdout: none)" in result.stderr


async def test_all_mode_reads_the_sandbox_file(
    o2: O2,
    etcd_store: Store,
    launched: Launched,  # noqa: F811
) -> None:
    await put_task(etcd_store, launched, stdout="all")
    result = await run_o2(o2, "logs", "readout", "--tail", "1", "--mesos", launched.url)
    assert result.stdout == "line 7\n"


def test_task_lines_keep_partial_lines_for_the_next_chunk() -> None:
    lines = TaskLines("task-stdout t: ")
    assert lines.feed(b"task-stdout t: a\ntask-std") == b"a\n"
    assert lines.feed(b"out t: b\nx\n") == b"b\n"
