"""AliECS task templates (`tasks/*.yaml`) to o2 TaskClass specs. Pure: nodes in, wire out.

Follows core/task/taskclass (class.go, resourcewants.go, resourcelimits.go) and
common/cmdinfo.go of AliceO2Group/Control:
- `wants.cpu` -> `wants.cpus`, `wants.memory` (MB, a float in AliECS) -> whole MB rounded up;
  `wants.ports` (AliECS port ranges like `47000-47010,47100`) -> how many ports the task
  takes: o2 hands out ports from the agent's offered ranges, never fixed numbers.
- `limits.cpu/memory` -> `limits.cpus/memory`.
- `command.env` (`K=V` list) -> a map; `command.shell` is true only for the text "true" (any
  case, trimmed), as AliECS parses it; the deprecated `command.log` is `stdout` when that is
  absent; `user`, `stdout`, `stderr`, `value`, `arguments` are templates.
- `control.mode`: direct, fairmq and basic as they are; `hook` (a command run to completion
  by a task hook) is o2's `basic`, since a role with a `trigger` makes it a hook; the kubectl_*
  and kubernetes_* modes keep their direct/fairmq half; anything else is direct, as AliECS.
- a `connect` channel's `target` in a task template is dropped, as AliECS ignores it.
"""

from __future__ import annotations

import math

import yaml

from crds.aliecs.fields import Wire, channels, constraints, text_map, variables
from crds.aliecs.nodes import Reader, entries, items, number, scalar

TASK_FIELDS = (
    "name",
    "defaults",
    "vars",
    "control",
    "command",
    "wants",
    "limits",
    "bind",
    "properties",
    "constraints",
    "connect",
)
_COMMAND = ("env", "shell", "value", "user", "arguments", "log", "stdout", "stderr")
_MODES = {"direct": "direct", "fairmq": "fairmq", "basic": "basic", "hook": "basic"}


def task_spec(reader: Reader, root: yaml.Node) -> Wire | None:
    """The TaskClass spec of a task template's root mapping."""
    found = entries(reader, root, "", allowed=TASK_FIELDS)
    if found is None:
        return None
    spec: Wire = {}
    for key, (key_node, value) in found.items():
        if key == "name":
            continue
        reader.mark(f"spec.{key}", key_node, key)
        _FIELD_READERS[key](reader, value, spec)
    return spec


def _defaults(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    spec["defaults"] = variables(reader, node, where="defaults", wire="spec.defaults", public=None)


def _vars(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    spec["vars"] = variables(reader, node, where="vars", wire="spec.vars", public=None)


def _properties(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    spec["properties"] = text_map(reader, node, where="properties", wire="spec.properties")


def _control(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    found = entries(reader, node, "control", allowed=("mode",))
    if found is None or "mode" not in found:
        return
    mode = (scalar(reader, found["mode"][1], "control.mode") or "").strip().lower()
    spec["control"] = control_mode(mode)


def control_mode(mode: str) -> str:
    """o2's control mode for an AliECS one (lower-cased); unknown modes are direct, as AliECS."""
    for prefix in ("kubectl_", "kubernetes_"):
        mode = mode.removeprefix(prefix)
    return _MODES.get(mode, "direct")


def _command(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    found = entries(reader, node, "command", allowed=_COMMAND)
    if found is None:
        return
    command: Wire = {}
    for key, (key_node, _) in found.items():
        reader.mark(f"spec.command.{key}", key_node, f"command.{key}")
    for key in ("value", "user", "stdout", "stderr"):
        if key in found:
            command[key] = reader.template(found[key][1], f"command.{key}")
    if "log" in found and "stdout" not in found:
        command["stdout"] = reader.template(found["log"][1], "command.log")
    if "shell" in found:
        shell = scalar(reader, found["shell"][1], "command.shell") or ""
        command["shell"] = shell.strip().lower() == "true"
        if command["shell"]:
            command["shellArguments"] = True  # AliECS joins them unquoted (executable/task.go)
    if "arguments" in found:
        arguments = items(reader, found["arguments"][1], "command.arguments")
        command["arguments"] = [
            reader.template(a, f"command.arguments[{i}]") for i, a in enumerate(arguments)
        ]
    if "env" in found:
        command["env"] = _env(reader, found["env"][1])
    spec["command"] = command


def _env(reader: Reader, node: yaml.Node) -> dict[str, str]:
    """`["K=V", ...]` -> {K: V}: a name before the first '=', given once."""
    env: dict[str, str] = {}
    for index, item in enumerate(items(reader, node, "command.env")):
        where = f"command.env[{index}]"
        text = reader.template(item, where)
        if text is None:
            continue
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            reader.fail(item, where, f"{text!r} is not NAME=VALUE")
        elif name in env:
            reader.fail(item, where, f"{name} is set twice in command.env")
        else:
            env[name] = value
    return env


def _wants(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    found = entries(reader, node, "wants", allowed=("cpu", "memory", "ports"))
    if found is None:
        return
    wants: Wire = {}
    if "cpu" in found:
        wants["cpus"] = number(reader, found["cpu"][1], "wants.cpu")
    if "memory" in found:
        wants["memory"] = _megabytes(reader, found["memory"][1], "wants.memory")
    if "ports" in found:
        wants["ports"] = port_count(reader, found["ports"][1], "wants.ports")
    spec["wants"] = wants


def _limits(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    found = entries(reader, node, "limits", allowed=("cpu", "memory"))
    if found is None:
        return
    limits: Wire = {}
    if "cpu" in found:
        limits["cpus"] = number(reader, found["cpu"][1], "limits.cpu")
    if "memory" in found:
        limits["memory"] = _megabytes(reader, found["memory"][1], "limits.memory")
    spec["limits"] = limits


def _megabytes(reader: Reader, node: yaml.Node, where: str) -> int | None:
    value = number(reader, node, where)
    return None if value is None else math.ceil(value)


def port_count(reader: Reader, node: yaml.Node, where: str) -> int:
    """How many ports AliECS's range expression (`a-b,c`) names."""
    text = scalar(reader, node, where) or ""
    count = 0
    for part in (p.strip() for p in text.split(",") if p.strip()):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.strip().isdigit() for b in bounds):
            reader.fail(node, where, f"{part!r} is not a port or a range like 47000-47010")
            return 0
        first, last = int(bounds[0]), int(bounds[-1])
        if last < first:
            reader.fail(node, where, f"range {part!r} ends before it begins")
            return 0
        count += last - first + 1
    return count


def _bind(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    spec["bind"] = channels(
        reader, node, where="bind", wire="spec.bind", inbound=True, keep_target=True
    )


def _connect(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    spec["connect"] = channels(
        reader, node, where="connect", wire="spec.connect", inbound=False, keep_target=False
    )


def _constraints(reader: Reader, node: yaml.Node, spec: Wire) -> None:
    spec["constraints"] = constraints(reader, node, where="constraints", wire="spec.constraints")


_FIELD_READERS = {
    "defaults": _defaults,
    "vars": _vars,
    "control": _control,
    "command": _command,
    "wants": _wants,
    "limits": _limits,
    "bind": _bind,
    "properties": _properties,
    "constraints": _constraints,
    "connect": _connect,
}
