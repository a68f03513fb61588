"""A task role's TaskSpec from its TaskClass, rendered in the role's scope, and the other
per-role renderings the expansion shares (constraints, a plugin call's variable stack). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pydantic

from controller.environments import channels
from controller.environments.expansion import Hook
from controller.environments.fmqargs import FairMQPlugin, with_fairmq_arguments
from controller.environments.roleparts import role_error
from controller.environments.template import Scope
from crds.errors import TemplateError
from crds.kinds.channels import BindChannel, ConnectChannel
from crds.kinds.common import Command, Constraint
from crds.kinds.task import TaskSpec
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import CallRole
from crds.outputmode import parse_output_mode
from crds.plugins import parse_func


@dataclass(frozen=True)
class Inherited:
    """What a task gets from the roles above it: its path, constraints and channels."""

    path: str
    constraints: tuple[Constraint, ...]
    bind: tuple[BindChannel, ...]
    connect: tuple[ConnectChannel, ...]


def func_name(call: CallRole) -> str:
    return parse_func(call.func) if call.func is not None else ""


def call_stack(scope: Scope, call: CallRole, hook: Hook) -> tuple[tuple[str, str], ...]:
    """The variables a plugin function gets: the role's, rendered, and AliECS's call facts."""
    stack: dict[str, str] = {}
    for name in sorted(scope.names()):
        try:
            stack[name] = scope.value(name)
        except TemplateError:
            continue
    stack.update(
        __call_func=hook.func + "()",
        __call_timeout=f"{hook.timeout:g}s",
        __call_trigger=call.trigger,
        __call_await=call.await_ or call.trigger,
        __call_critical=str(call.critical).lower(),
        __call_rolepath=hook.path,
    )
    return tuple(stack.items())


def task_spec(
    taskclass: TaskClass,
    scope: Scope,
    *,
    upper: Inherited,
    env_name: str,
    critical: bool,
    fairmq: FairMQPlugin,
    task_id: str,
) -> TaskSpec:
    cls = taskclass.spec
    command = cls.command
    value = scope.render(command.value, field="command.value")
    arguments = tuple(
        scope.render(a, field=f"command.arguments[{i}]") for i, a in enumerate(command.arguments)
    )
    if cls.control == "fairmq":
        arguments = with_fairmq_arguments(arguments, task_id=task_id, plugin=fairmq)
    env = tuple((k, scope.render(v, field=f"command.env.{k}")) for k, v in command.env.items())
    resolved = _command(
        (
            value,
            arguments,
            env,
            command.shell,
            command.shell_arguments,
            scope.render(command.user, field="command.user").strip(),
            _output_mode(scope, command.stdout, field="command.stdout", path=upper.path),
            _output_mode(scope, command.stderr, field="command.stderr", path=upper.path),
        )
    )
    properties = {k: scope.render(v, field=f"properties.{k}") for k, v in cls.properties.items()}
    constraints = merge_constraints(render_constraints(cls.constraints, scope), upper.constraints)
    bind = channels.merge(channels.render_binds(cls.bind, scope), upper.bind)
    connect = channels.merge(channels.render_connects(cls.connect, scope), upper.connect)
    try:
        return TaskSpec(
            environment=env_name,
            role=upper.path,
            task_class=taskclass.name,
            command=resolved,
            control=cls.control,
            wants=cls.wants,
            limits=cls.limits,
            constraints=constraints,
            properties=properties,
            critical=critical,
            reusable=cls.reusable,
            bind=bind,
            connect=connect,
        )
    except pydantic.ValidationError as exc:
        raise role_error(upper.path, f"the resolved task is invalid: {exc}") from exc


_CommandFields = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], bool, bool, str, str, str]
"""value, arguments, env, shell, shell_arguments, user, stdout, stderr."""


@lru_cache(maxsize=1024)
def _command(fields: _CommandFields) -> Command:
    """The resolved Command, validated once per distinct value (the tasks of a class mostly
    share theirs: one object for all, as frozen models may be)."""
    value, arguments, env, shell, shell_arguments, user, stdout, stderr = fields
    return Command(
        value=value,
        arguments=arguments,
        env=dict(env),
        shell=shell,
        shell_arguments=shell_arguments,
        user=user,
        stdout=stdout,
        stderr=stderr,
    )


def render_constraints(constraints: tuple[Constraint, ...], scope: Scope) -> tuple[Constraint, ...]:
    rendered = []
    for index, c in enumerate(constraints):
        value = scope.render(c.value, field=f"constraints[{index}].value")
        try:
            rendered.append(c.model_copy(update={"value": value}) if value != c.value else c)
        except pydantic.ValidationError as exc:
            raise role_error(scope.where, f"constraints[{index}]: {exc}") from exc
    return tuple(rendered)


def merge_constraints(
    lower: tuple[Constraint, ...], upper: tuple[Constraint, ...]
) -> tuple[Constraint, ...]:
    """`lower` then `upper`, an upper constraint replacing a lower one on (attribute, operator)."""
    merged: dict[tuple[str, str], Constraint] = {}
    for c in (*lower, *upper):
        merged[(c.attribute, c.operator)] = c
    return tuple(merged.values())


def _output_mode(scope: Scope, template: str, *, field: str, path: str) -> str:
    """A rendered `command.stdout`/`stderr`, checked as AliECS checks it (none|stdout|all)."""
    try:
        return parse_output_mode(scope.render(template, field=field))
    except ValueError as exc:
        raise role_error(path, f"{field}: {exc}") from exc
