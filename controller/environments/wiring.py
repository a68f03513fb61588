"""Wire the data-flow channels of an expansion to the placed tasks: the FairMQ `chans.*`
properties each task gets at CONFIGURE, with its other properties. Pure.

As AliECS's configureTasks: the bind map is built from the placed tasks (status.channels,
allocated at launch), keyed `<role path>:<channel>` and `::<global alias>`; each inbound channel
is pushed with its own address on all interfaces (`tcp://*:<port>`), each outbound one with its
peer's (`tcp://<host>:<port>`, `ipc://...`) and the peer's transport. A task whose own address
or a peer's is not known yet (not placed) is `unwired`: it stays in STANDBY until it is. A task
already configured keeps the channels it was configured with meanwhile, so a detector added
while RUNNING wires its new tasks and never reconfigures the running ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from controller.environments.expansion import ExpandedTask, Expansion
from crds.fairmq import bind_side, channel_properties, is_fixed
from crds.kinds.task import TERMINAL_PHASES, Task, TaskSpec

_CONFIGURED = frozenset({"CONFIGURED", "RUNNING"})
Endpoint = tuple[str, str]
"""(address as peers connect to it, transport)."""


def wire(expansion: Expansion, env_name: str, tasks: Sequence[Task]) -> Expansion:
    """`expansion` with `chans.*` in the properties of every task that has channels (or
    `unwired` set); the same object when no task has any."""
    if not expansion.has_channels:
        return expansion
    observed = {t.spec.role: t for t in tasks if t.spec.environment == env_name}
    endpoints = bind_map(expansion, observed)
    wired: dict[str, ExpandedTask] = {}
    for name, want in expansion.tasks.items():
        if want.spec.bind or want.spec.connect:
            wired[name] = _memo(expansion, want, observed.get(want.path), endpoints)
        else:
            wired[name] = want
    return replace(expansion, tasks=wired, wired={})


def _memo(
    expansion: Expansion, want: ExpandedTask, have: Task | None, endpoints: Mapping[str, Endpoint]
) -> ExpandedTask:
    """`_wire_one`, reused from `expansion.wired` while the addresses it depends on are the
    same (a large environment is wired at every reconcile)."""
    own = have.status.channels if have is not None else {}
    key = (
        tuple(own.get(c.name) for c in want.spec.bind),
        tuple(endpoints.get(c.target) for c in want.spec.connect),
    )
    known = expansion.wired.get(want.name)
    if known is not None and known[0] == key:
        return known[1]
    wired = _wire_one(want, have, endpoints)
    if not wired.unwired:
        expansion.wired[want.name] = (key, wired)
    return wired


def bind_map(expansion: Expansion, observed: Mapping[str, Task]) -> dict[str, Endpoint]:
    """`<role path>:<channel>` and `::<alias>` -> the placed peer's endpoint."""
    out: dict[str, Endpoint] = {}
    for want in expansion.tasks.values():
        have = observed.get(want.path)
        for channel in want.spec.bind:
            address = _bound(have, channel.name)
            if address is None:
                continue
            out[f"{want.path}:{channel.name}"] = (address, channel.transport)
            if channel.global_:
                out[f"::{channel.global_}"] = (address, channel.transport)
    return out


def _bound(have: Task | None, channel: str) -> str | None:
    if have is None or have.status.phase in TERMINAL_PHASES:
        return None
    return have.status.channels.get(channel)


def channel_map(
    spec: TaskSpec, own: Mapping[str, str], endpoints: Mapping[str, Endpoint]
) -> tuple[dict[str, str], str]:
    """The `chans.*` properties of one task, and why they are incomplete ("" when not): `own`
    are its bound addresses (status.channels), `endpoints` the environment's bind map."""
    props: dict[str, str] = {}
    for channel in spec.bind:
        address = channel.target if is_fixed(channel.target) else own.get(channel.name)
        if address is None:
            return {}, f"channel {channel.name}: the task is not placed yet"
        props.update(
            channel_properties(
                channel, method="bind", address=bind_side(address), transport=channel.transport
            )
        )
    for out in spec.connect:
        found = (out.target, out.transport) if is_fixed(out.target) else endpoints.get(out.target)
        if found is None:
            return {}, f"channel {out.name}: its peer {out.target} is not placed yet"
        address, transport = found
        props.update(
            channel_properties(out, method="connect", address=address, transport=transport)
        )
    return props, ""


def _wire_one(
    want: ExpandedTask, have: Task | None, endpoints: Mapping[str, Endpoint]
) -> ExpandedTask:
    own = have.status.channels if have is not None else {}
    props, missing = channel_map(want.spec, own, endpoints)
    if missing and have is not None and have.status.state in _CONFIGURED:
        props = {k: v for k, v in have.spec.properties.items() if k.startswith("chans.")}
        missing = ""
    spec = want.spec.model_copy(update={"properties": {**want.spec.properties, **props}})
    return replace(want, spec=spec, unwired=missing)
