"""AliECS workflow roles to o2 Roles. Pure: nodes in, wire dicts out.

Follows core/workflow of AliceO2Group/Control (aggregator.go's role union, taskrole.go,
callrole.go, iteratorrole.go, includerole.go): a role is an aggregator (`roles`), a task
(`task: {load}`), a call (`call: {func}`), an include (`include: name`) or an iterator (`for`
over one of those). Differences kept visible instead of guessed:
- `task.load` is o2's `class`; a static name is mapped as TaskClass names are
  (crds.aliecs.load.o2_name); a templated one goes through the expression translator.
- a call's `timeout` defaults to AliECS's 30 s (o2's own default for calls is shorter); a
  task hook's is 30 s in both. A call without `trigger` never runs in AliECS: refused.
- `include` stays a name (or template), resolved when the environment is expanded.
- an iterator whose template is a task, call or include (not `roles`) is refused: o2
  iterates aggregators, so wrap the role in `roles:` (the role paths then gain one level).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from crds.aliecs.fields import Wire, channels, constraints, variables
from crds.aliecs.nodes import Reader, entries, flag, items, scalar

ROLE_FIELDS = (
    "name",
    "enabled",
    "defaults",
    "vars",
    "constraints",
    "bind",
    "connect",
    "roles",
    "task",
    "call",
    "include",
    "for",
)
_TASK = ("load", "trigger", "await", "timeout", "critical")
_CALL = ("func", "return", "trigger", "await", "timeout", "critical")
_SHAPES = ("roles", "task", "call", "include")
CALL_TIMEOUT = "30s"
"""AliECS's default timeout of a call (callrole.go) and of a task hook (taskrole.go)."""
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class Roles:
    """What translating one workflow's roles needs besides the nodes."""

    reader: Reader
    public: dict[str, Wire]
    """The file's public variable declarations, filled as they are met."""
    name_of: Callable[[str], str]
    """AliECS name -> o2 name (the mapping metadata.name uses)."""

    def roles(self, node: yaml.Node, *, where: str, wire: str) -> list[Wire]:
        out: list[Wire] = []
        for index, item in enumerate(items(self.reader, node, where)):
            role = self.role(item, where=f"{where}[{index}]", wire=f"{wire}[{index}]")
            if role is not None:
                out.append(role)
        return out

    def role(self, node: yaml.Node, *, where: str, wire: str) -> Wire | None:
        found = entries(self.reader, node, where, allowed=ROLE_FIELDS)
        if found is None:
            return None
        self.reader.mark(wire, node, where)
        if not self._one_shape(node, found, where=where):
            return None
        out: Wire = {}
        for key, (key_node, value) in found.items():
            here, wired = f"{where}.{key}", f"{wire}.{key}"
            self.reader.mark(wired, key_node, here)
            out[key] = self._field(key, value, where=here, wire=wired)
        return out

    def _one_shape(
        self, node: yaml.Node, found: dict[str, tuple[yaml.Node, yaml.Node]], *, where: str
    ) -> bool:
        shapes = [s for s in _SHAPES if s in found]
        if len(shapes) != 1:
            what = " and ".join(shapes) if shapes else "none of them"
            self.reader.fail(
                node,
                where,
                f"a role has exactly one of roles, task, call, include (with or without "
                f"`for`); this one has {what}",
            )
            return False
        if "for" in found and shapes != ["roles"]:
            self.reader.fail(
                found["for"][0],
                f"{where}.for",
                f"o2 iterates aggregators only: move this {shapes[0]} into `roles:` under the "
                "iterator (its role path gains one level)",
            )
            return False
        return True

    def _field(self, key: str, value: yaml.Node, *, where: str, wire: str) -> object:
        reader = self.reader
        if key in ("defaults", "vars"):
            return variables(reader, value, where=where, wire=wire, public=self.public)
        if key == "roles":
            return self.roles(value, where=where, wire=wire)
        if key == "constraints":
            return constraints(reader, value, where=where, wire=wire)
        if key in ("bind", "connect"):
            inbound = key == "bind"
            return channels(
                reader, value, where=where, wire=wire, inbound=inbound, keep_target=True
            )
        if key == "task":
            return self._task(value, where=where, wire=wire)
        if key == "call":
            return self._call(value, where=where, wire=wire)
        if key == "for":
            return self._for(value, where=where, wire=wire)
        if key == "include":
            return self.reference(value, where=where)
        return reader.template(value, where)  # name, enabled

    def reference(self, node: yaml.Node, *, where: str) -> str | None:
        """A TaskClass or Workflow name: a static one mapped as object names are, a
        templated one translated."""
        text = scalar(self.reader, node, where)
        if text is None:
            return None
        if _PLAIN_NAME.match(text.strip()):
            return self.name_of(text.strip())
        return self.reader.template(node, where)

    def _task(self, node: yaml.Node, *, where: str, wire: str) -> Wire:
        found = entries(self.reader, node, where, allowed=_TASK) or {}
        task: Wire = {}
        if "load" in found:
            self.reader.mark(f"{wire}.class", found["load"][0], f"{where}.load")
            task["class"] = self.reference(found["load"][1], where=f"{where}.load")
        self._hook_fields(found, task, where=where, wire=wire)
        if task.get("trigger") and "timeout" not in task:
            task["timeout"] = CALL_TIMEOUT
        return task

    def _call(self, node: yaml.Node, *, where: str, wire: str) -> Wire:
        found = entries(self.reader, node, where, allowed=_CALL) or {}
        call: Wire = {}
        for key in ("func", "return"):
            if key in found:
                self.reader.mark(f"{wire}.{key}", found[key][0], f"{where}.{key}")
                call[key] = scalar(self.reader, found[key][1], f"{where}.{key}")
        self._hook_fields(found, call, where=where, wire=wire)
        if not call.get("trigger"):
            self.reader.fail(node, where, "a call needs a `trigger` (without one it never runs)")
        call.setdefault("timeout", CALL_TIMEOUT)
        return call

    def _hook_fields(
        self, found: dict[str, tuple[yaml.Node, yaml.Node]], out: Wire, *, where: str, wire: str
    ) -> None:
        """trigger, await, timeout (empty means unset, as in AliECS) and critical."""
        for key in ("trigger", "await", "timeout"):
            if key in found:
                self.reader.mark(f"{wire}.{key}", found[key][0], f"{where}.{key}")
                text = scalar(self.reader, found[key][1], f"{where}.{key}")
                if text and text.strip():
                    out[key] = text.strip()
        if "critical" in found:
            self.reader.mark(f"{wire}.critical", found["critical"][0], f"{where}.critical")
            out["critical"] = flag(self.reader, found["critical"][1], f"{where}.critical")

    def _for(self, node: yaml.Node, *, where: str, wire: str) -> Wire:
        found = entries(self.reader, node, where, allowed=("range", "begin", "end", "var")) or {}
        out: Wire = {}
        for key, (key_node, value) in found.items():
            self.reader.mark(f"{wire}.{key}", key_node, f"{where}.{key}")
            if key == "var":
                out[key] = scalar(self.reader, value, f"{where}.var")
            else:
                out[key] = self.reader.template(value, f"{where}.{key}")
        return out
