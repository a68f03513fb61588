"""An offer round's launches cost per task only what differs per task: the ACCEPT body is built
beside the TaskInfos (byte for byte what pydantic would encode), the parts every task shares are
encoded once, and the launch statuses of the whole round go in one write."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pydantic import BaseModel

from controller.tasks.launch import LaunchConfig, LaunchWire, executor_info, task_info
from controller.tasks.placement import demand_with_ports
from controller.tasks.writer import StatusWriter
from crds.errors import MesosCallError
from crds.kinds.channels import BindChannel
from crds.kinds.common import Command, Limits
from crds.kinds.task import Task
from mesosapi.models import (
    AllocationInfo,
    FrameworkId,
    MesosModel,
    Offer,
    OfferId,
    Resource,
    TaskInfo,
)
from mesosapi.resources import ResourcePool, ranges, scalar
from mesosapi.scheduler import Accept, Offers, Subscribed, encode_call
from tests.tasks.harness import sample_task
from tests.tasks.test_framework import rigged
from tests.tasks.test_offer_rounds import pinned
from tests.tasks.test_placement import offer
from tests.waiting import eventually


def _variety() -> list[Task]:
    """Tasks unlike each other in every part of a TaskInfo."""
    plain = sample_task("plain", ports=2)
    odd = Command(
        value="/bin/sh",
        arguments=("-c", 'echo "é\\t\u2028" {{ task_hostname }}', "\x01"),
        env={"X": "ü\n", "O2_ROLE": "mine"},
        shell=True,
        user="alice",
    )
    channels = (
        BindChannel(name="data", type="push"),
        BindChannel(name="local", type="pull", addressing="ipc"),
    )
    spec = plain.spec.model_copy(
        update={
            "environment": "env-1",
            "role": "flp.readout",
            "command": odd,
            "control": "fairmq",
            "limits": Limits(cpus=2.5, memory=512),
            "bind": channels,
        }
    )
    rich = plain.model_copy(update={"spec": spec}, deep=True)
    rich = rich.model_copy(update={"metadata": rich.metadata.model_copy(update={"name": "rich"})})
    basic = plain.model_copy(
        update={
            "spec": plain.spec.model_copy(update={"control": "basic", "environment": "env-2"}),
            "metadata": plain.metadata.model_copy(update={"name": "basic"}),
        }
    )
    many = [sample_task(f"alike-{i}", ports=1) for i in range(5)]
    return [plain, rich, basic, *many]


def _homed_offer() -> Offer:
    """An offer whose resources carry a role and allocation info, in two homes each."""
    home = AllocationInfo(role="flp")

    def homed(r: Resource) -> Resource:
        return r.model_copy(update={"role": "flp", "allocation_info": home})

    resources = [
        homed(scalar("cpus", 1.5)),
        homed(scalar("cpus", 8)),
        homed(scalar("mem", 100)),
        homed(scalar("mem", 4096)),
        homed(ranges("ports", [(31000, 31002)])),
        homed(ranges("ports", [(9000, 9010), (30000, 30010)])),
    ]
    return offer(7).model_copy(update={"resources": resources})


def _pydantic(accept: Accept) -> str:
    plain = Accept(offer_ids=accept.offer_ids, operations=accept.operations, filters=accept.filters)
    return json.dumps(encode_call(plain, framework_id=FrameworkId("fw")))


def test_the_accept_body_is_byte_identical_to_pydantics_encoding() -> None:
    executor = executor_info(LaunchConfig(executor_command="run it", executor_env=(("A", "b"),)))
    for agent_offer in (offer(1, cpus=64, mem=65536, ports=(31000, 31999)), _homed_offer()):
        for refuse in (0.0, 5.0):
            pool = ResourcePool(agent_offer.resources)
            wire = LaunchWire(executor)
            built: list[TaskInfo] = []
            old: list[TaskInfo] = []
            for n, task in enumerate(_variety()):
                allocation = pool.take(demand_with_ports(task))
                assert allocation is not None, task.name
                mesos_id = f"{task.name}.{n:010d}"
                kwargs: dict[str, Any] = {"mesos_id": mesos_id, "offer": agent_offer}
                built.append(wire.task_info(task, allocation=allocation, **kwargs))
                old.append(task_info(task, allocation=allocation, executor=executor, **kwargs))
            assert built == old
            accept = wire.accept(agent_offer.id, built, refuse=refuse)
            sent = json.dumps(encode_call(accept, framework_id=FrameworkId("fw")))
            assert sent == _pydantic(accept)


def test_what_every_task_shares_is_encoded_once_a_round(monkeypatch: Any) -> None:
    """40 tasks on 2 offers: the ExecutorInfo is dumped once and the pool's scalar pieces once
    each, not per task; sending the ACCEPTs dumps nothing."""
    dumped: Counter[str] = Counter()
    real = MesosModel.to_wire

    def counted(model: MesosModel) -> dict[str, object]:
        dumped[type(model).__name__] += 1
        return real(model)

    monkeypatch.setattr(MesosModel, "to_wire", counted)
    executor = executor_info(LaunchConfig(executor_command="x"))
    wire = LaunchWire(executor)
    accepts = []
    for n in (1, 2):
        agent_offer = offer(n, mem=4096, ports=(31000, 31099))
        pool = ResourcePool(agent_offer.resources)
        infos = []
        for i in range(20):
            task = sample_task(f"t{n}-{i}", ports=1)
            allocation = pool.take(demand_with_ports(task))
            assert allocation is not None
            mesos_id = f"{task.name}.x"
            infos.append(
                wire.task_info(task, mesos_id=mesos_id, offer=agent_offer, allocation=allocation)
            )
        accepts.append(wire.accept(agent_offer.id, infos, refuse=5.0))
    assert dumped["ExecutorInfo"] == 1
    assert dumped["TaskInfo"] == 0 and dumped["Resource"] <= 4
    dumped.clear()
    for accept in accepts:
        encode_call(accept, framework_id=FrameworkId("fw"))
    assert sum(dumped.values()) == 0


async def test_a_round_writes_its_launch_statuses_once_and_sends_bodies_built_beside_them(
    monkeypatch: Any,
) -> None:
    """A round placing tasks on 3 agents writes the launch statuses in one batch (one per
    offer before), then sends an ACCEPT per offer whose body needs no pydantic dump (the
    whole TaskInfo tree was dumped per ACCEPT before), equal to pydantic's encoding."""
    writes: list[int] = []
    real_write_now = StatusWriter.write_now

    async def counted_write_now(writer: StatusWriter, changes: Any, **kw: Any) -> set[str]:
        writes.append(len(changes))
        return await real_write_now(writer, changes, **kw)

    monkeypatch.setattr(StatusWriter, "write_now", counted_write_now)
    async with rigged() as rig:
        rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
        await eventually(lambda: rig.fake.connected)
        detectors = ("A", "B", "C")
        for d in detectors:
            for i in range(4):
                await rig.store.create(pinned(f"{d.lower()}-{i}", d))
        await eventually(lambda: len(rig.framework._backlog.pending()) == 12)
        offers = [
            offer(n, attrs={"detector": d}).model_copy(update={"id": OfferId(f"o{n}-r")})
            for n, d in enumerate(detectors)
        ]
        rig.fake.push(Offers(offers=offers))
        await eventually(lambda: len(rig.fake.sent(Accept)) == 3)
        assert writes == [12]
        dumps: list[str] = []
        real_dump = BaseModel.model_dump

        def counted_dump(model: BaseModel, **kw: Any) -> dict[str, Any]:
            dumps.append(type(model).__name__)
            return real_dump(model, **kw)

        for accept in rig.fake.sent(Accept):
            assert isinstance(accept, Accept)
            expected = _pydantic(accept)
            monkeypatch.setattr(BaseModel, "model_dump", counted_dump)
            sent = json.dumps(encode_call(accept, framework_id=FrameworkId("fw")))
            monkeypatch.setattr(BaseModel, "model_dump", real_dump)
            assert sent == expected
        assert dumps == []


async def test_an_accept_the_master_refuses_leaves_the_rounds_other_offers_their_accepts(
    monkeypatch: Any,
) -> None:
    """Their launch statuses are written with the refused offer's: each other offer still gets
    its ACCEPT (else its tasks would sit launched with no launch until reconciliation), and the
    refused launches are not left in flight."""
    async with rigged() as rig:
        real_call = rig.fake.call

        async def refusing(call: Any) -> None:
            if isinstance(call, Accept) and call.offer_ids == ["o0-r"]:
                raise MesosCallError("ACCEPT", status=400, body="offer o0-r is no longer valid")
            await real_call(call)

        monkeypatch.setattr(rig.fake, "call", refusing)
        rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
        await eventually(lambda: rig.fake.connected)
        for d in ("A", "B"):
            for i in range(3):
                await rig.store.create(pinned(f"{d.lower()}-{i}", d))
        await eventually(lambda: len(rig.framework._backlog.pending()) == 6)
        offers = [
            offer(n, attrs={"detector": d}).model_copy(update={"id": OfferId(f"o{n}-r")})
            for n, d in enumerate(("A", "B"))
        ]
        rig.fake.push(Offers(offers=offers))
        await eventually(lambda: len(rig.fake.sent(Accept)) == 1)
        (accept,) = rig.fake.sent(Accept)
        assert accept.offer_ids == ["o1-r"]  # type: ignore[attr-defined]
        launched = {
            str(info.task_id)
            for op in accept.operations  # type: ignore[attr-defined]
            for info in op.launch.task_infos
        }
        assert len(launched) == 3
        in_flight = rig.framework._offers._launches
        assert not any(i in in_flight for i in launched)
