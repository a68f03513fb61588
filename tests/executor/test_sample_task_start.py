"""An `o2-sample-task` process starts without what it does not use: serving OCC it loads no
pydantic (the models), no ZeroMQ (until a configuration has channels) and no protobuf runtime
(executor.occ.wire writes occ.proto's messages; OCClite's JSON still uses protobuf's); in basic
mode it loads no gRPC either. Every environment runs these processes: the libraries a task maps are
CPU and memory paid once per task (pydantic and gRPC were ~0.5 s of CPU and ~25 MB each).
Checked on the running process (/proc/<pid>/maps: the shared objects it loaded), and it still
serves OCC as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.occ.grpc_adapter import OccClient, TransitionCall
from tests.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
PYDANTIC, ZMQ, GRPC, PROTOBUF = "pydantic_core", "zmq", "cygrpc", "google/_upb"


def mapped(pid: int) -> str:
    """The files process `pid` has mapped (its loaded shared objects among them)."""
    return Path(f"/proc/{pid}/maps").read_text()


def start(*arguments: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "executor.sample_task", *arguments],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


async def test_a_task_serving_occ_maps_no_pydantic_zeromq_or_protobuf(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    port_file = tmp_path / "port"
    env = {"OCC_CONTROL_PORT": "0", "O2_OCC_PORT_FILE": str(port_file)}
    proc = start("--control", "direct", env=env)
    processes.append(proc)
    await eventually(port_file.exists, within=60, message="the task's OCC port file")
    loaded = mapped(proc.pid)
    assert GRPC in loaded  # it serves OCC over gRPC
    assert PYDANTIC not in loaded and ZMQ not in loaded and PROTOBUF not in loaded
    client = OccClient(int(port_file.read_text()))
    try:
        assert (await client.get_state(deadline=10)).state == "STANDBY"
        reply = await client.transition(TransitionCall(event="CONFIGURE"), deadline=10)
        assert (reply.ok, reply.state) == (True, "CONFIGURED")
        await client.transition(TransitionCall(event="EXIT"), deadline=10)
    finally:
        await client.close()
    assert proc.wait(timeout=30) == 0


def test_a_basic_task_maps_no_grpc_pydantic_or_zeromq(
    processes: list[subprocess.Popen[str]],
) -> None:
    proc = start("--control", "basic", env={})
    processes.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("basic task started")
    loaded = mapped(proc.pid)
    assert GRPC not in loaded and PYDANTIC not in loaded and ZMQ not in loaded
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
