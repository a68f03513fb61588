"""Start the local cluster (`python -m localmesos`) as a real subprocess for the client tests.

Only the documented command line is used (`--port`, `--agents`, `--hollow-agents`, plus any
extra flags a test passes); the cluster is reached over HTTP and stopped by pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalCluster:
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    scheme: str = "http"

    @property
    def master(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.master}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def state(self) -> dict[str, object]:
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"http://{self.master}/master/state") as r,
        ):
            body = await r.json()
            assert isinstance(body, dict)
            return body


async def _wait_ready(cluster: LocalCluster, *, within: float = 20.0) -> None:
    async with aiohttp.ClientSession() as s:

        async def answers() -> int | None:
            if cluster.proc.poll() is not None:
                raise RuntimeError(f"localmesos exited early:\n{cluster.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                # readiness only: certificate checks are what the TLS tests are about
                async with s.get(f"{cluster.url}/version", ssl=False) as r:
                    return r.status
            return None

        await eventually(
            answers,
            until=lambda status: status == 200,
            within=within,
            interval=0.05,
            message=lambda: f"localmesos /version to answer 200:\n{cluster.log_tail()}",
        )


@contextlib.asynccontextmanager
async def local_cluster(
    tmp: Path, *, agents: int = 1, hollow_agents: int = 0, extra: Sequence[str] = ()
) -> AsyncIterator[LocalCluster]:
    """A running local cluster on a free loopback port; killed (whole session) on exit."""
    port = free_port()
    log_path = tmp / "localmesos.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "localmesos", "--port", str(port), "--agents", str(agents)]
    argv += ["--hollow-agents", str(hollow_agents), *extra]
    proc = _spawn(argv, cwd=tmp, env=env, log_path=log_path)
    scheme = "https" if "--ssl-cert" in extra else "http"
    cluster = LocalCluster(port=port, proc=proc, log_path=log_path, scheme=scheme)
    try:
        await _wait_ready(cluster)
        yield cluster
    except BaseException:
        print(f"--- localmesos log tail ---\n{cluster.log_tail()}", file=sys.stderr)
        raise
    finally:
        await asyncio.to_thread(_stop, proc)


def _spawn(
    argv: list[str], *, cwd: Path, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
