"""Data-flow channels at expansion: merge them down the role tree, render their templates,
normalise connect targets and check that every target has a bound peer. Pure.

A task's channels are its TaskClass's `bind`/`connect` and those of every role above it, a
deeper declaration replacing a shallower one with the same name (AliECS merges the role's over
the class's the same way). Role channels are rendered in the role that declares them (so
`{{ parent_role_path }}` or `{{ Up(2).Path }}` is relative to that role), class channels in the
task's scope. Connect targets come out as `role.path:channel`, `::alias` or a fixed
`tcp://`/`ipc://` address. AliECS finds a target with no bound peer, or a global alias bound
twice, only at CONFIGURE; o2 says so at expansion, naming both roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from controller.environments.template import Scope
from crds.errors import FieldError, ValidationError
from crds.fairmq import is_fixed
from crds.kinds.channels import BindChannel, Channel, ConnectChannel
from crds.kinds.task import TaskSpec

C = TypeVar("C", bound=Channel)


def merge(lower: tuple[C, ...], upper: tuple[C, ...]) -> tuple[C, ...]:
    """`lower` with each channel of `upper` replacing the one of the same name (or added)."""
    if not upper:
        return lower
    merged = {c.name: c for c in lower}
    for channel in upper:
        merged[channel.name] = channel
    return tuple(merged.values())


def render_binds(channels: tuple[BindChannel, ...], scope: Scope) -> tuple[BindChannel, ...]:
    """Inbound channels with their templates rendered in `scope`."""
    out = []
    for index, channel in enumerate(channels):
        field = f"bind[{index}]"
        rendered = _render_common(channel, scope, field=field)
        alias = scope.render(channel.global_, field=f"{field}.global").strip()
        if rendered.target and not is_fixed(rendered.target):
            message = (
                f"{field} ({channel.name}): target {rendered.target!r} must be empty (o2 "
                "allocates the address) or a fixed tcp:// or ipc:// address"
            )
            raise _error(scope.where, message)
        out.append(rendered.model_copy(update={"global_": alias}))
    return tuple(out)


def render_connects(
    channels: tuple[ConnectChannel, ...], scope: Scope
) -> tuple[ConnectChannel, ...]:
    """Outbound channels with their templates rendered in `scope` and targets normalised."""
    out = []
    for index, channel in enumerate(channels):
        field = f"connect[{index}]"
        rendered = _render_common(channel, scope, field=field)
        target = rendered.target
        if target and not (is_fixed(target) or _is_peer(target)):
            message = (
                f"{field} ({channel.name}): target {target!r} must be `role.path:channel`, "
                "`::alias` or a fixed tcp:// or ipc:// address"
            )
            raise _error(scope.where, message)
        out.append(rendered)
    return tuple(out)


def _is_peer(target: str) -> bool:
    if target.startswith("::"):
        return len(target) > 2
    path, _, name = target.rpartition(":")
    return bool(path) and bool(name) and ":" not in path


def _render_common(channel: C, scope: Scope, *, field: str) -> C:
    values = {}
    for name in ("snd_buf_size", "rcv_buf_size", "rate_logging"):
        text = scope.render(getattr(channel, name), field=f"{field}.{name}").strip()
        try:
            int(text)
        except ValueError as exc:
            message = f"{field} ({channel.name}).{name}: {text!r} is not a whole number"
            raise _error(scope.where, message) from exc
        values[name] = text
    values["target"] = scope.render(channel.target, field=f"{field}.target").strip()
    return channel.model_copy(update=values)


def bind_keys(tasks: Iterable[tuple[str, TaskSpec]]) -> dict[str, tuple[str, BindChannel]]:
    """The bind map's keys, as AliECS's: `<role path>:<channel>` and `::<alias>` -> (the task's
    role path, its channel); ValidationError when two roles bind the same alias."""
    keys: dict[str, tuple[str, BindChannel]] = {}
    for path, spec in tasks:
        for channel in spec.bind:
            keys[f"{path}:{channel.name}"] = (path, channel)
            if not channel.global_:
                continue
            alias = f"::{channel.global_}"
            other = keys.get(alias)
            if other is not None and other[0] != path:
                message = (
                    f"bind {channel.name}: global alias {channel.global_!r} is also bound by "
                    f"{other[0]}:{other[1].name}; an alias names one channel per environment"
                )
                raise _error(path, message)
            keys[alias] = (path, channel)
    return keys


def check_peers(tasks: list[tuple[str, TaskSpec]]) -> None:
    """Every connect target that is no fixed address names a bound channel of this
    environment; ValidationError naming the role, the channel and the target otherwise."""
    keys = bind_keys(tasks)
    roles = {p for p, _ in tasks}
    for path, spec in tasks:
        for channel in spec.connect:
            target = channel.target
            if is_fixed(target) or target in keys:
                continue
            role, _, name = target.rpartition(":")
            if not target:
                why = "it has no target (set `target:` where the role declares the channel)"
            elif target.startswith("::"):
                why = f"no role binds a channel with global alias {target[2:]!r}"
            elif role not in roles:
                why = f"there is no task role {role!r} in this environment"
            else:
                why = f"role {role!r} binds no channel {name!r}"
            message = f"connect {channel.name}: target {target!r}: {why}"
            if not target:
                message = f"connect {channel.name}: {why}"
            raise _error(path, message)


def _error(path: str, message: str) -> ValidationError:
    return ValidationError([FieldError(path=f"roles {path}", message=message, kind="Workflow")])
