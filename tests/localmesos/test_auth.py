"""The local cluster's optional enforcement: Mesos' credentials file forms, 401 challenges for
schedulers without valid Basic credentials, and per-executor tokens in the environment."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest

from localmesos import LocalCluster
from localmesos.config import AuthConfig, load_credentials
from localmesos.model import Executor
from localmesos.procs import executor_environment
from localmesos.resources import Resources

SUBSCRIBE = {
    "type": "SUBSCRIBE",
    "subscribe": {"framework_info": {"user": "u", "name": "n", "principal": "o2"}},
}


def _basic(principal: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()}


def test_credentials_file_in_mesos_json_or_text_form(tmp_path: Path) -> None:
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps({"credentials": [{"principal": "o2", "secret": "s"}]}))
    as_text = tmp_path / "c.txt"
    as_text.write_text("# principal secret\no2 s\n")
    assert load_credentials(as_json) == load_credentials(as_text) == {"o2": "s"}
    (tmp_path / "bad").write_text("o2\n")
    with pytest.raises(ValueError, match="bad:1: expected 'principal secret'"):
        load_credentials(tmp_path / "bad")


async def _status(cluster: LocalCluster, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{cluster.url}/api/v1/scheduler", json=SUBSCRIBE, headers=headers) as resp,
    ):
        challenge = resp.headers.get("WWW-Authenticate", "")
        if resp.status == 200:
            resp.close()  # the subscription stream: its status is all this test needs
        return resp.status, challenge


async def test_master_with_credentials_answers_401_with_a_basic_challenge(tmp_path: Path) -> None:
    auth = AuthConfig(credentials={"o2": "right"})
    async with LocalCluster(agents=0, work_dir=tmp_path, auth=auth) as cluster:
        assert await _status(cluster, {}) == (401, 'Basic realm="mesos"')
        assert (await _status(cluster, _basic("o2", "wrong")))[0] == 401
        assert (await _status(cluster, _basic("nobody", "right")))[0] == 401
        assert (await _status(cluster, {"Authorization": "Basic !!"}))[0] == 401
        assert (await _status(cluster, _basic("o2", "right")))[0] == 200


async def test_master_without_credentials_stays_open(tmp_path: Path) -> None:
    async with LocalCluster(agents=0, work_dir=tmp_path) as cluster:
        assert (await _status(cluster, {}))[0] == 200


async def test_each_executor_gets_its_own_token_only_when_agents_authenticate(
    tmp_path: Path,
) -> None:
    auth = AuthConfig(authenticate_executors=True)
    async with LocalCluster(agents=1, work_dir=tmp_path, auth=auth) as cluster:
        agent = cluster.agents[0]
        tokens = []
        for eid in ("e1", "e2"):
            executor = _executor(eid)
            env = executor_environment(executor, fw_info={}, agent=agent, grace=1.0)
            tokens.append(env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"])
            assert tokens[-1] not in repr(executor)
        assert tokens[0] != tokens[1] and all(len(t) >= 32 for t in tokens)
    async with LocalCluster(agents=1, work_dir=tmp_path / "open") as cluster:
        env = executor_environment(_executor("e3"), fw_info={}, agent=cluster.agents[0], grace=1)
        assert "MESOS_EXECUTOR_AUTHENTICATION_TOKEN" not in env


def _executor(eid: str) -> Executor:
    return Executor(
        executor_id=eid,
        framework_id="f",
        agent_id="a",
        info={},
        resources=Resources(scalars={}, ranges={}),
        container_id="c",
        directory="/tmp",
    )
