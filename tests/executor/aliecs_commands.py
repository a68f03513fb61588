"""ControlWorkflows task templates -> the command o2's executor runs, for the stand-in tests.

Test-only: the few expr-lang forms the task templates use (`name`, `len(x)>0 ? a : b`,
`x == 'true' ? 'a' : 'b'`, `'s' + x`) are turned into Python and evaluated over the template's
`defaults`/`vars` and the test's variables; the AliECS dialect itself is the templating
engine's job (crds), not this file's. `env` entries `K=V` become the mapping o2 keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from executor.supervisor import CommandSpec

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "tests" / "data" / "controlworkflows" / "tasks"
INSTALL = REPO / "tests" / "data" / "aliecs_install"
EXPRESSION = re.compile(r"{{(.*?)}}", re.DOTALL)


def _split_top(text: str, sep: str) -> tuple[str, str] | None:
    """`text` split at the first `sep` outside quotes and parentheses."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            return text[:i], text[i + 1 :]
    return None


def _python(expr: str) -> str:
    ternary = _split_top(expr, "?")
    if ternary is None:
        return expr.replace("&&", " and ").replace("||", " or ")
    cond, rest = ternary
    branches = _split_top(rest, ":")
    assert branches is not None, expr
    yes, no = branches
    return f"(({_python(yes)}) if ({_python(cond)}) else ({_python(no)}))"


def render(text: str, variables: dict[str, str]) -> str:
    """`text` with every `{{ }}` evaluated, again while the result still holds templates."""
    for _ in range(10):
        if "{{" not in text:
            return text
        text = EXPRESSION.sub(
            lambda m: str(eval(_python(m.group(1).strip()), {"len": len}, dict(variables))),
            text,
        )
    raise AssertionError(f"templates do not converge: {text}")


@dataclass(frozen=True)
class Template:
    name: str
    control: str
    command: CommandSpec


def load(name: str, variables: dict[str, str]) -> Template:
    """Task template `name` rendered over its defaults and vars, then `variables` (higher)."""
    doc: dict[str, Any] = yaml.safe_load((TEMPLATES / f"{name}.yaml").read_text())
    scope = {k: str(v) for k, v in (doc.get("defaults") or {}).items()}
    scope.update({k: str(v) for k, v in (doc.get("vars") or {}).items()})
    scope.update(variables)
    for key in list(scope):  # defaults refer to each other (`readout_cfg_uri`)
        scope[key] = render(scope[key], scope)
    cmd = doc["command"]
    env = {}
    for item in cmd.get("env") or ():
        key, _, value = render(item, scope).partition("=")
        env[key] = value
    command = CommandSpec(
        value=render(cmd["value"], scope),
        arguments=tuple(render(a, scope) for a in cmd.get("arguments") or ()),
        env=env,
        shell=str(cmd.get("shell", "false")).lower() == "true",
        user=render(str(cmd.get("user", "")), scope),
        stdout=render(str(cmd.get("stdout", "")), scope).strip().lower(),
        stderr=render(str(cmd.get("stderr", "")), scope).strip().lower(),
    )
    control = str((doc.get("control") or {}).get("mode", "direct"))
    return Template(name=name, control=control, command=command)
