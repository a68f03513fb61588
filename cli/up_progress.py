"""`o2 up`'s progress lines: environments' state and task counts, read from a store watch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from crds.errors import O2Error
from crds.kinds.environment import Environment
from store.api import Store

log = logging.getLogger(__name__)

Report = Callable[[str, str], None]
"""(source, line) -> None."""


def progress_line(env: Environment) -> str:
    """`physics-1: CONFIGURED -> RUNNING (START_ACTIVITY, tasks_START_ACTIVITY) tasks 2/3 ...`."""
    status = env.status
    head = f"environment {env.name}: {status.state}"
    if status.transition is not None:
        step = status.transition.step
        head += f" ({status.transition.event}{', ' + step if step else ''})"
    elif status.state != env.spec.state:
        head += f" (desired {env.spec.state})"
    if status.run_number is not None:
        head += f", run {status.run_number}"
    counts = ", ".join(f"{state} {n}" for state, n in sorted(status.task_counts.items()))
    if counts:
        head += f"; tasks: {counts}"
    if status.message and status.state == "ERROR":
        head += f"; {status.message}"
    return head


def settled(env: Environment) -> bool:
    """At its desired state with no transition under way (or stuck in ERROR)."""
    status = env.status
    at_rest = status.transition is None and status.state == env.spec.state
    return at_rest or status.state == "ERROR"


def summary(envs: Sequence[Environment]) -> str:
    parts = []
    for env in envs:
        part = f"{env.name} {env.status.state}"
        if env.status.state == "RUNNING" and env.status.run_number is not None:
            part += f" run {env.status.run_number}"
        if env.status.state == "ERROR":
            part += f" ({env.status.message}; try `o2 describe env {env.name}`, "
            part += f"then `o2 recover {env.name}`)"
        parts.append(part)
    return "; ".join(parts)


async def watch_environments(
    store: Store, names: Sequence[str], *, report: Report, ready: Callable[[str], None]
) -> None:
    """Report each change of the named environments (deduplicated) until cancelled; call
    `ready` once, when all of them have settled."""
    latest: dict[str, Environment] = {}
    printed: dict[str, str] = {}
    announced = False

    def seen(env: Environment) -> None:
        nonlocal announced
        latest[env.name] = env
        line = progress_line(env)
        if printed.get(env.name) != line:
            printed[env.name] = line
            report("o2", line)
        if not announced and all(n in latest and settled(latest[n]) for n in names):
            announced = True
            ready(summary([latest[n] for n in names]))

    try:
        listed = await store.list(Environment)
        for env in listed.items:
            if env.name in names:
                seen(env)
        async for event in store.watch(Environment, start_revision=listed.revision + 1):
            if event.obj is not None and event.name in names and event.type != "DELETED":
                seen(event.obj)
    except O2Error as exc:
        log.warning("Progress watch ended", extra={"error": str(exc)})
        report("o2", f"progress view stopped ({exc}); `o2 get env -w` shows changes")
