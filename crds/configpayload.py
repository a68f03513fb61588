"""Configuration payloads: format checks with line numbers, and `{{ }}` rendering. Pure.

Shared by the CLI (`o2 config show --render`) and the controllers, so a task receives exactly
what `o2 config show --render` prints.

Rendering uses a Jinja2 sandbox with the same rules as workflow templates: only `{{ }}`
expressions (no `{% %}` statements, so no loops or macros), undefined names are errors, values
print as text, output bounded by MAX_OUTPUT. It is a minimal sandbox of its own because the
workflow template engine lives in controller/ (which the CLI may not import); once that sandbox
moves down to crds/, `render` should use it and gain its helpers (as_list, json, strings.*).
Payloads are rendered as a whole; on an error the failing line is found by rendering each line
alone, so the error names it.
"""

from __future__ import annotations

import configparser
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal, cast

import jinja2
import yaml
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crds.errors import ConfigError

Format = Literal["ini", "json", "yaml", "text"]
FORMATS: tuple[Format, ...] = ("ini", "json", "yaml", "text")
EXTENSIONS: dict[str, Format] = {
    ".ini": "ini",
    ".cfg": "ini",
    ".conf": "ini",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".txt": "text",
}
MAX_OUTPUT = 1 << 20
"""Largest rendered payload, in characters."""

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
    nodes.Call,
    nodes.Keyword,
    nodes.Filter,
    nodes.Test,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.UnaryExpr,
    nodes.Concat,
    nodes.And,
    nodes.Or,
    nodes.Not,
)
"""Expressions only; no arithmetic operators that could build huge values (`*`, `**`, `+`)."""


def format_for(filename: str, default: Format = "text") -> Format:
    """The payload format a file extension implies (`.ini`, `.json`, `.yaml`/`.yml`, ...)."""
    dot = filename.rfind(".")
    return EXTENSIONS.get(filename[dot:].lower(), default) if dot >= 0 else default


def check_format(fmt: str, data: str, *, config: str = "payload") -> None:
    """ConfigError naming `config` and the line when `data` does not parse as `fmt`.

    Answers for well-formed payloads are cached: the tasks of a role mostly receive the same
    rendered text, and parsing (configparser above all) costs far more than rendering.
    """
    if (fmt, data) in _WELL_FORMED:
        return
    parse_payload(fmt, data, config=config)
    if len(_WELL_FORMED) >= WELL_FORMED_CACHE:
        _WELL_FORMED.clear()
    _WELL_FORMED.add((fmt, data))


WELL_FORMED_CACHE = 512
_WELL_FORMED: set[tuple[str, str]] = set()


def parse_payload(fmt: str, data: str, *, config: str = "payload") -> object:
    """The parsed payload; ConfigError naming `config` and the line when it does not parse."""
    if fmt == "text":
        return data
    if fmt == "json":
        return _parse_json(data, config)
    if fmt == "yaml":
        return _parse_yaml(data, config)
    if fmt == "ini":
        return _parse_ini(data, config)
    raise ConfigError(config, f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


def _parse_json(data: str, config: str) -> object:
    try:
        return cast(object, json.loads(data))
    except json.JSONDecodeError as exc:
        raise ConfigError(config, f"invalid JSON: {exc.msg}", line=exc.lineno) from exc


def _parse_yaml(data: str, config: str) -> object:
    try:
        return cast(object, yaml.safe_load(data))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(config, f"invalid YAML: {reason}", line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(config, f"invalid YAML: {exc}") from exc


def _parse_ini(data: str, config: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data)
    except configparser.MissingSectionHeaderError as exc:
        reason = "invalid INI: a key before the first [section]"
        raise ConfigError(config, reason, line=exc.lineno) from exc
    except configparser.ParsingError as exc:
        line = exc.errors[0][0]
        text = data.splitlines()[line - 1].strip() if 0 < line <= data.count("\n") + 1 else ""
        raise ConfigError(config, f"invalid INI: cannot parse {text!r}", line=line) from exc
    except configparser.DuplicateSectionError as exc:
        reason = f"invalid INI: section [{exc.section}] appears twice"
        raise ConfigError(config, reason, line=exc.lineno) from exc
    except configparser.DuplicateOptionError as exc:
        reason = f"invalid INI: key {exc.option!r} appears twice in [{exc.section}]"
        raise ConfigError(config, reason, line=exc.lineno) from exc
    except configparser.Error as exc:
        raise ConfigError(config, f"invalid INI: {exc.message}") from exc
    return {name: dict(parser[name]) for name in parser.sections()}


class _Sandbox(ImmutableSandboxedEnvironment):
    """Attribute access only to plain data (dict keys through Getattr are looked up as items)."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return isinstance(obj, dict) and attr in obj

    def wrap_str_format(self, value: Any) -> None:
        return None


def _finalize(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return value


_ENGINE = _Sandbox(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
    cache_size=0,
)
_ENGINE.globals = {}
_ENGINE.filters = {
    name: _ENGINE.filters[name]
    for name in ("default", "d", "lower", "upper", "trim", "int", "float", "length", "first")
}


def check_template(payload: str, *, config: str = "payload") -> None:
    """ConfigError (with the line) when the placeholders of `payload` do not compile."""
    if "{{" in payload or "{%" in payload:
        _compile(payload, config=config, line_offset=0)


class _Probe(jinja2.ChainableUndefined):
    """Stands for any variable when checking a templated payload before it is rendered."""

    def __str__(self) -> str:
        return "0"


_PROBE_ENGINE = _Sandbox(
    undefined=_Probe, autoescape=False, keep_trailing_newline=True, finalize=_finalize
)
_PROBE_ENGINE.globals = {}
_PROBE_ENGINE.filters = dict(_ENGINE.filters)


def check_payload(fmt: str, payload: str, *, config: str = "payload") -> None:
    """ConfigError (with the line) when `payload` cannot be right whatever the variables are.

    Placeholders must compile. A payload without them must parse as `fmt`; one with them is
    parsed with every placeholder read as `0`, which keeps ini, yaml and json (values, quoted
    keys) well-formed, and the error says so. A placeholder that fails even then (a filter
    that cannot take `0`) is left to the real render.
    """
    check_template(payload, config=config)
    if "{{" not in payload:
        parse_payload(fmt, payload, config=config)
        return
    try:
        probed = _PROBE_ENGINE.from_string(payload).render()
    except Exception:
        return
    try:
        parse_payload(fmt, probed, config=config)
    except ConfigError as exc:
        reason = f"{exc.reason} (with each placeholder read as 0)"
        raise ConfigError(config, reason, line=exc.line) from exc


def render(payload: str, variables: Mapping[str, object], *, config: str = "payload") -> str:
    """`payload` with its `{{ }}` placeholders evaluated against `variables`.

    ConfigError names `config`, the line and the reason (an undefined name, a syntax error, a
    statement where only expressions are allowed).
    """
    if "{{" not in payload and "{%" not in payload:
        return payload
    try:
        template = _compiled(payload)
    except ConfigError as exc:
        raise ConfigError(config, exc.reason, line=exc.line) from exc
    try:
        text = _run(template, variables)
    except Exception as exc:
        raise ConfigError(config, _reason(exc), line=_failing_line(payload, variables)) from exc
    if len(text) > MAX_OUTPUT:
        raise ConfigError(config, f"rendered payload is {len(text)} long (limit {MAX_OUTPUT})")
    return text


def _run(template: jinja2.Template, variables: Mapping[str, object]) -> str:
    """Render with `variables` as the context's parent, looked up by name only (never copied or
    iterated), so a lazy mapping such as the template engine's variable scope works as is."""
    context = template.new_context(cast(dict[str, Any], variables), shared=True)
    return "".join(template.root_render_func(context))


@lru_cache(maxsize=256)
def _compiled(source: str) -> jinja2.Template:
    """Compiled payloads, cached: every task of a role renders the same payload."""
    return _compile(source, config="payload", line_offset=0)


def _compile(source: str, *, config: str, line_offset: int) -> jinja2.Template:
    try:
        tree = _ENGINE.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        line = None if exc.lineno is None else exc.lineno + line_offset
        raise ConfigError(config, f"template syntax error: {exc.message}", line=line) from exc
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            at = getattr(node, "lineno", None)
            raise ConfigError(
                config,
                f"{type(node).__name__} is not allowed: payloads hold only {{{{ expressions }}}}",
                line=None if at is None else at + line_offset,
            )
    try:
        return _ENGINE.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:  # unknown filters and tests
        raise ConfigError(config, f"template error: {exc.message}", line=exc.lineno) from exc


def _failing_line(payload: str, variables: Mapping[str, object]) -> int | None:
    """The first line that fails when rendered alone (None for multi-line expressions)."""
    for number, line in enumerate(payload.splitlines(), start=1):
        if "{{" not in line:
            continue
        try:
            _run(_ENGINE.from_string(line), variables)
        except jinja2.TemplateSyntaxError:
            continue  # part of an expression that spans lines
        except Exception:
            return number
    return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message} (define it in the task's variables, or check its spelling)"
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"not allowed: {exc}"
    return f"{type(exc).__name__}: {exc}"
