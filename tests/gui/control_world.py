"""A control-room world for API tests: users of each role, the wizard's Workflow with a
scalable role, detector nodes, and a RUNNING environment holding TPC and ITS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer

from crds.kinds.environment import Environment
from crds.kinds.event import Event
from gui.auth import hash_token, parse_users
from gui.server import make_app
from store.etcd import EtcdStore
from tests.gui.conftest import Gui
from tests.gui.samples import SCALABLE_WORKFLOW, detector_node, environment, workflow

VIEWER = {"Authorization": "Bearer vera-viewer-token"}
SHIFTER = {"Authorization": "Bearer sam-shifter-token"}
OTHER_SHIFTER = {"Authorization": "Bearer sid-shifter-token"}
ADMIN = {"Authorization": "Bearer ada-admin-token"}
USERS = (
    f"vera:viewer:{hash_token('vera-viewer-token')}\n"
    f"sam:shifter:{hash_token('sam-shifter-token')}\n"
    f"sid:shifter:{hash_token('sid-shifter-token')}\n"
    f"ada:admin:{hash_token('ada-admin-token')}\n"
)


@asynccontextmanager
async def roles_gui(store: EtcdStore) -> AsyncIterator[Gui]:
    """The GUI with a viewer (vera), two shifters (sam, sid) and an admin (ada)."""
    app = make_app(store, tokens=parse_users(USERS), flush_interval=0.02)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def build(store: EtcdStore) -> Environment:
    """The world; returns physics-1, RUNNING with TPC and ITS (MCH held by mch-1)."""
    await store.create(workflow(SCALABLE_WORKFLOW))
    for name, detector in (("flp1", "TPC"), ("flp2", "ITS"), ("flp3", "MCH"), ("flp4", "EMC")):
        await store.create(detector_node(name, detector))
    await running(store, environment("mch-1", state="RUNNING"), ("MCH",))
    env = environment("physics-1", state="RUNNING")
    spec = env.spec.model_copy(update={"vars": {"detectors": '["TPC","ITS"]'}})
    return await running(store, env.model_copy(update={"spec": spec}), ("TPC", "ITS"))


async def running(store: EtcdStore, env: Environment, detectors: tuple[str, ...]) -> Environment:
    created = await store.create(env)
    status = created.status.model_copy(update={"state": "RUNNING", "detectors": detectors})
    return await store.update_status(created.model_copy(update={"status": status}))


async def events_of(store: EtcdStore, env: str) -> list[Event]:
    return [e for e in (await store.list(Event)).items if e.spec.involved_object.name == env]
