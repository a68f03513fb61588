"""The ACCEPT a launch sends is the same JSON, byte for byte, as the TaskInfo models built one
by one (labels as models, data through `o2messages.encode`) made it: `task_info` validates
plain values once and serializes the payload straight to bytes, for CPU only."""

from __future__ import annotations

import json

from controller.mesos.calls import SchedulerCalls
from controller.tasks.launch import LaunchConfig, executor_info, launch_payload, task_info
from controller.tasks.placement import demand_with_ports
from crds.kinds.common import Command, Constraint, Limits, Wants
from crds.kinds.task import TASK_HOSTNAME, Task, TaskSpec
from crds.meta import ObjectMeta
from mesosapi.models import (
    ExecutorInfo,
    FrameworkId,
    Label,
    Labels,
    Offer,
    TaskId,
    TaskInfo,
)
from mesosapi.o2messages import encode
from mesosapi.resources import Allocation, ResourcePool
from mesosapi.scheduler import Accept, SchedulerCall, decode_call, encode_call_json
from tests.tasks.test_placement import offer


def _reference(
    task: Task, *, mesos_id: str, offer: Offer, allocation: Allocation, executor: ExecutorInfo
) -> TaskInfo:
    """The TaskInfo as it was built before (one model per part)."""
    from controller.tasks.launch import task_limits

    labels = [Label(key="o2/task", value=task.name)]
    if task.spec.environment:
        labels.append(Label(key="o2/environment", value=task.spec.environment))
    return TaskInfo(
        name=task.name,
        task_id=TaskId(mesos_id),
        agent_id=offer.agent_id,
        resources=allocation.resources,
        executor=executor,
        data=encode(launch_payload(task, ports=allocation.ports, hostname=offer.hostname)),
        labels=Labels(labels=labels),
        limits=task_limits(task),
    )


def _variants() -> list[Task]:
    plain = TaskSpec(task_class="plain", command=Command(value="/bin/true"), control="basic")
    occ = TaskSpec(
        environment="env-1",
        role="flp-tpc.readout",
        task_class="readout",
        command=Command(
            value="o2-readout",
            arguments=("--host", TASK_HOSTNAME, 'ünïcode "quoted" \\ \n'),
            env={"O2_ROLE": "mine", "PATH": f"/opt/{TASK_HOSTNAME}/bin"},
        ),
        control="fairmq",
        wants=Wants(cpus=0.5, memory=256, ports=2),
        limits=Limits(cpus=2.0, memory=1024),
        constraints=(Constraint(attribute="detector", value="TPC"),),
    )
    direct = TaskSpec(
        environment="env-2",
        task_class="stfb",
        command=Command(value="stfb --x", shell=True),
        wants=Wants(cpus=0.1, memory=64, ports=1),
        limits=Limits(memory=128),
    )
    return [
        Task(metadata=ObjectMeta(name=name), spec=spec)
        for name, spec in (("plain-0", plain), ("readout-0", occ), ("stfb-0", direct))
    ]


class _Recorder(SchedulerCalls):
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def call(self, call: SchedulerCall) -> None:
        self.bodies.append(encode_call_json(call, framework_id=FrameworkId("fw")))


async def test_accept_of_built_task_infos_is_byte_for_byte_the_model_built_one() -> None:
    where = offer(1, cpus=16, mem=8192, ports=(31000, 31099))
    pool = ResourcePool(where.resources)
    executors = [
        executor_info(LaunchConfig()),
        executor_info(LaunchConfig(executor_command="run it", executor_env=(("A", "b"),))),
    ]
    new, old = _Recorder(), _Recorder()
    for executor in executors:
        built: list[TaskInfo] = []
        reference: list[TaskInfo] = []
        for i, task in enumerate(_variants()):
            allocation = pool.take(demand_with_ports(task))
            assert allocation is not None
            args = {"mesos_id": f"{task.name}.{i:010x}", "offer": where}
            built.append(task_info(task, allocation=allocation, executor=executor, **args))  # type: ignore[arg-type]
            reference.append(_reference(task, allocation=allocation, executor=executor, **args))  # type: ignore[arg-type]
        assert built == reference
        await new.launch([where.id], built, refuse_seconds=5.0)
        await old.launch([where.id], reference, refuse_seconds=5.0)
    assert new.bodies == old.bodies
    _, call = decode_call(json.loads(new.bodies[0]))
    assert isinstance(call, Accept)
    infos = call.operations[0].launch.task_infos  # type: ignore[union-attr]
    assert [i.name for i in infos] == ["plain-0", "readout-0", "stfb-0"]
    assert infos[1].limits is not None and infos[1].labels is not None
