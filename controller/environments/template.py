"""Layered variables and the rendering of `{{ }}` values in them. Pure: no I/O.

Variables are layered (lowest first); a name is looked up from the top layer down, and its value
is rendered when first used, in this same scope (late binding). A variable that refers to its own
name (`card: "{{ card }}"`) sees the next lower layer, so overriding with the inherited value works
and no reference cycle can loop. One top-level render may resolve at most MAX_RESOLVES variables,
nested at most MAX_DEPTH deep; the expression sandbox is crds.templating (shared with config
payloads, so `o2 config show --render` and workflows evaluate `{{ }}` alike).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import jinja2

from crds.errors import TemplateError
from crds.templatework import charge
from crds.templating import (
    ENGINE,
    MAX_OUTPUT,
    TemplateBudgetError,
    as_list,
    compile_template,
    evaluate,
    is_truthy,
    short,
)

__all__ = ["MAX_DEPTH", "MAX_OUTPUT", "MAX_RESOLVES", "Scope", "as_list", "is_truthy"]

MAX_RESOLVES = 2_000
MAX_DEPTH = 32


@dataclass
class _Work:
    """Per top-level render: how many variables were resolved and which are being resolved."""

    resolves: int = 0
    resolving: dict[str, int] = field(default_factory=dict)


class Scope:
    """Layered variables for one role or task, and the renderer of templates in it.

    `layers` go from lowest to highest precedence; each is (label, mapping of name -> template).
    `where` names the place in error messages (the role path).
    """

    def __init__(self, layers: Sequence[tuple[str, Mapping[str, str]]], *, where: str) -> None:
        self._layers = tuple(layers)
        self.where = where
        self._functions: dict[str, object] = {}
        self._more: Mapping[str, object] = {}
        self._cache: dict[str, str] = {}
        self._work: _Work | None = None
        self._names: frozenset[str] | None = None
        self.rendering = ""
        """The place (role path and field) of the top-level render in progress."""
        self._weak: Scope = weakref.proxy(self)

    def weak(self) -> Scope:
        """This scope, referred to weakly: what the functions it holds keep of it (`lookup`,
        RoleFunctions). A strong reference back would make each scope a reference cycle, freed
        only by the collector: an expansion of 50,000 tasks left 1.45M such objects, 12 young
        passes of 2.8 s CPU (the expansion 7.2 -> 4.4 s CPU without them; 10,000 tasks 1.03 ->
        0.72 s). Using it after the scope is gone raises ReferenceError; the expansion renders
        within a scope's life."""
        return self._weak

    def extend(self, *layers: tuple[str, Mapping[str, str]], where: str | None = None) -> Scope:
        """A new scope with `layers` on top of these."""
        return Scope((*self._layers, *layers), where=self.where if where is None else where)

    def add_function(self, name: str, function: object) -> None:
        """Make `function` callable as `name` in this scope's templates (below its variables),
        e.g. the per-task `config(component, entry=...)` helper of controller.configs."""
        self._functions[name] = function

    def add_functions(self, functions: Mapping[str, object]) -> None:
        """Functions below those of `add_function`, looked up by name only (the AliECS
        functions of a role, crds.aliecs.context, built when first used)."""
        self._more = functions

    def lookup(self) -> Mapping[str, object]:
        """This scope's variables as a read-only mapping, resolved on access (only usable while
        one of this scope's templates is rendering, e.g. from a helper function it calls); it
        refers to the scope weakly (`weak`), as the functions that hold it are held by it."""
        return _Lookup(self._weak)

    def render(self, source: str, *, field: str = "") -> str:
        """The rendered text of `source`; TemplateError naming the place and expression."""
        if "{{" not in source and "{%" not in source:
            return source
        outer = self._work
        self._work = outer or _Work()
        where = self._place(field)
        if outer is None:
            self.rendering = where
        try:
            return self._render(source, where=where)
        except TemplateBudgetError as exc:
            raise TemplateError(where, short(source), str(exc)) from exc
        finally:
            self._work = outer

    def truthy(self, source: str, *, field: str = "") -> bool:
        """`render` read as a boolean (see `is_truthy`)."""
        return is_truthy(self.render(source, field=field))

    def value(self, name: str) -> str:
        """The resolved value of variable `name` (TemplateError when it is not defined)."""
        return self.render("{{ " + name + " }}", field=f"variable {name}")

    def names(self) -> frozenset[str]:
        """Every variable name defined in some layer."""
        if self._names is None:
            self._names = frozenset(name for _, layer in self._layers for name in layer)
        return self._names

    def _place(self, field: str) -> str:
        return f"{self.where} {field}".strip() if field else self.where

    def _render(self, source: str, *, where: str) -> str:
        if "{{" not in source and "{%" not in source:
            return source
        name = bare_name(source)
        if name is not None:  # `{{ rate }}`: what Jinja2 would output, without running it
            value = self.resolve(name)
            if type(value) is str:
                if len(value) > MAX_OUTPUT:
                    raise TemplateBudgetError(
                        f"result would be {len(value)} long (limit {MAX_OUTPUT})"
                    )
                charge(len(value))  # as crds.templating.run charges a template of names
                return value
        try:
            template = compile_template(source)
        except ValueError as exc:
            raise TemplateError(where, short(source), str(exc)) from exc
        return evaluate(template, _Lookup(self), where=where, source=source)

    def has_function(self, name: str) -> bool:
        return name in self._functions or name in self._more

    def resolve(self, name: str) -> object:
        """The rendered value of `name` below the layer it is being resolved at, or missing
        (what a template sees under that name, during a render)."""
        work = self._work
        assert work is not None
        ceiling = work.resolving.get(name, len(self._layers))
        found = self._find(name, ceiling)
        if found is None and name in work.resolving:
            return ENGINE.undefined(
                hint=f"variable {name!r} refers back to itself with no lower layer defining it",
                name=name,
            )
        if found is None:
            if name in self._functions:
                return self._functions[name]
            if name in self._more:
                return self._more[name]
            return ENGINE.globals.get(name, jinja2.utils.missing)
        index, source = found
        top = ceiling == len(self._layers)
        if top and name in self._cache:
            return self._cache[name]
        work.resolves += 1
        if work.resolves > MAX_RESOLVES or len(work.resolving) >= MAX_DEPTH:
            raise TemplateBudgetError(
                f"too many variable references while resolving {name!r} "
                f"(limits: {MAX_RESOLVES} resolves, depth {MAX_DEPTH})"
            )
        work.resolving[name] = index
        try:
            value = self._render(source, where=f"{self.where} variable {name}")
        except TemplateError as exc:
            return ENGINE.undefined(hint=str(exc), name=name)
        finally:
            if ceiling == len(self._layers):
                del work.resolving[name]
            else:
                work.resolving[name] = ceiling
        if top and len(work.resolving) == 0:
            self._cache[name] = value
        return value

    def _find(self, name: str, ceiling: int) -> tuple[int, str] | None:
        for index in range(min(ceiling, len(self._layers)) - 1, -1, -1):
            layer = self._layers[index][1]
            if name in layer:
                return index, layer[name]
        return None


_BARE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]{0,63})[ \t]*\}\}")
_NOT_NAMES = frozenset(("true", "false", "none", "True", "False", "None")) | frozenset(
    ("and", "or", "not", "in", "is", "if", "else", "elif", "for", "recursive")
)
"""Jinja2's constants and operator words: `{{ none }}` is no variable."""


@lru_cache(maxsize=4096)
def bare_name(source: str) -> str | None:
    """The variable name when `source` is only `{{ name }}` (the most common value): its
    output is the variable's text, which `Scope._render` returns without running Jinja2 (a
    value of another type, a missing one, goes the ordinary way); None otherwise."""
    match = _BARE.fullmatch(source)
    if match is None or match.group(1) in _NOT_NAMES:
        return None
    return match.group(1)


class _Lookup(Mapping[str, object]):
    """The mapping a template sees: variables of a scope, then the helper globals."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def __getitem__(self, key: str) -> object:
        value = self._scope.resolve(key)
        if value is jinja2.utils.missing:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        scope = self._scope
        return key in scope.names() or scope.has_function(key) or key in ENGINE.globals

    def __iter__(self) -> Iterator[str]:
        return iter(self._scope.names())

    def __len__(self) -> int:
        return len(self._scope.names())
