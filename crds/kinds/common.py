"""Types shared by several kinds: template values, commands, resource wants, constraints. Pure."""

from __future__ import annotations

import json
import re
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from crds.meta import O2Model

if TYPE_CHECKING:
    import jinja2


@cache
def _syntax() -> jinja2.Environment:
    """Only parses (never renders): rendering happens in the sandbox of the template engine.
    Built on the first template checked: reading objects without templates (`o2 get env`)
    need not import jinja2."""
    import jinja2

    return jinja2.Environment(autoescape=False)


def _scalar_to_text(value: object) -> object:
    """Let YAML authors write `rate: 100` or `detectors: [TPC]`: store them as JSON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    if isinstance(value, date):  # YAML reads 2026-01-01 as a date
        return value.isoformat()
    return value


def check_template_syntax(value: str) -> str:
    """`value` unchanged if its `{{ }}` / `{% %}` parts parse; ValueError naming the line if not.

    Catches broken templates at apply time; whether names and filters exist is only known when
    the template engine renders it.
    """
    if "{{" not in value and "{%" not in value:
        return value
    import jinja2

    try:
        _syntax().parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error at line {exc.lineno}: {exc.message}") from exc
    return value


def _template_text(value: object) -> object:
    """`value` as template text: scalars as JSON text (`_scalar_to_text`), its syntax checked.

    One call per field, a plain string first: every stored Task holds some 17 of them.
    """
    if type(value) is not str:
        value = _scalar_to_text(value)
        if not isinstance(value, str):
            return value  # not text: the str schema rejects it
    if "{" not in value or ("{{" not in value and "{%" not in value):
        return value  # the usual case, one scan of the text: no template, no second call
    return check_template_syntax(value)


TemplateValue = Annotated[str, BeforeValidator(_template_text)]
"""A string that may hold `{{ expression }}` (syntax checked on input); numbers, booleans and
lists become JSON text."""

Vars = dict[str, TemplateValue]
"""Variables, defaults or properties: names to (templated) string values."""

CONTROL_MODE_ALIASES = {"occ": "direct"}
"""Deprecated control mode names still accepted on input: o2's `occ` is AliECS's `direct`."""


def _control_alias(value: object) -> object:
    return CONTROL_MODE_ALIASES.get(value, value) if isinstance(value, str) else value


ControlMode = Annotated[
    Literal["direct", "fairmq", "basic", "process"], BeforeValidator(_control_alias)
]
"""How the executor controls a task, named as in AliECS: `direct` (an OCC task in the OCC state
machine: OCClib tasks, o2 SDK tasks), `fairmq` (a FairMQ device through its OCC plugin: FairMQ
states and multi-step transitions) or `basic` (AliECS's run-to-completion command: no process
until START, killed at STOP, its exit only ends the run's work). o2's own `process` is a plain
long-running process started at launch (pilots): running means RUNNING, exit 0 DONE, any other
exit ERROR. `occ` is accepted as the deprecated name of `direct`."""


PLAIN_CONTROL_MODES = frozenset({"basic", "process"})
"""Control modes without OCC: no control port, no OCC state machine in the process."""


def uses_occ(control: str) -> bool:
    """Whether a task of this control mode serves OCC (and so needs a control port)."""
    return control not in PLAIN_CONTROL_MODES


OccState = Literal["STANDBY", "CONFIGURED", "RUNNING", "ERROR", "DONE"]
DesiredOccState = Literal["STANDBY", "CONFIGURED", "RUNNING", "DONE"]
ConstraintOperator = Literal["EQUALS", "NOT_EQUALS", "IN", "REGEX", "UNIQUE"]


class Command(O2Model):
    """What to run: argv (`value` + `arguments`), never through a shell unless `shell` is true."""

    value: TemplateValue = Field(min_length=1)
    """The program: a path or a name looked up in PATH on the agent (a template)."""
    arguments: tuple[TemplateValue, ...] = ()
    """Arguments, each one argv element; no word splitting, no shell expansion."""
    env: Vars = Field(default_factory=dict)
    """Extra environment variables for the process."""
    shell: bool = False
    """Run `value` as a /bin/sh -c script, each argument appended shell-quoted (one literal
    word each, whatever it holds). Off by default, on purpose."""
    shell_arguments: bool = False
    """With `shell`: append the arguments unquoted, joined by spaces, as AliECS's executor joins
    them (`'--x=a b'` reaches the program as `--x=a b`, and an argument may hold shell syntax;
    like `value`, it then must not be filled from untrusted variables). The AliECS translator
    sets it for task templates with `shell: true`."""
    user: TemplateValue = ""
    """The Unix user the process runs as (AliECS's `command.user`); empty: the executor's
    own user. A user that does not exist, or that the executor may not switch to, fails the
    task with a clear reason."""
    stdout: TemplateValue = ""
    """Where the process's standard output goes, as AliECS's `log_task_stdout`: `none`
    (discarded), `stdout` (the executor's own output), `all` (also kept for `o2 logs`);
    empty: o2's default, kept in the task's sandbox for `o2 logs`."""
    stderr: TemplateValue = ""
    """As `stdout`, for standard error."""


class Wants(O2Model):
    """Resources one task needs on its agent."""

    cpus: float = Field(default=0.1, ge=0)
    """CPU shares (fractions allowed)."""
    memory: int = Field(default=64, ge=0)
    """Memory in MB."""
    ports: int = Field(default=0, ge=0)
    """How many ports to take from the agent's port ranges; the process gets them in status."""


class Limits(O2Model):
    """Upper bounds of a task's resources (Mesos TaskInfo limits; absent: no limit)."""

    cpus: float | None = Field(default=None, ge=0)
    """Most CPU shares the task may use."""
    memory: int | None = Field(default=None, ge=0)
    """Most memory in MB; the task is killed beyond it."""


class Constraint(O2Model):
    """An agent-attribute rule a task's placement must satisfy."""

    attribute: str = Field(min_length=1)
    """Agent attribute name (e.g. `detector`, or `hostname`/`machine_id` for pinning)."""
    operator: ConstraintOperator = "EQUALS"
    """EQUALS, NOT_EQUALS, IN (value is a comma-separated list), REGEX (full match), or UNIQUE
    (at most one such task per distinct attribute value)."""
    value: TemplateValue = ""
    """The value compared with; may be a `{{ }}` template in workflows. Empty for UNIQUE.
    For IN: a JSON list (`["TPC", "ITS"]`, also written as a YAML list) or `TPC,ITS`."""

    def choices(self) -> tuple[str, ...]:
        """The values of an IN constraint (JSON list or comma-separated), stripped."""
        text = self.value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                items = None
            if isinstance(items, list):
                return tuple(str(i).strip() for i in items)
        return tuple(part.strip() for part in text.split(",") if part.strip())

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Constraint:
        if self.operator == "UNIQUE":
            return self
        if not self.value:
            raise ValueError(f"operator {self.operator} needs a value")
        if self.operator == "REGEX" and "{{" not in self.value:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(
                    f"value {self.value!r} is not a regular expression: {exc}"
                ) from exc
        return self


def count_text(done: int, total: int) -> str:
    """`3/5`, as the TASKS column prints it."""
    return f"{done}/{total}"


def opt(value: object) -> str:
    """A printer cell: empty for None, `str(value)` otherwise."""
    return "" if value is None else str(value)


EnvironmentState = Literal["STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "ERROR", "DONE"]
DesiredEnvironmentState = Literal["STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "DONE"]
ENVIRONMENT_STATES: tuple[str, ...] = (
    "STANDBY",
    "DEPLOYED",
    "CONFIGURED",
    "RUNNING",
    "ERROR",
    "DONE",
)
ENVIRONMENT_EVENTS: tuple[str, ...] = (
    "DEPLOY",
    "CONFIGURE",
    "START_ACTIVITY",
    "STOP_ACTIVITY",
    "RESET",
    "EXIT",
    "GO_ERROR",
    "RECOVER",
)

TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "DEPLOY": (("STANDBY",), "DEPLOYED"),
    "CONFIGURE": (("DEPLOYED",), "CONFIGURED"),
    "START_ACTIVITY": (("CONFIGURED",), "RUNNING"),
    "STOP_ACTIVITY": (("RUNNING",), "CONFIGURED"),
    "RESET": (("CONFIGURED",), "DEPLOYED"),
    "EXIT": (("STANDBY", "DEPLOYED", "CONFIGURED"), "DONE"),
    "GO_ERROR": (("STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING"), "ERROR"),
    "RECOVER": (("ERROR",), "DEPLOYED"),
}
"""The environment state machine (DESIGN §3): event -> (source states, destination state)."""
