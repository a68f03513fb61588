"""The shared wait helper returns what it waited for and, on timeout, says what it waited for
and what it saw last."""

from __future__ import annotations

import asyncio

import pytest

from tests.waiting import eventually, eventually_sync


async def test_eventually_returns_the_first_value_that_satisfies_the_condition() -> None:
    calls: list[int] = []

    async def count() -> int:
        calls.append(len(calls))
        return len(calls)

    assert await eventually(count, until=lambda n: n >= 3, interval=0) == 3


async def test_eventually_names_the_wait_and_the_last_value_on_timeout() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the answer; last observed: 41"):
        await eventually(lambda: 41, until=lambda n: n == 42, within=0.05, message="the answer")


async def test_eventually_without_a_message_quotes_the_probe() -> None:
    ready = False
    with pytest.raises(AssertionError, match=r"lambda: ready.*last observed: False"):
        await eventually(lambda: ready, within=0.05)


async def test_a_timeout_raised_by_the_probe_itself_is_not_taken_for_ours() -> None:
    async def broken() -> bool:
        raise TimeoutError("the probe's own")

    with pytest.raises(TimeoutError, match="the probe's own"):
        await eventually(broken, within=5)


async def test_a_probe_that_never_returns_is_bounded_too() -> None:
    never = asyncio.Event()

    async def hangs() -> bool:
        await never.wait()
        return True

    with pytest.raises(AssertionError, match="nothing"):
        await eventually(hangs, within=0.05, message=lambda: "a hanging probe")


def test_eventually_sync_names_the_wait_and_the_last_value_on_timeout() -> None:
    with pytest.raises(AssertionError, match=r"waiting for a list; last observed: \[\]"):
        eventually_sync(list, within=0.05, message="a list")
    assert eventually_sync(lambda: [1], within=0.05) == [1]
