"""`o2 up`'s watchdog: restarts what dies (its children, etcd) with back-off, as a process
supervisor does, until Ctrl-C/SIGTERM or a crash loop. Process orchestration only."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from cli.restarts import Restarts
from cli.supervisor import Child, Supervisor, say
from cli.up_pidfile import PidFile
from procutil import wait_exit
from store.embedded import EmbeddedEtcd


async def etcd_exit(etcd: EmbeddedEtcd) -> None:
    if etcd.pid is not None:
        await wait_exit(etcd.pid)


@dataclass
class Watchdog:
    """Restarts what dies (children and etcd) with back-off until Ctrl-C/SIGTERM; gives up
    (stopping everything) only on a crash loop. Restarts are recorded in the pid file, which
    `o2 up status` reads."""

    sup: Supervisor
    etcd: EmbeddedEtcd
    pids: PidFile
    restarts: Restarts = field(default_factory=Restarts)

    async def serve(self, stop: asyncio.Event) -> int:
        """Until Ctrl-C/SIGTERM (exit 0), or until something crash-loops (exit 1)."""
        stopper = asyncio.create_task(stop.wait())
        try:
            while True:
                etcd_died = asyncio.create_task(etcd_exit(self.etcd))
                waits: set[asyncio.Task[Any]] = {stopper, etcd_died}
                child_died = None
                if self.sup.children:
                    child_died = asyncio.create_task(self.sup.first_exit())
                    waits.add(child_died)
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for task in waits - {stopper}:
                    task.cancel()
                if stopper in done:
                    say("o2", "stopping (reverse order)...")
                    return 0
                if etcd_died in done:
                    revived = await self._revive_etcd(stop)
                elif child_died is not None and child_died in done:
                    revived = await self._revive_child(child_died.result(), stop)
                else:
                    continue
                if not revived:
                    return 0 if stop.is_set() else 1
        finally:
            stopper.cancel()

    async def _back_off(self, name: str, what: str, stop: asyncio.Event) -> bool:
        """Say what died and wait the back-off; False on a crash loop or when stopped."""
        loop = asyncio.get_running_loop()
        delay = self.restarts.after_exit(name, loop.time())
        if delay is None:
            window = self.restarts.policy.window
            say(
                "o2",
                f"{what}; it crashed {self.restarts.recent(name)} times within "
                f"{window:.0f} s: giving up on it and stopping everything",
            )
            return False
        count = self.restarts.counts[name]
        say("o2", f"{what}: restarting it in {delay:.1f} s (restart {count})")
        self.pids.record_restarts(dict(self.restarts.counts))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        return not stop.is_set()

    async def _revive_child(self, dead: Child, stop: asyncio.Event) -> bool:
        code = dead.process.returncode
        what = f"{dead.name} (pid {dead.pid}) exited with code {code} "
        what += f"(log {self.sup.log_path(dead.name)})"
        if not await self._back_off(dead.name, what, stop):
            return False
        child = await self.sup.restart(dead)
        say(dead.name, f"restarted (pid {child.pid}; restart {child.restarts})")
        return True

    async def _revive_etcd(self, stop: asyncio.Event) -> bool:
        what = f"etcd (pid {self.etcd.pid}) exited (log {self.etcd.log_path})"
        if not await self._back_off("etcd", what, stop):
            return False
        await self.etcd.start()
        if self.etcd.pid is not None:
            self.pids.record("etcd", self.etcd.pid)
        say("etcd", f"restarted on its data dir (pid {self.etcd.pid}; {self.etcd.endpoint})")
        return True
