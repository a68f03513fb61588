"""Which Environments a ComponentConfig change leaves stale. Pure: callers pass caches and `now`.

An Environment uses a config when one of the `name@version` refs in `status.configVersions`
(recorded by the environment controller at CONFIGURE, see controller.configs.resolve) names it.
While the environment is CONFIGURED or RUNNING, a ref whose config has a newer recorded
version (or was deleted) makes the condition `ConfigChangePending=True` (reason ConfigChanged;
the message lists `name vOLD -> vNEW`). The environment controller reacts per
`spec.reconfigure` (RESET + CONFIGURE of the affected tasks only; while RUNNING at the next
run or now) and records the new refs; then this condition goes back to False (ConfigCurrent) on
its own, level-triggered. In other states a True condition is set False (NotConfigured): the
next CONFIGURE resolves afresh. A new, more specific config that would shadow a recorded one is
not detected here: it applies at the next CONFIGURE.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.configs.resolve import parse_ref, refs_of
from controller.runtime.status import condition
from crds.conditions import get_condition
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment
from crds.meta import Condition

PENDING = "ConfigChangePending"
CONFIGURED_STATES = frozenset({"CONFIGURED", "RUNNING"})


def referenced_names(env: Environment) -> set[str]:
    """Names of the ComponentConfigs the environment was configured with."""
    names = set()
    for value in env.status.config_versions.values():
        for ref in refs_of(value):
            names.add(parse_ref(ref)[0])
    return names


def stale_refs(env: Environment, configs: Mapping[str, ComponentConfig]) -> list[str]:
    """What changed since the environment was configured: `name vOLD -> vNEW` or `name deleted`."""
    changes: set[str] = set()
    for value in env.status.config_versions.values():
        for ref in refs_of(value):
            name, version = parse_ref(ref)
            cc = configs.get(name)
            if cc is None or cc.metadata.deletion_timestamp is not None:
                changes.add(f"componentconfig/{name} deleted")
            elif version is None or cc.status.version != version:
                changes.add(f"componentconfig/{name} v{version} -> v{cc.status.version}")
    return sorted(changes)


def pending_condition(env: Environment, configs: Mapping[str, ComponentConfig]) -> Condition | None:
    """The ConfigChangePending condition the environment should have (None: leave it alone)."""
    existing = get_condition(env.status.conditions, PENDING)
    if env.status.state not in CONFIGURED_STATES:
        if existing is not None and existing.status == "True":
            return condition(
                PENDING, False, reason="NotConfigured", message="applies at the next CONFIGURE"
            )
        return None
    changes = stale_refs(env, configs)
    if changes:
        how = f"applied per spec.reconfigure={env.spec.reconfigure}"
        return condition(
            PENDING, True, reason="ConfigChanged", message=f"{'; '.join(changes)} ({how})"
        )
    if existing is None and not env.status.config_versions:
        return None
    return condition(PENDING, False, reason="ConfigCurrent", message="")
