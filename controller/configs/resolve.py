"""Config resolution for tasks and the `config()` template helper. Pure: no store, no clock.

The resolution and rendering code itself lives in `crds.configresolve` / `crds.configpayload`
so that `o2 config show --render` runs exactly the same code; this module re-exports it and adds
`ConfigFunction`, the helper the workflow template engine exposes as
`{{ config("readout", entry="main") }}` (wiring it in is a few lines in the template engine).

Contract with the environment controller: per plan it builds `index = ConfigIndex(<cached
configs>)`; for each task it renders, `ConfigFunction(index, run_type=env.spec.run_type,
role=<role path>, variables=<the task's variables>)`, exposed to templates as `config`; after
CONFIGURE it merges `fn.used` into `env.status.configVersions` (`merge_refs`). Keys are
`<component>/<entry>`, values comma-separated `name@version` refs (one per distinct config, as
roles may resolve differently). The ComponentConfig controller watches those refs
(controller.configs.pending).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from crds.configpayload import check_format, format_for, parse_payload, render
from crds.configresolve import (
    ConfigIndex,
    Lookup,
    candidates,
    current_version,
    delivered,
    format_ref,
    is_recorded,
    parse_ref,
    payload_at,
    refs_of,
    render_config,
    resolve,
    version_ref,
)
from crds.kinds.componentconfig import ComponentConfig

__all__ = [
    "ConfigFunction",
    "ConfigIndex",
    "Lookup",
    "candidates",
    "check_format",
    "current_version",
    "delivered",
    "format_for",
    "format_ref",
    "is_recorded",
    "merge_refs",
    "parse_payload",
    "parse_ref",
    "payload_at",
    "refs_of",
    "render",
    "render_config",
    "resolve",
    "usage_key",
    "version_ref",
]


def usage_key(component: str, entry: str) -> str:
    """The key under which `env.status.configVersions` records a component entry."""
    return f"{component}/{entry}"


def merge_refs(recorded: Mapping[str, str], used: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """`recorded` with the entries in `used` replaced by their (sorted, unique) refs."""
    merged = dict(recorded)
    for key, refs in used.items():
        merged[key] = ",".join(sorted(set(refs)))
    return merged


class ConfigFunction:
    """`config(component, entry="main")` for one task: resolve, render, check, remember.

    `used` maps `<component>/<entry>` to the refs this task received, for
    `env.status.configVersions`.
    """

    def __init__(
        self,
        configs: ConfigIndex | Sequence[ComponentConfig],
        *,
        run_type: str,
        role: str,
        variables: Mapping[str, object],
    ) -> None:
        self._index = configs if isinstance(configs, ConfigIndex) else ConfigIndex(configs)
        self._run_type = run_type
        self._role = role
        self._variables = variables
        self.used: dict[str, set[str]] = {}

    def __call__(self, component: str, entry: str = "main") -> str:
        cc = self._index.resolve(
            component=component,
            entry=entry,
            run_type=self._run_type,
            role=self._role,
        )
        text = render_config(cc, self._variables)
        self.used.setdefault(usage_key(component, entry), set()).add(version_ref(cc))
        return text
