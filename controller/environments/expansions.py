"""The environment controller's expansions: `expand()` of each environment, cached while its
inputs are the same, with the inputs the controller gathers for it (the Nodes' inventory, the
AliECS runtime values, the Workflows `include:` names). I/O: reads the informers and the
runtime keys."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence

from controller.configs.resolve import ConfigIndex
from controller.environments.expand import expand
from controller.environments.expansion import Expansion
from controller.environments.fmqargs import FairMQPlugin
from controller.runtime.reconciler import Context
from crds.aliecs.context import AliecsContext, Inventory
from crds.errors import TemplateError, ValidationError
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.task import Task
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from store.informer import Informer

EXPANSION_CACHE = 64
"""Environments whose last expansion is kept (a cache hit skips re-rendering every template)."""
RUNTIME_VALUES_KEY = "runtime/aliecs"
"""`<prefix>/runtime/aliecs/<environment>/<component>/<key>`: the values AliECS templates read
with `runtime.Get(component, key)` (crds.aliecs.context)."""


class Expansions:
    """Per environment (by uid), its last expansion and the inputs it was made from."""

    def __init__(self, ctx: Context, fairmq: FairMQPlugin) -> None:
        self.ctx = ctx
        self._fairmq = fairmq
        self._expansions: OrderedDict[str, tuple[object, object, Expansion]] = OrderedDict()
        self._nodes_seen: tuple[Sequence[Node], Inventory] = ((), Inventory())
        self._runtime_users: dict[tuple[str, str, int | None], bool] = {}

    async def get(
        self,
        env: Environment,
        workflow: Workflow,
        classes: dict[str, TaskClass],
        configs: list[ComponentConfig],
        workflows: WorkflowLookup,
    ) -> Expansion | TemplateError | ValidationError:
        """`expand()` of these inputs, cached per environment while none of them changes (of
        the spec only what expand() reads: a new spec.state keeps the expansion, which takes
        0.6 s for 10,000 tasks). A new run number, new plugin variables (status.pluginVars) or
        run times (status.runtimeVars) re-render the hooks and the START arguments alone.

        expand() runs in a worker thread: its templates, bounded as they are (crds.templatework),
        may take seconds for a large environment, and the event loop keeps the leader's lease
        and the other environments moving meanwhile. The inputs are informer objects, which
        nothing mutates, and expand() keeps its state to itself. Workflows it includes are part
        of the inputs: a cached expansion holds while each still has the version it used. The
        Nodes count through the inventory AliECS templates read (hostname, detector, cards),
        not their status."""
        inventory = self._inventory()
        runtime = await self._runtime_values(env, workflow, classes)
        key = (
            _configs_key(configs),
            env.spec.workflow,
            env.spec.run_type,
            tuple(sorted(env.spec.vars.items())),
            workflow.metadata.uid,
            workflow.metadata.resource_version,
            tuple(sorted((c.name, c.metadata.resource_version or 0) for c in classes.values())),
            inventory,
            tuple(sorted(runtime.items())),
        )
        run_number = env.status.run_number
        hooks_key = (
            run_number,
            tuple(sorted(env.status.plugin_vars.items())),
            tuple(sorted(env.status.runtime_vars.items())),
        )
        cached = self._expansions.get(env.metadata.uid)
        previous = None
        if cached is not None and cached[0] == key and workflows.current(cached[2].includes):
            previous = cached[2]
        if cached is not None and previous is not None and cached[1] == hooks_key:
            return previous
        try:
            expansion = await asyncio.to_thread(
                expand,
                env,
                workflow,
                classes,
                run_number=run_number,
                configs=ConfigIndex(configs),
                tasks_from=previous,
                workflows=workflows,
                aliecs=AliecsContext(inventory=inventory, runtime=runtime),
                fairmq=self._fairmq,
            )
        except (TemplateError, ValidationError) as exc:
            return exc  # plan() reports it
        self._expansions[env.metadata.uid] = (key, hooks_key, expansion)
        while len(self._expansions) > EXPANSION_CACHE:
            self._expansions.popitem(last=False)
        return expansion

    def _inventory(self) -> Inventory:
        """The Nodes' inventory, rebuilt only when the cache holds other Node objects (they are
        replaced, never changed, so the same objects mean the same inventory)."""
        nodes = self.ctx.cache(Node).list()
        seen, inventory = self._nodes_seen
        same = len(nodes) == len(seen) and all(a is b for a, b in zip(nodes, seen, strict=True))
        if not same:
            inventory = Inventory.from_nodes(nodes)
            self._nodes_seen = (nodes, inventory)
        return inventory

    async def _runtime_values(
        self, env: Environment, workflow: Workflow, classes: Mapping[str, TaskClass]
    ) -> dict[str, str]:
        """The AliECS runtime values of `env` by `<component>/<key>`, read (one range read)
        only when its workflow or a TaskClass calls `runtime.`."""
        if not self._uses_runtime(workflow, classes):
            return {}
        prefix = f"{self.ctx.store.prefix}/{RUNTIME_VALUES_KEY}/{env.name}/"
        raw = await self.ctx.kv.list_raw(prefix)
        return {k.removeprefix(prefix): v.decode(errors="replace") for k, v in raw.items()}

    def _uses_runtime(self, workflow: Workflow, classes: Mapping[str, TaskClass]) -> bool:
        uses = self._runtime_users
        if len(uses) > EXPANSION_CACHE * 16:
            uses.clear()
        for obj in (workflow, *classes.values()):
            key = (obj.kind, obj.name, obj.metadata.resource_version)
            if key not in uses:
                uses[key] = "runtime." in obj.model_dump_json()
            if uses[key]:
                return True
        return False


class WorkflowLookup(Mapping[str, Workflow]):
    """The Workflow cache as the mapping expand() resolves `include:` names in, remembering
    which names were asked for (so a Workflow applied or changed later requeues the
    environment, also after an expansion that failed on its absence)."""

    def __init__(self, cache: Informer[Workflow]) -> None:
        self._cache = cache
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> Workflow:
        self.asked.add(name)
        found = self._cache.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache.names())

    def __len__(self) -> int:
        return len(self._cache.names())

    def current(self, used: Mapping[str, int]) -> bool:
        """Whether each Workflow in `used` (name -> resourceVersion) still has that version
        (they count as asked for: a cached expansion still depends on them)."""
        self.asked.update(used)
        for name, version in used.items():
            found = self._cache.get(name)
            if found is None or (found.metadata.resource_version or 0) != version:
                return False
        return True


class TaskNames(Container[str]):
    """The names of the Tasks in the cache, each looked up when asked (`plan`'s `taken`: it
    asks only about the tasks it creates; a set of every name cost each reconcile of a large
    environment O(all tasks) for none)."""

    def __init__(self, cache: Informer[Task]) -> None:
        self._cache = cache

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._cache.get(name) is not None


def _configs_key(configs: Iterable[ComponentConfig]) -> tuple[tuple[str, int, int], ...]:
    """What of the ComponentConfigs an expansion depends on: their slots (generation) and the
    versions tasks receive (status.version)."""
    return tuple(sorted((c.name, c.metadata.generation, c.status.version) for c in configs))
