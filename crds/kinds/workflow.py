"""Workflow: a template of roles (task, call, aggregator, iterator) for Environments. Pure."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from crds.duration import TemplatedDuration
from crds.kinds.channels import BindChannel, ConnectChannel
from crds.kinds.common import (
    Constraint,
    TemplateValue,
    Vars,
)
from crds.meta import O2Model, Status
from crds.moments import check_await, checked_moment
from crds.plugins import APPLY, check_known, parse_func
from crds.resource import KindInfo, PrinterColumn, Resource, register

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXPRESSION = re.compile(r"\{\{.*?\}\}")
_ROLE_NAME = re.compile(r"^[A-Za-z0-9_-]*$")


class TaskRole(O2Model):
    """Run one task of a TaskClass per expansion of this role; with `trigger`, a task hook."""

    class_: str = Field(alias="class", min_length=1)
    """The TaskClass name (may be a `{{ }}` template); AliECS's `load`."""
    critical: bool = True
    """A failure of this task moves the environment to ERROR; if false it is only reported.
    A task hook's critical failure fails the transition like a call hook's."""
    trigger: str | None = None
    """Makes this role a task hook (AliECS's `hook` control mode): at this moment (as a call
    role's `trigger`) the command runs once, to completion, as a Task placed by the role's
    constraints (on an agent, as its TaskClass user), then is gone. Exit 0 is success."""
    await_: str | None = Field(default=None, alias="await")
    """When the task hook must have finished, if later than `trigger` (default: at it)."""
    timeout: TemplatedDuration = "30s"
    """How long a task hook may take before it is killed and counts as failed (AliECS's
    default 30 s); ignored without `trigger`, as AliECS does for basic tasks."""

    @field_validator("trigger", "await_")
    @classmethod
    def _is_moment(cls, value: str | None) -> str | None:
        return checked_moment(value)

    @model_validator(mode="after")
    def _hook_fields(self) -> TaskRole:
        if self.await_ is not None and self.trigger is None:
            raise ValueError("await needs a trigger (only task hooks are awaited)")
        check_await(self.trigger, self.await_)
        return self


class CallRole(O2Model):
    """A hook run at a moment of an environment transition: a command, or (`func`) a function
    of an integration plugin. Exactly one of the two."""

    command: tuple[TemplateValue, ...] = ()
    """argv of the hook (no shell); elements may be `{{ }}` templates."""
    func: str | None = None
    """An integration plugin function, AliECS style: `dcs.StartOfRun()`, `testplugin.Test()`.
    It gets the role's whole variable stack (read-only) and the variables it returns are kept
    in status.pluginVars: later hooks see them, and tasks receive them at START. A plugin or
    function that is not installed is refused at apply."""
    env: Vars = Field(default_factory=dict)
    """Environment variables of the hook (templates). A hook gets these and a few of the
    controller's own (PATH, HOME, locale, TZ, USER, TMPDIR, ...), never its settings or secrets."""
    trigger: str
    """When it starts, e.g. `before_START_ACTIVITY+10`, `enter_RUNNING-200`, `DESTROY`:
    before_/after_<EVENT> (DESTROY too), enter_/leave_<STATE>, bare <EVENT> (= after_) or
    <STATE> (= enter_), with an optional weight."""
    await_: str | None = Field(default=None, alias="await")
    """When it must have finished, if later than `trigger` (default: at the trigger)."""
    timeout: TemplatedDuration = "10s"
    """How long the hook may run before it counts as failed."""
    return_: str | None = Field(default=None, alias="return")
    """AliECS's `return`: the variable that receives the plugin function's result (as text),
    kept with the other plugin variables; only with `func`."""
    critical: bool = True
    """A failure sends the environment through GO_ERROR to ERROR (the transition fails where
    it stood at before_/leave_, after reaching its destination at enter_/after_); a
    non-critical failure is only reported."""

    @field_validator("trigger", "await_")
    @classmethod
    def _is_moment(cls, value: str | None) -> str | None:
        return checked_moment(value)

    @field_validator("func")
    @classmethod
    def _is_function(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        name = parse_func(value)
        if isinstance(info.context, dict) and info.context.get(APPLY):
            check_known(name)
        return value

    @model_validator(mode="after")
    def _command_or_func(self) -> CallRole:
        if bool(self.command) == (self.func is not None):
            raise ValueError("a call needs exactly one of `command` (argv) and `func`")
        if self.return_ is not None:
            if self.func is None:
                raise ValueError("`return` needs `func` (a command's output is not a variable)")
            if not _IDENTIFIER.match(self.return_):
                raise ValueError(f"return {self.return_!r} is not a variable name")
        return self

    @model_validator(mode="after")
    def _await_after_trigger(self) -> CallRole:
        check_await(self.trigger, self.await_)
        return self


class ForEach(O2Model):
    """Iterator: expand the child roles once per value of `range`, or per integer from `begin`
    to `end` (AliECS's two forms; exactly one of them)."""

    range: TemplateValue | None = None
    """A template giving a JSON list (e.g. `{{ detectors }}`) or a comma-separated list."""
    begin: TemplateValue | None = None
    """First integer of a counted iterator (a template)."""
    end: TemplateValue | None = None
    """Last integer of a counted iterator, included as in AliECS (a template)."""
    var: str
    """The variable that holds the current value inside the children."""

    @model_validator(mode="after")
    def _range_or_count(self) -> ForEach:
        counted = self.begin is not None or self.end is not None
        if self.range is not None and counted:
            raise ValueError("an iterator has either `range` or `begin`/`end`, not both")
        if self.range is None and (self.begin is None or self.end is None):
            raise ValueError("an iterator needs `range`, or both `begin` and `end`")
        if self.range is not None and not self.range:
            raise ValueError("`range` is empty")
        return self

    @field_validator("var")
    @classmethod
    def _is_identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a variable name (letters, digits, '_')")
        return value


class Role(O2Model):
    """A node of the role tree: exactly one of `task`, `call`, `include`, `roles` (aggregator),
    or `for` with `roles` (iterator)."""

    name: TemplateValue = Field(min_length=1)
    """The role's name, part of the role path (`a.b.c`) and of task names: letters, digits,
    '-' and '_' around `{{ }}` expressions (no '.' or '/')."""
    enabled: TemplateValue | None = None
    """A template; when it renders false-y ("false", "0", ""), the role and its subtree are off."""
    replicas: TemplateValue | None = None
    """A template giving how many copies of this role to run (default 1)."""
    defaults: Vars = Field(default_factory=dict)
    """Variables of this subtree, above Workflow defaults, below vars."""
    vars: Vars = Field(default_factory=dict)
    """Variables of this subtree, above defaults, below the Environment's vars."""
    constraints: tuple[Constraint, ...] = ()
    """Placement rules inherited by every task below."""
    task: TaskRole | None = None
    """This role runs one task."""
    call: CallRole | None = None
    """This role is a hook."""
    include: TemplateValue | None = None
    """This role is the role tree of another Workflow (a subworkflow), named by a template
    resolved at expansion (AliECS's `include:`); a disabled include is never resolved."""
    for_: ForEach | None = Field(default=None, alias="for")
    """This role is an iterator over its `roles`."""
    roles: tuple[Role, ...] = ()
    """Child roles (aggregator or iterator)."""
    bind: tuple[BindChannel, ...] = ()
    """Inbound data-flow channels of every task below (added to its TaskClass's)."""
    connect: tuple[ConnectChannel, ...] = ()
    """Outbound data-flow channels of every task below (added to its TaskClass's)."""

    @field_validator("name")
    @classmethod
    def _name_chars(cls, value: str) -> str:
        if not _ROLE_NAME.match(_EXPRESSION.sub("", value)):
            raise ValueError(
                f"role name {value!r} may hold only letters, digits, '-' and '_' "
                "(plus {{ }} expressions)"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one_shape(self) -> Role:
        pairs = (
            ("task", self.task),
            ("call", self.call),
            ("include", self.include),
            ("for", self.for_),
        )
        shapes = [name for name, value in pairs if value is not None]
        if self.task is not None or self.call is not None or self.include is not None:
            if len(shapes) > 1 or self.roles:
                raise ValueError(
                    _shape_help(self.name, [*shapes, *(["roles"] if self.roles else [])])
                )
        elif not self.roles:
            which = "an iterator (for) needs" if self.for_ is not None else "it needs"
            raise ValueError(
                f"role {self.name!r} does nothing: {which} child roles, or give it a task, "
                "call or include"
            )
        _check_unique_names(self.roles)
        return self


def _shape_help(name: str, found: list[str]) -> str:
    return (
        f"role {name!r} has {' and '.join(found)}: a role has exactly one of task, call, "
        "include, roles (aggregator) or for + roles (iterator)"
    )


def _check_unique_names(roles: tuple[Role, ...]) -> None:
    """Sibling names are unique, except that roles with the same name may each be switched by
    `enabled` (as AliECS's `dpl` alternatives): at most one may be on after expansion, which
    the expansion checks."""
    seen: dict[str, Role] = {}
    for role in roles:
        if "{{" in role.name:
            continue
        other = seen.get(role.name)
        if other is not None and (role.enabled is None or other.enabled is None):
            raise ValueError(
                f"two sibling roles are named {role.name!r}; names must be unique unless "
                "every role of that name has `enabled` (at most one may be on)"
            )
        seen[role.name] = role


VariableType = Literal["string", "number", "bool", "list", "map"]


class VariableSpec(O2Model):
    """A public variable's declaration (AliECS's `!public` metadata): what the GUI's form and
    `o2 describe workflow` show, and what user values are checked against. The value itself
    stays in `defaults` or `vars`."""

    type: VariableType = "string"
    """string, number, bool ("true"/"false"), list (a JSON list) or map (a JSON object)."""
    label: str = ""
    """Short title of the field."""
    description: str = ""
    """Help text."""
    widget: str = ""
    """AliECS GUI widget: editBox, slider, listBox, dropDownBox, comboBox, radioButtonBox,
    checkBox (free text, kept as written)."""
    panel: str = ""
    """The GUI panel the field is shown in."""
    values: tuple[str, ...] = ()
    """Allowed values (empty: any value of the type)."""
    index: int = 0
    """Order within the panel."""
    rows: int | None = None
    """Height of a multi-line text field."""
    visibleif: str = ""
    """A GUI condition (AliECS syntax, e.g. `$$trg_enabled === "true"`) showing the field."""
    enabledif: str = ""
    """A GUI condition making the field editable."""


class WorkflowSpec(O2Model):
    """A role tree plus the variables its templates start from."""

    description: str = ""
    """What the workflow is for (shown by `o2 get/describe workflow` and the GUI)."""
    public: bool = False
    """Offered to operators as a workflow to create environments from (AliECS's `!public`
    name); private ones are subworkflows and tests."""
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    """Declarations of the public variables (typed, with GUI metadata); each must have a
    value in `defaults` or `vars`, of the workflow or of a role (AliECS declares a call's
    public parameters on its role)."""
    defaults: Vars = Field(default_factory=dict)
    """Variables above TaskClass defaults, below role defaults."""
    vars: Vars = Field(default_factory=dict)
    """Variables above role defaults, below role vars and the Environment's vars."""
    roles: tuple[Role, ...]
    """The top-level roles (at least one)."""

    @model_validator(mode="after")
    def _unique_top_names(self) -> WorkflowSpec:
        if not self.roles:
            raise ValueError("a workflow needs at least one role")
        _check_unique_names(self.roles)
        return self

    @model_validator(mode="after")
    def _declared_variables_have_values(self) -> WorkflowSpec:
        """AliECS declares public variables where their value is, also in a role's defaults
        or vars (a call's parameters): a value anywhere in the workflow counts."""
        if not self.variables:
            return self
        valued = set(self.defaults) | set(self.vars)
        for _, role in walk_roles(self.roles):
            valued.update(role.defaults, role.vars)
        missing = sorted(set(self.variables) - valued)
        if missing:
            raise ValueError(
                f"public variable(s) {', '.join(missing)} declared in `variables` without a "
                "value in `defaults` or `vars` (of the workflow or of a role)"
            )
        return self


class Workflow(Resource):
    """A template that Environments instantiate."""

    kind: Literal["Workflow"] = "Workflow"
    """Always Workflow."""
    spec: WorkflowSpec
    """The role tree and its variables."""
    status: Status = Field(default_factory=Status)
    """Unused: workflows have no status."""

    KIND: ClassVar[str] = "Workflow"


def walk_roles(roles: tuple[Role, ...], *, prefix: str = "") -> list[tuple[str, Role]]:
    """Every role with its (unexpanded) path `a.b.c`, depth-first, parents before children."""
    found: list[tuple[str, Role]] = []
    for role in roles:
        path = f"{prefix}.{role.name}" if prefix else role.name
        found.append((path, role))
        found.extend(walk_roles(role.roles, prefix=path))
    return found


def _count(wf: Workflow, shape: str) -> str:
    roles = [r for _, r in walk_roles(wf.spec.roles)]
    if shape == "task":
        return str(sum(1 for r in roles if r.task is not None))
    return str(sum(1 for r in roles if r.call is not None))


def _description(wf: Workflow) -> str:
    """The description on one line, cut to fit a table."""
    text = " ".join(wf.spec.description.split())
    return text if len(text) <= 60 else text[:59] + "…"


INFO = register(
    KindInfo(
        kind="Workflow",
        plural="workflows",
        singular="workflow",
        short_names=("wf",),
        model=Workflow,
        has_status=False,
        columns=(
            PrinterColumn("NAME", lambda o: o.metadata.name),
            PrinterColumn("ROLES", lambda o: str(len(o.spec.roles))),
            PrinterColumn("TASK-ROLES", lambda o: _count(o, "task")),
            PrinterColumn("CALLS", lambda o: _count(o, "call"), wide_only=True),
            PrinterColumn("DESCRIPTION", _description, wide_only=True),
        ),
    )
)
