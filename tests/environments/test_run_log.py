"""The run log on real etcd: one record per ended run, never twice, the newest N kept."""

from __future__ import annotations

from pathlib import Path

from controller.environments.controller import RUN_LOG_JOB
from controller.environments.runlog import RunLog
from controller.settings import EnvironmentSettings
from crds.changedby import attributed
from crds.errors import ConflictError
from crds.kinds.environment import (
    Environment,
    EnvironmentSpec,
    EnvironmentStatus,
    TransitionRecord,
)
from crds.meta import ObjectMeta
from crds.runlog import decode, log_prefix, newest_first
from store.etcd import EtcdStore
from tests.environments.test_controller import Harness, harness, run_sample
from tests.waiting import eventually

__all__ = ["harness"]


async def records(store: EtcdStore) -> dict[str, bytes]:
    return await store.list_raw(log_prefix(store.prefix))


async def stop_run(h: Harness) -> None:
    await h.edit("physics-1", state="CONFIGURED")
    await h.wait_state("physics-1", "CONFIGURED")


async def logged(h: Harness, count: int) -> dict[str, bytes]:
    return await eventually(lambda: records(h.store), until=lambda r: len(r) == count, within=10)


async def test_a_run_end_writes_exactly_one_record_with_the_run_s_facts(
    harness: Harness, tmp_path: Path
) -> None:
    env = await run_sample(harness, tmp_path / "runs.txt")
    assert await records(harness.store) == {}  # nothing while the run goes on
    await stop_run(harness)
    (key, raw), *others = (await logged(harness, 1)).items()
    assert others == []
    record = decode(raw)
    assert record is not None
    assert key.endswith(f"/runtime/runs/000000000001-{env.metadata.uid}")
    assert (record.environment, record.run_number, record.run_type) == ("physics-1", 1, "PHYSICS")
    assert record.detectors == ("TPC",)
    events = [t.event for t in record.transitions]
    assert events == ["DEPLOY", "CONFIGURE", "START_ACTIVITY", "STOP_ACTIVITY"]
    assert record.started_at_ms and record.stopped_at_ms
    assert record.duration_seconds is not None and record.duration_seconds >= 0
    assert (record.started_by, record.ended_in_error, record.error) == ("", False, "")
    took = {t.event: t.duration_seconds for t in record.transitions}
    assert (
        record.task_count == (await harness.store.get(Environment, "physics-1")).status.task_total
    )
    assert record.task_count is not None and record.task_count > 0
    assert (record.deploy_seconds, record.configure_seconds) == (took["DEPLOY"], took["CONFIGURE"])


async def test_a_restarted_controller_writes_no_duplicate_and_fills_a_missed_run(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    await stop_run(harness)
    first = await logged(harness, 1)
    await harness.stop_controller(harness.controllers[-1])
    await harness.store.delete_raw(next(iter(first)))  # as if it died before writing it
    ctl = harness.start_controller()
    again = await logged(harness, 1)
    assert again == first  # the same record, derived from the status alone
    job, _ = ctl.jobs[RUN_LOG_JOB]
    await job.run()
    assert await records(harness.store) == first


async def test_the_log_keeps_the_newest_runs_of_its_size(harness: Harness, tmp_path: Path) -> None:
    await run_sample(harness, tmp_path / "runs.txt", settings=EnvironmentSettings(run_log_size=2))
    for _ in range(2):
        await stop_run(harness)
        await harness.edit("physics-1", state="RUNNING")
        await harness.wait_state("physics-1", "RUNNING")
    await stop_run(harness)

    def runs(raw: dict[str, bytes]) -> list[int]:
        return [r.run_number for r in newest_first(raw)]

    raw: dict[str, bytes] = await eventually(
        lambda: records(harness.store), until=lambda r: runs(r) == [3, 2], within=10
    )
    for later in newest_first(raw):  # no DEPLOY among its own transitions: the incarnation's
        assert [t.event for t in later.transitions] == ["START_ACTIVITY", "STOP_ACTIVITY"]
        assert later.deploy_seconds is not None and later.configure_seconds is not None
        assert later.task_count


async def test_a_run_ended_by_an_error_records_the_reason(harness: Harness, tmp_path: Path) -> None:
    await run_sample(harness, tmp_path / "runs.txt")
    await harness.fake.fail("physics-1-flp-tpc-readout", message="killed by signal 9")
    await harness.wait_state("physics-1", "ERROR")
    (raw,) = (await logged(harness, 1)).values()
    record = decode(raw)
    assert record is not None and record.ended_in_error
    assert "signal 9" in record.error
    assert record.transitions[-1].event == "GO_ERROR"


async def edit_as(h: Harness, who: str, **changes: object) -> None:
    """A spec write naming its user, as the GUI and `o2 start|stop` do (read again when the
    controller's status write lands in between, as they do)."""
    for _ in range(10):
        env = await h.store.get(Environment, "physics-1")
        wanted = env.model_copy(update={"spec": env.spec.model_copy(update=changes)})
        try:
            await h.store.update(attributed(env, wanted, who))
            return
        except ConflictError:
            continue
    raise AssertionError("could not write the environment")


async def test_records_name_who_started_and_stopped_only_when_their_write_was_acted_on(
    harness: Harness, tmp_path: Path
) -> None:
    await run_sample(harness, tmp_path / "runs.txt")  # started by a write naming nobody
    await edit_as(harness, "alice", state="CONFIGURED")
    await harness.wait_state("physics-1", "CONFIGURED")
    await edit_as(harness, "bob", state="RUNNING")
    await harness.wait_state("physics-1", "RUNNING")
    await stop_run(harness)  # a write naming nobody: bob's name is stale now, not believed
    raw = await logged(harness, 2)
    by_run = {r.run_number: (r.started_by, r.stopped_by) for r in newest_first(raw)}
    assert by_run == {1: ("", "alice"), 2: ("bob", "")}


def ended(number: int, history: tuple[TransitionRecord, ...]) -> Environment:
    """physics-1 (uid u-1, 12 tasks) once run `number` ended, with `history`."""
    status = EnvironmentStatus(
        state="CONFIGURED", last_run_number=number, task_total=12, history=history
    )
    return Environment(
        metadata=ObjectMeta(name="physics-1", uid="u-1"),
        spec=EnvironmentSpec(workflow="readout-dataflow", state="CONFIGURED"),
        status=status,
    )


def step(event: str, seconds: float, run: int | None = None) -> TransitionRecord:
    return TransitionRecord(
        event=event, from_state="", to_state="", duration_seconds=seconds, run_number=run
    )


async def test_a_run_whose_history_lost_the_deploy_takes_it_from_its_incarnation_s_last_record(
    etcd_store: EtcdStore,
) -> None:
    first = (step("DEPLOY", 7.5), step("CONFIGURE", 3.0), step("START_ACTIVITY", 1.0, 1))
    log = RunLog(size=10)
    await log.sweep(
        etcd_store, etcd_store.prefix, [ended(1, (*first, step("STOP_ACTIVITY", 1, 1)))]
    )
    trimmed = (step("START_ACTIVITY", 1.2, 2), step("STOP_ACTIVITY", 0.4, 2))  # past HISTORY_LIMIT
    await log.sweep(etcd_store, etcd_store.prefix, [ended(2, trimmed)])
    runs = {r.run_number: r for r in newest_first(await records(etcd_store))}
    assert (runs[1].deploy_seconds, runs[1].configure_seconds, runs[1].task_count) == (7.5, 3.0, 12)
    assert (runs[2].deploy_seconds, runs[2].configure_seconds, runs[2].task_count) == (7.5, 3.0, 12)
    other = ended(3, (step("START_ACTIVITY", 1.0, 3),)).model_copy(
        update={"metadata": ObjectMeta(name="physics-1", uid="u-2")}
    )
    await log.sweep(etcd_store, etcd_store.prefix, [other])  # another incarnation: nothing known
    third = newest_first(await records(etcd_store))[0]
    assert (third.run_number, third.deploy_seconds, third.configure_seconds) == (3, None, None)
