"""`testplugin`: functions that succeed, fail, sleep and set variables, for testing workflows
and o2 itself (as AliECS's core/integration/testplugin). Not for production.

Variables it reads, as AliECS's: `testplugin_fail` (true: Test fails), `testplugin_hang`
(true: Test sleeps past its timeout); and `testplugin_sleep` (Sleep: a Go/o2 duration),
`testplugin_set` (Set: a JSON object of the variables to return).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping

from controller.integration import PluginCall
from crds.duration import parse_duration
from crds.errors import PluginError
from crds.templatehelpers import is_truthy


def noop(call: PluginCall) -> Mapping[str, str]:
    """Do nothing, successfully."""
    return {}


def test(call: PluginCall) -> Mapping[str, str]:
    """Record that it ran (`<role path>_called` = "true", as AliECS's Test); fail when
    `testplugin_fail` is true; outlive its timeout when `testplugin_hang` is true."""
    if is_truthy(call.vars.get("testplugin_fail", "false")):
        raise PluginError("error triggered in testplugin.Test call")
    if is_truthy(call.vars.get("testplugin_hang", "false")):
        _wait(call.timeout + 1.0)
    return {f"{call.vars.get('__call_rolepath', 'call')}_called": "true"}


def fail(call: PluginCall) -> Mapping[str, str]:
    """Always fail, with `testplugin_message` when set."""
    raise PluginError(call.vars.get("testplugin_message", "testplugin.Fail called"))


def sleep(call: PluginCall) -> Mapping[str, str]:
    """Sleep `testplugin_sleep` (default 1s), then succeed."""
    text = call.vars.get("testplugin_sleep", "1s")
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise PluginError(f"testplugin_sleep: {exc}") from exc
    _wait(seconds)
    return {}


def set_vars(call: PluginCall) -> Mapping[str, str]:
    """Return the variables of `testplugin_set` (a JSON object of strings)."""
    text = call.vars.get("testplugin_set", "{}")
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise PluginError(f"testplugin_set is not JSON: {exc}") from exc
    if not isinstance(values, dict):
        raise PluginError("testplugin_set must be a JSON object")
    return {str(k): str(v) for k, v in values.items()}


def _wait(seconds: float) -> None:
    """Block this worker thread for `seconds` (a plugin thread, never the event loop)."""
    threading.Event().wait(seconds)
