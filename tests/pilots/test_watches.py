"""The pilot controller runs a pass only for changes its plan reads, not for routine writes."""

from __future__ import annotations

from typing import TypeVar

from controller.pilots.controller import _environment_matters, _node_matters, _task_matters
from crds.kinds.node import PilotBackOff, ResourceAmounts
from crds.resource import Resource
from store.informer import CacheEvent
from tests.pilots.factories import at, env, node, pilot_on, task

R = TypeVar("R", bound=Resource)


def modified(old: R, new: R) -> CacheEvent[R]:
    return CacheEvent(type="MODIFIED", name=old.name, old=old, new=new)


def test_routine_node_status_writes_do_not_trigger_a_pass_but_mode_changes_do() -> None:
    old = node("a")
    seen = old.model_copy(
        update={
            "status": old.status.model_copy(
                update={
                    "last_seen": at(60),
                    "tasks": 3,
                    "resources": old.status.resources.model_copy(
                        update={"allocated": ResourceAmounts(cpus=0.5)}
                    ),
                }
            )
        }
    )
    assert not _node_matters(modified(old, seen))
    switched = old.model_copy(update={"spec": old.spec.model_copy(update={"mode": "async"})})
    assert _node_matters(modified(old, switched))
    gone = old.model_copy(update={"status": old.status.model_copy(update={"ready": False})})
    assert _node_matters(modified(old, gone))


def test_occ_state_changes_do_not_trigger_a_pass_but_phase_and_scheduling_do() -> None:
    running = task("t", on="s")
    configured = running.model_copy(
        update={"status": running.status.model_copy(update={"state": "CONFIGURED"})}
    )
    assert not _task_matters(modified(running, configured))
    ended = running.model_copy(
        update={"status": running.status.model_copy(update={"phase": "Finished"})}
    )
    assert _task_matters(modified(running, ended))
    assert _task_matters(modified(task("p"), task("p", unschedulable_since=0)))
    assert _task_matters(modified(pilot_on("a"), pilot_on("a")))


def test_environment_counts_do_not_trigger_a_pass_but_state_and_policy_do() -> None:
    old = env()
    counted = old.model_copy(
        update={"status": old.status.model_copy(update={"task_counts": {"RUNNING": 2}})}
    )
    assert not _environment_matters(modified(old, counted))
    done = old.model_copy(update={"status": old.status.model_copy(update={"state": "DONE"})})
    assert _environment_matters(modified(old, done))
    manual = old.model_copy(update={"spec": old.spec.model_copy(update={"reclaim": "Manual"})})
    assert _environment_matters(modified(old, manual))


def test_a_changed_back_off_record_triggers_a_pass() -> None:
    old = node("a", mode="async")
    record = PilotBackOff(failures=1, pilot="pilot-a", not_before=at(10))
    new = old.model_copy(update={"status": old.status.model_copy(update={"backoff": record})})
    assert _node_matters(modified(old, new))
