"""`o2 describe env NAME...` from the stored JSON, without the models, asyncio or gRPC.

The view of an Environment reads its document, every Task's and every Event's: through the
models that cost ~0.6 s of CPU, nearly all of it building and validating them. Here the
documents are read through etcd's JSON gateway (cli.etcdgateway) and each field the view
shows is taken from the JSON with its type checked (cli.rawget.at), into plain namespaces
carrying the attributes cli.describe_printers reads; the view is then drawn by those very
printers. Anything this path cannot vouch for gives None and the full path runs (see
cli.rawget: the same rules, for the Environment, every Task and every Event). Other kinds go to
the full path. tests/cli/test_raw_describe.py checks the bytes match. Edge I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace as View
from typing import TYPE_CHECKING, cast

from cli.etcdgateway import GatewayError
from cli.rawget import (
    DESIRED_ENV_STATES,
    ENV_STATES,
    OCC_STATES,
    TASK_PHASES,
    Doc,
    Unserved,
    at,
    one_of,
    plaintext_password,
    read_stored,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

    from cli.options import GlobalOptions
    from crds.kinds.environment import Environment
    from crds.kinds.task import Task

EVENT_TYPES = ("Normal", "Warning")
CONDITION_STATUSES = ("True", "False", "Unknown")
RESULTS = ("Succeeded", "Failed", "Cancelled")
CHANNEL_TYPES = ("push", "pull", "pub", "sub", "pair")
"""The Literal types of crds (a test checks they agree)."""


def when(doc: Doc, *path: str) -> datetime | None:
    """A timestamp as the model holds it (aware), or None when absent."""
    text = at(doc, *path, optional=True)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Unserved(".".join(path)) from exc
    if value.tzinfo is None:
        raise Unserved(".".join(path))
    return value


def strings(doc: Doc, *path: str) -> dict[str, str]:
    """A mapping of strings (labels, vars, channels)."""
    values = at(doc, *path, kind=dict)
    if not all(isinstance(v, str) for v in values.values()):
        raise Unserved(".".join(path))
    return cast("dict[str, str]", values)


def counts(doc: Doc, *path: str) -> dict[str, int]:
    """A mapping of counts (task counts per state)."""
    values = at(doc, *path, kind=dict)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
        raise Unserved(".".join(path))
    return cast("dict[str, int]", values)


def items(doc: Doc, *path: str) -> list[Doc]:
    """A list of objects (roles, history, conditions, channels)."""
    values = at(doc, *path, kind=list)
    if not all(isinstance(v, dict) for v in values):
        raise Unserved(".".join(path))
    return cast("list[Doc]", values)


def meta_view(doc: Doc, revision: int) -> View:
    """What cli.printers.metadata_lines reads of ObjectMeta; resourceVersion is the key's
    mod revision, as the store stamps it."""
    finalizers = at(doc, "metadata", "finalizers", kind=list)
    if not all(isinstance(f, str) for f in finalizers):
        raise Unserved("metadata.finalizers")
    owners = [
        View(kind=at(o, "kind"), name=at(o, "name"))
        for o in items(doc, "metadata", "ownerReferences")
    ]
    return View(
        name=at(doc, "metadata", "name"),
        uid=at(doc, "metadata", "uid"),
        resource_version=revision,
        generation=at(doc, "metadata", "generation", kind=int),
        creation_timestamp=when(doc, "metadata", "creationTimestamp"),
        deletion_timestamp=when(doc, "metadata", "deletionTimestamp"),
        finalizers=tuple(finalizers),
        owner_references=tuple(owners),
        labels=strings(doc, "metadata", "labels"),
        annotations=strings(doc, "metadata", "annotations"),
    )


def condition_view(c: Doc) -> View:
    """A crds.meta.Condition as cli.printers.conditions_table reads it."""
    return View(
        type=at(c, "type"),
        status=one_of(c, "status", values=CONDITION_STATUSES),
        reason=at(c, "reason"),
        message=at(c, "message"),
        last_transition_time=when(c, "lastTransitionTime"),
    )


def record_view(r: Doc) -> View:
    """A TransitionRecord as cli.describe_printers.history_table reads it."""
    duration = at(r, "durationSeconds", kind=(int, float), optional=True)
    return View(
        event=at(r, "event"),
        from_state=at(r, "fromState"),
        to_state=at(r, "toState"),
        result=one_of(r, "result", values=RESULTS),
        run_number=at(r, "runNumber", kind=int, optional=True),
        started_at=when(r, "startedAt"),
        finished_at=when(r, "finishedAt"),
        duration_seconds=duration,
        message=at(r, "message"),
    )


def transition_view(doc: Doc) -> View | None:
    """The transition in progress (TransitionProgress), or None."""
    progress = at(doc, "status", "transition", kind=dict, optional=True)
    if progress is None:
        return None
    return View(
        event=at(progress, "event"),
        step=at(progress, "step"),
        started_at=when(progress, "startedAt"),
        message=at(progress, "message"),
    )


def environment_view(doc: Doc, revision: int) -> View:
    """What cli.describe_printers reads of an Environment."""
    spec = View(
        workflow=at(doc, "spec", "workflow"),
        state=one_of(doc, "spec", "state", values=DESIRED_ENV_STATES),
        run_type=at(doc, "spec", "runType"),
        recover_request=at(doc, "spec", "recoverRequest", kind=int),
        vars=strings(doc, "spec", "vars"),
    )
    status = View(
        state=one_of(doc, "status", "state", values=ENV_STATES),
        run_number=at(doc, "status", "runNumber", kind=int, optional=True),
        last_run_number=at(doc, "status", "lastRunNumber", kind=int, optional=True),
        recovered_request=at(doc, "status", "recoveredRequest", kind=int),
        transition=transition_view(doc),
        message=at(doc, "status", "message"),
        task_counts=counts(doc, "status", "taskCounts"),
        task_total=at(doc, "status", "taskTotal", kind=int),
        roles=tuple(View(path=at(r, "path")) for r in items(doc, "status", "roles")),
        history=tuple(record_view(r) for r in items(doc, "status", "history")),
        conditions=tuple(condition_view(c) for c in items(doc, "status", "conditions")),
    )
    return View(kind="Environment", metadata=meta_view(doc, revision), spec=spec, status=status)


def task_view(doc: Doc) -> View:
    """What the role tree and the channel table read of a Task."""
    binds = [
        View(
            name=at(b, "name"),
            global_=at(b, "global"),
            type=one_of(b, "type", values=CHANNEL_TYPES),
        )
        for b in items(doc, "spec", "bind")
    ]
    connects = [
        View(
            name=at(c, "name"), target=at(c, "target"), type=one_of(c, "type", values=CHANNEL_TYPES)
        )
        for c in items(doc, "spec", "connect")
    ]
    spec = View(
        environment=at(doc, "spec", "environment", optional=True),
        role=at(doc, "spec", "role"),
        critical=at(doc, "spec", "critical", kind=bool),
        bind=tuple(binds),
        connect=tuple(connects),
    )
    status = View(
        state=one_of(doc, "status", "state", values=OCC_STATES, optional=True),
        phase=one_of(doc, "status", "phase", values=TASK_PHASES),
        hostname=at(doc, "status", "hostname", optional=True),
        pid=at(doc, "status", "pid", kind=int, optional=True),
        message=at(doc, "status", "message"),
        channels=strings(doc, "status", "channels"),
    )
    return View(metadata=View(name=at(doc, "metadata", "name")), spec=spec, status=status)


def checked_event(doc: Doc) -> Doc:
    """An Event document whose shown fields are what the model would accept."""
    one_of(doc, "spec", "type", values=EVENT_TYPES)
    for field in ("reason", "message", "source"):
        at(doc, "spec", field)
    count = at(doc, "spec", "count", kind=int)
    if count < 1:
        raise Unserved("spec.count")
    when(doc, "spec", "firstTimestamp")
    when(doc, "spec", "lastTimestamp")
    for field in ("kind", "name"):
        at(doc, "spec", "involvedObject", field)
    return doc


def events_about(events: Sequence[Doc], env: View) -> list[Doc]:
    """cli.describing.events_for: the Events about `env`, oldest first."""
    from cli.printers import event_sort_key, is_about

    meta = env.metadata
    about = [e for e in events if is_about(e, kind="Environment", name=meta.name, uid=meta.uid)]
    return sorted(about, key=event_sort_key)


def views(opts: GlobalOptions, names: Sequence[str]) -> list[RenderableType] | None:
    """Each named Environment's view, or None when one is missing (the full path says so)."""
    from cli.describe_printers import describe_environment
    from cli.tableout import describe_now

    stored = read_stored(opts, "environments", "Environment")
    if any(name not in stored for name in names):
        return None
    tasks = [task_view(d) for d, _ in read_stored(opts, "tasks", "Task").values()]
    events = [checked_event(d) for d, _ in read_stored(opts, "events", "Event").values()]
    now = describe_now()
    drawn: list[RenderableType] = []
    for name in names:
        env = environment_view(*stored[name])
        mine = [t for t in tasks if t.spec.environment == name]
        drawn.append(
            describe_environment(
                cast("Environment", env),
                tasks=cast("list[Task]", mine),
                events=events_about(events, env),
                now=now,
            )
        )
    return drawn


def raw_describe(opts: GlobalOptions, *, plural: str, names: Sequence[str]) -> bool:
    """Print `o2 describe` as the full path would and return True, or print nothing and
    return False when this path cannot."""
    if plural != "environments" or not names or plaintext_password(opts):
        return False
    try:
        drawn = views(opts, names)
    except (Unserved, GatewayError):
        return False
    if drawn is None:
        return False
    from rich.rule import Rule

    from cli.tableout import print_out

    for i, view in enumerate(drawn):
        if i:
            print_out(Rule())
        print_out(view)
    return True
