"""`o2 cordon|uncordon|drain NODE` and `o2 node mode NODE sync|async`: write Node spec via CAS.

The node and task controllers act on what these commands write; the CLI never talks to Mesos.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from cli.cas import update_spec
from cli.options import GlobalOptions
from cli.printers import render_table
from cli.runtime import connect, print_out, run, warn, write_out
from crds.drain import DrainStep, placed_on, plan_drain
from crds.errors import NotFoundError
from crds.kinds.node import Node
from crds.kinds.task import Task
from store.api import Store

CORDON_HELP = """Mark NODE unschedulable (spec.unschedulable=true): the task controller places
no new task there. Running tasks are left alone (see `o2 drain`).

**Examples**

```
o2 cordon flp-1
o2 uncordon flp-1
```
"""

UNCORDON_HELP = """Mark NODE schedulable again (spec.unschedulable=false).

**Examples**

```
o2 uncordon flp-1
```
"""

DRAIN_HELP = """Cordon NODE, then say what happens to each task on it.

- Tasks owned by an Environment stay until their environment lets them go: the CLI does not
  kill a process an environment counts on. Move them by taking the environment through EXIT or
  RESET + DEPLOY (they are then placed elsewhere, the node being cordoned).
- A pilot task (owned by the Node, asynchronous mode) is drained by the pilot controller:
  `o2 node mode NODE sync` reclaims the node.
- Standalone tasks (no owner, including idle reusable ones) are deleted with
  --delete-standalone (the task controller kills the process first); otherwise listed only.

**Examples**

```
o2 drain flp-1
o2 drain flp-1 --delete-standalone
```
"""

MODE_HELP = """Set NODE's mode (spec.mode): `sync` (o2's environments run tasks there) or
`async` (a pilot job runs there until the node is reclaimed). The pilot controller starts or
drains the pilot.

**Examples**

```
o2 node mode epn-12 async
o2 node mode epn-12 sync
```

Shown as MODE by `o2 get nodes`:

```
o2 get nodes
```
"""


def _with_spec(node: Node, **update: object) -> Node:
    return node.model_copy(update={"spec": node.spec.model_copy(update=update)})


async def set_node_spec(store: Store, name: str, **update: object) -> Node:
    return await update_spec(store, Node, name, mutate=lambda n: _with_spec(n, **update))


async def _cordon(opts: GlobalOptions, *, name: str, unschedulable: bool) -> None:
    async with connect(opts) as store:
        before = await store.get(Node, name)
        await set_node_spec(store, name, unschedulable=unschedulable)
    word = "cordoned" if unschedulable else "uncordoned"
    already = before.spec.unschedulable == unschedulable
    write_out(f"node/{name} {'already ' if already else ''}{word}\n")


async def _mode(opts: GlobalOptions, *, name: str, mode: str) -> None:
    async with connect(opts) as store:
        before = await store.get(Node, name)
        await set_node_spec(store, name, mode=mode)
    if before.spec.mode == mode:
        write_out(f"node/{name} mode already {mode}\n")
    else:
        write_out(f"node/{name} mode {before.spec.mode} -> {mode}\n")


async def tasks_on(store: Store, node: Node) -> list[Task]:
    """Tasks placed on `node` (by agent id, or hostname when the agent id is unknown)."""
    return placed_on(node, (await store.list(Task)).items)


async def _drain(opts: GlobalOptions, *, name: str, delete_standalone: bool) -> None:
    async with connect(opts) as store:
        node = await set_node_spec(store, name, unschedulable=True)
        write_out(f"node/{name} cordoned\n")
        steps = plan_drain(await tasks_on(store, node), delete_standalone=delete_standalone)
        if not steps:
            write_out(f"no tasks on node/{name}\n")
            return
        print_out(render_table(["TASK", "OWNER", "STATE", "ACTION"], [s.row() for s in steps]))
        for step in steps:
            if step.delete:
                await _delete_task(store, step)


async def _delete_task(store: Store, step: DrainStep) -> None:
    try:
        await store.delete(Task, step.task)
    except NotFoundError:
        warn(f"task/{step.task} was already gone")
        return
    write_out(f"task/{step.task} deleted\n")


def cordon_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NODE", help="Node name.")]
) -> None:
    run(ctx, lambda opts: _cordon(opts, name=name, unschedulable=True))


def uncordon_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NODE", help="Node name.")]
) -> None:
    run(ctx, lambda opts: _cordon(opts, name=name, unschedulable=False))


def drain_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NODE", help="Node name.")],
    *,
    delete_standalone: Annotated[
        bool,
        typer.Option("--delete-standalone", help="Delete tasks that have no owner."),
    ] = False,
) -> None:
    run(ctx, lambda opts: _drain(opts, name=name, delete_standalone=delete_standalone))


def mode_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NODE", help="Node name.")],
    mode: Annotated[Literal["sync", "async"], typer.Argument(help="sync or async.")],
) -> None:
    run(ctx, lambda opts: _mode(opts, name=name, mode=mode))


def register(app: typer.Typer) -> None:
    app.command("cordon", help=CORDON_HELP, short_help="Keep new tasks off a node.")(cordon_command)
    app.command("uncordon", help=UNCORDON_HELP, short_help="Let tasks be placed on a node.")(
        uncordon_command
    )
    app.command("drain", help=DRAIN_HELP, short_help="Cordon a node and deal with its tasks.")(
        drain_command
    )
    node = typer.Typer(
        name="node",
        help="Node operations.",
        no_args_is_help=True,
        rich_markup_mode="markdown",
    )
    node.command("mode", help=MODE_HELP, short_help="Set a node's mode: sync or async.")(
        mode_command
    )
    app.add_typer(node, name="node")
