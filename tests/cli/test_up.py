"""`o2 up` as a user runs it: a foreground process that starts etcd (and the local cluster and
controller manager when present), applies the samples, and stops it all on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
from pathlib import Path

from store.embedded import free_port
from tests.cli.conftest import O2, Child, spawn

STARTUP = 60.0


def up_argv(o2: O2, tmp_path: Path, port: int, *extra: str) -> list[str]:
    return o2.argv(
        "up",
        "--data-dir",
        str(tmp_path / "etcd"),
        "--etcd-port",
        str(port),
        "--etcd-peer-port",
        str(free_port()),
        "--no-gui",  # the dashboard has its own tests (tests/up starts it on a free port)
        *extra,
    )


def pids(child: Child) -> dict[str, int]:
    """`stopped NAME (pid N, ...)` lines -> {NAME: N}, in stop order."""
    found: dict[str, int] = {}
    for line in child.out.seen:
        match = re.search(r"stopped (\w+) \(pid (\d+)", line)
        if match:
            found[match.group(1)] = int(match.group(2))
    return found


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def stop(child: Child) -> int:
    """SIGTERM by pid, as systemd or a terminal would; returns the exit code."""
    child.proc.send_signal(signal.SIGTERM)
    code = child.proc.wait(timeout=60)
    child.out.thread.join(timeout=5)
    child.out.drain()
    return code


def test_up_starts_etcd_applies_samples_and_stops_on_sigterm(o2: O2, tmp_path: Path) -> None:
    port = free_port()
    argv = up_argv(o2, tmp_path, port, "--no-cluster", "--no-controller")
    with spawn(argv, env=o2.subprocess_env()) as up:
        up.out.wait_for("[o2] up:", within=STARTUP)
        endpoint = f"http://127.0.0.1:{port}"
        keys = O2(endpoint=endpoint, prefix=o2.prefix).etcdctl(
            "get", "--prefix", f"{o2.prefix}/registry/", "--keys-only"
        )
        assert f"{o2.prefix}/registry/environments/physics-1" in keys
        assert any("local Mesos cluster: skipped" in line for line in up.out.seen)
        assert stop(up) == 0
    stopped = pids(up)
    assert list(stopped) == ["etcd"]
    assert not alive(stopped["etcd"])
    assert (tmp_path / "etcd").is_dir()


def test_up_with_a_taken_port_says_so_and_how_to_pick_another(o2: O2, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with spawn(up_argv(o2, tmp_path, port, "--no-samples"), env=o2.subprocess_env()) as up:
            code = up.proc.wait(timeout=STARTUP)
            up.err.wait_for("already in use", within=5)
    assert code == 1
    assert any("--etcd-port" in line for line in up.err.seen)


def test_up_runs_cluster_and_controller_as_children_and_stops_them_in_reverse(
    o2: O2, tmp_path: Path
) -> None:
    port, mesos = free_port(), free_port()
    argv = up_argv(o2, tmp_path, port, "--mesos-port", str(mesos), "--no-samples")
    with spawn(argv, env=o2.subprocess_env()) as up:
        up.out.wait_for("[o2] up:", within=STARTUP)
        assert any(line.startswith("[cluster] master ready") for line in up.out.seen)
        assert any(line.startswith("[controller] started") for line in up.out.seen)
        # The manager's own first log line, prefixed: it comes after the interpreter's start.
        up.out.wait_for("[controller] ", within=STARTUP)
        assert stop(up) == 0
    stopped = pids(up)
    assert list(stopped) == ["controller", "cluster", "etcd"]
    assert not any(alive(pid) for pid in stopped.values())


def test_up_restarts_a_killed_etcd_on_its_data_dir_and_keeps_running(
    o2: O2, tmp_path: Path
) -> None:
    port = free_port()
    argv = up_argv(o2, tmp_path, port, "--no-cluster", "--no-controller")
    with spawn(argv, env=o2.subprocess_env()) as up:
        up.out.wait_for("[o2] up:", within=STARTUP)
        ready = next(line for line in up.out.seen if line.startswith("[etcd] ready"))
        match = re.search(r"\(pid (\d+)", ready)
        assert match is not None
        os.kill(int(match.group(1)), signal.SIGKILL)
        up.out.wait_for("exited (log", within=10)
        up.out.wait_for("[etcd] restarted on its data dir", within=30)
        line = next(x for x in up.out.seen if x.startswith("[etcd] restarted"))
        assert f"pid {match.group(1)};" not in line
        keys = O2(endpoint=f"http://127.0.0.1:{port}", prefix=o2.prefix).etcdctl(
            "get", "--prefix", f"{o2.prefix}/registry/", "--keys-only"
        )
        assert f"{o2.prefix}/registry/environments/physics-1" in keys  # the data survived
        assert up.proc.poll() is None
        assert stop(up) == 0
