"""`o2 up`'s children: its configuration, and how each part (embedded etcd, the local Mesos
cluster, the controller manager, the GUI) is started and the samples applied. cli.commands.up
orders them, watches them and stops them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from cli import up_keep
from cli.commands.apply import apply_objects
from cli.commands.passthrough import module_available
from cli.manifests import load
from cli.options import GlobalOptions
from cli.restarts import RestartPolicy
from cli.runtime import connect
from cli.supervisor import Child, Supervisor, say, wait_for_port
from crds.kinds.environment import Environment
from store.embedded import EmbeddedEtcd, port_is_free

SAMPLES = Path(__file__).resolve().parents[1] / "manifests" / "samples"
DETECTOR_AGENTS = (("flp-tpc", "TPC"), ("flp-its", "ITS"))
FAST_CLUSTER: tuple[str, ...] = ("--heartbeat-interval", "1", "--allocation-interval", "0.1")
FAST_CLUSTER += ("--update-retry", "0.5", "--shutdown-grace", "2")
FAST_CONTROLLER = ("--task-reconcile-period", "5", "--node-poll-period", "1", "--lease-ttl", "3")


@dataclass(frozen=True)
class UpConfig:
    data_dir: Path
    etcd_port: int
    etcd_peer_port: int
    mesos_port: int
    agents: int
    agents_file: Path | None
    task_ports: int
    hollow_agents: int
    metrics_port: int | None
    executor_command: str | None
    gui_port: int | None
    fast: bool
    recover: bool
    samples: bool
    cluster: bool
    controller: bool
    echo_all: bool
    keep_tasks: bool = False
    restart_delay: float = RestartPolicy.first_delay


def child_env() -> dict[str, str]:
    """This venv's bin first on PATH, so executors find `o2-sample-task` and friends."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {"PATH": path, "PYTHONUNBUFFERED": "1"}


def agents_yaml(*, generic: int, task_ports: int) -> str:
    """The local agents: one per sample detector (attribute `detector`), then generic ones;
    each with its own 100-port slice from `task_ports` (all agents share 127.0.0.1)."""
    named = [(host, {"detector": det}) for host, det in DETECTOR_AGENTS]
    named += [(f"agent-{i}", {}) for i in range(generic)]
    agents = []
    for index, (host, attributes) in enumerate(named):
        base = task_ports + 100 * index
        entry: dict[str, object] = {
            "hostname": host,
            "resources": {"ports": f"[{base}-{base + 99}]"},
        }
        if attributes:
            entry["attributes"] = attributes
        agents.append(entry)
    return yaml.safe_dump(agents, sort_keys=False)


async def start_etcd(config: UpConfig) -> EmbeddedEtcd:
    data = config.data_dir / "etcd"
    etcd = EmbeddedEtcd(data, config.etcd_port, config.etcd_peer_port, port_flag="--etcd-port")
    say("etcd", f"starting on 127.0.0.1:{config.etcd_port} (data dir {data})")
    await etcd.start()
    say("etcd", f"ready at {etcd.endpoint} (pid {etcd.pid}; log {etcd.log_path})")
    return etcd


def agents_file(config: UpConfig) -> Path:
    if config.agents_file is not None:
        return config.agents_file
    path = config.data_dir / "agents.yaml"
    path.write_text(agents_yaml(generic=config.agents, task_ports=config.task_ports))
    return path


async def start_cluster(sup: Supervisor, config: UpConfig) -> Child | None:
    if not wanted(
        config.cluster, what="local Mesos cluster", flag="--no-cluster", module="localmesos"
    ):
        return None
    require_free(config.mesos_port, what="local Mesos master", flag="--mesos-port")
    agents = agents_file(config)
    args = ["--port", str(config.mesos_port), "--agents-file", str(agents), "--agents", "0"]
    if config.hollow_agents:
        args += ["--hollow-agents", str(config.hollow_agents)]
    args += FAST_CLUSTER if config.fast else ()
    args += up_keep.cluster_args(config.data_dir, keep_tasks=config.keep_tasks)
    return await sup.start("cluster", python_m("localmesos", args), env=child_env())


async def cluster_ready(child: Child, config: UpConfig) -> None:
    await wait_for_port(config.mesos_port, child=child, within=30)
    agents = config.agents_file or config.data_dir / "agents.yaml"
    say("cluster", f"master ready at 127.0.0.1:{config.mesos_port} (pid {child.pid}; {agents})")


def wanted(enabled: bool, *, what: str, flag: str, module: str) -> bool:
    """Whether to start `what`: asked for (no `flag`) and its package installed; says why not
    otherwise."""
    if not enabled:
        say("o2", f"{what}: skipped ({flag})")
        return False
    if not module_available(module):
        say("o2", f"{what}: not installed (no {module} package): skipped")
        return False
    return True


def require_free(port: int, *, what: str, flag: str) -> None:
    """Fail early and say how to pick another port, rather than talk to a stranger's server."""
    if not port_is_free(port):
        raise RuntimeError(
            f"{what} port 127.0.0.1:{port} is already in use; pick another with {flag}"
        )


def python_m(module: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", module, *args]


def controller_args(config: UpConfig, opts: GlobalOptions, *, mesos: bool) -> list[str]:
    args = ["--etcd", opts.etcd, "--prefix", opts.prefix]
    args += ["--data-dir", str(config.data_dir / "controller")]
    if mesos:
        args += ["--mesos", f"127.0.0.1:{config.mesos_port}"]
    if config.metrics_port is not None:
        args += ["--metrics-port", str(config.metrics_port)]
    if config.executor_command:
        args += ["--executor-command", config.executor_command]
    return args + list(FAST_CONTROLLER if config.fast else ())


async def start_controller(
    sup: Supervisor, config: UpConfig, opts: GlobalOptions, *, mesos: bool
) -> Child | None:
    if not wanted(
        config.controller, what="controller manager", flag="--no-controller", module="controller"
    ):
        return None
    args = controller_args(config, opts, mesos=mesos)
    child = await sup.start("controller", python_m("controller", args), env=child_env())
    say("controller", f"started (pid {child.pid}; log {sup.log_path(child.name)})")
    return child


async def start_gui(sup: Supervisor, config: UpConfig, opts: GlobalOptions) -> Child | None:
    port = config.gui_port
    if not wanted(port is not None, what="dashboard", flag="--no-gui", module="gui"):
        return None
    assert port is not None  # wanted() said so: for the type checker
    require_free(port, what="dashboard", flag="--gui-port (or --no-gui)")
    args = ["--etcd", opts.etcd, "--prefix", opts.prefix]
    args += ["--listen", f"127.0.0.1:{port}"]
    child = await sup.start("gui", python_m("gui", args), env=child_env())
    await wait_for_port(port, child=child, within=30)
    say("gui", f"dashboard at http://127.0.0.1:{port}/ (pid {child.pid})")
    return child


async def apply_samples(opts: GlobalOptions, config: UpConfig) -> list[str]:
    """Apply manifests/samples; the names of the Environments among them."""
    if not config.samples:
        return []
    if not SAMPLES.is_dir():
        say("o2", f"samples: {SAMPLES} not found: skipped")
        return []
    objs = load([str(SAMPLES)])
    async with connect(opts) as store:
        await apply_objects(  # what the operator changed since (a stop, a var) stays theirs
            store,
            objs,
            dry_run=False,
            report=lambda line: say("o2", f"applied {line}"),
            policy="keep",
        )
    return [obj.name for obj in objs if isinstance(obj, Environment)]
