"""Which ComponentConfig a task receives, and version references. Pure; CLI and controller share it.

Lives in `crds` (not in controller/) so that `o2 config show` and the controllers run the very
same resolution: the CLI may not import controller code.

Resolution, as AliECS' `o2/components/<component>/<RUNTYPE>/<role>/<entry>` with ANY/any
fallbacks: among the configs of `component` and `entry` (deleted ones excluded), a config
applies when its run type is the lookup's (case-insensitive) or ANY, and its role matches
(see `role_rank`) or is `any`. The most specific applies, role before run type:

    exact runType + role  >  ANY + role  >  exact runType + any  >  ANY + any

Role matching: a task's role is its expanded role path (`flp-TPC.readout`). A config's
`spec.role` matches it as the whole path (most specific) or as the path's last segment
(`readout`, any detector). A whole-path match outranks a last-segment match even across run
types (`ANY/flp-TPC.readout` beats `PHYSICS/readout`). Two configs with the same rank (two
resources claiming the same slot) are resolved by name, lowest first, so the answer is stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crds.configpayload import check_format, render
from crds.errors import ConfigError, ConfigNotFoundError
from crds.kinds.componentconfig import ANY_ROLE, ANY_RUN_TYPE, ComponentConfig, ConfigVersion


@dataclass(frozen=True)
class Lookup:
    """What a task asks for: one entry of one component, for its run type and role path."""

    component: str
    entry: str = "main"
    run_type: str = ANY_RUN_TYPE
    role: str = ANY_ROLE

    def __str__(self) -> str:
        return f"{self.component}/{self.run_type}/{self.role}/{self.entry}"


def role_rank(config_role: str, role: str) -> int | None:
    """2: whole role path; 1: last path segment; 0: `any`; None: does not apply."""
    if config_role == role:
        return 0 if config_role == ANY_ROLE else 2
    if config_role == ANY_ROLE:
        return 0
    if config_role == role.rsplit(".", 1)[-1]:
        return 1
    return None


def run_type_rank(config_run_type: str, run_type: str) -> int | None:
    """1: exact run type (case-insensitive); 0: ANY; None: does not apply."""
    if config_run_type.upper() == ANY_RUN_TYPE:
        return 1 if run_type.upper() == ANY_RUN_TYPE else 0
    return 1 if config_run_type.upper() == run_type.upper() else None


def rank(cc: ComponentConfig, lookup: Lookup) -> tuple[int, int] | None:
    """(role rank, run type rank) of `cc` for `lookup`, higher is more specific; None: no match."""
    spec = cc.spec
    if spec.component != lookup.component or spec.entry != lookup.entry:
        return None
    if cc.metadata.deletion_timestamp is not None:
        return None
    by_role = role_rank(spec.role, lookup.role)
    by_run_type = run_type_rank(spec.run_type, lookup.run_type)
    if by_role is None or by_run_type is None:
        return None
    return by_role, by_run_type


def candidates(configs: Iterable[ComponentConfig], lookup: Lookup) -> list[ComponentConfig]:
    """Every config that applies to `lookup`, most specific first (ties by name)."""
    ranked = [(r, cc) for cc in configs if (r := rank(cc, lookup)) is not None]
    ranked.sort(key=lambda pair: (-pair[0][0], -pair[0][1], pair[1].metadata.name))
    return [cc for _, cc in ranked]


def resolve(
    configs: Iterable[ComponentConfig],
    *,
    component: str,
    entry: str = "main",
    run_type: str = ANY_RUN_TYPE,
    role: str = ANY_ROLE,
) -> ComponentConfig:
    """The most specific config for the lookup; ConfigNotFoundError saying what was sought."""
    index = ConfigIndex(configs)
    return index.resolve(component=component, entry=entry, run_type=run_type, role=role)


class ConfigIndex:
    """Configs grouped by component and entry, for the many lookups of one plan (one per task).

    A lookup costs the configs of its component and entry, not all of them, and repeated
    lookups (every task of a role) are answered from a memo. Build a new index per plan.
    """

    def __init__(self, configs: Iterable[ComponentConfig]) -> None:
        self._all = list(configs)
        self._by_entry: dict[tuple[str, str], list[ComponentConfig]] = {}
        for cc in self._all:
            self._by_entry.setdefault((cc.spec.component, cc.spec.entry), []).append(cc)
        self._memo: dict[Lookup, ComponentConfig] = {}

    def resolve(
        self,
        *,
        component: str,
        entry: str = "main",
        run_type: str = ANY_RUN_TYPE,
        role: str = ANY_ROLE,
    ) -> ComponentConfig:
        """As `resolve` (same precedence, same errors)."""
        lookup = Lookup(component=component, entry=entry, run_type=run_type, role=role)
        hit = self._memo.get(lookup)
        if hit is not None:
            return hit
        found = candidates(self._by_entry.get((component, entry), ()), lookup)
        if not found:
            raise ConfigNotFoundError(str(lookup), _not_found_reason(self._all, lookup))
        self._memo[lookup] = found[0]
        return found[0]


def _not_found_reason(configs: list[ComponentConfig], lookup: Lookup) -> str:
    same = [cc for cc in configs if cc.spec.component == lookup.component]
    tried = (
        f"tried {lookup.run_type}/{lookup.role}, {ANY_RUN_TYPE}/{lookup.role}, "
        f"{lookup.run_type}/{ANY_ROLE} and {ANY_RUN_TYPE}/{ANY_ROLE}"
    )
    if not same:
        return f"no ComponentConfig for component {lookup.component!r} ({tried})"
    entries = sorted({cc.spec.entry for cc in same})
    if lookup.entry not in entries:
        return f"component {lookup.component!r} has no entry {lookup.entry!r} (entries: " + (
            ", ".join(entries) + f"; {tried})"
        )
    slots = sorted(
        f"{cc.spec.run_type}/{cc.spec.role}" for cc in same if cc.spec.entry == lookup.entry
    )
    return f"no config applies ({tried}; existing: {', '.join(slots)})"


def current_version(cc: ComponentConfig) -> int:
    """The version `spec.data` has, or will have once the controller records it.

    The controller records a payload change as `status.version + 1` (record_version). For
    display only: tasks receive recorded versions (`delivered`), never a predicted one.
    """
    return cc.status.version if is_recorded(cc) else cc.status.version + 1


def is_recorded(cc: ComponentConfig) -> bool:
    """Whether the controller has recorded `spec.data` as the current version."""
    history = cc.status.history
    return bool(history) and history[-1].data == cc.spec.data


def delivered(cc: ComponentConfig) -> ConfigVersion:
    """The version tasks receive: the last one the controller recorded.

    Only recorded versions are handed out, so a `name@version` ref always means one payload
    (two quick edits before the controller looks become one version). A payload edited since
    is delivered once recorded, and the environments using the config are then marked
    ConfigChangePending. ConfigError when nothing is recorded yet.
    """
    if not cc.status.history:
        reason = "no version recorded yet (the ComponentConfig controller records it)"
        raise ConfigError(f"componentconfig/{cc.metadata.name}", reason)
    return cc.status.history[-1]


def version_ref(cc: ComponentConfig) -> str:
    """`name@version` of the payload tasks receive now (the last recorded version)."""
    return format_ref(cc.metadata.name, cc.status.version)


def format_ref(name: str, version: int) -> str:
    return f"{name}@{version}"


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`name@version` -> (name, version); a bare name or a bad number gives version None."""
    name, sep, version = ref.strip().rpartition("@")
    if not sep:
        return version, None
    return (name, int(version)) if version.isdigit() else (name, None)


def refs_of(value: str) -> list[str]:
    """The `name@version` refs recorded in one `status.configVersions` value (comma-separated)."""
    return [ref.strip() for ref in value.split(",") if ref.strip()]


def payload_at(cc: ComponentConfig, version: int) -> str:
    """The payload of `version` (the current one, or one kept in history); KeyError if gone."""
    if version == current_version(cc):
        return cc.spec.data
    for old in cc.status.history:
        if old.version == version:
            return old.data
    raise KeyError(version)


def render_config(
    cc: ComponentConfig, variables: Mapping[str, object], *, check: bool = True
) -> str:
    """What a task receives from `cc`: its delivered payload rendered with `variables`, and
    format-checked. ConfigError names the config (`componentconfig/<name>@<version>`), the line.
    """
    version = delivered(cc)
    where = f"componentconfig/{format_ref(cc.metadata.name, version.version)}"
    text = render(version.data, variables, config=where)
    if check:
        check_format(cc.spec.format, text, config=where)
    return text
