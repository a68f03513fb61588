"""`o2 deploy|configure|start|stop|reset|recover|exit ENV`: write the desired state, then follow.

The command writes `spec.state` (or bumps `spec.recoverRequest`) with compare-and-swap, retried
on conflict, and then follows the Environment and its Tasks through watches (the shared
informer; no polling) until the controller reports the target state, ERROR, or --timeout.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from cli.cas import update_spec
from cli.follow import Follower, follow
from cli.getargs import Output, parse_output
from cli.listing import print_objects
from cli.options import GlobalOptions
from cli.progress import COMMAND_TARGETS, Goal
from cli.progress_sink import open_sink
from cli.runtime import connect, run, warn, write_out
from cli.waitfor import parse_timeout
from crds.changedby import attributed
from crds.errors import FieldError, ValidationError
from crds.kinds.environment import INFO, Environment
from store.api import Store

DEFAULT_TIMEOUT = "5m"

HELPS = {
    "deploy": "Deploy ENV: launch its tasks and bring them to STANDBY (desired state DEPLOYED).",
    "configure": "Configure ENV: push configuration to its tasks (desired state CONFIGURED).",
    "start": "Start a run in ENV (desired state RUNNING); a new run number is allocated.",
    "stop": "Stop the run of ENV (desired state CONFIGURED). Asks first while a run is on.",
    "reset": "Reset ENV back to DEPLOYED (tasks STANDBY).",
    "exit": "Exit ENV: stop and release its tasks (desired state DONE).",
    "recover": "Recover ENV from ERROR (bumps spec.recoverRequest), then go on to its desired "
    "state.",
}

SHORT_HELPS = {
    "deploy": "Deploy an environment (-> DEPLOYED).",
    "configure": "Configure an environment (-> CONFIGURED).",
    "start": "Start a run (-> RUNNING).",
    "stop": "Stop the run (-> CONFIGURED).",
    "reset": "Reset an environment (-> DEPLOYED).",
    "exit": "Exit an environment (-> DONE).",
    "recover": "Recover an environment from ERROR.",
}

COMMON_HELP = """

The command writes the desired state into the Environment in etcd (compare-and-swap) and then
shows the progress live (state, transition and step, tasks by state, run number) until the
environment reaches it. Exit status: 0 reached, 1 ERROR (the reason and the failing tasks are
printed), deleted, or --timeout (what was seen last is printed). With --no-wait it returns
right after the write; Ctrl-C stops watching, never the request (it stays written, and the
controller carries on). The finished transitions are listed at the end, with their durations.
The environment controller must be running (`o2 up`).

Ending a run is never done by accident: a command that would take a RUNNING environment out of
RUNNING asks for confirmation; without a terminal on stdin it refuses unless --yes is given.

**Examples**

```
o2 start physics-1
o2 stop physics-1 --yes
o2 configure physics-1
o2 reset physics-1
o2 exit physics-1 --yes
o2 deploy physics-1 --no-wait
o2 recover physics-1 --timeout 10m -o json
```
"""


def _usage(message: str) -> ValidationError:
    return ValidationError([FieldError(path="ENV", message=message)])


def plan_write(command: str, env: Environment) -> Environment:
    """The Environment with the command's request in spec (pure)."""
    if command == "recover":
        if env.status.state != "ERROR":
            raise _usage(
                f"environment/{env.metadata.name} is {env.status.state}, not ERROR: "
                "nothing to recover"
            )
        spec = env.spec.model_copy(update={"recover_request": env.spec.recover_request + 1})
    else:
        spec = env.spec.model_copy(update={"state": COMMAND_TARGETS[command]})
    return env.model_copy(update={"spec": spec})


def ends_run(command: str, env: Environment) -> bool:
    """Whether the request takes a RUNNING environment out of RUNNING."""
    if command == "recover":
        return False
    return env.status.state == "RUNNING" and COMMAND_TARGETS[command] != "RUNNING"


def confirm_end_of_run(env: Environment, *, yes: bool, interactive: bool) -> None:
    """Ask before ending a run; refuse without a terminal unless --yes (see the help)."""
    if yes:
        return
    run_no = env.status.run_number
    what = f"run {run_no}" if run_no is not None else "the current run"
    question = f"environment/{env.metadata.name} is RUNNING: this ends {what}. Continue?"
    if not interactive:
        raise _usage(f"{question} Refused without a terminal: pass --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise _usage("cancelled: nothing was changed")


async def write_request(
    store: Store, name: str, *, command: str, check: Callable[[Environment], None]
) -> tuple[Environment, Goal]:
    """CAS-write the request (re-read and retried on conflict); `check` sees the env first.
    The write names the login user (crds.changedby), for the run log's startedBy/stoppedBy."""

    who = _login_name()

    def mutate(env: Environment) -> Environment:
        check(env)
        return attributed(env, plan_write(command, env), who)

    written = await update_spec(store, Environment, name, mutate=mutate)
    recover = written.spec.recover_request if command == "recover" else None
    goal = Goal(
        name=name,
        target=written.spec.state,
        generation=written.metadata.generation,
        recover_request=recover,
    )
    return written, goal


def _login_name() -> str:
    """Who runs the command ($LOGNAME, $USER, ... or the uid's name); "" when none is known."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def _summary(env: Environment) -> str:
    run = env.status.run_number
    suffix = f" (run {run})" if run is not None and env.status.state == "RUNNING" else ""
    return f"environment/{env.metadata.name} {env.status.state}{suffix}\n"


async def _change(
    opts: GlobalOptions,
    *,
    command: str,
    name: str,
    wait: bool,
    within: float,
    yes: bool,
    output_text: str,
) -> None:
    output = _parse_output(output_text)
    async with connect(opts) as store:
        confirmed = yes or await _confirm(store, name, command=command)

        def check(env: Environment) -> None:
            if ends_run(command, env) and not confirmed:  # it started running meanwhile
                confirm_end_of_run(env, yes=False, interactive=False)

        if not wait:
            written, _ = await write_request(store, name, command=command, check=check)
            _print_final(written, output=output, text=f"environment/{name} requested {command}\n")
            return
        # Watch first, then write: no change the controller makes after the write is missed.
        async with Follower(store, name) as follower:
            written, goal = await write_request(store, name, command=command, check=check)
            sink = open_sink(live=sys.stderr.isatty())
            try:
                env = await follow(follower, goal, sink, within=within, before=written)
            finally:
                sink.close()
    _print_final(env, output=output, text=_summary(env))


async def _confirm(store: Store, name: str, *, command: str) -> bool:
    """Ask now (before any watch runs) if the request would end a run; True when asked."""
    env = await store.get(Environment, name)
    if not ends_run(command, env):
        return False
    confirm_end_of_run(env, yes=False, interactive=sys.stdin.isatty())
    return True


def _print_final(env: Environment, *, output: Output, text: str) -> None:
    if output in (Output.json, Output.yaml):
        print_objects(INFO, [env], output=parse_output(output.value), single=True)
    else:
        write_out(text)


def _make_command(command: str) -> Callable[..., None]:
    def state_command(
        ctx: typer.Context,
        *,
        name: Annotated[str, typer.Argument(metavar="ENV", help="Environment name.")],
        no_wait: Annotated[
            bool, typer.Option("--no-wait", help="Return right after writing the request.")
        ] = False,
        timeout: Annotated[
            str, typer.Option(help="How long to wait: 30s, 5m; 1 on timeout.")
        ] = DEFAULT_TIMEOUT,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask before ending a run.")
        ] = False,
        output: Annotated[
            str, typer.Option("--output", "-o", help="text (default), json or yaml.")
        ] = "text",
    ) -> None:
        run(
            ctx,
            lambda opts: _change(
                opts,
                command=command,
                name=name,
                wait=not no_wait,
                within=parse_timeout(timeout),
                yes=yes,
                output_text=output,
            ),
        )

    state_command.__name__ = f"{command}_command"
    return state_command


def _parse_output(text: str) -> Output:
    if text == "text":
        return Output.table
    fmt = parse_output(text)
    if fmt.mode not in (Output.json, Output.yaml):
        warn(f"-o {text}: only json and yaml print the object; printing text")
        return Output.table
    return fmt.mode


COMMANDS = ("deploy", "configure", "start", "stop", "reset", "recover", "exit")


def register(app: typer.Typer) -> None:
    for command in COMMANDS:
        app.command(command, help=HELPS[command] + COMMON_HELP, short_help=SHORT_HELPS[command])(
            _make_command(command)
        )
