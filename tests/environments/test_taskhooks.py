"""Task hooks deployed with the environment (AliECS deploys hook tasks at DEPLOY and starts
their command at the trigger): which environments have them, what the Task is, when it is
replaced at the trigger. Pure parts of controller.environments.taskhooks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.environments.expansion import Hook
from controller.environments.taskhooks import Changes, deployed, hook_task, same_launch, verdict
from crds.kinds.common import Command
from crds.kinds.environment import Environment, TransitionProgress
from crds.kinds.task import TaskSpec
from crds.labels import HOOK_FIRING, HOOK_LABEL
from crds.moments import Moment
from store.informer import CacheEvent
from tests.environments.helpers import samples

AT = Moment("before", "START_ACTIVITY", 0)


def task_hook(*arguments: str) -> Hook:
    spec = TaskSpec(
        environment="physics-1",
        role="flp.roc-config",
        task_class="roc-config",
        command=Command(value="/bin/roc-config", arguments=arguments),
        control="basic",
    )
    argv = (spec.command.value, *arguments)
    return Hook("flp.roc-config", argv, AT, AT, 40.0, True, task=spec)


def env_at(state: str, event: str | None = None, step: str = "") -> Environment:
    env, _, _ = samples()
    progress = TransitionProgress(event=event, step=step) if event else None
    status = env.status.model_copy(update={"state": state, "transition": progress})
    return env.model_copy(update={"status": status})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (env_at("STANDBY"), False),
        (env_at("STANDBY", "DEPLOY", "before_DEPLOY"), False),
        (env_at("STANDBY", "DEPLOY", "tasks_DEPLOY"), True),
        (env_at("STANDBY", "DEPLOY", "after_DEPLOY+5"), True),
        (env_at("DEPLOYED"), True),
        (env_at("RUNNING", "STOP_ACTIVITY", "tasks_STOP_ACTIVITY"), True),
        (env_at("ERROR"), True),
        (env_at("DONE"), False),
    ],
)
def test_hook_tasks_are_deployed_from_deploys_tasks_step_until_done(
    env: Environment, expected: bool
) -> None:
    assert deployed(env) is expected


def test_a_deleted_environment_has_no_deployed_hook_tasks() -> None:
    env = env_at("RUNNING")
    meta = env.metadata.model_copy(update={"deletion_timestamp": datetime(2026, 1, 1, tzinfo=UTC)})
    assert not deployed(env.model_copy(update={"metadata": meta}))


def test_the_hook_task_is_a_basic_task_in_standby_labelled_with_its_environment() -> None:
    task = hook_task("physics-1", "uid-env", task_hook("--card", "1"))
    assert task.name == "physics-1-flp-roc-config-hook"
    assert (task.spec.control, task.spec.state) == ("basic", "STANDBY")
    assert task.metadata.labels[HOOK_LABEL] == "physics-1"
    assert task.metadata.owner_references[0].uid == "uid-env"
    assert HOOK_FIRING not in task.metadata.annotations
    fired = hook_task("physics-1", "uid-env", task_hook(), firing="f1")
    assert fired.metadata.annotations[HOOK_FIRING] == "f1"


def test_a_hook_whose_command_changed_is_not_fired_on_the_deployed_task() -> None:
    deployed_task = hook_task("physics-1", "uid-env", task_hook("--run", ""))
    assert same_launch(deployed_task, task_hook("--run", ""))
    assert not same_launch(deployed_task, task_hook("--run", "42"))  # e.g. `{{ run_number }}`


def test_the_verdict_is_the_exit_code_of_the_fired_command() -> None:
    task = hook_task("physics-1", "uid-env", task_hook())
    ran = task.status.model_copy(
        update={
            "phase": "Running",
            "state": "RUNNING",
            "terminated": True,
            "exit_code": 0,
            "hostname": "flp",
        }
    )
    ok = verdict(task_hook(), task.model_copy(update={"status": ran}))
    assert ok.ok and "succeeded" in ok.message
    failed = ran.model_copy(update={"exit_code": 2})
    bad = verdict(task_hook(), task.model_copy(update={"status": failed}))
    assert not bad.ok and "on flp failed: exit code 2" in bad.message
    lost = ran.model_copy(update={"phase": "Lost", "terminated": False, "message": "agent gone"})
    assert verdict(task_hook(), task.model_copy(update={"status": lost})).message.endswith(
        "agent gone"
    )


async def test_a_change_of_the_watched_task_wakes_the_firing_at_once() -> None:
    changes = Changes()
    with changes.watching("rd-a-hook") as changed, changes.watching("rd-b-hook") as other:
        task = hook_task("rd", "uid-1", task_hook())
        changes.notify(CacheEvent("MODIFIED", "rd-a-hook", task, task))
        assert changed.is_set() and not other.is_set()
    changes.notify(CacheEvent("MODIFIED", "rd-a-hook", task, task))  # nobody waits: no-op
