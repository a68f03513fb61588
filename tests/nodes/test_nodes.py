"""Node inventory: parsing the agent list (pure) and syncing Nodes from a real local cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.nodes import inventory
from controller.nodes.controller import AGENTS_JOB, NodeReconciler
from controller.runtime.reconciler import Context
from controller.settings import NodeSettings, Settings
from crds.kinds.node import Node, NodeStatus
from crds.resource import Resource
from store.config import StoreConfig, open_store
from store.embedded import EmbeddedEtcd
from store.etcd import EtcdStore
from store.informer import InformerFactory
from tests.etcd_fixture import unique_prefix
from tests.mesos_fixture import LocalMesosProcess, localmesos_factory

__all__ = ["localmesos_factory"]

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class NoEvents:
    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        return None


def test_agent_list_parses_into_summaries_with_port_counts() -> None:
    doc = {
        "slaves": [
            {
                "id": "m-S0",
                "hostname": "FLP-01.cern.ch",
                "attributes": {"detector": "TPC", "cores": 8.0},
                "resources": {"cpus": 4.0, "mem": 8192.0, "ports": "[31000-31009, 32000-32000]"},
                "used_resources": {"cpus": 0.5, "mem": 96.0, "ports": "[31000-31001]"},
                "active": True,
            },
            {"garbage": True},
        ]
    }
    (agent,) = inventory.parse_agents(doc)
    assert inventory.node_name(agent.hostname) == "flp-01-cern-ch"
    assert agent.attributes == {"detector": "TPC", "cores": "8"}
    assert (agent.total.cpus, agent.total.memory, agent.total.ports) == (4.0, 8192, 11)
    assert (agent.used.cpus, agent.used.memory, agent.used.ports) == (0.5, 96, 2)


def test_gone_agent_keeps_its_node_but_not_ready() -> None:
    agent = inventory.AgentSummary(agent_id="a", hostname="h")
    seen = inventory.seen_status(NodeStatus(), agent, tasks=2, now=NOW)
    gone = inventory.missing_status(seen, tasks=0)
    assert (gone.ready, gone.last_seen, gone.agent_id) == (False, NOW, "a")
    assert inventory.ready_condition(gone, cordoned=False).status == "False"
    cordoned = inventory.ready_condition(seen, cordoned=True)
    assert cordoned.status == "True" and "cordoned" in cordoned.message


@pytest.fixture
async def store(etcd_server: EmbeddedEtcd) -> AsyncIterator[EtcdStore]:
    s = await open_store(StoreConfig(endpoints=(etcd_server.endpoint,), prefix=unique_prefix()))
    try:
        yield s
    finally:
        await s.close()


async def test_one_node_per_agent_with_attributes_and_resources(
    store: EtcdStore, localmesos_factory: Callable[..., LocalMesosProcess], tmp_path: Path
) -> None:
    agents = tmp_path / "agents.yaml"
    agents.write_text(
        "- {hostname: flp-1, attributes: {detector: TPC}, resources: {cpus: 2, mem: 1024}}\n"
        "- {hostname: flp-2, attributes: {detector: ITS}, hollow: true}\n"
    )
    cluster = localmesos_factory("--agents-file", str(agents), "--heartbeat-interval", "1")
    informers = InformerFactory(store)
    ctx = Context(
        store=store,
        kv=store,
        informers=informers,
        events=NoEvents(),
        settings=Settings(nodes=NodeSettings(master=cluster.address)),
    )
    reconciler = NodeReconciler(ctx)
    (poll,) = reconciler.jobs()
    assert poll.name == AGENTS_JOB
    for kind in reconciler.cached_kinds:
        informers.informer(kind)
    informers.start()
    await informers.wait_synced()
    try:
        result = await poll.run()
        assert result.requeue_after == 5.0
        nodes = {n.name: n for n in (await store.list(Node)).items}
        assert set(nodes) == {"flp-1", "flp-2"}
        flp1 = nodes["flp-1"].status
        assert flp1.ready and flp1.attributes == {"detector": "TPC"} and flp1.agent_id
        assert (flp1.resources.total.cpus, flp1.resources.total.memory) == (2.0, 1024)
        assert flp1.resources.total.ports == 100  # its own slice (localmesos.config.default_ports)
        assert [c.status for c in flp1.conditions if c.type == "Ready"] == ["True"]

        cluster.post(f"/localmesos/agents/{flp1.agent_id}/kill")
        await informers.informer(Node).wait_for_revision((await store.list(Node)).revision)
        await poll.run()
        gone = await store.get(Node, "flp-1")
        assert not gone.status.ready and gone.status.last_seen == flp1.last_seen
    finally:
        await informers.stop()
