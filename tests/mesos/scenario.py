"""Shared pieces of the live client tests: the echo executor's ExecutorInfo and task building."""

from __future__ import annotations

import getpass
import sys

from controller.mesos import SchedulerClient
from mesosapi.auth import MesosAccess
from mesosapi.backoff import Backoff
from mesosapi.models import (
    CommandInfo,
    Environment,
    ExecutorId,
    ExecutorInfo,
    FrameworkId,
    Offer,
    TaskId,
    TaskInfo,
)
from mesosapi.resources import Demand, ResourcePool, scalar
from mesosapi.scheduler import framework_info
from tests.mesos.cluster import ROOT


def echo_executor(executor_id: str = "o2-echo") -> ExecutorInfo:
    """The test executor (tests/mesos/echo_executor.py) as a CUSTOM executor, argv, no shell."""
    return ExecutorInfo(
        executor_id=ExecutorId(executor_id),
        type="CUSTOM",
        name="o2 echo executor",
        command=CommandInfo(
            value=sys.executable,
            arguments=[sys.executable, "-m", "tests.mesos.echo_executor"],
            shell=False,
            environment=Environment.of({"PYTHONPATH": str(ROOT)}),
        ),
        resources=[scalar("cpus", 0.1), scalar("mem", 32)],
    )


def task_for(offer: Offer, task_id: str, executor: ExecutorInfo) -> TaskInfo:
    """A small task carved from `offer` (which must have room for it)."""
    pool = ResourcePool(offer.resources)
    assert pool.take(Demand(cpus=0.1, mem=32)) is not None, "room for the executor"
    got = pool.take(Demand(cpus=0.1, mem=16, ports=1))
    assert got is not None, f"offer {offer.id} too small"
    return TaskInfo(
        name=task_id,
        task_id=TaskId(task_id),
        agent_id=offer.agent_id,
        resources=got.resources,
        executor=executor,
        data=b"payload",
    )


def new_client(
    master: str | list[str],
    *,
    failover_timeout: float = 60.0,
    framework_id: FrameworkId | None = None,
    backoff: Backoff | None = None,
    name: str = "o2-test",
    access: MesosAccess | None = None,
) -> SchedulerClient:
    """A test framework; with `access`, FrameworkInfo.principal is its principal."""
    info = framework_info(
        name,
        user=getpass.getuser(),
        failover_timeout=failover_timeout,
        principal=access.principal if access else None,
    )
    return SchedulerClient(
        master,
        info,
        framework_id=framework_id,
        backoff=backoff or Backoff(initial=0.2, maximum=1.0),
        access=access,
    )
