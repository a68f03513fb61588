"""Executors need no etcd access: the whole stack runs against an etcd with authentication on,
the controller holding the o2-controller user, the cluster and its executors holding nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from store.authplan import O2_USERS, ROOT, diff, plan_for
from store.config import StoreConfig, open_store
from store.etcd.auth import EtcdAuthAdmin
from tests.etcd_fixture import PrivateEtcdFactory
from tests.mesos_fixture import LocalMesosProcess
from tests.stack import Managers, manager_command, port_slice, start_cluster
from tests.tasks.conftest import SHUTDOWN_GRACE, TASKS
from tests.tasks.harness import sample_task, wait_task

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {name: f"pw-{name}" for name in (*O2_USERS, ROOT)}
CREDENTIAL_VARS = ("O2_ETCD_USER", "O2_ETCD_PASSWORD")


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def command_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_executor_package_never_imports_the_store_or_the_etcd_client() -> None:
    code = (
        "import pkgutil, importlib, sys, executor\n"
        "for m in pkgutil.walk_packages(executor.__path__, 'executor.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('store', 'aetcd'))\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


async def test_tasks_run_while_executors_hold_no_etcd_credentials(
    private_etcd: PrivateEtcdFactory,
    localmesos_factory: Callable[..., LocalMesosProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    etcd = private_etcd()
    async with EtcdAuthAdmin(StoreConfig(endpoints=(etcd.endpoint,)).connection()) as admin:
        plan = plan_for("/o2", gui_actions=False)
        await admin.apply(diff(plan, await admin.state(), passwords=PASSWORDS, enable=True))
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    base = port_slice(100)
    agents = f'- {{hostname: agent-0, resources: {{ports: "[{base}-{base + 99}]"}}}}\n'
    cluster = start_cluster(localmesos_factory, tmp_path, agents, extra_args=SHUTDOWN_GRACE)
    args = manager_command(
        etcd=etcd.endpoint, prefix="/o2", mesos=cluster.address, controllers=TASKS
    )
    controller_env = {
        "O2_ETCD_USER": "o2-controller",
        "O2_ETCD_PASSWORD": PASSWORDS["o2-controller"],
    }
    managers = Managers(args, log_path=tmp_path / "manager.log", env=controller_env)
    config = StoreConfig(
        endpoints=(etcd.endpoint,), username="o2-operator", password=PASSWORDS["o2-operator"]
    )
    store = await open_store(config, warn=lambda _: None)
    try:
        managers.start()
        await store.create(sample_task("t1"))
        task = await wait_task(store, "t1", lambda t: t.status.phase == "Running", within=60)
        assert task.status.pid is not None
        executor_pid = parent_of(task.status.pid)
        for pid in (task.status.pid, executor_pid):
            assert not [v for v in environ_of(pid) if v.startswith("O2_ETCD")]
        assert "executor" in command_of(executor_pid)
    finally:
        managers.stop_all()
        await store.close()
