"""A pass puts off its look at a task with a status change queued or in flight until the change
is written (ControlLedger._looks_now, write_settled): it makes no copy with the changes applied
for that look alone, and a transition due meanwhile is sent once, on the written copy. Counted,
not timed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from controller.tasks import writer as writer_module
from crds.kinds.task import Task
from tests.tasks.test_control_passes import (
    NAMES,
    answer,
    requests,
    set_spec_state,
    standing_by,
)
from tests.tasks.test_framework import Rig, _all_in, rigged
from tests.waiting import eventually


def count_views(monkeypatch: pytest.MonkeyPatch, rig: Rig) -> tuple[list[str], list[None]]:
    """From now on, the name of every task viewed, and one entry per copy `view` builds."""
    writer = rig.framework._writer
    viewed: list[str] = []
    copies: list[None] = []
    real_view, real_replaced = writer.view, writer_module.replaced

    def view(name: str) -> Task | None:
        viewed.append(name)
        return real_view(name)

    def replaced(*args: Any, **kwargs: Any) -> Any:
        copies.append(None)
        return real_replaced(*args, **kwargs)

    monkeypatch.setattr(writer, "view", view)
    monkeypatch.setattr(writer_module, "replaced", replaced)
    return viewed, copies


@asynccontextmanager
async def writes_held(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncio.Event]:
    """Status writes wait until the event is set (set on the way out)."""
    gate = asyncio.Event()
    real = writer_module.write_status_many

    async def held(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(writer_module, "write_status_many", held)
    try:
        yield gate
    finally:
        gate.set()


async def test_a_pass_looks_at_a_task_being_written_once_it_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A named pass over a task whose status change is queued does not view it (it did
    before, with a copy made for that look), nor a task found idle on its stored copy; once
    written, a copy with nothing to send is found idle with no look at all."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        control, writer = rig.framework._control, rig.framework._writer
        await control.control_pass(NAMES)  # both found with nothing to send
        viewed, copies = count_views(monkeypatch, rig)
        writer.patch("a", lambda s: s.model_copy(update={"message": "noted"}))
        assert await control.control_pass(NAMES) == 0  # before the writer runs
        assert viewed == [] and copies == []  # "a" put off, "b" idle (a copy of "a" before)

        await eventually(lambda: not writer.writing("a"))
        assert rig.cache.get("a").status.message == "noted"  # type: ignore[union-attr]
        viewed.clear()
        assert await control.control_pass(NAMES) == 0
        assert viewed == [] and copies == []  # the stored copies, idle: not even viewed
        await set_spec_state(rig, "b", "CONFIGURED")  # a new copy is looked at
        await eventually(lambda: bool(requests(rig)))
        assert viewed == ["b"]


async def test_a_transition_due_while_its_task_is_written_is_sent_once_after_the_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The desired state changes while a status write of the task is in flight: the pass it
    wakes puts the look off (nothing sent on the copy being written), and the write's end
    brings it back: one CONFIGURE, on the written copy, and none again after its answer."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        writer = rig.framework._writer
        viewed, copies = count_views(monkeypatch, rig)
        async with writes_held(monkeypatch) as gate:
            writer.patch("a", lambda s: s.model_copy(update={"message": "noted"}))
            await eventually(lambda: writer.writing("a"))
            await set_spec_state(rig, "a", "CONFIGURED")
            await eventually(lambda: rig.cache.get("a").spec.state == "CONFIGURED")  # type: ignore[union-attr]
            await asyncio.sleep(0.05)  # the control loop's pass over "a"
            assert requests(rig) == [] and "a" not in viewed and copies == []
            gate.set()
            await eventually(lambda: bool(requests(rig)))
        ((_, request),) = requests(rig)
        assert [(i.task_id.split(".")[0], i.event) for i in request.items] == [("a", "CONFIGURE")]
        assert rig.cache.get("a").status.message == "noted"  # type: ignore[union-attr]
        answer(rig, request)
        await eventually(lambda: rig.cache.get("a").status.state == "CONFIGURED")  # type: ignore[union-attr]
        await writer.settled(NAMES)
        await asyncio.sleep(0.05)
        assert len(requests(rig)) == 1
        assert not _all_in(rig, "CONFIGURED")  # "b" was never asked to change


async def test_an_overdue_request_is_resent_while_its_task_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request unanswered past its deadline is resent (the same transition ids) even while
    a status change of its task is queued and its write held: that write's end may be long in
    coming."""
    async with rigged(full_pass=600.0, control_timeout=0.2, control_margin=0.0) as rig:
        await standing_by(rig)
        writer = rig.framework._writer
        await set_spec_state(rig, "a", "CONFIGURED")
        await eventually(lambda: len(requests(rig)) == 1)
        async with writes_held(monkeypatch):
            writer.patch("a", lambda s: s.model_copy(update={"message": "noted"}))
            assert writer.writing("a")
            await eventually(lambda: len(requests(rig)) == 2)  # after the deadline
            assert writer.writing("a")
        first, again = (r.items[0] for _, r in requests(rig))
        assert again.transition_id == first.transition_id
