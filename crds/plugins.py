"""The names of the integration plugin functions a Workflow may call (`func: dcs.StartOfRun()`).
Pure: reads installed package metadata only, never imports a plugin.

Plugins are discovered through the entry-point group `o2.plugins`: one entry point per
function, named `<plugin>.<Function>` and pointing at the callable (`module:attribute`), so the
names can be checked at apply (crds.kinds.workflow) without importing any plugin code, and the
controller (controller.integration) imports a plugin only when one of its functions is called.
The plugins shipped with o2 are declared in pyproject.toml and listed here as well (SHIPPED), so
a source checkout whose installed metadata predates them still knows them.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import entry_points

from crds.labels import PLUGIN_ENTRY_POINTS

GROUP = PLUGIN_ENTRY_POINTS
APPLY = "apply"
"""Validation context key, set when a manifest is applied (not when a stored object is read):
only apply checks that the plugin functions a Workflow calls are installed, so a stored
Workflow stays readable after a plugin is removed (the call then fails when it is due)."""

SHIPPED: dict[str, str] = {
    "testplugin.Noop": "controller.integration.testplugin:noop",
    "testplugin.Test": "controller.integration.testplugin:test",
    "testplugin.Fail": "controller.integration.testplugin:fail",
    "testplugin.Sleep": "controller.integration.testplugin:sleep",
    "testplugin.Set": "controller.integration.testplugin:set_vars",
    "dcs.PrepareForRun": "controller.integration.dcs:prepare_for_run",
    "dcs.StartOfRun": "controller.integration.dcs:start_of_run",
    "dcs.EndOfRun": "controller.integration.dcs:end_of_run",
}
"""The functions shipped with o2, as pyproject.toml declares them."""

_FUNC = re.compile(r"^\s*(?P<plugin>[A-Za-z_]\w*)\.(?P<function>[A-Za-z_]\w*)\s*(?:\(\s*\))?\s*$")


@cache
def known_functions() -> dict[str, str]:
    """`<plugin>.<Function>` -> `module:attribute`, shipped and installed (read once)."""
    found = dict(SHIPPED)
    for point in entry_points(group=GROUP):
        found.setdefault(point.name, point.value)
    return found


def parse_func(text: str) -> str:
    """The canonical `<plugin>.<Function>` of a call role's `func` (AliECS writes
    `dcs.StartOfRun()`); ValueError when it has another shape."""
    match = _FUNC.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a plugin function call: write <plugin>.<Function>(), "
            "e.g. dcs.StartOfRun()"
        )
    return f"{match.group('plugin')}.{match.group('function')}"


def check_known(name: str) -> None:
    """ValueError naming the known plugins (or functions of that plugin) when `name` (canonical)
    is not an installed plugin function."""
    known = known_functions()
    if name in known:
        return
    plugin = name.split(".", 1)[0]
    same = sorted(k for k in known if k.split(".", 1)[0] == plugin)
    if same:
        raise ValueError(f"plugin {plugin!r} has no function {name!r} (it has: {', '.join(same)})")
    plugins = sorted({k.split(".", 1)[0] for k in known})
    raise ValueError(
        f"unknown plugin {plugin!r} in {name!r} (installed: {', '.join(plugins)}); "
        f"install the package that provides it (entry points {GROUP!r})"
    )
