"""A call's `return:` (AliECS): the plugin function's output kept in the named variable, with
the other plugin variables (status.pluginVars), seen by later hooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.environments.expansion import Hook
from controller.environments.hooks import call_plugin
from controller.integration import PluginCall, PluginCaller, PluginResult
from crds.moments import parse_moment
from crds.plugins import SHIPPED
from tests.environments.test_controller import Harness
from tests.integration.test_plugins import call, start


def echo(call: PluginCall) -> str:
    """A function whose output is text, as AliECS's plugin functions return."""
    return f"hello {call.vars['environment_id']}"


def both(call: PluginCall) -> PluginResult:
    return PluginResult(vars={"seen": "yes"}, output="out")


@pytest.fixture
def extra_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    functions = {
        **SHIPPED,
        "echo.Text": f"{__name__}:echo",
        "echo.Both": f"{__name__}:both",
    }
    monkeypatch.setattr("controller.integration.known_functions", lambda: functions)


def hook(func: str, returns: str) -> Hook:
    moment = parse_moment("before_START_ACTIVITY")
    variables = (("environment_id", "env-1"),)
    return Hook("c", (), moment, moment, 5.0, True, func=func, vars=variables, returns=returns)


@pytest.mark.parametrize(
    ("func", "returns", "expected"),
    [
        ("echo.Text", "answer", {"answer": "hello env-1"}),
        ("echo.Text", "", {}),
        ("echo.Both", "answer", {"seen": "yes", "answer": "out"}),
        ("testplugin.Set", "answer", {"answer": ""}),
    ],
)
async def test_return_variable_receives_the_output_next_to_returned_variables(
    extra_plugins: None, func: str, returns: str, expected: dict[str, str]
) -> None:
    caller = PluginCaller()
    try:
        result = await call_plugin(hook(func, returns), caller)
    finally:
        caller.close()
    assert result.ok and dict(result.vars) == expected


async def test_returned_output_reaches_plugin_vars_and_later_hooks(
    extra_plugins: None, h: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / "seen.txt"
    code = f"import sys; open({str(marker)!r}, 'w').write(sys.argv[1])"
    await start(
        h,
        call("echo", "before_START_ACTIVITY", func="echo.Text()", **{"return": "answer"}),
        call("show", "before_START_ACTIVITY+10", command=("python3", "-c", code, "{{ answer }}")),
        vars={},
    )
    env = await h.wait_state("physics-1", "RUNNING")
    assert env.status.plugin_vars["answer"] == "hello physics-1"
    assert marker.read_text() == "hello physics-1"
