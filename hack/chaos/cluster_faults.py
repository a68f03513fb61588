"""Faults of the local cluster, through its /localmesos/ control endpoints (localmesos.faults):

- `agent-kill9`: the agent process of a real agent dies and comes back on the same id and port
  after the down time (`POST .../restart?downtime=`). o2's framework does not checkpoint, so,
  as in Mesos, the agent kills its executors when it goes and their tasks are reported
  TASK_LOST (REASON_AGENT_RESTARTED); o2 sees ERROR and the workload recovers. (`.../kill` is
  the host dying for good: the agent never comes back under its id, so the soak does not use
  it.)
- `agent-partition` / `hollow-agent-partition`: a real (or hollow) agent is cut from the
  master (its tasks TASK_LOST, REASON_AGENT_REMOVED; the processes keep running) and restored
  after the down time (it re-registers; its tasks are known again, Mesos >= 1.5).
- `mesos-disconnect`: the master closes the framework's event stream, which is what a master
  restart looks like to the scheduler (it re-subscribes with its framework id). The master
  process itself keeps running and keeps its state: this is not a master process restart.
- `mesos-master-restart`: the master process restarts (`POST /localmesos/master/restart?
  downtime=`, a Mesos master failover): its port refuses connections for the down time and
  everything it kept in memory is gone (connections, offers, its task table); the new master
  learns the tasks from its agents re-registering, and o2 re-subscribes with its framework id
  and reconciles: no task is restarted.
"""

from __future__ import annotations

import asyncio
import random
import urllib.error
from dataclasses import dataclass
from typing import Any

from hack.chaos.observer import Observer
from hack.chaos.stack import Stack

CALL_TIMEOUT = 10.0
"""Seconds one control call may take (a restart call returns after its down time)."""
BACK_WITHIN = 30.0
"""Seconds after its down time a restarted master must answer again."""
POLL = 0.1
"""Seconds between two looks at a restarting master (nothing to wait on in another process)."""


@dataclass
class ClusterFaults:
    stack: Stack
    observer: Observer
    rng: random.Random

    async def call(self, path: str, *, within: float = CALL_TIMEOUT) -> Any:
        assert self.stack.cluster is not None
        return await asyncio.to_thread(self.stack.cluster.post, path, timeout=within)

    async def state(self) -> Any:
        assert self.stack.cluster is not None
        return await asyncio.to_thread(self.stack.cluster.state)

    async def agent(self, *, hollow: bool, how: str, down: float) -> str | None:
        """Restart (`kill9`) or partition and restore one live agent of the kind asked for."""
        agents = [
            a
            for a in (await self.state())["agents"]
            if a["hollow"] == hollow and a["reachable"] and not a["dead"]
        ]
        if not agents:
            return None
        agent = self.rng.choice(sorted(agents, key=lambda a: str(a["id"])))
        path = f"/localmesos/agents/{agent['id']}"
        if how == "kill9":
            await self.call(f"{path}/restart?downtime={down:.2f}", within=CALL_TIMEOUT + down)
        else:
            self.observer.agent_partitioned(str(agent["id"]))
            await self.call(f"{path}/partition")
            await asyncio.sleep(down)
            await self.call(f"{path}/restore")
        return f"{agent['hostname']} ({agent['id']})"

    async def disconnect(self) -> str | None:
        """Close the subscription of the connected framework (the leading manager's)."""
        connected = [f["id"] for f in (await self.state())["frameworks"] if f["connected"]]
        if not connected:
            return None
        framework = self.rng.choice(sorted(connected))
        try:
            await self.call(f"/localmesos/frameworks/{framework}/disconnect")
        except urllib.error.HTTPError as exc:  # it went away between the two calls
            if exc.code == 404:
                return None
            raise
        return f"framework {framework}"

    async def restart_master(self, down: float) -> str | None:
        """Restart the master for `down` seconds; returns once it answers again (so the next
        fault finds it), its old and new master ids as the target."""
        before = await self.call(f"/localmesos/master/restart?downtime={down:.2f}")
        await asyncio.sleep(down)
        async with asyncio.timeout(BACK_WITHIN):
            while True:
                try:
                    state = await self.state()
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    state = None
                if state is not None and state["master_id"] != before["master"]:
                    return f"master {before['master']} -> {state['master_id']}"
                await asyncio.sleep(POLL)
