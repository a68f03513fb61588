"""The variables pushed to tasks at START besides the run number. Pure: no I/O.

As AliECS's START_ACTIVITY does (transition_startactivity.go): the values of a fixed list of
keys from the environment's variables (root role scope, with the plugins' variables), each
under its snake_case and its camelCase name. o2 pushes the integration plugins' own variables
too (under their names), so what a `func:` hook returns reaches every task at START.
"""

from __future__ import annotations

from collections.abc import Mapping

START_KEYS = (
    "fill_info_fill_number",
    "fill_info_filling_scheme",
    "fill_info_beam_type",
    "fill_info_stable_beams_start_ms",
    "fill_info_stable_beams_end_ms",
    "run_type",
    "run_start_time_ms",
    "run_end_time_ms",
    "lhc_period",
    "pdp_beam_type",
    "pdp_override_run_start_time",
    "original_run_number",
)
"""AliECS's StartActivityParameterKeys but `run_number` (o2 sends it from Task spec.runNumber)."""


def camel(name: str) -> str:
    """`fill_info_fill_number` -> `fillInfoFillNumber` (AliECS's strcase.ToLowerCamel)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def start_arguments(known: Mapping[str, str], plugin_vars: Mapping[str, str]) -> dict[str, str]:
    """The START arguments: `plugin_vars` as they are, then each START_KEYS value of `known`
    (the environment's variables, plugin variables included) under both of its names."""
    args = dict(plugin_vars)
    for key in START_KEYS:
        if key in known:
            args[key] = known[key]
            args[camel(key)] = known[key]
    return args
