"""The offer interest and the end of a round look again only at the pending tasks no REVIVE
was sent for yet: a DEPLOY wakes its 10,000 tasks over and over (their creates, their launch
statuses) while they wait for offers, and each wake viewed every one of them again. Launches
get distinct Mesos task ids of the usual shape, drawn for a whole offer at once."""

from __future__ import annotations

import re
from typing import Any

from controller.tasks.launch import launch_suffixes
from controller.tasks.writer import StatusWriter
from crds.kinds.task import Task
from mesosapi.models import FrameworkId, OfferId
from mesosapi.scheduler import Accept, Offers, Revive, Subscribed
from tests.tasks.test_framework import Rig, rigged
from tests.tasks.test_offer_rounds import pinned
from tests.tasks.test_placement import offer
from tests.waiting import eventually

TASKS = 60


def _viewed(monkeypatch: Any) -> list[str]:
    """The names `StatusWriter.view` is asked for from now on."""
    looked: list[str] = []
    real = StatusWriter.view

    def counted(writer: StatusWriter, name: str) -> Task | None:
        looked.append(name)
        return real(writer, name)

    monkeypatch.setattr(StatusWriter, "view", counted)
    return looked


async def _revived_for_all(rig: Rig) -> set[str]:
    rig.fake.push(Subscribed(framework_id=FrameworkId("fw-1")))
    await eventually(lambda: rig.fake.connected)
    names = {f"on-b-{i}" for i in range(TASKS)}
    for name in sorted(names):
        await rig.store.create(pinned(name, "B"))
    await eventually(lambda: len(rig.framework._backlog.pending()) == TASKS)
    await rig.framework._offers.update_interest()
    await eventually(lambda: bool(rig.fake.sent(Revive)))
    await eventually(lambda: rig.framework._offers._revived_for >= names)
    return names


async def test_a_wake_of_tasks_revived_for_does_not_view_them_again(monkeypatch: Any) -> None:
    async with rigged() as rig:
        names = await _revived_for_all(rig)
        revives = len(rig.fake.sent(Revive))
        looked = _viewed(monkeypatch)
        await rig.framework._offers.update_interest(sorted(names))
        assert not [n for n in looked if n in names]
        assert len(rig.fake.sent(Revive)) == revives  # nothing new: no REVIVE
        # a task no REVIVE was sent for is still looked at (and revived for, once due)
        await rig.store.create(pinned("late", "B"))
        await eventually(lambda: "late" in {t.name for t in rig.framework._backlog.pending()})
        looked.clear()
        await rig.framework._offers.update_interest([*sorted(names), "late"])
        assert [n for n in looked if n == "late" or n in names] == ["late"]


async def test_pending_since_a_mark_views_only_the_tasks_asked_about(monkeypatch: Any) -> None:
    async with rigged() as rig:
        names = await _revived_for_all(rig)
        backlog = rig.framework._backlog
        looked = _viewed(monkeypatch)
        assert {t.name for t in backlog.pending_since(0, among={"on-b-3"})} == {"on-b-3"}
        assert set(looked) == {"on-b-3"}
        assert {t.name for t in backlog.pending_since(0)} == names


async def test_a_rounds_launches_get_distinct_mesos_ids_of_the_usual_shape() -> None:
    async with rigged() as rig:
        await _revived_for_all(rig)
        roomy = offer(1, cpus=100, mem=1e6, ports=(31000, 31999), attrs={"detector": "B"})
        offered = roomy.model_copy(update={"id": OfferId("o1-r")})
        rig.fake.push(Offers(offers=[offered]))
        await eventually(lambda: bool(rig.fake.sent(Accept)))
        (accept,) = rig.fake.sent(Accept)
        infos = [i for op in accept.operations for i in op.launch.task_infos]  # type: ignore[attr-defined]
        assert len(infos) == TASKS
        assert len({i.task_id for i in infos}) == TASKS
        for info in infos:
            assert re.fullmatch(rf"{re.escape(info.name)}\.[0-9a-f]{{10}}", info.task_id)
            stored = rig.framework.view(info.name)
            assert stored is not None and stored.status.mesos_task_id == info.task_id


def test_launch_suffixes_are_ten_hex_digits_and_differ() -> None:
    suffixes = launch_suffixes(1000)
    assert len(suffixes) == 1000 and len(set(suffixes)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{10}", s) for s in suffixes)
    assert launch_suffixes(0) == []
