"""`o2 config`'s reads and writes of the configuration repository. Store I/O, no printing.

Lookups go through crds.configresolve, the resolution the controllers use, so the CLI finds
the config a task of that run type and role would be given.
"""

from __future__ import annotations

from collections.abc import Sequence

from cli.cas import update_spec
from crds.configpayload import check_payload
from crds.configresolve import parse_ref, refs_of, resolve, run_type_rank
from crds.kinds.componentconfig import ComponentConfig, ComponentConfigSpec
from crds.kinds.environment import Environment
from crds.meta import ObjectMeta
from crds.names import join_label
from store.api import Store


async def list_configs(store: Store, component: str | None = None) -> list[ComponentConfig]:
    items = (await store.list(ComponentConfig)).items
    return [cc for cc in items if component is None or cc.spec.component == component]


async def lookup(
    store: Store, component: str, entry: str, *, run_type: str, role: str
) -> ComponentConfig:
    """What a task of `run_type` and `role` would be given (ConfigNotFoundError otherwise)."""
    configs = await list_configs(store, component)
    return resolve(configs, component=component, entry=entry, run_type=run_type, role=role)


async def users_of(store: Store, name: str) -> dict[int, list[str]]:
    """Which environments were configured with which version of config `name`."""
    return users_by_version(name, (await store.list(Environment)).items)


def users_by_version(name: str, envs: Sequence[Environment]) -> dict[int, list[str]]:
    """Read from each environment's status.configVersions, where the environment controller
    records the versions its tasks were configured with."""
    users: dict[int, list[str]] = {}
    for env in envs:
        for value in env.status.config_versions.values():
            for ref in refs_of(value):
                ref_name, version = parse_ref(ref)
                if ref_name == name and version is not None:
                    users.setdefault(version, []).append(env.metadata.name)
    return users


def import_name(component: str, entry: str, *, run_type: str, role: str) -> str:
    """The name `o2 config import` gives a new config: `<component>-<runtype>-<role>-<entry>`."""
    return join_label(component, run_type, role, entry)


def find_slot(
    configs: Sequence[ComponentConfig], component: str, entry: str, *, run_type: str, role: str
) -> ComponentConfig | None:
    """The config stored for exactly this slot (no fallback), if any."""
    for cc in sorted(configs, key=lambda c: c.metadata.name):
        s = cc.spec
        same_run_type = run_type_rank(s.run_type, run_type) == 1
        if (s.component, s.entry, s.role) == (component, entry, role) and same_run_type:
            return cc
    return None


def check_import(spec: ComponentConfigSpec, *, source: str) -> None:
    """Refuse a payload that cannot parse, as the controller would mark it not Ready."""
    check_payload(spec.format, spec.data, config=source)


async def import_config(
    store: Store, spec: ComponentConfigSpec, *, name: str | None = None
) -> tuple[ComponentConfig, str]:
    """Create the config of `spec`'s slot or update its payload; (object, what happened)."""
    configs = await list_configs(store, spec.component)
    existing = find_slot(
        configs, spec.component, spec.entry, run_type=spec.run_type, role=spec.role
    )
    if existing is None:
        meta = ObjectMeta(
            name=name
            or import_name(spec.component, spec.entry, run_type=spec.run_type, role=spec.role)
        )
        return await store.create(ComponentConfig(metadata=meta, spec=spec)), "created"

    def mutate(cc: ComponentConfig) -> ComponentConfig:
        new_spec = cc.spec.model_copy(update={"data": spec.data, "format": spec.format})
        return cc.model_copy(update={"spec": new_spec})

    updated = await update_spec(store, ComponentConfig, existing.metadata.name, mutate=mutate)
    same = updated.metadata.generation == existing.metadata.generation
    return updated, "unchanged" if same else "configured"
