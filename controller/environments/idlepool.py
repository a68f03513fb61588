"""The idle pool: reusable tasks released by a finished environment, adopted by a new one
of the same class, command and constraints, deleted once idle longer than the idle TTL. Pure
(controller.environments.taskset decides when; the controller's job `idle-pool` deletes)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from crds.kinds.task import Task
from crds.labels import ENV_LABEL, IDLE_LABEL, IDLE_SINCE, ROLE_LABEL

__all__ = ["adoptable", "expired_idle", "released"]


def adoptable(task: Task) -> bool:
    return (
        task.spec.environment is None
        and task.metadata.labels.get(IDLE_LABEL) == "true"
        and task.status.phase == "Running"
        and task.status.state == "STANDBY"
        and task.metadata.deletion_timestamp is None
    )


def released(task: Task, *, now: datetime | None) -> Task:
    labels = {k: v for k, v in task.metadata.labels.items() if k not in (ENV_LABEL, ROLE_LABEL)}
    notes = dict(task.metadata.annotations)
    if now is not None:
        notes[IDLE_SINCE] = now.isoformat()
    meta = task.metadata.model_copy(
        update={
            "labels": {**labels, IDLE_LABEL: "true"},
            "annotations": notes,
            "owner_references": (),
        }
    )
    spec = task.spec.model_copy(
        update={
            "environment": None,
            "role": "",
            "state": "STANDBY",
            "run_number": None,
            "start_arguments": {},
        }
    )
    return task.model_copy(update={"metadata": meta, "spec": spec})


def expired_idle(idle: Iterable[Task], *, now: datetime, ttl: timedelta) -> list[Task]:
    """Idle-pool tasks released longer than `ttl` ago (to delete); unparsable stamps expire."""
    expired = []
    for task in idle:
        if task.spec.environment is not None or task.metadata.labels.get(IDLE_LABEL) != "true":
            continue
        stamp = task.metadata.annotations.get(IDLE_SINCE, "")
        try:
            since = datetime.fromisoformat(stamp)
        except ValueError:
            expired.append(task)
            continue
        if now - since >= ttl:
            expired.append(task)
    return expired
