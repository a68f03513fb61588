"""Authentication and TLS against the local cluster started with enforcement on: HTTP Basic for
the framework, bearer tokens for executors (a real executor subprocess), https with a test CA."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
import pytest

from controller.mesos import SchedulerClient
from controller.mesos.master import fetch_agents
from crds.errors import MesosUnavailableError
from mesosapi.auth import Credentials, MesosAccess
from mesosapi.backoff import Backoff
from mesosapi.scheduler import Offers, Subscribed, Update, framework_info
from tests.mesos.cluster import LocalCluster, local_cluster
from tests.mesos.scenario import echo_executor, new_client, task_for
from tests.mesos.tap import tapped
from tests.mesos.testca import make_test_ca
from tests.waiting import eventually

RIGHT = MesosAccess(Credentials("o2", "right-secret"))


def _credentials_file(tmp_path: Path) -> list[str]:
    path = tmp_path / "credentials"
    path.write_text("o2 right-secret\nother other-secret\n")
    return ["--credentials", str(path)]


async def _refusal(client_access: MesosAccess | None, tmp_path: Path) -> tuple[str, float]:
    """The client's error once refused, and its SUBSCRIBE rate over a 2 s window."""
    async with local_cluster(tmp_path, extra=_credentials_file(tmp_path)) as cluster:
        client = new_client(cluster.master, access=client_access, backoff=Backoff())
        async with tapped(client):
            await eventually(
                lambda: client.last_error, until=bool, within=10, message=lambda: "a refusal"
            )
            start = time.monotonic()
            await asyncio.sleep(2.0)  # the rate is measured over a window by definition
            attempts = [t for t in client.subscribe_attempts if t >= start]
            assert not client.connected
        return client.last_error or "", len(attempts) / 2.0


async def test_scheduler_without_credentials_is_refused_with_401_and_backs_off(
    tmp_path: Path,
) -> None:
    error, rate = await _refusal(None, tmp_path)
    assert "HTTP 401" in error and "requires authentication" in error
    assert "--mesos-principal" in error
    assert rate <= 2.0, f"{rate:.1f} subscribes/s against 401"


async def test_scheduler_with_a_wrong_secret_is_refused_naming_the_principal(
    tmp_path: Path,
) -> None:
    wrong = MesosAccess(Credentials("o2", "wrong"))
    error, rate = await _refusal(wrong, tmp_path)
    assert "HTTP 401" in error and "principal 'o2' was not accepted" in error
    assert "wrong" not in error
    assert rate <= 2.0, f"{rate:.1f} subscribes/s against 401"


async def test_framework_info_principal_must_be_the_authenticated_one(tmp_path: Path) -> None:
    async with local_cluster(tmp_path, extra=_credentials_file(tmp_path)) as cluster:
        info = framework_info("o2-test", user="o2", principal="other")
        client = SchedulerClient(cluster.master, info, access=RIGHT)
        async with tapped(client):
            await eventually(lambda: client.last_error, until=bool, within=10)
        assert "HTTP 400" in (client.last_error or "")
        assert "does not match principal 'other'" in (client.last_error or "")


async def _agent_url(cluster: LocalCluster) -> str:
    state = await cluster.state()
    slaves = state["slaves"]
    assert isinstance(slaves, list)
    match = re.search(r"@([^:]+):(\d+)", str(slaves[0]["pid"]))
    assert match is not None
    return f"http://{match.group(1)}:{match.group(2)}"


async def test_executor_with_its_token_runs_and_calls_without_it_get_401(tmp_path: Path) -> None:
    extra = [*_credentials_file(tmp_path), "--authenticate-executors"]
    async with (
        local_cluster(tmp_path, extra=extra) as cluster,
        tapped(new_client(cluster.master, access=RIGHT)) as tap,
    ):
        await tap.wait_for(Subscribed)
        _, offers = await tap.wait_for(Offers, lambda e: bool(e.offers))
        offer = offers.offers[0]
        await tap.client.launch([offer.id], [task_for(offer, "t1", echo_executor())])
        _, running = await tap.wait_for(
            Update, lambda e: e.status.state == "TASK_RUNNING", within=30
        )
        assert running.status.task_id == "t1"
        call = {
            "type": "MESSAGE",
            "framework_id": {"value": tap.client.framework_id},
            "executor_id": {"value": "o2-echo"},
            "message": {"data": "aGk="},
        }
        url = await _agent_url(cluster) + "/api/v1/executor"
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"Authorization": "Bearer forged"}):
                async with session.post(url, json=call, headers=headers) as resp:
                    assert resp.status == 401, await resp.text()
                    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_https_master_verified_with_the_given_ca(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    extra = ["--ssl-cert", str(ca.cert), "--ssl-key", str(ca.key)]
    access = MesosAccess(ca_file=str(ca.ca))
    async with (
        local_cluster(tmp_path, extra=extra) as cluster,
        tapped(new_client(cluster.url, access=access)) as tap,
    ):
        await tap.wait_for(Subscribed)
        assert tap.client.leader == cluster.url
        await tap.client.reconcile()  # a call over TLS, verified with the same CA
        doc = await fetch_agents(cluster.url, access=access)
        assert len(doc["slaves"]) == 1


async def test_https_master_with_an_untrusted_certificate_is_refused_clearly(
    tmp_path: Path,
) -> None:
    ca = make_test_ca(tmp_path / "ca")
    extra = ["--ssl-cert", str(ca.cert), "--ssl-key", str(ca.key)]
    async with local_cluster(tmp_path, extra=extra) as cluster:
        client = new_client(cluster.url, backoff=Backoff())  # the system CAs only
        async with tapped(client):
            await eventually(lambda: client.last_error, until=bool, within=10)
            assert not client.connected
        error = client.last_error or ""
        assert error.startswith(f"TLS: the certificate of {cluster.url} is not trusted")
        assert "--mesos-ca-file" in error
        with pytest.raises(MesosUnavailableError, match="not trusted"):
            await fetch_agents(cluster.url)
