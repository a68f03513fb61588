"""`o2 top tasks|nodes`: CPU and memory use from the agents' `/monitor/statistics` (the Mesos
endpoint, via cli.mesos_files), named after the Tasks and Nodes in etcd (cli.usage computes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from crds.errors import O2Error

if TYPE_CHECKING:
    from cli.mesos_files import MesosFiles
    from cli.options import GlobalOptions
    from cli.usage import Agent, NodeUsage, Sample, TaskUsage

DEFAULT_MESOS = "http://127.0.0.1:5050"

COMMON = """Usage is read from each agent's Mesos endpoint `GET /monitor/statistics` (agents found
in the master's `/master/state`; --mesos or O2_MESOS, HOST:PORT or URL, default the local
cluster of `o2 up`), twice, --interval seconds apart: CPU is counted by Mesos in cumulative
seconds, so a rate needs two samples. Memory is resident (RSS). `-o json|yaml` prints the
same figures for scripts (bytes, percent, cores)."""

TASKS_HELP = f"""Show the CPU and memory each running task uses, with its environment, role and
node, and its limits (TaskClass `limits`, else what it `wants`). CPU% is percent of one core,
as top(1) shows it. A task's own figures need the agent to break its executor's figures down
by process group (the local cluster does; a real Mesos agent reports per executor only, and
such tasks show `-`: see `o2 top nodes`).

{COMMON}

**Examples**

```
o2 top tasks
o2 top tasks -e physics-1 --sort cpu
o2 top tasks --sort mem -o json
o2 top tasks --interval 0.5
```
"""

NODES_HELP = f"""Show what each agent's executors use in all (CPU in cores and as percent of
the node's allocatable cpus, resident memory and percent of its allocatable memory), the sum
of their limits, and the node's allocatable resources (from its Node resource, else from the
master).

{COMMON}

**Examples**

```
o2 top nodes
o2 top nodes -o yaml
```
"""


class NoStatisticsError(O2Error):
    """Nothing to show: no agent answered `/monitor/statistics` (or every answer was
    malformed), the master lists no agent, or no task's executor is in the answers."""


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _bytes(value: int | None) -> str:
    """Kubectl's units: Ki below a MiB, Mi above."""
    if value is None:
        return "-"
    if value < 1024 * 1024:
        return f"{value // 1024}Ki"
    return f"{value / (1024 * 1024):.0f}Mi"


def task_rows(rows: list[TaskUsage]) -> list[list[str]]:
    return [
        [
            r.name,
            r.environment or "-",
            r.role or "-",
            r.node or "-",
            _percent(r.cpu_percent),
            _bytes(r.rss_bytes),
            f"{r.cpu_limit:g}",
            _bytes(r.mem_limit_bytes),
        ]
        for r in rows
    ]


TASK_HEADERS = ["NAME", "ENVIRONMENT", "ROLE", "NODE", "CPU%", "MEMORY", "CPU-LIMIT", "MEM-LIMIT"]
NODE_HEADERS = [
    "NAME",
    "CPU(cores)",
    "CPU%",
    "MEMORY",
    "MEMORY%",
    "LIMITS(cpus)",
    "LIMITS(mem)",
    "ALLOCATABLE(cpus)",
    "ALLOCATABLE(mem)",
]


def node_rows(rows: list[NodeUsage]) -> list[list[str]]:
    return [
        [
            r.name,
            _cores(r.cpu_cores),
            _percent(r.cpu_percent),
            _bytes(r.rss_bytes),
            _percent(r.mem_percent),
            f"{r.cpus_limit:g}",
            _bytes(r.mem_limit_bytes),
            f"{r.allocatable_cpus:g}",
            _bytes(r.allocatable_mem_bytes),
        ]
        for r in rows
    ]


def task_document(rows: list[TaskUsage], *, interval: float) -> dict[str, Any]:
    items = [
        {
            "name": r.name,
            "environment": r.environment or None,
            "role": r.role,
            "node": r.node,
            "cpuPercent": r.cpu_percent,
            "memoryBytes": r.rss_bytes,
            "cpuLimit": r.cpu_limit,
            "memoryLimitBytes": r.mem_limit_bytes,
        }
        for r in rows
    ]
    return {"kind": "TaskUsageList", "intervalSeconds": interval, "items": items}


def node_document(rows: list[NodeUsage], *, interval: float) -> dict[str, Any]:
    items = [
        {
            "name": r.name,
            "agentId": r.agent_id,
            "cpuCores": r.cpu_cores,
            "cpuPercent": r.cpu_percent,
            "memoryBytes": r.rss_bytes,
            "memoryPercent": r.mem_percent,
            "cpuLimit": r.cpus_limit,
            "memoryLimitBytes": r.mem_limit_bytes,
            "allocatable": {"cpus": r.allocatable_cpus, "memoryBytes": r.allocatable_mem_bytes},
        }
        for r in rows
    ]
    return {"kind": "NodeUsageList", "intervalSeconds": interval, "items": items}


async def one_sample(files: MesosFiles, urls: dict[str, str]) -> tuple[Sample, list[str]]:
    """Every agent's statistics (each distinct URL asked once, concurrently), and why the
    agents that did not answer did not."""
    import asyncio

    from cli.runtime import short_cause
    from cli.usage import parse_entry, sample_of

    answers = await asyncio.gather(*(files.statistics(url) for url in urls), return_exceptions=True)
    entries, failures = [], []
    for (url, agent_id), answer in zip(urls.items(), answers, strict=True):
        if isinstance(answer, BaseException):
            if not isinstance(answer, O2Error):
                raise answer
            failures.append(f"{url}: {short_cause(str(answer))}")
            continue
        try:
            entries += [parse_entry(item, agent_id=agent_id) for item in answer]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            failures.append(f"{url}: malformed statistics ({type(exc).__name__}: {exc})")
    if failures and len(failures) == len(urls):
        raise NoStatisticsError("no agent answered GET /monitor/statistics: " + "; ".join(failures))
    return sample_of(entries), failures


async def two_samples(files: MesosFiles, *, interval: float) -> tuple[list[Agent], Sample, Sample]:
    """The master's agents, and their statistics twice, `interval` seconds apart."""
    import asyncio

    from cli.mesos_files import agent_url
    from cli.runtime import warn_line
    from cli.usage import agents_of

    state = await files.state()
    agents = agents_of(state)
    scheme = files.master_url.split("://", 1)[0]
    urls: dict[str, str] = {}
    for agent in agents:
        url = agent_url(state, agent.agent_id, scheme=scheme)
        if url is not None:
            urls.setdefault(url, agent.agent_id)
    if not urls:
        raise NoStatisticsError(f"the Mesos master at {files.master_url} lists no agents")
    before, _ = await one_sample(files, urls)
    await asyncio.sleep(interval)
    after, failures = await one_sample(files, urls)
    for failure in failures:
        warn_line(f"warning: no statistics from agent {failure}")
    return agents, before, after


def _master(mesos: str) -> str:
    from crds.errors import FieldError, ValidationError
    from mesosapi.auth import base_url

    try:
        return base_url(mesos.split(",", maxsplit=1)[0])
    except ValueError as exc:
        raise ValidationError([FieldError(path="--mesos", message=str(exc))]) from exc


def _check_output(output: str) -> None:
    from crds.errors import FieldError, ValidationError

    if output not in ("", "json", "yaml"):
        message = f"{output!r}: use json or yaml (or leave -o out)"
        raise ValidationError([FieldError(path="-o", message=message)])


def _emit(document: dict[str, Any], headers: list[str], rows: list[list[str]], output: str) -> None:
    from cli.printers import json_text, yaml_text
    from cli.runtime import print_table, write_out

    if output == "json":
        write_out(json_text(document))
    elif output == "yaml":
        write_out(yaml_text(document))
    else:
        print_table(headers, rows)


async def top_tasks(
    opts: GlobalOptions, *, mesos: str, environment: str | None, sort: str, interval: float
) -> tuple[list[TaskUsage], bool]:
    """The rows, and whether there were running tasks at all."""
    from cli.mesos_files import MesosFiles, access_from_env
    from cli.runtime import connect
    from cli.usage import running, sort_tasks, task_usage
    from crds.kinds.task import Task

    async with connect(opts) as store:
        tasks = [t for t in (await store.list(Task)).items if running(t)]
    if environment is not None:
        tasks = [t for t in tasks if t.spec.environment == environment]
    if not tasks:
        return [], False
    async with MesosFiles(_master(mesos), access=access_from_env()) as files:
        _, before, after = await two_samples(files, interval=interval)
    keys = {(t.status.agent_id or "", t.status.executor_id or "") for t in tasks}
    if not keys & after.keys():
        raise NoStatisticsError(
            f"the agents of these {len(tasks)} tasks report no statistics for their executors "
            f"({', '.join(sorted(f'{a}/{e}' for a, e in keys))}): is --mesos the right master?"
        )
    rows = [task_usage(t, before, after) for t in tasks]
    return sort_tasks(rows, by=sort), True


async def top_nodes(opts: GlobalOptions, *, mesos: str, interval: float) -> list[NodeUsage]:
    from cli.mesos_files import MesosFiles, access_from_env
    from cli.runtime import connect
    from cli.usage import node_usage
    from crds.kinds.node import Node

    async with connect(opts) as store:
        nodes = (await store.list(Node)).items
    async with MesosFiles(_master(mesos), access=access_from_env()) as files:
        agents, before, after = await two_samples(files, interval=interval)
    rows = [node_usage(a, nodes, before, after) for a in agents]
    return sorted(rows, key=lambda r: r.name)


Mesos = Annotated[str, typer.Option(envvar="O2_MESOS", help="Mesos master (HOST:PORT or URL).")]
Interval = Annotated[
    float,
    typer.Option(help="Seconds between the two samples CPU rates come from.", min=0.05, max=60),
]
Output = Annotated[str, typer.Option("--output", "-o", help="json or yaml.")]


def tasks_command(
    ctx: typer.Context,
    *,
    environment: Annotated[
        str | None, typer.Option("--environment", "-e", help="Only this environment's tasks.")
    ] = None,
    sort: Annotated[str, typer.Option(help="Order: name, cpu or mem (busiest first).")] = "name",
    interval: Interval = 1.0,
    output: Output = "",
    mesos: Mesos = DEFAULT_MESOS,
) -> None:
    from cli.runtime import run, warn_line

    async def body(opts: GlobalOptions) -> None:
        from crds.errors import FieldError, ValidationError

        _check_output(output)
        if sort not in ("name", "cpu", "mem"):
            message = f"{sort!r}: use name, cpu or mem"
            raise ValidationError([FieldError(path="--sort", message=message)])
        rows, any_running = await top_tasks(
            opts, mesos=mesos, environment=environment, sort=sort, interval=interval
        )
        if not any_running and not output:
            where = f" in environment {environment}" if environment else ""
            warn_line(f"No running tasks{where}.")
            return
        _emit(task_document(rows, interval=interval), TASK_HEADERS, task_rows(rows), output)

    run(ctx, body)


def nodes_command(
    ctx: typer.Context,
    *,
    interval: Interval = 1.0,
    output: Output = "",
    mesos: Mesos = DEFAULT_MESOS,
) -> None:
    from cli.runtime import run

    async def body(opts: GlobalOptions) -> None:
        _check_output(output)
        rows = await top_nodes(opts, mesos=mesos, interval=interval)
        _emit(node_document(rows, interval=interval), NODE_HEADERS, node_rows(rows), output)

    run(ctx, body)


def register(app: typer.Typer) -> None:
    top = typer.Typer(
        name="top",
        help="Show CPU and memory use of tasks or nodes.",
        no_args_is_help=True,
        rich_markup_mode="markdown",
    )
    top.command("tasks", help=TASKS_HELP, short_help="CPU and memory of each running task.")(
        tasks_command
    )
    top.command("nodes", help=NODES_HELP, short_help="CPU and memory of each node.")(nodes_command)
    app.add_typer(top, name="top")
