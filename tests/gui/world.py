"""A realistic sample farm written through the store, for screenshots and the GUI benchmark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crds.kinds.common import Command
from crds.kinds.environment import (
    Environment,
    EnvironmentSpec,
    EnvironmentStatus,
    RoleSummary,
    TransitionProgress,
    TransitionRecord,
)
from crds.kinds.event import Event, EventSpec, ObjectReference
from crds.kinds.gitsource import GitSource, GitSourceSpec, GitSourceStatus, InventoryEntry
from crds.kinds.node import Node, NodeResources, NodeSpec, NodeStatus, ResourceAmounts
from crds.kinds.task import Task, TaskSpec, TaskStatus
from crds.meta import Condition, ObjectMeta
from store.api import Store

NOW = datetime.now(UTC)
DETECTORS = ("tpc", "its", "tof", "mft")


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def node(i: int, *, detector: str, tasks: int) -> Node:
    total = ResourceAmounts(cpus=64, memory=256_000, ports=1000)
    used = ResourceAmounts(
        cpus=min(64.0, tasks * 1.5), memory=min(256_000, tasks * 6000), ports=tasks * 2
    )
    return Node(
        metadata=ObjectMeta(name=f"flp{i:03d}"),
        spec=NodeSpec(unschedulable=i == 7, mode="async" if i >= 10 else "sync"),
        status=NodeStatus(
            hostname=f"alio2-cr1-flp{i:03d}",
            agent_id=f"9f2c1e4a-S{i}",
            attributes={"detector": detector.upper(), "rack": f"cr1-{i // 4}", "numa": "2"},
            resources=NodeResources(total=total, allocated=used),
            tasks=tasks,
            last_seen=ago(3),
            ready=i != 9,
        ),
    )


def env_task(env: str, role: str, i: int, *, state: str, host: str, pid: int) -> Task:
    return Task(
        metadata=ObjectMeta(
            name=f"{env}-{role.replace('.', '-')}-{i}",
            labels={"detector": role.split(".", maxsplit=1)[0].removeprefix("flp-")},
        ),
        spec=TaskSpec(
            environment=env,
            role=role,
            task_class=role.rsplit(".", 1)[-1],
            command=Command(value="/opt/o2/bin/o2-readout-exe"),
            state="RUNNING" if state == "RUNNING" else "CONFIGURED",
            critical=not role.startswith("qc"),
        ),
        status=TaskStatus(
            phase="Running",
            state=state,
            hostname=host,
            pid=pid,
            agent_id="S1",
            message="" if state != "ERROR" else "readout: link 3 down (CRU 0x2a)",
        ),
    )


def history(run: int) -> tuple[TransitionRecord, ...]:
    steps = [
        ("DEPLOY", "STANDBY", "DEPLOYED", 41.2),
        ("CONFIGURE", "DEPLOYED", "CONFIGURED", 63.8),
        ("START_ACTIVITY", "CONFIGURED", "RUNNING", 4.1),
        ("STOP_ACTIVITY", "RUNNING", "CONFIGURED", 3.2),
        ("START_ACTIVITY", "CONFIGURED", "RUNNING", 3.9),
    ]
    out, t = [], 7200.0
    for i, (event, src, dst, took) in enumerate(steps):
        start = ago(t)
        t -= took + 600
        out.append(
            TransitionRecord(
                event=event,
                from_state=src,
                to_state=dst,
                started_at=start,
                finished_at=start + timedelta(seconds=took),
                duration_seconds=took,
                run_number=(run - 1 if i < 4 else run) if "ACTIVITY" in event else None,
            )
        )
    return tuple(out)


def conditions(ready: bool, message: str) -> tuple[Condition, ...]:
    return (
        Condition(
            type="Ready",
            status="True" if ready else "False",
            reason="StateReached" if ready else "TaskFailed",
            message=message,
            last_transition_time=ago(1900),
        ),
        Condition(
            type="Reconciling", status="False", reason="Idle", last_transition_time=ago(1900)
        ),
    )


async def populate(store: Store) -> None:
    """Three environments in different states, their tasks, 12 nodes, 2 GitSources, events."""
    layouts = {
        "physics-1": ("RUNNING", "RUNNING", 560123, ("tpc", "its", "tof")),
        "calib-mft": ("CONFIGURED", "RUNNING", None, ("mft",)),
        "tech-its": ("ERROR", "RUNNING", None, ("its",)),
    }
    pid = 41000
    for name, (state, desired, run, dets) in layouts.items():
        tasks = []
        for d_i, det in enumerate(dets):
            for role, count in (
                (f"flp-{det}.readout", 6),
                (f"flp-{det}.stfb", 6),
                (f"epn.dpl-{det}", 4),
                (f"qc.{det}-raw", 2),
            ):
                for i in range(count):
                    pid += 7
                    t_state = state
                    if state == "ERROR":
                        t_state = "ERROR" if i == 0 and role.endswith("readout") else "RUNNING"
                    if name == "calib-mft" and i % 3 == 0:
                        t_state = "RUNNING"
                    tasks.append(
                        env_task(
                            name,
                            role,
                            i,
                            state=t_state,
                            host=f"alio2-cr1-flp{(d_i * 3 + i) % 12:03d}",
                            pid=pid,
                        )
                    )
        counts: dict[str, int] = {}
        for t in tasks:
            counts[t.status.state or ""] = counts.get(t.status.state or "", 0) + 1
        transition = None
        if name == "calib-mft":
            transition = TransitionProgress(
                event="START_ACTIVITY",
                step="tasks_START_ACTIVITY",
                started_at=ago(2),
                message="waiting for 16 tasks",
            )
        env = Environment(
            metadata=ObjectMeta(name=name),
            spec=EnvironmentSpec(
                workflow="readout-dataflow",
                state=desired,
                run_type="PHYSICS" if name == "physics-1" else "TECHNICAL",
                vars={"detectors": ",".join(d.upper() for d in dets), "n_epn": "4"},
            ),
        )
        created = await store.create(env)
        roles = tuple(
            RoleSummary(path=r, tasks=n) for r, n in {t.spec.role: 6 for t in tasks}.items()
        )
        await store.update_status(
            created.model_copy(
                update={
                    "status": EnvironmentStatus(
                        state=state,
                        run_number=run,
                        last_run_number=(run or 560100) - 1,
                        transition=transition,
                        task_counts=counts,
                        task_total=len(tasks),
                        roles=roles,
                        history=history(run or 560100),
                        conditions=conditions(
                            state != "ERROR",
                            ""
                            if state != "ERROR"
                            else "critical task tech-its-flp-its-readout-0 in ERROR",
                        ),
                        message=""
                        if state != "ERROR"
                        else "GO_ERROR: critical task flp-its.readout#0 failed",
                    )
                }
            )
        )
        for t in tasks:
            await store.create(t)
        for j, (reason, kind, message) in enumerate(
            (
                ("TransitionStarted", "Normal", "DEPLOY: 72 tasks to launch"),
                ("TasksLaunched", "Normal", "72 tasks launched on 12 agents"),
                ("RunStarted", "Normal", f"START_ACTIVITY: run {run or 560100}"),
                ("UserAction", "Normal", "alice asked to START from the GUI (spec.state=RUNNING)"),
                *(
                    (("TaskFailed", "Warning", "flp-its.readout#0: link 3 down (CRU 0x2a)"),)
                    if state == "ERROR"
                    else ()
                ),
            )
        ):
            await store.create(
                Event(
                    metadata=ObjectMeta(name=f"{name}-ev{j}"),
                    spec=EventSpec(
                        involved_object=ObjectReference(kind="Environment", name=name),
                        type=kind,
                        reason=reason,
                        message=message,
                        first_timestamp=ago(3000 - j * 500),
                        last_timestamp=ago(3000 - j * 500),
                        source="o2-gui" if reason == "UserAction" else "environment-controller",
                    ),
                )
            )
    for i in range(12):
        await store.create(
            node(i, detector=DETECTORS[i % 4], tasks=[18, 22, 9, 30, 12, 0, 25, 4, 16, 0, 2, 1][i])
        )
    for name, url, sync, health, commit in (
        (
            "farm-config",
            "https://gitlab.cern.ch/alice-o2/farm-config.git",
            "Synced",
            "Healthy",
            "4f9a1c0e7b2d8a6f",
        ),
        (
            "detector-workflows",
            "https://gitlab.cern.ch/alice-o2/workflows.git",
            "OutOfSync",
            "Progressing",
            "b71e0d93aa41c2e5",
        ),
    ):
        created_gs = await store.create(
            GitSource(
                metadata=ObjectMeta(name=name), spec=GitSourceSpec(url=url, ref="main", path="prod")
            )
        )
        await store.update_status(
            created_gs.model_copy(
                update={
                    "status": GitSourceStatus(
                        last_applied_commit=commit,
                        last_sync_time=ago(42),
                        sync=sync,
                        health=health,
                        inventory=tuple(
                            InventoryEntry(kind="TaskClass", name=f"tc-{k}") for k in range(14)
                        ),
                        message="applied 14 objects"
                        if sync == "Synced"
                        else "1 object drifted: workflow/readout-dataflow",
                    )
                }
            )
        )
