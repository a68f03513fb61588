"""The embedded etcd launcher: health wait, clean stop by pid, clear port-taken errors, and
etcd dying with its owner (parent-death signal) instead of being orphaned.

The exec wrapper behind that signal is tested on its own in tests/procutil."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from procutil import alive, exits_within, signal_pid
from store.config import StoreConfig
from store.embedded import (
    EmbeddedEtcd,
    PortInUseError,
    default_data_dir,
    free_port,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

OWNER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from store.embedded import EmbeddedEtcd

    async def main() -> None:
        etcd = EmbeddedEtcd(
            sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), extra_args=["--unsafe-no-fsync"]
        )
        await etcd.start()  # the `o2 up` path
        print(etcd.pid, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A python process that started an etcd the way `o2 up` does and then idles."""
    with (tmp_path / "owner.err").open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                OWNER_SCRIPT,
                str(tmp_path / "etcd"),
                str(free_port()),
                str(free_port()),
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        yield proc
    finally:
        signal_pid(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_port_taken_names_the_port_and_the_flag(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        etcd = EmbeddedEtcd(tmp_path / "etcd", taken, free_port())
        with pytest.raises(PortInUseError) as info:
            etcd.start_sync()
    assert str(taken) in str(info.value)
    assert "--etcd-port" in str(info.value)
    assert etcd.pid is None


def test_start_waits_for_health_and_stop_ends_the_process(tmp_path: Path) -> None:
    etcd = EmbeddedEtcd(
        tmp_path / "etcd", free_port(), free_port(), extra_args=["--unsafe-no-fsync"]
    )
    with etcd:
        pid = etcd.pid
        assert pid is not None and etcd.running()
        assert os.getpgid(pid) == pid  # its own process group
        with socket.create_connection(("127.0.0.1", etcd.client_port), timeout=1):
            pass
    assert not etcd.running()
    assert not alive(pid)
    assert (tmp_path / "etcd" / "member").is_dir()
    assert "ready to serve client requests" in etcd.log_tail(200)


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "o2" / "etcd"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "o2" / "etcd"


def test_config_reads_flags_over_environment() -> None:
    env = {"O2_ETCD": "a:1, https://b:2", "O2_PREFIX": "/x/", "O2_ETCD_USER": "u"}
    config = StoreConfig.from_env(env)
    assert config.endpoints == ("http://a:1", "https://b:2")
    assert (config.prefix, config.username) == ("/x", "u")
    flagged = StoreConfig.from_env(env, etcd="c:3", prefix="/y")
    assert (flagged.endpoints, flagged.prefix) == (("http://c:3",), "/y")
    assert StoreConfig.from_env({}).endpoints == ("http://127.0.0.1:2379",)


def test_etcd_dies_when_its_owner_is_sigkilled(
    owner: subprocess.Popen[str], tmp_path: Path
) -> None:
    assert owner.stdout is not None
    line = owner.stdout.readline()
    assert line.strip().isdigit(), (tmp_path / "owner.err").read_text()
    etcd_pid = int(line)
    try:
        assert not exits_within(etcd_pid, 0)  # up and serving while its owner lives
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert exits_within(etcd_pid, 5.0), "etcd outlived its SIGKILLed owner"
    finally:
        signal_pid(
            etcd_pid, signal.SIGKILL
        )  # never leave an orphan behind, even when the test fails


async def test_async_start_spawns_on_the_loop_thread_so_etcd_outlives_worker_threads(
    tmp_path: Path,
) -> None:
    etcd = EmbeddedEtcd(
        tmp_path / "etcd", free_port(), free_port(), extra_args=["--unsafe-no-fsync"]
    )
    await etcd.start()
    try:
        pid = etcd.pid
        assert pid is not None
        # the health wait ran in a worker thread; ending all of them must not kill etcd
        await asyncio.get_running_loop().shutdown_default_executor()
        assert not exits_within(pid, 0.5)
        assert etcd.running()
    finally:
        etcd.stop_sync()


def test_free_port_never_hands_out_the_same_port_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OS may pick a just-closed port again: a member's client and peer ports came out
    equal (`initial cluster ... has duplicate url`). Replayed here with a socket that offers
    the same port twice before another."""
    from store import embedded

    offered = iter([41001, 41001, 41002])

    class Socket:
        def __init__(self, *args: object) -> None:
            self.port = next(offered)

        def __enter__(self) -> Socket:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def bind(self, address: object) -> None:
            return None

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(embedded, "_HANDED_OUT", embedded.collections.deque(maxlen=8))
    monkeypatch.setattr(embedded.socket, "socket", Socket)
    assert [embedded.free_port(), embedded.free_port()] == [41001, 41002]
