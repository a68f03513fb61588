"""The sample task served over OCC (`--control direct|fairmq`): the transitions it logs, its
data counter and channels while RUNNING, its end of stream and simulated failure. Started by
executor.sample_task's main, which holds the command line and the basic mode."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping

from executor.sample_channels import Channels
from executor.sample_counter import TICK_SECONDS, DataCounter, say
from executor.sdk import OccTask


class SampleTask(OccTask):
    def __init__(
        self,
        *,
        detector: str,
        rate: float,
        eos_after: float | None = None,
        fail_after: float | None = None,
        tick: float = TICK_SECONDS,
    ) -> None:
        self.detector = detector
        self.tick = tick
        self.counter = DataCounter(rate)
        self.eos_after = eos_after
        self.fail_after = fail_after
        self._ticker: asyncio.Task[None] | None = None
        self.channels = Channels()

    def on_configure(self, properties: Mapping[str, str]) -> None:
        for line in self.channels.open(properties):
            say(f"channel {line}")
        shown = json.dumps(dict(properties), sort_keys=True)
        say(f"transition CONFIGURE -> CONFIGURED detector={self.detector} properties={shown}")

    def _report_channels(self) -> None:
        if self.channels.sent or self.channels.received:
            say(self.channels.report())

    def on_start(self, run_number: int | None) -> None:
        self.counter.start()
        self.channels.start_sending()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        say(f"transition START -> RUNNING detector={self.detector} run_number={run_number}")

    async def on_stop(self) -> None:
        await self._stop_ticker()
        await self.channels.stop_sending()
        say(f"transition STOP -> CONFIGURED events={self.counter.update()}")
        self._report_channels()

    async def on_reset(self) -> None:
        await self.channels.aclose()
        say("transition RESET -> STANDBY")

    async def on_recover(self) -> None:
        await self._stop_ticker()
        await self.channels.aclose()
        say("transition RECOVER -> STANDBY")

    async def on_exit(self) -> None:
        await self._stop_ticker()
        self._report_channels()
        await self.channels.aclose()
        say(f"transition EXIT -> DONE events={self.counter.update()}")

    async def _stop_ticker(self) -> None:
        self.counter.stop()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None

    async def _tick(self) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(self.tick)
            say(f"running detector={self.detector} events={self.counter.update()}")
            self._report_channels()
            elapsed = time.monotonic() - started
            if self.fail_after is not None and elapsed >= self.fail_after:
                say("simulated readout error")
                self.counter.stop()
                self.fail(f"{self.detector}: simulated readout error")
                return
            if self.eos_after is not None and elapsed >= self.eos_after:
                say("end of stream")
                self.end_of_stream(f"{self.detector}: no more data")
                return
