"""An offer round's launches: the launch statuses of the whole round go in one write, then one
ACCEPT per offer; an ACCEPT the master refuses does not keep the others from theirs."""

from __future__ import annotations

from typing import Any

from controller.tasks.writer import StatusWriter
from crds.errors import MesosCallError
from mesosapi.models import FrameworkId, OfferId
from mesosapi.scheduler import Accept, Offers, Subscribed
from tests.tasks.test_framework import rigged
from tests.tasks.test_offer_rounds import pinned
from tests.tasks.test_placement import offer
from tests.waiting import eventually


async def test_a_round_writes_its_launch_statuses_once(
    monkeypatch: Any,
) -> None:
    """A round placing tasks on 3 agents writes the launch statuses in one batch (one per
    offer before), then sends an ACCEPT per offer."""
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
