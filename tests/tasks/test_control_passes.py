"""The control loop's cost: which tasks a pass plans (counted, not timed). A pass over all
tasks plans only those whose stored copy changed since they were last found with nothing to
send, and an answer that reaches the desired state asks for no look at all."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from controller.tasks import status as st
from controller.tasks.base import Wakeups
from crds.kinds.task import Task
from mesosapi.models import AgentId, ExecutorId
from mesosapi.o2messages import (
    ControlItem,
    ControlRequest,
    ControlResults,
    TransitionResult,
    decode_to_executor,
    encode,
)
from mesosapi.scheduler import Message, MessageCall
from tests.tasks.test_framework import Rig, _all_in, launch_two, rigged, running, stored
from tests.waiting import eventually

NAMES = ["a", "b"]


def count_plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the name of every task a pass plans (`control_items` asked about it)."""
    planned: list[str] = []
    real = st.control_items

    def counting(task: Task) -> list[ControlItem]:
        planned.append(task.name)
        return real(task)

    monkeypatch.setattr(st, "control_items", counting)
    return planned


def count_views(monkeypatch: pytest.MonkeyPatch, rig: Rig) -> list[str]:
    """From now on, the name of every task the status writer builds a view of."""
    writer = rig.framework._writer
    viewed: list[str] = []
    real = writer.view

    def counting(name: str) -> Task | None:
        viewed.append(name)
        return real(name)

    monkeypatch.setattr(writer, "view", counting)
    return viewed


async def standing_by(rig: Rig) -> None:
    """Both tasks Running in STANDBY, their status writes in the cache."""
    tasks = await launch_two(rig)
    for task in tasks:
        rig.fake.push(running(task))
    await eventually(lambda: _all_in(rig, "STANDBY"))
    await rig.framework._writer.settled(NAMES)


async def set_spec_state(rig: Rig, name: str, state: str) -> None:
    task = await stored(rig, name)
    spec = task.spec.model_copy(update={"state": state})
    await rig.store.update(task.model_copy(update={"spec": spec}))


def requests(rig: Rig) -> list[tuple[MessageCall, ControlRequest]]:
    out = []
    for call in rig.fake.sent(MessageCall):
        assert isinstance(call, MessageCall)
        request = decode_to_executor(call.data)
        if isinstance(request, ControlRequest):
            out.append((call, request))
    return out


def answer(rig: Rig, request: ControlRequest, *, ok: bool = True) -> None:
    state = "CONFIGURED" if ok else "STANDBY"
    results = tuple(
        TransitionResult(
            task_id=i.task_id, transition_id=i.transition_id, ok=ok, state=state, retryable=not ok
        )
        for i in request.items
    )
    reply = ControlResults(request_id=request.request_id, results=results)
    rig.fake.push(
        Message(agent_id=AgentId("a1"), executor_id=ExecutorId("o2-executor"), data=encode(reply))
    )


async def test_a_full_pass_plans_only_tasks_changed_since_they_last_needed_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        await rig.framework._control.control_pass()  # finds both with nothing to send
        planned = count_plans(monkeypatch)
        assert await rig.framework._control.control_pass() == 0
        assert await rig.framework._control.control_pass() == 0
        assert planned == []  # planned again on every pass before: a, b, a, b

        await set_spec_state(rig, "a", "CONFIGURED")
        await eventually(lambda: bool(requests(rig)))  # the change woke "a" alone
        await rig.framework._control.control_pass()
        assert "b" not in planned
        ((_, request),) = requests(rig)
        assert [(i.task_id.split(".")[0], i.event) for i in request.items] == [("a", "CONFIGURE")]

        rig.framework._control.forget_looks()  # the rare thorough pass plans every task
        planned.clear()
        await rig.framework._control.control_pass()
        assert planned == ["b"]  # unchanged, planned again ("a" waits for its answer)


async def test_an_answer_that_reaches_the_desired_state_asks_for_no_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        for name in NAMES:
            await set_spec_state(rig, name, "CONFIGURED")
        await eventually(lambda: sum(len(r.items) for _, r in requests(rig)) == len(NAMES))
        planned = count_plans(monkeypatch)
        for _, request in requests(rig):
            answer(rig, request)
        await eventually(lambda: _all_in(rig, "CONFIGURED"))
        await rig.framework._writer.settled(NAMES)
        assert planned == []  # each answer woke its task for a look before: a, b
        assert len(requests(rig)) == 1


async def test_a_refused_answer_is_looked_at_and_resent(monkeypatch: pytest.MonkeyPatch) -> None:
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        await set_spec_state(rig, "a", "CONFIGURED")
        await eventually(lambda: bool(requests(rig)))
        planned = count_plans(monkeypatch)
        ((_, request),) = requests(rig)
        answer(rig, request, ok=False)
        await eventually(lambda: len(requests(rig)) == 2)
        assert planned[0] == "a"
        first, again = (r.items[0] for _, r in requests(rig))
        assert again.transition_id == first.transition_id


def count_full_passes(monkeypatch: pytest.MonkeyPatch, rig: Rig) -> list[None]:
    """From now on, one entry per full pass of the control loop."""
    passes: list[None] = []
    offers = rig.framework._offers
    real = offers.update_interest

    async def counting(names: Iterable[str] | None = None) -> None:
        if names is None:
            passes.append(None)
        await real(names)

    monkeypatch.setattr(offers, "update_interest", counting)
    return passes


async def test_timed_full_passes_plan_only_tasks_changed_since_their_last_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with rigged(full_pass=0.05) as rig:  # thorough passes: every 60 s
        await standing_by(rig)
        passes = count_full_passes(monkeypatch, rig)
        await eventually(lambda: len(passes) >= 2)  # the status writes' copies looked at
        planned = count_plans(monkeypatch)
        await eventually(lambda: len(passes) >= 5)
        assert planned == []  # every task planned on every timed pass before

        await set_spec_state(rig, "a", "CONFIGURED")
        await eventually(lambda: bool(requests(rig)))
        assert "b" not in planned


def test_the_thorough_pass_comes_round_on_its_own_timer_and_when_all_are_woken() -> None:
    wakeups = Wakeups(full_pass=5.0, thorough_pass=60.0)
    assert wakeups.thorough(now=0.0)
    assert not wakeups.thorough(now=10.0)
    assert not wakeups.thorough(now=59.0)
    assert wakeups.thorough(now=60.0)
    wakeups.wake("a")
    assert not wakeups.thorough(now=61.0)
    wakeups.wake(every=True)
    assert wakeups.thorough(now=62.0)


def test_a_wake_naming_no_task_asks_for_no_pass() -> None:
    """An empty list of changed tasks (a task table that says nothing new) is no reason for a
    pass, least of all over every task: at 50,000 tasks such wakes made ~250 passes over all of
    them in one START (64% of the manager's CPU)."""
    wakeups = Wakeups(full_pass=5.0, thorough_pass=60.0)
    assert wakeups.take(now=0.0, also=set()) is None  # the first pass looks at every task
    assert wakeups.thorough(now=0.0)
    wakeups.wake(*[])
    assert wakeups.take(now=1.0, also=set()) == set()
    assert not wakeups.thorough(now=2.0)
    wakeups.wake(every=True)
    assert wakeups.take(now=3.0, also=set()) is None
    assert wakeups.thorough(now=3.0)


async def test_the_written_answers_cost_no_look_on_the_next_full_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transition over N tasks: once their answers are written, the copies the cache shows
    are in their desired state and nothing is due for them, so the next full pass plans none
    of them (it planned each once more before)."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        control = rig.framework._control
        await control.control_pass(control.take_unlooked())
        for name in NAMES:
            await set_spec_state(rig, name, "CONFIGURED")
        await eventually(lambda: sum(len(r.items) for _, r in requests(rig)) == len(NAMES))
        for _, request in requests(rig):
            answer(rig, request)
        await eventually(lambda: _all_in(rig, "CONFIGURED"))
        await rig.framework._writer.settled(NAMES)
        planned = count_plans(monkeypatch)
        assert await control.control_pass(control.take_unlooked()) == 0
        assert planned == []
        await set_spec_state(rig, "a", "STANDBY")  # a new desired state is looked at
        await eventually(lambda: len(requests(rig)) == 2)
        assert planned == ["a"]


async def test_the_timed_thorough_pass_leaves_tasks_being_written_to_their_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The timed thorough pass plans every task but those with a status change queued or in
    flight: a look at one plans a copy with its changes applied, made for that look alone (at
    50,000 tasks during a transition, up to 2 s of the event loop in one pass). They are
    looked at once written (ControlLedger.write_settled): here the write changes nothing and
    the copy has nothing to send, so it is found idle with no look at all."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        framework, writer = rig.framework, rig.framework._writer
        viewed = count_views(monkeypatch, rig)
        planned = count_plans(monkeypatch)
        writer.patch("a", lambda status: status)  # nothing to write, found once taken
        later = asyncio.get_running_loop().time() + 3600.0  # the thorough pass's timer is due
        await framework._control.control_pass(framework._to_plan(None, now=later))
        assert viewed == ["b"] and planned == ["b"]  # "a" was viewed (a copy) and planned

        await eventually(lambda: not writer.writing("a"))
        await framework._control.control_pass(framework._to_plan(None, now=later + 1.0))
        assert viewed == ["b"] and planned == ["b"]
        await framework._control.control_pass(framework._to_plan(None, now=later + 61.0))
        assert viewed == ["b", "a", "b"]  # "a" idle since its write: not viewed before


async def test_a_thorough_pass_asked_for_plans_every_task() -> None:
    """After SUBSCRIBED (a name-less wake), every task is planned at once, being written or
    not: the transitions of the new connection are resent without waiting for a full pass."""
    async with rigged(full_pass=600.0) as rig:
        await standing_by(rig)
        framework = rig.framework
        framework._writer.patch("a", lambda status: status)
        framework.wake(every=True)
        now = asyncio.get_running_loop().time()
        assert framework._to_plan(None, now=now) is None
