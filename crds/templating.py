"""The one Jinja2 sandbox of o2: workflow values and ComponentConfig payloads. Pure: no I/O.
The engine (allowed attributes, filters, globals, bounded operators) is crds.templatesandbox;
this module compiles, checks the shape of and runs templates.

Lives in crds so the controllers, the CLI (`o2 config show --render`) and tests evaluate every
`{{ }}` the same way. Helpers and value bounds are in crds.templatehelpers.

How a hostile template is kept from hanging or exhausting its caller:
- Jinja2's SandboxedEnvironment: no `_`-attributes, no Python internals, no imports, no files.
  On top of it, attribute access is allowed only for a short list of harmless `str`, `dict` and
  `list` methods and for the helper namespaces; `str.format` is refused.
- Only expressions: a template may hold `{{ }}` output and plain text, nothing else (no `{% %}`
  statements: no loops, macros, assignments). Each `{{ }}` may have at most MAX_NODES parsed
  nodes and MAX_CONCAT `~` operands; `Limits` bound the whole source (EXPRESSION for workflow
  values: MAX_SOURCE characters, and the same node and `~` bounds over the whole value;
  PAYLOAD for config payloads: MAX_PAYLOAD characters).
- Bounded values: `range()` yields at most MAX_RANGE items; `*`, `+`, `**` and the `join`,
  `replace`, `tojson` helpers check the size of their result before computing it; `%` string
  formatting is refused; output is counted while it streams and stops past `Limits.output`.
- Bounded work: every call, operator result, slice and piece of output is charged to a meter
  (crds.templatework) and a render stops past `Limits.work` units, deterministically; the
  callers meter a whole object (an environment's expansion, a payload's validation) as well.
  Comparisons are compiled as tests (`a in b` is `a is in(b)`) so that they are charged too.
- Bounded nesting: at most MAX_NESTING nested nodes, so neither the compiler nor a render can
  run out of stack (a RecursionError is a TemplateSourceError or TemplateError like any other).
- Filters and globals are an allow-list (no `random`, `lipsum`, `center`, `indent`, `format`...);
  the AliECS function library (crds.aliecs.library) is among the globals.
- Bounded work across variables (MAX_RESOLVES, MAX_DEPTH) is enforced by the caller's scope
  (controller.environments.template.Scope).

Errors: compile problems are TemplateSourceError (a ValueError with the line); `evaluate` maps
every failure of user code to crds.errors.TemplateError (place, expression, reason).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import jinja2
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from crds.errors import TemplateError
from crds.templatehelpers import (
    MAX_OUTPUT,
    TemplateBudgetError,
    TemplateFunctionError,
    as_list,
    check_size,
    is_truthy,
)
from crds.templatesandbox import ENGINE, ENGINES
from crds.templatework import (
    charge,
    close_meter,
    open_meter,
)

__all__ = [
    "ENGINE",
    "EXPRESSION",
    "MAX_OUTPUT",
    "PAYLOAD",
    "Limits",
    "TemplateBudgetError",
    "TemplateSourceError",
    "as_list",
    "check_size",
    "compile_template",
    "evaluate",
    "is_truthy",
    "render_template",
    "run",
    "short",
    "with_helpers",
]

MAX_SOURCE = 4096
MAX_PAYLOAD = 1 << 20
MAX_NODES = 400
MAX_CONCAT = 16
MAX_NESTING = 48
EXPRESSION_WORK = 20_000_000
"""Units of work one workflow value may use (a typical value uses < 10,000)."""
PAYLOAD_WORK = 50_000_000
"""Units of work one config payload render may use."""


@dataclass(frozen=True)
class Limits:
    """Bounds of one kind of template source (see the module docstring)."""

    source: int
    """Longest source, in characters."""
    nodes: int | None
    """Most parsed nodes in the whole source (each `{{ }}` has at most MAX_NODES anyway)."""
    concat: int | None
    """Most `~` operands in the whole source (each `{{ }}` has at most MAX_CONCAT anyway)."""
    output: int = MAX_OUTPUT
    """Longest rendered text."""
    keep_trailing_newline: bool = False
    """Payloads keep their last newline; workflow values drop it, as Jinja2 does by default."""
    work: int = EXPRESSION_WORK
    """Units of work one render may use (crds.templatework)."""


EXPRESSION = Limits(source=MAX_SOURCE, nodes=MAX_NODES, concat=MAX_CONCAT)
PAYLOAD = Limits(
    source=MAX_PAYLOAD, nodes=None, concat=None, keep_trailing_newline=True, work=PAYLOAD_WORK
)

_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Call,
    nodes.Keyword,
    nodes.Filter,
    nodes.Test,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,
    nodes.UnaryExpr,
    nodes.Concat,
)


class TemplateSourceError(ValueError):
    """A template that does not compile or breaks the allowed shape; `line` when known."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def compile_template(source: str, *, limits: Limits = EXPRESSION) -> jinja2.Template:
    """Parse, check the allowed shape and bounds, compile. TemplateSourceError says why.

    Cached: many short workflow values, and fewer (possibly large) payloads.
    """
    if limits.source > MAX_SOURCE:
        return _compile_large(source, limits)
    return _compile_small(source, limits)


@lru_cache(maxsize=8192)
def _compile_small(source: str, limits: Limits) -> jinja2.Template:
    return _compile(source, limits)


@lru_cache(maxsize=256)
def _compile_large(source: str, limits: Limits) -> jinja2.Template:
    return _compile(source, limits)


def _compile(source: str, limits: Limits) -> jinja2.Template:
    if len(source) > limits.source:
        raise TemplateSourceError(
            f"template is {len(source)} characters long (limit {limits.source})"
        )
    engine = ENGINES[limits.keep_trailing_newline]
    try:
        tree = engine.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSourceError(f"syntax error: {exc.message}", line=exc.lineno) from exc
    except RecursionError as exc:
        raise TemplateSourceError(f"nested too deeply (limit {MAX_NESTING})") from exc
    _check_shape(tree, limits)
    tree = _CompareAsTests().visit(tree)
    try:
        template = engine.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:  # also unknown filters and tests
        raise TemplateSourceError(exc.message or str(exc), line=exc.lineno) from exc
    if not any(isinstance(node, _WORKING) for node in tree.find_all(nodes.Node)):
        _PLAIN.add(template)
    return template


_WORKING = (nodes.Filter, nodes.Test, nodes.Call, nodes.BinExpr, nodes.UnaryExpr, nodes.Getitem)
"""Nodes that may work per item or build values: a template without them only looks names up
and joins text (bounded by its size and MAX_CONCAT), so it needs no meter of its own."""
_PLAIN: weakref.WeakSet[jinja2.Template] = weakref.WeakSet()
"""Compiled templates without _WORKING nodes (rendered without a meter of their own: the
cheapest and most common values, `{{ detector }}`)."""


def _check_shape(tree: nodes.Template, limits: Limits) -> None:
    count = 0
    joined = 0
    for node in tree.find_all(nodes.Node):
        count += 1
        if not isinstance(node, _ALLOWED_NODES):
            raise TemplateSourceError(
                f"{type(node).__name__} is not allowed: templates hold only {{{{ expressions }}}}",
                line=getattr(node, "lineno", None),
            )
        if isinstance(node, nodes.Concat):
            joined += len(node.nodes)
    if limits.concat is not None and joined > limits.concat:
        raise TemplateSourceError(f"too many '~' operands ({joined}, limit {limits.concat})")
    if limits.nodes is not None and count > limits.nodes:
        raise TemplateSourceError(f"expression too large ({count} nodes, limit {limits.nodes})")
    for expression in _expressions(tree):
        _check_expression(expression)
        _check_nesting(expression)


def _check_nesting(expression: nodes.Node) -> None:
    """TemplateSourceError past MAX_NESTING nested nodes (iteratively: no recursion to overflow)."""
    pending: list[tuple[nodes.Node, int]] = [(expression, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_NESTING:
            raise TemplateSourceError(
                f"nested too deeply (limit {MAX_NESTING})", line=getattr(node, "lineno", None)
            )
        pending.extend((child, depth + 1) for child in node.iter_child_nodes())


_COMPARE_TESTS = {"eq": "eq", "ne": "ne", "lt": "lt", "lteq": "le", "gt": "gt", "gteq": "ge"}


class _CompareAsTests(NodeTransformer):
    """Every comparison as the equivalent Jinja2 tests, which the sandbox meters: `a < b < c`
    is `a is lt(b) and b is lt(c)`, `a not in b` is `not (a is in(b))`."""

    def visit_Compare(self, node: nodes.Compare) -> nodes.Expr:
        self.generic_visit(node)
        line = node.lineno
        left = node.expr
        result: nodes.Expr | None = None
        for operand in node.ops:
            name = "in" if operand.op in ("in", "notin") else _COMPARE_TESTS[operand.op]
            test: nodes.Expr = nodes.Test(left, name, [operand.expr], [], None, None, lineno=line)
            if operand.op == "notin":
                test = nodes.Not(test, lineno=line)
            result = test if result is None else nodes.And(result, test, lineno=line)
            left = operand.expr
        assert result is not None
        return result


def _expressions(tree: nodes.Template) -> Iterator[nodes.Expr]:
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if not isinstance(child, nodes.TemplateData):
                yield child


def _check_expression(expression: nodes.Expr) -> None:
    inner = [expression, *expression.find_all(nodes.Node)]
    joined = sum(len(n.nodes) for n in inner if isinstance(n, nodes.Concat))
    line = expression.lineno
    if joined > MAX_CONCAT:
        raise TemplateSourceError(
            f"too many '~' operands ({joined}, limit {MAX_CONCAT})", line=line
        )
    if len(inner) > MAX_NODES:
        raise TemplateSourceError(
            f"expression too large ({len(inner)} nodes, limit {MAX_NODES})", line=line
        )


class _WithHelpers(Mapping[str, object]):
    """`variables`, then the helper globals: looked up by name only, never copied or listed."""

    def __init__(self, variables: Mapping[str, object]) -> None:
        self._variables = variables

    def __getitem__(self, key: str) -> object:
        if key in self._variables:
            return self._variables[key]
        return ENGINE.globals[key]

    def __contains__(self, key: object) -> bool:
        return key in self._variables or key in ENGINE.globals

    def __iter__(self) -> Iterator[str]:
        return iter(ENGINE.globals)

    def __len__(self) -> int:
        return len(ENGINE.globals)


def with_helpers(variables: Mapping[str, object]) -> Mapping[str, object]:
    """A plain variables mapping with the helpers (`as_list`, `json`, ...) under it."""
    return _WithHelpers(variables)


def run(template: jinja2.Template, parent: Mapping[str, object], *, limits: Limits) -> str:
    """Render with `parent` as the context (looked up by name only), counting output as it
    streams: TemplateBudgetError past `limits.output`. Other exceptions propagate as raised."""
    engine = ENGINES[limits.keep_trailing_newline]
    context = engine.context_class(
        engine, cast(dict[str, object], parent), template.name, template.blocks
    )
    parts: list[str] = []
    size = 0
    if template in _PLAIN:
        for part in template.root_render_func(context):
            size += len(part)
            if size > limits.output:
                raise TemplateBudgetError(f"result would be {size} long (limit {limits.output})")
            parts.append(part)
        charge(size)
        return "".join(parts)
    work, token = open_meter(limits.work, scope="one template")
    try:
        for part in template.root_render_func(context):
            size += len(part)
            if size > limits.output:
                raise TemplateBudgetError(f"result would be {size} long (limit {limits.output})")
            parts.append(part)
        work.charge(size)
    finally:
        close_meter(work, token)
    return "".join(parts)


def evaluate(
    template: jinja2.Template,
    parent: Mapping[str, object],
    *,
    where: str,
    source: str,
    limits: Limits = EXPRESSION,
    hint: str = "define it in vars, or check its spelling",
) -> str:
    """`run`, with every failure of user code as TemplateError naming `where` and `source`.

    TemplateError and TemplateBudgetError raised inside (from nested variables) pass through.
    """
    try:
        return run(template, parent, limits=limits)
    except (TemplateError, TemplateBudgetError):
        raise
    except TemplateFunctionError as exc:
        raise TemplateError(where, short(source), str(exc)) from exc
    except jinja2.UndefinedError as exc:
        reason = str(exc.message)
        if reason.endswith("is undefined"):
            reason += f" ({hint})"
        raise TemplateError(where, short(source), reason) from exc
    except Exception as exc:  # every other failure of user code is the template's fault
        raise TemplateError(where, short(source), f"{type(exc).__name__}: {exc}") from exc


def short(source: str, limit: int = 160) -> str:
    """The expression as error messages quote it: cut to `limit` characters."""
    return source if len(source) <= limit else source[: limit - 3] + "..."


def render_template(
    source: str,
    variables: Mapping[str, object],
    *,
    where: str,
    limits: Limits = EXPRESSION,
) -> str:
    """`source` rendered with `variables` and the helpers: the whole sandbox in one call.

    Every problem (shape, bounds, user code) is a TemplateError naming `where` and `source`.
    """
    if "{{" not in source and "{%" not in source:
        return source
    try:
        template = compile_template(source, limits=limits)
        return evaluate(
            template, with_helpers(variables), where=where, source=source, limits=limits
        )
    except (TemplateSourceError, TemplateBudgetError) as exc:
        raise TemplateError(where, short(source), str(exc)) from exc
