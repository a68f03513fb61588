"""AliECS's role forms and variable sources that the expansion reads: include roles, counted
iterators, site-wide defaults and typed public variables. Pure: no store, no clock.

- `include: NAME` resolves NAME (rendered) among the Workflows the caller passes in (the
  environment controller's cache); includes nest at most MAX_INCLUDE_DEPTH deep and never in a
  cycle.
- `for: {begin, end, var}` counts from begin to end, both included (AliECS's iteratorRangeFor).
- Site defaults are AliECS's installation defaults (Consul `o2/runtime/aliecs/defaults`:
  `consul_endpoint`, `modulepath`, `o2_install_path`, ...). o2 keeps them in one
  ComponentConfig: component SITE_COMPONENT (`aliecs`), entry SITE_ENTRY (`defaults`), format
  yaml or json, a flat map of variable name to value (each value a template, like any
  variable); resolved for the environment's run type (ANY as the fallback, as every
  ComponentConfig lookup). No such ComponentConfig: no site defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from crds.aliecs.load import referenced_name
from crds.configpayload import parse_payload
from crds.configresolve import ConfigIndex
from crds.errors import (
    ConfigError,
    ConfigNotFoundError,
    FieldError,
    TemplateError,
    ValidationError,
)
from crds.kinds.componentconfig import ANY_ROLE
from crds.kinds.environment import Environment
from crds.kinds.workflow import Role, Workflow
from crds.publicvars import is_template, value_problem

MAX_INCLUDE_DEPTH = 16
"""Nested includes allowed below the environment's own workflow."""
MAX_COUNT = 200_000
"""Values a counted iterator may produce (the expansion's role bound)."""
SITE_COMPONENT = "aliecs"
SITE_ENTRY = "defaults"


def included_workflow(
    workflows: Mapping[str, Workflow], name: str, *, chain: Sequence[str], where: str
) -> Workflow:
    """The Workflow `name` included at role `where` below the includes `chain` (the
    environment's workflow first); ValidationError for an unknown name, a cycle or a chain
    deeper than MAX_INCLUDE_DEPTH."""
    if not name:
        raise role_error(where, "include renders to an empty workflow name")
    if name in chain:
        loop = " -> ".join((*chain[chain.index(name) :], name))
        raise role_error(where, f"include {name!r} is a cycle ({loop}): remove one of them")
    if len(chain) > MAX_INCLUDE_DEPTH:
        raise role_error(
            where,
            f"include {name!r} nests deeper than {MAX_INCLUDE_DEPTH} workflows "
            f"({' -> '.join(chain)})",
        )
    found = workflows.get(name) or workflows.get(referenced_name(name))
    if found is None:
        raise role_error(
            where, f"include {name!r}: no Workflow of that name (apply it, or fix the name)"
        )
    return found


def counted(begin: str, end: str, *, where: str) -> list[str]:
    """The values of `for: {begin, end}` (rendered): begin..end, end included; none when
    end < begin (as AliECS)."""
    try:
        first, last = int(begin.strip()), int(end.strip())
    except ValueError as exc:
        raise role_error(
            where, f"for.begin and for.end must be whole numbers, got {begin!r} and {end!r}"
        ) from exc
    if last - first + 1 > MAX_COUNT:
        raise role_error(where, f"for {first}..{last} gives more than {MAX_COUNT} values")
    return [str(i) for i in range(first, last + 1)]


def site_defaults(configs: ConfigIndex, *, run_type: str) -> tuple[str, Mapping[str, str]]:
    """(label, variables) of the site defaults for `run_type`; an empty map when none are
    kept; ValidationError naming the ComponentConfig when its payload is no flat map."""
    try:
        cc = configs.resolve(
            component=SITE_COMPONENT, entry=SITE_ENTRY, run_type=run_type, role=ANY_ROLE
        )
    except ConfigNotFoundError:
        return "site defaults", {}
    where = f"componentconfig/{cc.name}"
    fmt = cc.spec.format if cc.spec.format in ("yaml", "json") else "yaml"
    try:
        parsed = parse_payload(fmt, cc.spec.data, config=where) if cc.spec.data.strip() else {}
    except ConfigError as exc:
        raise _site_error(where, str(exc)) from exc
    if not isinstance(parsed, dict):
        raise _site_error(where, "site defaults must be a map of variable name to value")
    values: dict[str, str] = {}
    for key, value in parsed.items():
        if isinstance(value, dict | list) or value is None:
            raise _site_error(where, f"{key}: a site default is text, a number or a boolean")
        values[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return f"site defaults ({where})", values


def check_public_vars(env: Environment, workflow: Workflow, *, render: Callable[..., str]) -> None:
    """Each spec.vars value of a declared public variable fits its declaration (type, allowed
    values); a templated one is checked as `render` (the top of the tree) gives it, unless it
    does not render there (e.g. it uses run_number: reported where it is used, if it is)."""
    declared = workflow.spec.variables
    for key, value in env.spec.vars.items():
        variable = key.rsplit(":", 1)[-1]
        spec = declared.get(variable)
        if spec is None:
            continue
        try:
            text = render(value, field=f"spec.vars.{key}") if is_template(value) else value
        except TemplateError:
            continue
        problem = value_problem(spec, text)
        if problem is not None:
            message = f"public variable {variable!r}: {problem}"
            error = FieldError(f"spec.vars.{key}", message, kind="Environment", name=env.name)
            raise ValidationError([error])


def role_shape(role: Role) -> str:
    """What a role is, to tell same-named siblings apart in messages."""
    if role.task is not None:
        return f"task {role.task.class_}"
    if role.include is not None:
        return f"include {role.include}"
    if role.call is not None:
        return f"call {role.call.func or ' '.join(role.call.command)}"
    return "iterator" if role.for_ is not None else "aggregator"


def role_error(path: str, message: str) -> ValidationError:
    """A problem of the role at `path` of the environment's workflow tree."""
    return ValidationError([FieldError(path=f"roles {path}", message=message, kind="Workflow")])


def _site_error(where: str, message: str) -> ValidationError:
    name = where.partition("/")[2]
    return ValidationError(
        [FieldError(path="spec.data", message=message, kind="ComponentConfig", name=name)]
    )
