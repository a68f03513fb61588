"""The embedded etcd launcher: health wait, clean stop by pid, clear port-taken errors."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from store.config import StoreConfig
from store.embedded import EmbeddedEtcd, PortInUseError, default_data_dir, free_port


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
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
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
