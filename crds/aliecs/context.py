"""AliECS template functions that need the environment: built per role scope. Pure: no I/O.

An expansion runs in a worker thread without the store: what these functions read comes from an
`AliecsContext` the controller fills before expanding (Node resources, configs, runtime values).

- `Parent()`, `Up(n)`: the role `n` levels above the one being expanded, as `.Path`, `.Name`;
  `This()` the role itself.
- `uid.New()`: an id shaped like AliECS's (11 base58 characters), derived from the environment,
  the place being rendered (role path and field) and the call's position in it, so that a
  re-render gives the same ids.
- `util.PrefixedOverride(name, prefix)`: `<prefix>_<name>` from the role's variables, else `name`.
- `inventory.*`: from Node resources (crds.labels DETECTOR_ATTRIBUTE, MACHINE_ID_ATTRIBUTE,
  CARDS_ANNOTATION).
- `config.Resolve/ResolvePath/Get`: the ComponentConfigs, ANY/any fallbacks (crds.configresolve).
- `runtime.Get(component, key)`: the environment's runtime values, as read when the expansion
  started (the controller reads `<prefix>/runtime/aliecs/<env>/`; empty text when unset).
  `runtime.Set` changes what later `runtime.Get` calls of the same expansion read and returns
  the value; a template never writes the store, since it renders again at any time (a write
  per render would make rendering change state).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from crds.aliecs.library import Util, prefixed_override
from crds.configresolve import ConfigIndex, render_config
from crds.errors import ConfigError
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.node import Node
from crds.labels import CARDS_ANNOTATION, DETECTOR_ATTRIBUTE, MACHINE_ID_ATTRIBUTE
from crds.templatehelpers import Namespace, TemplateFunctionError, as_text, to_json

__all__ = [
    "AliecsContext",
    "Host",
    "Inventory",
    "RoleFunctions",
    "RoleScope",
    "config_namespace",
    "new_uid",
]

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
UID_LENGTH = 11


@dataclass(frozen=True)
class Host:
    """What the inventory knows of one machine."""

    hostname: str
    detector: str = ""
    cards: tuple[tuple[str, str], ...] = ()
    """(card serial, endpoint) pairs, in the order of the Node's annotation keys."""


@dataclass(frozen=True)
class Inventory:
    """Hosts by hostname and by `machine_id` attribute."""

    hosts: Mapping[str, Host] = field(default_factory=dict)

    @classmethod
    def from_nodes(cls, nodes: Iterable[Node]) -> Inventory:
        """The inventory of `nodes`; a malformed cards annotation counts as no cards."""
        hosts: dict[str, Host] = {}
        for node in nodes:
            attributes = node.status.attributes
            names = [node.status.hostname, attributes.get(MACHINE_ID_ATTRIBUTE, "")]
            host = Host(
                hostname=node.status.hostname or node.name,
                detector=attributes.get(DETECTOR_ATTRIBUTE, ""),
                cards=_cards(node.metadata.annotations.get(CARDS_ANNOTATION, "")),
            )
            for name in names:
                if name:
                    hosts.setdefault(name, host)
        return cls(hosts)

    def host(self, name: object) -> Host:
        found = self.hosts.get(as_text(name))
        if found is None:
            raise TemplateFunctionError(
                f"no Node has hostname or {MACHINE_ID_ATTRIBUTE} {as_text(name)!r} "
                "(`o2 get nodes` lists them)"
            )
        return found


@lru_cache(maxsize=4096)
def _cards(text: str) -> tuple[tuple[str, str], ...]:
    """AliECS's cards inventory (`{"<key>": {"serial": ..., "endpoint": ...}}`) as pairs."""
    try:
        cards = json.loads(text) if text else {}
    except ValueError:
        return ()
    if not isinstance(cards, dict):
        return ()
    pairs = []
    for key in sorted(cards):
        card = cards[key]
        if isinstance(card, dict):
            pairs.append((as_text(card.get("serial", "")), as_text(card.get("endpoint", ""))))
    return tuple(pairs)


@dataclass(frozen=True)
class AliecsContext:
    """What the environment-bound functions read, snapshotted before an expansion."""

    environment: str = ""
    run_type: str = ""
    inventory: Inventory = field(default_factory=Inventory)
    configs: ConfigIndex | None = None
    runtime: Mapping[str, str] = field(default_factory=dict)
    """Runtime values by `<component>/<key>`."""
    written: dict[str, str] = field(default_factory=dict)
    """`runtime.Set` values of this expansion (see the module docstring)."""


class _InventoryNs(Namespace):
    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    def DetectorForHost(self, host: object) -> str:
        found = self._inventory.host(host)
        if not found.detector:
            raise TemplateFunctionError(
                f"Node {found.hostname!r} has no {DETECTOR_ATTRIBUTE!r} attribute"
            )
        return found.detector

    def DetectorsForHosts(self, hosts: object) -> str:
        """A JSON list of hosts in, the sorted JSON list of their detectors out."""
        names = json.loads(as_text(hosts)) if not isinstance(hosts, list) else hosts
        if not isinstance(names, list):
            raise TemplateFunctionError("DetectorsForHosts takes a JSON list of hostnames")
        return to_json(sorted({self.DetectorForHost(name) for name in names}))

    def CRUCardsForHost(self, host: object) -> str:
        serials = dict.fromkeys(serial for serial, _ in self._inventory.host(host).cards)
        return to_json(list(serials))

    def EndpointsForCRUCard(self, host: object, serial: object) -> str:
        cards = self._inventory.host(host).cards
        return " ".join(end for card, end in cards if card == as_text(serial))


class _ConfigNs(Namespace):
    """AliECS's `config.*`; calling it is o2's own `config(component, entry=...)` when the role
    is a task (`call`)."""

    def __init__(
        self,
        context: AliecsContext,
        variables: Mapping[str, object],
        call: Callable[..., str] | None,
    ) -> None:
        self._context = context
        self._variables = variables
        self._call = call

    def __call__(self, *args: object, **kwargs: object) -> str:
        if self._call is None:
            raise TemplateFunctionError("config() reads a ComponentConfig for a task only")
        return self._call(*args, **kwargs)

    def Resolve(self, component: object, run_type: object, role: object, entry: object) -> str:
        """The path of the config that applies, ANY/any fallbacks resolved."""
        cc = self._find(component, run_type, role, entry)
        spec = cc.spec
        return f"{spec.component}/{spec.run_type}/{spec.role}/{spec.entry}"

    def ResolvePath(self, path: object) -> str:
        return self.Resolve(*_path(path))

    def Get(self, path: object) -> str:
        """The payload of the config that applies, rendered with the role's variables."""
        cc = self._find(*_path(path))
        try:
            return render_config(cc, self._variables)
        except ConfigError as exc:
            raise TemplateFunctionError(str(exc)) from exc

    def _find(
        self, component: object, run_type: object, role: object, entry: object
    ) -> ComponentConfig:
        if self._context.configs is None:
            raise TemplateFunctionError("no ComponentConfigs were given to this expansion")
        try:
            return self._context.configs.resolve(
                component=as_text(component),
                entry=as_text(entry),
                run_type=as_text(run_type) or "ANY",
                role=as_text(role) or "any",
            )
        except ConfigError as exc:
            raise TemplateFunctionError(str(exc)) from exc


def _path(path: object) -> tuple[str, str, str, str]:
    """`component/RUNTYPE/role/entry` (AliECS's query path; a `@version` suffix is ignored)."""
    parts = as_text(path).split("@", 1)[0].strip("/").split("/")
    if len(parts) != 4 or not all(parts):
        raise TemplateFunctionError(
            f"config path {as_text(path)!r} is not component/RUNTYPE/role/entry"
        )
    return parts[0], parts[1], parts[2], parts[3]


class _RuntimeNs(Namespace):
    def __init__(self, context: AliecsContext) -> None:
        self._context = context

    def Get(self, component: object, key: object) -> str:
        name = f"{as_text(component)}/{as_text(key)}"
        written = self._context.written.get(name)
        return written if written is not None else self._context.runtime.get(name, "")

    def Set(self, component: object, key: object, value: object) -> str:
        text = as_text(value)
        self._context.written[f"{as_text(component)}/{as_text(key)}"] = text
        return text


class _UidNs(Namespace):
    """Deterministic ids: see the module docstring."""

    def __init__(self, environment: str, place: Callable[[], str]) -> None:
        self._environment = environment
        self._place = place
        self._calls: dict[str, int] = {}

    def New(self) -> str:
        place = self._place()
        index = self._calls.get(place, 0)
        self._calls[place] = index + 1
        return new_uid(f"{self._environment}\0{place}\0{index}")


def new_uid(seed: str) -> str:
    """UID_LENGTH base58 characters derived from `seed`."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    chars = []
    for _ in range(UID_LENGTH):
        number, digit = divmod(number, 58)
        chars.append(_BASE58[digit])
    return "".join(reversed(chars))


class _RoleUtil(Namespace):
    """`util.*` with the role's variables (PrefixedOverride) and the context-free rest."""

    def __init__(self, variables: Mapping[str, object]) -> None:
        self._variables = variables

    def PrefixedOverride(self, name: object, prefix: object) -> str:
        return prefixed_override(self._variables, as_text(name), as_text(prefix))

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(Util, name)


def _ancestor(parent: str | None, levels: object, where: str) -> dict[str, str] | None:
    """AliECS's `Up(levels)`: the role that many levels above (1: the parent), as `Path` and
    `Name`; None for levels <= 0, an error past the top of the tree."""
    count = int(as_text(levels))
    if count <= 0:
        return None
    segments = parent.split(".") if parent else []
    if count > len(segments):
        raise TemplateFunctionError(f"role {where!r} has no ancestor {count} level(s) up")
    path = ".".join(segments[: len(segments) - count + 1])
    return {"Path": path, "Name": path.rsplit(".", 1)[-1]}


def config_namespace(
    context: AliecsContext, variables: Mapping[str, object], call: Callable[..., str] | None
) -> Namespace:
    """`config`: AliECS's `config.*`, and o2's `config(component, entry=...)` when called."""
    return _ConfigNs(context, variables, call)


class RoleScope(Protocol):
    """What RoleFunctions reads of a role's scope (controller.environments.template.Scope)."""

    @property
    def where(self) -> str: ...

    @property
    def rendering(self) -> str:
        """The place (role path and field) being rendered."""
        ...

    def lookup(self) -> Mapping[str, object]: ...


class RoleFunctions(Mapping[str, object]):
    """The functions of one role's scope, each built when a template first uses it: a role's
    fields are rendered in several scopes, and most never call one of these."""

    NAMES = ("Parent", "Up", "This", "uid", "util", "inventory", "config", "runtime")

    __slots__ = ("_built", "_context", "_parent", "_scope")

    def __init__(self, context: AliecsContext, scope: RoleScope, parent: str | None) -> None:
        self._context = context
        self._scope = scope
        self._parent = parent
        self._built: dict[str, object] | None = None

    def __getitem__(self, name: str) -> object:
        if self._built is None:
            self._built = {}
        built = self._built.get(name)
        if built is None:
            built = self._built[name] = self._build(name)
        return built

    def __contains__(self, name: object) -> bool:
        return name in self.NAMES

    def __iter__(self) -> Iterator[str]:
        return iter(self.NAMES)

    def __len__(self) -> int:
        return len(self.NAMES)

    def _build(self, name: str) -> object:
        context, parent, scope = self._context, self._parent, self._scope
        if name == "Parent":
            return lambda: _ancestor(parent, 1, scope.where)
        if name == "Up":
            return lambda levels: _ancestor(parent, levels, scope.where)
        if name == "This":
            return lambda: {"Path": scope.where, "Name": scope.where.rsplit(".", 1)[-1]}
        if name == "uid":
            return _UidNs(context.environment, lambda: scope.rendering)
        if name == "util":
            return _RoleUtil(scope.lookup())
        if name == "inventory":
            return _InventoryNs(context.inventory)
        if name == "config":
            return _ConfigNs(context, scope.lookup(), None)
        if name == "runtime":
            return _RuntimeNs(context)
        raise KeyError(name)
