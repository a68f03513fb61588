"""The soak's processes, all on 127.0.0.1 and all owned by pid: a three-member embedded etcd,
two controller managers (short lease, each with a known `--id` so the lease key names its pid)
and the local cluster with real and hollow agents. Faults act on these handles only."""

from __future__ import annotations

import asyncio
import os
import signal
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hack.bench.stack import RESPONDER
from hack.chaos.observer import MANAGER_LEASE
from store.api import Store
from store.codec import lease_key
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd, new_cluster
from tests.etcd_fixture import TEST_ETCD_ARGS
from tests.mesos_fixture import LocalMesosProcess, start_localmesos
from tests.stack import FAST_CLUSTER, ManagerProcess, manager_command, port_slice

CONTROLLERS = (
    "controller.gc:GarbageCollector",  # the tasks of a deleted environment go with it
    "controller.tasks.controller:TaskReconciler",
    "controller.environments.controller:EnvironmentReconciler",
    "controller.configs.controller:ComponentConfigReconciler",
    "controller.gitsource.controller:GitSourceReconciler",
    "controller.nodes.controller:NodeReconciler",
    "controller.pilots.controller:PilotReconciler",
)
FAST_PILOTS = {
    "O2_NODE_POLL_PERIOD": "0.5",
    "O2_PILOT_COOLDOWN": "2",
    "O2_PILOT_PENDING_AGE": "0.5",
    "O2_PILOT_BACKOFF_BASE": "1",
    "O2_PILOT_BACKOFF_MAX": "4",
}
"""The pilot controller's timers, short enough that drains, reclaims and releases happen
within a short soak (cool-down 2 s, back-off 1 s doubling to 4 s)."""
EPN = "epn"
"""The `pool` attribute of the agents that run pilots (hostnames epn-0, epn-1, ...)."""
LEASE_TTL = 2
PREFIX = "/o2-chaos"


def agents_yaml(real: int, hollow: int, epn: int = 0) -> str:
    """`real` agents with attribute pool=real (sample tasks run there for real), `hollow`
    agents, one per detector hNN (answered by o2's hollow responder), and `epn` real agents
    with attribute pool=epn and one cpu: room for a pilot or an environment's task, not both."""
    lines = []
    for i in range(epn):
        base = port_slice(20)
        lines.append(
            f"- {{hostname: {EPN}-{i}, attributes: {{pool: {EPN}}},\n"
            f'   resources: {{cpus: 1, mem: 1024, ports: "[{base}-{base + 19}]"}}}}\n'
        )
    for i in range(real):
        base = port_slice(100)
        lines.append(
            f"- {{hostname: real-{i}, attributes: {{pool: real}},\n"
            f'   resources: {{cpus: 8, mem: 8192, ports: "[{base}-{base + 99}]"}}}}\n'
        )
    for i in range(hollow):
        lines.append(
            f"- {{hostname: hollow-{i}, hollow: true, attributes: {{detector: h{i:02d}}},\n"
            f'   resources: {{cpus: 64, mem: 65536, ports: "[31000-31999]"}}}}\n'
        )
    return "".join(lines)


@dataclass
class Stack:
    """Every process of the soak; `close()` stops them all by pid (idempotent)."""

    work: Path
    etcd: list[EmbeddedEtcd] = field(default_factory=list)
    cluster: LocalMesosProcess | None = None
    managers: dict[str, ManagerProcess] = field(default_factory=dict)
    store: Store | None = None
    started_managers: int = 0

    @property
    def endpoints(self) -> str:
        return ",".join(m.endpoint for m in self.etcd)

    async def start(self, *, real: int, hollow: int, epn: int = 0) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.etcd = new_cluster(self.work, 3, prefix="etcd-m", extra_args=TEST_ETCD_ARGS)
        for member in self.etcd:  # launched from the loop's thread: etcd dies with it
            member.launch()
        await asyncio.gather(*(asyncio.to_thread(m.wait_ready) for m in self.etcd))
        config = StoreConfig(endpoints=tuple(m.endpoint for m in self.etcd), prefix=PREFIX)
        self.store = await open_store(config)
        agents = self.work / "agents.yaml"
        agents.write_text(agents_yaml(real, hollow, epn))
        args = ("--agents-file", str(agents), *FAST_CLUSTER, "--hollow-responder", RESPONDER)
        self.cluster = await asyncio.to_thread(start_localmesos, *args, log_dir=self.work)
        for _ in range(2):
            self.start_manager()

    def start_manager(self) -> ManagerProcess:
        assert self.cluster is not None
        identity = f"chaos-m{self.started_managers}"
        self.started_managers += 1
        command = manager_command(
            etcd=self.endpoints,
            prefix=PREFIX,
            mesos=self.cluster.address,
            controllers=CONTROLLERS,
            lease_ttl=LEASE_TTL,
            extra_args=(
                *("--id", identity, "--log-level", "INFO"),
                *("--data-dir", str(self.work / identity)),  # its own git cache
            ),
        )
        proc = ManagerProcess(command, log_path=self.work / f"{identity}.log", env=FAST_PILOTS)
        self.managers[identity] = proc
        return proc

    def live_managers(self) -> dict[str, ManagerProcess]:
        return {k: m for k, m in self.managers.items() if m.proc.poll() is None}

    async def leading_manager(self) -> str | None:
        """The identity in the leader lease key (None while nobody holds it)."""
        assert self.store is not None
        raw = await self.store.get_raw(lease_key(PREFIX, MANAGER_LEASE))  # type: ignore[attr-defined]
        return None if raw is None else str(raw.value.decode())

    def etcd_leader(self) -> int | None:
        """Index of the member whose metrics say it leads (None while an election runs)."""
        for i, member in enumerate(self.etcd):
            if not member.running():
                continue
            url = f"http://127.0.0.1:{member.metrics_port}/metrics"
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    text = resp.read().decode()
            except OSError:
                continue
            if "\netcd_server_is_leader 1" in text:
                return i
        return None

    async def restart_member(self, index: int) -> None:
        """Relaunch a killed member on its own data dir and ports (it rejoins the cluster)."""
        member = self.etcd[index]
        member.launch()
        await asyncio.to_thread(member.wait_ready)

    def fence_rejections(self) -> int:
        """Writes of a deposed leader that the fence refused, as the managers logged them."""
        return sum(
            m.logs().count("Write rejected by the leader fence") for m in self.managers.values()
        )

    async def close(self) -> None:
        for manager in self.managers.values():
            if manager.proc.poll() is None:
                os.kill(manager.pid, signal.SIGCONT)  # a stopped one cannot handle SIGTERM
            await asyncio.to_thread(manager.stop)
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)
        if self.store is not None:
            await self.store.close()
            self.store = None
        for member in self.etcd:
            await asyncio.to_thread(member.stop_sync)
