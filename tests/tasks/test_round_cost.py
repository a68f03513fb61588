"""What an offer round looks at: the tasks it can place and those it reports, not the ones
that wait while the round's limit keeps them untried (at 50,000 pending tasks each round
viewed every such task that had waited past `unoffered_grace`, to report none of them)."""

from __future__ import annotations

import asyncio
from collections import Counter
from functools import partial
from typing import Any

from controller.tasks import rounds
from crds.kinds.task import Task
from mesosapi.models import FrameworkId, OfferId
from mesosapi.scheduler import Accept, Offers, Revive, Subscribed
from tests.tasks.test_framework import rigged
from tests.tasks.test_offer_rounds import pinned
from tests.tasks.test_placement import offer
from tests.waiting import eventually


async def test_tasks_left_untried_by_the_round_limit_are_not_viewed_to_be_reported(
    monkeypatch: Any,
) -> None:
    from controller.tasks.writer import StatusWriter

    looked: list[str] = []
    real = StatusWriter.view

    def counted(writer: StatusWriter, name: str) -> Task | None:
        looked.append(name)
        return real(writer, name)

    async with rigged(unplaced_grace=0.0, unoffered_grace=0.2) as rig:
        rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
        await eventually(lambda: rig.fake.connected)
        # agents 1 and 2 both host detector A (each has offered once: both may come back)
        first = [
            offer(n, attrs={"detector": "A"}).model_copy(update={"id": OfferId(f"o{n}-0")})
            for n in (1, 2)
        ]
        rig.fake.push(Offers(offers=first))
        await eventually(lambda: len(rig.fake.calls) >= 1)
        for i in range(12):
            await rig.store.create(pinned(f"a-{i:02}", "A"))
        await eventually(lambda: len(rig.framework._backlog.pending()) == 12)
        await eventually(lambda: bool(rig.fake.sent(Revive)))
        # agent 1 holds 2 of them: the third tried finds it full, the other 9 start waiting
        small = offer(1, mem=64 * 2 + 32, attrs={"detector": "A"})
        rig.fake.push(Offers(offers=[small.model_copy(update={"id": OfferId("o1-1")})]))
        await eventually(lambda: len(rig.fake.sent(Accept)) == 1)
        await asyncio.sleep(0.3)  # they have waited past unoffered_grace: due
        monkeypatch.setattr(rounds, "select", partial(rounds.select, limit=1))
        monkeypatch.setattr(StatusWriter, "view", counted)
        big = offer(2, attrs={"detector": "A"}).model_copy(update={"id": OfferId("o2-1")})
        rig.fake.push(Offers(offers=[big]))
        await eventually(lambda: len(rig.fake.sent(Accept)) == 2)
        per_task = Counter(n for n in looked if n.startswith("a-"))
        # the one tried and launched, the one the line held next; not the 9 untried
        assert sum(per_task.values()) <= 6, per_task
        assert all(rig.framework.unschedulable_reason(f"a-{i:02}") is None for i in range(12))
