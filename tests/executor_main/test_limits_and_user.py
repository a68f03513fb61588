"""TaskInfo `limits` and `command.user` through the real local cluster and o2 executor."""

from __future__ import annotations

import sys

import pytest

from crds.kinds.common import Command
from mesosapi.models import Scalar, TaskId, TaskInfo
from mesosapi.o2messages import LaunchPayload, encode
from mesosapi.resources import Demand, ResourcePool
from mesosapi.scheduler import Offers, Update
from tests.executor_main.helpers import REPO, is_update, o2_executor, scheduler
from tests.mesos_fixture import LocalMesosFactory, LocalMesosProcess

pytestmark = pytest.mark.timeout(120)

GROW = "import time; b = bytearray(400 * 1024 * 1024); time.sleep(60)"


@pytest.fixture
def cluster(localmesos_factory: LocalMesosFactory) -> LocalMesosProcess:
    return localmesos_factory("--agents", "1", "--allocation-interval", "0.1")


def payload(code: str, **command: str) -> bytes:
    cmd = Command(value=sys.executable, arguments=("-c", code), env={"PYTHONPATH": REPO}, **command)
    return encode(LaunchPayload(command=cmd, control="process"))


async def test_memory_limit_and_unknown_user_fail_their_tasks_with_the_reason(
    cluster: LocalMesosProcess,
) -> None:
    async with scheduler(cluster.address) as sched:
        offers = await sched.wait_for(Offers, lambda e: bool(e.offers))
        offer = offers.offers[0]
        pool = ResourcePool(offer.resources)
        assert pool.take(Demand(cpus=0.1, mem=32)) is not None
        executor = o2_executor()
        tasks = []
        for name, data, limits in (
            ("big", payload(GROW), {"mem": Scalar(value=100.0)}),
            ("who", payload("pass", user="no-such-user-o2"), None),
        ):
            got = pool.take(Demand(cpus=0.01, mem=8))
            assert got is not None
            tasks.append(
                TaskInfo(
                    name=name,
                    task_id=TaskId(name),
                    agent_id=offer.agent_id,
                    resources=got.resources,
                    executor=executor,
                    data=data,
                    limits=limits,
                )
            )
        await sched.client.launch([offer.id], tasks)
        big = await sched.wait_for(Update, is_update("big", "TASK_FAILED"))
        assert big.status.reason == "REASON_CONTAINER_LIMITATION_MEMORY"
        assert "memory limit of 100 MB exceeded" in (big.status.message or "")
        who = await sched.wait_for(Update, is_update("who", "TASK_FAILED"))
        assert "cannot run as user 'no-such-user-o2': no such user" in (who.status.message or "")
