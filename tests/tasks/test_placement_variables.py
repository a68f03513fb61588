"""`task_hostname` as AliECS has it: known only once the task is placed. The expansion leaves a
placeholder; the launch fills in the agent's hostname in the command and its environment, and
CONFIGURE sends the properties with it filled in, while the configured-properties digest stays
the spec's (so the environment controller does not see a change). Pure."""

from __future__ import annotations

from controller.environments.expand import expand
from controller.tasks.launch import launch_payload
from controller.tasks.status import control_items, properties_digest
from crds.kinds.task import TASK_HOSTNAME, Task, TaskStatus
from tests.environments.helpers import samples
from tests.environments.test_expand import taskclass
from tests.environments.test_roleparts import wf

ENV, _, _ = samples()


def expanded_task() -> Task:
    readout = taskclass(
        "readout",
        command={
            "value": "run",
            "arguments": ["{{ cfg }}"],
            "env": {"HOST": "{{ task_hostname }}"},
        },
        defaults={"cfg": "consul-ini://cfg/readout-standalone-{{ task_hostname }}"},
        properties={"where": "{{ task_hostname }}:{{ task_name }}"},
    )
    workflow = wf("w", {"roles": [{"name": "readout", "task": {"class": "readout"}}]})
    expansion = expand(ENV, workflow, {"readout": readout}, run_number=None)
    (task,) = expansion.tasks.values()
    return Task.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Task",
            "metadata": {"name": task.name},
            "spec": task.spec.model_dump(by_alias=True),
        }
    )


def test_expansion_leaves_task_hostname_to_the_placement() -> None:
    task = expanded_task()
    assert task.spec.command.arguments == (f"consul-ini://cfg/readout-standalone-{TASK_HOSTNAME}",)
    assert task.spec.properties["where"] == f"{TASK_HOSTNAME}:{task.name}"


def test_launch_and_configure_fill_in_the_agents_hostname() -> None:
    task = expanded_task()
    payload = launch_payload(task, ports=[31000], hostname="flp042")
    assert payload.command.arguments == ("consul-ini://cfg/readout-standalone-flp042",)
    assert payload.command.env["HOST"] == "flp042"

    placed = task.model_copy(
        update={
            "spec": task.spec.model_copy(update={"state": "CONFIGURED"}),
            "status": TaskStatus(
                phase="Running", state="STANDBY", mesos_task_id="m1", hostname="flp042"
            ),
        }
    )
    (configure,) = control_items(placed)
    assert configure.arguments["where"] == f"flp042:{task.name}"
    # what the environment controller compares stays the spec's digest
    assert properties_digest(task.spec.properties) != properties_digest(configure.arguments)
