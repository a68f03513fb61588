"""Config resolution for tasks and the `config()` template helper. Pure: no store, no clock.

The resolution and rendering code itself lives in `crds.configresolve` / `crds.configpayload`
so that `o2 config show --render` runs exactly the same code; this module re-exports it and adds
`ConfigFunction`, the helper the workflow template engine exposes as
`{{ config("readout", entry="main") }}` (wiring it in is a few lines in the template engine).

Contract with the environment controller: for each task it renders, it builds one
`ConfigFunction(configs, run_type=env.spec.run_type, role=<role path>, variables=<the task's
variables>)`, puts it in the template globals as `config`, and after CONFIGURE merges
`fn.used` into `env.status.configVersions` (`merge_refs`). Keys are `<component>/<entry>`,
values comma-separated `name@version` refs (one per distinct config, as roles may resolve
differently). The ComponentConfig controller watches those refs (controller.configs.pending).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from crds.configpayload import format_for, parse_payload, render
from crds.configresolve import (
    Lookup,
    candidates,
    current_version,
    format_ref,
    parse_ref,
    payload_at,
    resolve,
    version_ref,
)
from crds.kinds.componentconfig import ComponentConfig

__all__ = [
    "ConfigFunction",
    "Lookup",
    "candidates",
    "current_version",
    "format_for",
    "format_ref",
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


def refs_of(value: str) -> list[str]:
    """The `name@version` refs recorded in one configVersions value."""
    return [ref.strip() for ref in value.split(",") if ref.strip()]


def merge_refs(recorded: Mapping[str, str], used: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """`recorded` with the entries in `used` replaced by their (sorted, unique) refs."""
    merged = dict(recorded)
    for key, refs in used.items():
        merged[key] = ",".join(sorted(set(refs)))
    return merged


def render_config(
    cc: ComponentConfig, variables: Mapping[str, object], *, check_format: bool = True
) -> str:
    """The payload of `cc` rendered with `variables`, checked against its format.

    ConfigError names the config (`componentconfig/<name>@<version>`) and the line.
    """
    where = f"componentconfig/{version_ref(cc)}"
    text = render(cc.spec.data, variables, config=where)
    if check_format:
        parse_payload(cc.spec.format, text, config=where)
    return text


class ConfigFunction:
    """`config(component, entry="main")` for one task: resolve, render, check, remember.

    `used` maps `<component>/<entry>` to the refs this task received, for
    `env.status.configVersions`.
    """

    def __init__(
        self,
        configs: Sequence[ComponentConfig],
        *,
        run_type: str,
        role: str,
        variables: Mapping[str, object],
    ) -> None:
        self._configs = configs
        self._run_type = run_type
        self._role = role
        self._variables = variables
        self.used: dict[str, set[str]] = {}

    def __call__(self, component: str, entry: str = "main") -> str:
        cc = resolve(
            self._configs,
            component=component,
            entry=entry,
            run_type=self._run_type,
            role=self._role,
        )
        text = render_config(cc, self._variables)
        self.used.setdefault(usage_key(component, entry), set()).add(version_ref(cc))
        return text
