"""The task SDK served over real gRPC in-process: state machine enforcement, hooks, events."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest

from executor.errors import OccError
from executor.occ.auth import TOKEN_ENV
from executor.occ.grpc_adapter import OccClient, OccServer, TransitionCall
from executor.sdk import OccMachine, OccTask


class Recorder(OccTask):
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail_configure = False

    def on_configure(self, properties: Mapping[str, str]) -> None:
        if self.fail_configure:
            raise RuntimeError("bad card")
        self.calls.append(("configure", dict(properties)))

    async def on_start(self, run_number: int | None) -> None:
        self.calls.append(("start", run_number))

    def on_stop(self) -> None:
        self.calls.append(("stop", None))


@dataclass
class Served:
    task: Recorder
    machine: OccMachine
    client: OccClient

    async def go(self, event: str, **arguments: str):  # type: ignore[no-untyped-def]
        call = TransitionCall(event=event, arguments=arguments)
        return await self.client.transition(call, deadline=5)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    task = Recorder()
    machine = OccMachine(task)
    server = OccServer(machine, port=0)
    port = await server.start()
    client = OccClient(port)
    yield Served(task=task, machine=machine, client=client)
    await client.close()
    await server.stop(grace=0)


async def test_configure_passes_properties_and_start_passes_run_number(served: Served):
    assert (await served.go("CONFIGURE", detector="TPC")).state == "CONFIGURED"
    reply = await served.go("START", runNumber="42")
    assert (reply.ok, reply.state) == (True, "RUNNING")
    assert served.task.calls == [("configure", {"detector": "TPC"}), ("start", 42)]


async def test_illegal_transition_is_refused_and_state_unchanged(served: Served):
    reply = await served.go("START")
    assert not reply.ok
    assert (reply.state, reply.event) == ("STANDBY", "START")
    assert (await served.client.get_state()).state == "STANDBY"


async def test_unknown_event_is_refused(served: Served):
    reply = await served.go("PAUSE")
    assert not reply.ok and reply.state == "STANDBY"


async def test_src_state_mismatch_is_refused(served: Served):
    call = TransitionCall(event="CONFIGURE", src_state="CONFIGURED")
    reply = await served.client.transition(call, deadline=5)
    assert not reply.ok and reply.state == "STANDBY"


async def test_raising_hook_moves_to_error_with_internal_error_event(served: Served):
    events = served.client.events()
    listening = asyncio.ensure_future(anext(events))
    await asyncio.wait_for(served.machine.subscribed.wait(), 5)
    served.task.fail_configure = True
    reply = await served.go("CONFIGURE")
    assert (reply.ok, reply.state) == (False, "ERROR")
    event = await asyncio.wait_for(listening, 5)
    assert event.type == "TASK_INTERNAL_ERROR"
    await events.aclose()
    assert (await served.go("RECOVER")).state == "STANDBY"


async def test_end_of_stream_reaches_the_event_stream(served: Served):
    events = served.client.events()
    listening = asyncio.ensure_future(anext(events))
    await asyncio.wait_for(served.machine.subscribed.wait(), 5)
    served.task.end_of_stream("no more data")
    event = await asyncio.wait_for(listening, 5)
    assert event.type == "END_OF_STREAM"
    await events.aclose()


async def test_exit_finishes_the_machine(served: Served):
    assert (await served.go("EXIT")).state == "DONE"
    assert served.machine.finished.is_set()


def test_port_comes_from_aliecs_variable_then_deprecated_o2_one(monkeypatch: pytest.MonkeyPatch):
    from executor.sdk import resolve_port

    monkeypatch.delenv("OCC_CONTROL_PORT", raising=False)
    monkeypatch.setenv("O2_OCC_PORT", "31000")
    assert resolve_port() == 31000
    monkeypatch.setenv("OCC_CONTROL_PORT", "31001")
    assert resolve_port() == 31001
    assert resolve_port(5) == 5


async def test_task_on_a_free_port_writes_it_to_the_port_file(
    tmp_path, monkeypatch: pytest.MonkeyPatch
):
    from executor.sdk import serve

    port_file = tmp_path / "occ-port"
    monkeypatch.setenv("O2_OCC_PORT_FILE", str(port_file))
    monkeypatch.setenv("OCC_CONTROL_PORT", "0")
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    serving = asyncio.ensure_future(
        serve(Recorder(), handle_signals=False, on_ready=ready.set_result)
    )
    try:
        port = await asyncio.wait_for(ready, 5)
        assert int(port_file.read_text()) == port
        client = OccClient(port)
        assert (await client.get_state(deadline=5)).state == "STANDBY"
        await client.transition(TransitionCall(event="EXIT"), deadline=5)
        await client.close()
        assert await asyncio.wait_for(serving, 5) == 0
    finally:
        serving.cancel()


async def test_a_server_with_a_token_serves_only_calls_that_carry_it():
    machine = OccMachine(Recorder())
    server = OccServer(machine, port=0, token="the-token")
    port = await server.start()
    owner, intruder = OccClient(port, token="the-token"), OccClient(port)
    try:
        with pytest.raises(OccError, match="UNAUTHENTICATED"):
            await intruder.transition(TransitionCall(event="CONFIGURE"), deadline=5)
        assert machine.state == "STANDBY"
        reply = await owner.transition(TransitionCall(event="CONFIGURE"), deadline=5)
        assert (reply.ok, reply.state) == (True, "CONFIGURED")
    finally:
        await owner.close()
        await intruder.close()
        await server.stop(grace=0)


def test_the_token_leaves_the_environment_and_its_absence_is_warned_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from executor.sdk import take_token

    monkeypatch.setenv(TOKEN_ENV, "the-token")
    assert take_token() == "the-token"
    assert TOKEN_ENV not in os.environ  # the task's own children do not inherit it
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert take_token() is None
    assert [r.getMessage() for r in caplog.records] == [
        "No OCC token: any local process may control this task (fine for a task started by "
        "hand; the o2 executor always sets one)"
    ]
