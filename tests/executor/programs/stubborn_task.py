"""Test program: an OCC task that never finishes EXIT (nor CONFIGURE with hang=true) and
ignores SIGTERM (kill-ladder and crash-during-transition tests)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Mapping

from executor.sdk import OccTask, serve


class Stubborn(OccTask):
    async def on_configure(self, properties: Mapping[str, str]) -> None:
        if properties.get("hang") == "true":
            print("configure requested; hanging", flush=True)
            await asyncio.Event().wait()

    async def on_exit(self) -> None:
        print("exit requested; hanging", flush=True)
        await asyncio.Event().wait()


async def main() -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("stubborn task up", flush=True)
    return await serve(Stubborn(), handle_signals=False)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
